"""Numba kernels of the bandit policies: choose an arm, record a reward, simulate a run.

Every kernel here is compiled by the one decorator :data:`abkit._numba.kernel` (only
``new_buffer`` is plain Python), and assumes clean input (the policies validate at the public
boundary).

Layout
------
A policy's state is packed into one C-contiguous ``float64`` array ``table`` of shape
``(N_ROWS, n_arms)``; its rows are the fields of :class:`abkit.bandits.BanditState`:

* ``COUNTS``  effective number of rewards per arm (discounted when ``discount < 1``);
* ``MEANS``   mean reward per arm;
* ``M2``      sum of squared deviations from the mean (Welford), discounted like the counts;
* ``ACTIVE``  1.0 for an arm that may be chosen, 0.0 for a retired arm;
* ``P0..P3``  the prior per arm: ``(a, b, -, -)`` of a Beta prior, or ``(mu0, kappa0, alpha0,
  beta0)`` of a Normal-Inverse-Gamma prior.

``params`` holds ``(epsilon, decay, discount, n_updates)``. One packed array instead of a
NamedTuple of arrays, because numba unboxes each argument on every call: a NamedTuple of five
arrays costs about 2 microseconds per call, one array about 0.1 (measured), and a router calls
these kernels on every request.

Randomness
----------
``select`` must not pay for unboxing a ``numpy.random.Generator`` (about 10 microseconds per
call in numba 0.6x), so single decisions draw from ``buf``, a block of uniforms the policy fills
from its Generator (``buf[0]`` is the read position, ``buf[1]`` a spare normal, the rest
uniforms), with their own Beta, Gamma and normal samplers. When the block runs out
mid-decision, ``choose`` returns ``EXHAUSTED`` without touching the state; the caller refills
the block from the Generator and repeats the decision. ``choose_many`` refills in place with
the draws NumPy's ``Generator.random`` gives, so ``select_many(n)`` equals ``n`` calls of
``select()`` on the same state and seed.

The samplers take ``(buf, rng)``: with ``rng=None`` they read the block (numba prunes the other
branch), with a Generator they call its own methods (``beta``, ``standard_gamma``,
``standard_normal``). Simulations take the Generator path: one unboxing per run, NumPy's
samplers.

Examples
--------
>>> import numpy as np
>>> table = np.zeros((N_ROWS, 2)); table[ACTIVE] = 1.0
>>> update_one(table, np.array([0.0, 0.0, 1.0, 0.0]), 1, 0.5)
True
>>> table[COUNTS].tolist(), table[MEANS].tolist()
([0.0, 1.0], [0.0, 0.5])
"""

from __future__ import annotations

import math

import numpy as np

from abkit._numba import kernel

EPSILON_GREEDY, UCB1, KLUCB, THOMPSON_BERNOULLI, THOMPSON_GAUSSIAN = 0, 1, 2, 3, 4
FAMILY_BETA, FAMILY_NIG = 0, 1  # the posterior prob_best uses

COUNTS, MEANS, M2, ACTIVE, P0, P1, P2, P3 = 0, 1, 2, 3, 4, 5, 6, 7
N_ROWS = 8
P_EPSILON, P_DECAY, P_DISCOUNT, P_UPDATES = 0, 1, 2, 3
N_PARAMS = 4

EXHAUSTED = -2
BUFFER_SIZE = 4096  # uniforms per block, plus PER_ARM for each arm
PER_ARM = 64  # a decision draws about 5 uniforms per arm on average


# --- uniform stream -----------------------------------------------------------------------------
# buf[0] is the read position, buf[1] a spare standard normal (NaN when none), buf[HEADER:] uniforms.

HEADER = 2


def new_buffer(n_arms):
    """An empty uniform block for ``n_arms`` arms (the first decision fills it).

    It holds ``BUFFER_SIZE + PER_ARM * n_arms`` uniforms: one decision needs about five per
    arm, so running out within a single decision after a refill is practically impossible.
    """
    buf = np.empty(HEADER + BUFFER_SIZE + PER_ARM * n_arms)
    buf[0] = buf.size
    buf[1] = np.nan
    return buf


@kernel
def rewind(buf):
    """Mark ``buf`` freshly filled: read from the first uniform, no spare normal."""
    buf[0] = HEADER
    buf[1] = np.nan


@kernel
def refill(buf, rng):
    """Fill ``buf[HEADER:]`` with ``rng.random()`` draws (the same as NumPy's) and rewind."""
    for i in range(HEADER, buf.size):
        buf[i] = rng.random()
    rewind(buf)


@kernel
def _uniform(buf, rng):
    # A uniform in [0, 1) from the block (rng is None) or from the Generator. Past the end of the
    # block it marks it exhausted and returns a harmless 0.25.
    if rng is None:
        i = int(buf[0])
        if i >= buf.size:
            buf[0] = buf.size + 1.0
            return 0.25
        buf[0] = i + 1.0
        return buf[i]
    return rng.random()


@kernel
def _exhausted(buf, rng):
    if rng is None:
        return buf[0] > buf.size
    return False


@kernel
def _normal(buf, rng):
    # Marsaglia's polar method on the block, the pair's second normal kept in buf[1].
    if rng is not None:
        return rng.standard_normal()
    spare = buf[1]
    if not np.isnan(spare):
        buf[1] = np.nan
        return spare
    while True:
        v1 = 2.0 * _uniform(buf, rng) - 1.0
        v2 = 2.0 * _uniform(buf, rng) - 1.0
        s = v1 * v1 + v2 * v2
        if 0.0 < s < 1.0:
            break
    factor = math.sqrt(-2.0 * math.log(s) / s)
    buf[1] = v2 * factor
    return v1 * factor


@kernel
def _gamma_variate(shape, buf, rng):
    # Gamma(shape, 1) for shape >= 1: Marsaglia and Tsang (2000) with their squeeze (as NumPy).
    if rng is not None:
        return rng.standard_gamma(shape)
    d = shape - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    while True:
        if _exhausted(buf, rng):
            return 1.0
        x = _normal(buf, rng)
        v = 1.0 + c * x
        if v <= 0.0:
            continue
        v = v * v * v
        u = 1.0 - _uniform(buf, rng)
        x2 = x * x
        if u < 1.0 - 0.0331 * x2 * x2 or math.log(u) < 0.5 * x2 + d - d * v + d * math.log(v):
            return d * v


@kernel
def _log_gamma_variate(shape, buf, rng):
    # log of a Gamma(shape, 1) draw; for shape < 1 the boost G(a) = G(a + 1) U^(1/a) is taken in
    # logs so that tiny shapes do not underflow.
    if shape >= 1.0:
        return math.log(_gamma_variate(shape, buf, rng))
    boost = math.log(1.0 - _uniform(buf, rng)) / shape
    return math.log(_gamma_variate(shape + 1.0, buf, rng)) + boost


@kernel
def _beta_variate(a, b, buf, rng):
    if rng is not None:
        return rng.beta(a, b)
    if a >= 1.0 and b >= 1.0:
        x = _gamma_variate(a, buf, rng)
        return x / (x + _gamma_variate(b, buf, rng))
    lx = _log_gamma_variate(a, buf, rng)
    ly = _log_gamma_variate(b, buf, rng)
    return 1.0 / (1.0 + math.exp(ly - lx))


# --- posteriors ---------------------------------------------------------------------------------


@kernel
def _nig_posterior(table, arm):
    # (mu_n, kappa_n, alpha_n, beta_n) of the Normal-Inverse-Gamma posterior of one arm.
    n = table[COUNTS, arm]
    mean = table[MEANS, arm]
    mu0, kappa0, alpha0, beta0 = table[P0, arm], table[P1, arm], table[P2, arm], table[P3, arm]
    kappa = kappa0 + n
    if kappa <= 0.0:
        return 0.0, 0.0, 0.0, 0.0
    mu = (kappa0 * mu0 + n * mean) / kappa
    alpha = alpha0 + 0.5 * n
    beta = beta0 + 0.5 * table[M2, arm] + 0.5 * kappa0 * n * (mean - mu0) ** 2 / kappa
    return mu, kappa, alpha, beta


@kernel
def _nig_variate(mu, kappa, alpha, beta, buf, rng):
    # sigma^2 ~ InvGamma(alpha, beta), then mu ~ N(mu_n, sigma^2 / kappa_n).
    if beta <= 0.0:
        return mu
    variance = beta * math.exp(-_log_gamma_variate(alpha, buf, rng))
    return mu + math.sqrt(variance / kappa) * _normal(buf, rng)


@kernel
def _beta_parameters(table, arm):
    successes = table[COUNTS, arm] * table[MEANS, arm]
    return table[P0, arm] + successes, table[P1, arm] + table[COUNTS, arm] - successes


# --- choosing -----------------------------------------------------------------------------------


@kernel
def _kl_bernoulli(p, q):
    result = 0.0
    if p > 0.0:
        result += p * math.log(p / q)
    if p < 1.0:
        result += (1.0 - p) * math.log((1.0 - p) / (1.0 - q))
    return result


@kernel
def kl_ucb_index(p, level):
    """Largest ``q >= p`` with ``kl(p, q) <= level`` (Bernoulli KL): Newton, safeguarded by bisection."""
    top = 1.0 - 1e-15
    if level <= 0.0:
        return p
    if p >= top:
        return 1.0
    low, high = p, min(top, p + math.sqrt(0.5 * level))  # Pinsker: the root is at most this
    if _kl_bernoulli(p, high) <= level:
        return high
    q = high
    for _ in range(200):
        f = _kl_bernoulli(p, q) - level
        if f > 0.0:
            high = q
        else:
            low = q
        step = f * q * (1.0 - q) / (q - p)
        q_new = q - step
        if not low < q_new < high:
            q_new = 0.5 * (low + high)
        if abs(q_new - q) <= 1e-15 or high - low <= 1e-15:
            return q_new
        q = q_new
    return q


@kernel
def _random_active(table, buf, rng):
    n_active = 0
    for i in range(table.shape[1]):
        if table[ACTIVE, i] != 0.0:
            n_active += 1
    k = min(int(_uniform(buf, rng) * n_active), n_active - 1)
    for i in range(table.shape[1]):
        if table[ACTIVE, i] != 0.0:
            if k == 0:
                return i
            k -= 1
    return -1


@kernel
def current_epsilon(params, table):
    """Exploration rate ``epsilon / (1 + decay * n)``, ``n`` the total (effective) count."""
    return params[P_EPSILON] / (1.0 + params[P_DECAY] * table[COUNTS].sum())


@kernel
def _log_total(table):
    total = table[COUNTS].sum()
    return math.log(total) if total > 1.0 else 0.0


@kernel
def _scores(kind, table, buf, rng, out):
    # Each active arm's score, whose maximum is chosen (+inf for an arm still to be tried).
    # One loop per kind, with no per-arm calls that take arrays: in a simulation the kind is a
    # constant and the loop compiles to what a hand-written one would.
    n_arms = table.shape[1]
    if kind == THOMPSON_BERNOULLI:
        for i in range(n_arms):
            if table[ACTIVE, i] != 0.0:
                a, b = _beta_parameters(table, i)
                out[i] = _beta_variate(a, b, buf, rng)
    elif kind == THOMPSON_GAUSSIAN:
        for i in range(n_arms):
            if table[ACTIVE, i] != 0.0:
                mu, kappa, alpha, beta = _nig_posterior(table, i)
                proper = kappa > 0.0 and alpha > 0.0
                out[i] = _nig_variate(mu, kappa, alpha, beta, buf, rng) if proper else np.inf
    else:
        log_t = _log_total(table) if kind in (UCB1, KLUCB) else 0.0
        for i in range(n_arms):
            n = table[COUNTS, i]
            if table[ACTIVE, i] == 0.0:
                continue
            if n <= 0.0:
                out[i] = np.inf
            elif kind == UCB1:
                out[i] = table[MEANS, i] + math.sqrt(2.0 * log_t / n)
            elif kind == KLUCB:
                out[i] = kl_ucb_index(table[MEANS, i], log_t / n)
            else:
                out[i] = table[MEANS, i]


@kernel
def indices(kind, table, buf):
    """Every arm's score from the uniform block (``-inf`` for retired arms)."""
    out = np.full(table.shape[1], -np.inf)
    _scores(kind, table, buf, None, out)
    return out


@kernel
def keep_best(v, i, best, arm, ties, buf, rng):
    # One step of a running argmax whose ties are broken uniformly at random: the i-th arm of
    # score v replaces the current best, or wins a tie with probability 1 / (number tied).
    if v > best or arm < 0:
        return v, i, 1
    if v == best:
        ties += 1
        if _uniform(buf, rng) * ties < 1.0:
            return best, i, ties
    return best, arm, ties


@kernel
def _decide(kind, table, params, buf, rng):
    # The best score among active arms, ties broken uniformly at random; epsilon-greedy first
    # explores a uniformly random active arm with probability current_epsilon.
    if kind == EPSILON_GREEDY and _uniform(buf, rng) < current_epsilon(params, table):
        return _random_active(table, buf, rng)
    scores = np.empty(table.shape[1])
    _scores(kind, table, buf, rng, scores)
    arm = -1
    best = -np.inf
    ties = 0
    for i in range(scores.size):
        if table[ACTIVE, i] == 0.0:
            continue
        best, arm, ties = keep_best(scores[i], i, best, arm, ties, buf, rng)
    return arm


@kernel
def _choose(kind, table, params, buf):
    start, spare = buf[0], buf[1]
    arm = _decide(kind, table, params, buf, None)
    if _exhausted(buf, None):
        buf[0], buf[1] = start, spare
        return EXHAUSTED
    return arm


@kernel
def choose(kind, table, params, buf):
    """One decision from the uniform block ``buf``; ``EXHAUSTED`` if the block ran out.

    Dispatches on ``kind`` once, so each policy's loop is compiled with its kind as a constant.
    """
    if kind == THOMPSON_BERNOULLI:
        return _choose(THOMPSON_BERNOULLI, table, params, buf)
    if kind == THOMPSON_GAUSSIAN:
        return _choose(THOMPSON_GAUSSIAN, table, params, buf)
    if kind == UCB1:
        return _choose(UCB1, table, params, buf)
    if kind == KLUCB:
        return _choose(KLUCB, table, params, buf)
    return _choose(EPSILON_GREEDY, table, params, buf)


@kernel
def choose_with_refill(kind, table, params, buf, rng):
    """``choose``, refilling ``buf`` from ``rng`` when it runs out (as the policy does)."""
    arm = choose(kind, table, params, buf)
    while arm == EXHAUSTED:
        refill(buf, rng)
        arm = choose(kind, table, params, buf)
    return arm


@kernel
def choose_many(kind, table, params, buf, rng, n):
    """``n`` decisions on the same state (a batch of requests before any feedback)."""
    out = np.empty(n, dtype=np.int64)
    for j in range(n):
        out[j] = choose_with_refill(kind, table, params, buf, rng)
    return out


# --- updating -----------------------------------------------------------------------------------


@kernel
def update_one(table, params, arm, reward):
    """Discount every arm's data by ``params[P_DISCOUNT]``, then add one reward to ``arm``.

    Returns False, changing nothing, when the arm's mean or sum of squared deviations would
    overflow to infinity (rewards near the float range): a state must stay finite to be saved.
    """
    discount = params[P_DISCOUNT]
    n = table[COUNTS, arm] * discount + 1.0
    delta = reward - table[MEANS, arm]
    mean = table[MEANS, arm] + delta / n
    m2 = table[M2, arm] * discount + delta * (reward - mean)
    if not (math.isfinite(mean) and math.isfinite(m2)):
        return False
    if discount < 1.0:
        for i in range(table.shape[1]):
            table[COUNTS, i] *= discount
            table[M2, i] *= discount
    table[MEANS, arm] = mean
    table[M2, arm] = m2
    table[COUNTS, arm] = n
    params[P_UPDATES] += 1.0
    return True


@kernel
def update_many(table, params, arms, rewards):
    """``update_one`` for each ``(arms[j], rewards[j])`` in order; the index of the first reward
    refused for overflow (rewards before it are recorded), or -1 when all were recorded."""
    for j in range(arms.size):
        if not update_one(table, params, arms[j], rewards[j]):
            return j
    return -1


# --- simulation ---------------------------------------------------------------------------------


@kernel
def _simulate(kind, table, params, rng, means, sds, gaussian, out):
    best = means.max()
    regret = 0.0
    no_block = np.empty(0)
    for t in range(out.size):
        arm = _decide(kind, table, params, no_block, rng)
        if gaussian:
            reward = means[arm] + sds[arm] * rng.standard_normal()
        else:
            reward = 1.0 if rng.random() < means[arm] else 0.0
        update_one(table, params, arm, reward)
        regret += best - means[arm]
        out[t] = regret


@kernel
def simulate_run(kind, table, params, rng, means, sds, gaussian, out):
    """One replication: fill ``out[t]`` with the cumulative pseudo-regret after step ``t``.

    Rewards are Bernoulli(``means[arm]``) draws, or Normal(``means[arm]``, ``sds[arm]``) when
    ``gaussian``; ``table`` and ``params`` are updated in place (pass copies). Each kind calls
    the loop with a constant, so the compiler specialises it (about 20% faster than a loop that
    tests the kind at every step).
    """
    if kind == THOMPSON_BERNOULLI:
        _simulate(THOMPSON_BERNOULLI, table, params, rng, means, sds, gaussian, out)
    elif kind == THOMPSON_GAUSSIAN:
        _simulate(THOMPSON_GAUSSIAN, table, params, rng, means, sds, gaussian, out)
    elif kind == UCB1:
        _simulate(UCB1, table, params, rng, means, sds, gaussian, out)
    elif kind == KLUCB:
        _simulate(KLUCB, table, params, rng, means, sds, gaussian, out)
    else:
        _simulate(EPSILON_GREEDY, table, params, rng, means, sds, gaussian, out)


@kernel
def thompson_bernoulli_bare(means, horizon, rng):
    """The floor a simulation is compared with: Beta-Bernoulli Thompson sampling in a bare loop.

    NumPy's own ``Generator.beta`` draws, no state object, no discounting, no retired arms.
    """
    n_arms = means.size
    alpha = np.ones(n_arms)
    beta = np.ones(n_arms)
    best = means.max()
    regret = 0.0
    out = np.empty(horizon)
    for t in range(horizon):
        arm = 0
        top = -1.0
        for i in range(n_arms):
            x = rng.beta(alpha[i], beta[i])
            if x > top:
                top = x
                arm = i
        if rng.random() < means[arm]:
            alpha[arm] += 1.0
        else:
            beta[arm] += 1.0
        regret += best - means[arm]
        out[t] = regret
    return out
