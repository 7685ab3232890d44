"""Numba kernels of the contextual policies: LinUCB, linear and logistic Thompson sampling.

Every kernel is compiled by the one decorator, :data:`abkit._numba.kernel`, and assumes clean input,
except that a context holding NaN or infinity is detected here (a cheap loop) and reported as
``BAD_CONTEXT`` before anything changes, so the hot path needs no NumPy call to check it.

Layout
------
A policy's state is one C-contiguous ``float64`` array ``table`` of shape ``(n_arms, width(d))``
(one row per arm, so an arm's matrices are contiguous; the non-contextual policies pack fields
as rows because theirs are scalars). With ``d`` features, row ``arm`` holds:

* ``COUNT``  number of rewards of the arm; ``SINCE`` updates since the last refresh;
* ``G``      the data precision, ``d x d`` row-major: ``X'X`` (linear), or the Laplace terms
  ``sum_i w_i x_i x_i'`` with ``w_i = p_i (1 - p_i)`` (logistic);
* ``B``      the information vector: ``X'y`` (linear), or ``sum_i x_i (y_i - p_i + w_i z_i)``;
* ``INV``    ``(l2 I + G)^-1``, kept by rank-one Sherman-Morrison updates;
* ``THETA``  the posterior mean (mode) ``INV B``, kept by rank-one updates.

``G`` and ``B`` are sums over rewards (the sufficient statistics), so two states merge exactly
by adding them; ``INV`` and ``THETA`` are derived. Every ``REFRESH_EVERY`` updates of an arm,
and after every merge or load, they are recomputed from ``l2 I + G`` by a Cholesky
factorisation, so rounding in the rank-one updates cannot accumulate over millions of rewards.
The hot path reads and updates only the lower triangles of ``G`` and ``INV`` (half the work of
full matrices, and symmetric by construction); the upper triangles are filled when the state is
read, and the refresh averages the two triangles of the new inverse.

``params`` holds ``(explore, l2, d, n_updates)``: ``explore`` is LinUCB's ``alpha``, or LinTS's
noise variance ``v`` (the posterior covariance is ``v INV``); LogisticTS ignores it.

Scores
------
For a context ``x`` every arm scores ``x' THETA + c sqrt(x' INV x)``: ``c = alpha`` (LinUCB),
``c = sqrt(v) Z`` (LinTS) or ``c = Z`` (LogisticTS, whose mean reward ``sigmoid(x' w)`` is
increasing in ``x' w``), with ``Z`` standard normal. Drawing the scalar ``x' theta`` from its
normal posterior is the same decision as drawing the whole coefficient vector and then scoring
it, at ``O(d^2)`` per arm instead of a Cholesky factor. Ties are broken uniformly at random.
Randomness comes from the uniform block of :mod:`abkit.bandits._kernels` (``EXHAUSTED``
protocol), or from a ``numpy.random.Generator`` in simulations.

Examples
--------
>>> import numpy as np
>>> d = 2
>>> table = np.zeros((1, width(d))); params = np.array([1.0, 1.0, d, 0.0])
>>> refresh(table, params, 0, np.empty(work_size(d)))
>>> update_one(LINUCB, table, params, 0, np.array([1.0, 0.0]), 2.0, np.empty(work_size(d)))
0
>>> table[0, theta_offset(d):].tolist()  # ridge estimate (1 + 1)^-1 * 2 on the first feature
[1.0, 0.0]
"""

from __future__ import annotations

import math

import numpy as np

from abkit._numba import kernel
from abkit.bandits._kernels import EXHAUSTED, _exhausted, _normal, keep_best, refill

LINUCB, LINTS, LOGISTIC_TS = 0, 1, 2
COUNT, SINCE, HEAD = 0, 1, 2
P_EXPLORE, P_L2, P_FEATURES, P_UPDATES = 0, 1, 2, 3
N_PARAMS = 4
BAD_CONTEXT = -3
REFRESH_EVERY = 1000  # rank-one updates of an arm between two refreshes from G
NEWTON_ITERATIONS = 100


def width(d):
    """Length of one arm's row for ``d`` features."""
    return HEAD + 2 * d * d + 2 * d


def work_size(d):
    """Length of the scratch array the updates use (no allocation per call)."""
    return d * d + d


def theta_offset(d):
    """Where ``THETA`` starts in an arm's row."""
    return HEAD + 2 * d * d + d


@kernel
def _offsets(d):
    # Starts of G, B, INV and THETA in an arm's row.
    g = HEAD
    b = g + d * d
    inv = b + d
    return g, b, inv, inv + d * d


@kernel
def finite(x):
    """Whether every entry of the vector ``x`` is finite."""
    ok = True
    for i in range(x.size):
        ok = ok and math.isfinite(x[i])
    return ok


@kernel
def sigmoid(z):
    """``1 / (1 + exp(-z))`` without overflow."""
    if z >= 0.0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


@kernel
def _log_sigmoid(z):
    if z >= 0.0:
        return -math.log1p(math.exp(-z))
    return z - math.log1p(math.exp(z))


@kernel
def moments(table, arm, d, x):
    """``(x' THETA, x' INV x)`` of one arm for context ``x`` (the variance floored at 0).

    Reads the lower triangle of ``INV`` only.
    """
    _, _, inv, theta = _offsets(d)
    row = table[arm]
    mean = 0.0
    var = 0.0
    for i in range(d):
        xi = x[i]
        mean += row[theta + i] * xi
        s = 0.0
        base = inv + i * d
        for j in range(i):
            s += row[base + j] * x[j]
        var += xi * (2.0 * s + row[base + i] * xi)
    return mean, max(var, 0.0)


# --- refresh from the sufficient statistics -----------------------------------------------------


@kernel
def refresh(table, params, arm, work):
    """Recompute ``INV = (l2 I + G)^-1`` (Cholesky) and ``THETA = INV B`` of one arm from its sums.

    Reads the lower triangle of ``G``; writes the whole of ``INV``.
    """
    d = int(params[P_FEATURES])
    l2 = params[P_L2]
    g, b, inv, theta = _offsets(d)
    row = table[arm]
    y = work[:d]
    low = work[d:]  # the Cholesky factor L (lower, row-major)
    for j in range(d):
        s = l2 + row[g + j * d + j]
        for k in range(j):
            s -= low[j * d + k] * low[j * d + k]
        low[j * d + j] = math.sqrt(max(s, l2 * 1e-300))
        for i in range(j + 1, d):
            s = row[g + i * d + j]
            for k in range(j):
                s -= low[i * d + k] * low[j * d + k]
            low[i * d + j] = s / low[j * d + j]
    for c in range(d):  # column c of the inverse: L y = e_c, then L' z = y (in place)
        for i in range(d):
            s = 1.0 if i == c else 0.0
            for k in range(i):
                s -= low[i * d + k] * y[k]
            y[i] = s / low[i * d + i]
        for i in range(d - 1, -1, -1):
            s = y[i]
            for k in range(i + 1, d):
                s -= low[k * d + i] * y[k]
            y[i] = s / low[i * d + i]
        for i in range(d):
            row[inv + i * d + c] = y[i]
    for i in range(d):
        for j in range(i):
            m = 0.5 * (row[inv + i * d + j] + row[inv + j * d + i])
            row[inv + i * d + j] = m
            row[inv + j * d + i] = m
    for i in range(d):
        s = 0.0
        for j in range(d):
            s += row[inv + i * d + j] * row[b + j]
        row[theta + i] = s
    row[SINCE] = 0.0


@kernel
def refresh_all(table, params, work):
    """``refresh`` every arm."""
    for arm in range(table.shape[0]):
        refresh(table, params, arm, work)


# --- updating -----------------------------------------------------------------------------------


@kernel
def laplace_root(z0, s, y):
    """The ``z`` with ``z = z0 + s (y - sigmoid(z))``: the new ``x'w`` after a one-point Laplace step.

    The left side minus the right is increasing in ``z`` and the root lies in ``[z0 - s, z0 + s]``;
    Newton's method, safeguarded by bisection.
    """
    low, high = z0 - s, z0 + s
    z = z0
    for _ in range(NEWTON_ITERATIONS):
        p = sigmoid(z)
        f = z - z0 - s * (y - p)
        if f > 0.0:
            high = z
        elif f < 0.0:
            low = z
        else:
            return z
        step = f / (1.0 + s * p * (1.0 - p))
        z_new = z - step
        if not low <= z_new <= high:
            z_new = 0.5 * (low + high)
        if abs(z_new - z) <= 1e-15 * (1.0 + abs(z)):
            return z_new
        z = z_new
    return z


@kernel
def _update(kind, table, params, arm, x, reward, work):
    # One reward; x is known to be finite.
    d = int(params[P_FEATURES])
    g, b, inv, theta = _offsets(d)
    row = table[arm]
    u = work[:d]
    for i in range(d):
        u[i] = 0.0
    for i in range(d):  # u = INV x from the lower triangle
        xi = x[i]
        base = inv + i * d
        acc = row[base + i] * xi
        for j in range(i):
            lower = row[base + j]
            acc += lower * x[j]
            u[j] += lower * xi
        u[i] += acc
    s = 0.0
    mean = 0.0
    for i in range(d):
        s += x[i] * u[i]
        mean += row[theta + i] * x[i]
    if kind == LOGISTIC_TS:
        z = laplace_root(mean, s, reward)
        p = sigmoid(z)
        weight = p * (1.0 - p)
        residual = reward - p
        target = residual + weight * z
        step = residual  # THETA += INV_old x (y - p)
    else:
        weight = 1.0
        target = reward
        step = (reward - mean) / (1.0 + s)  # THETA += INV_old x (y - x'THETA) / (1 + s)
    shrink = weight / (1.0 + weight * s)
    for i in range(d):
        xi = weight * x[i]
        ui = shrink * u[i]
        for j in range(i + 1):
            row[g + i * d + j] += xi * x[j]
            row[inv + i * d + j] -= ui * u[j]
        row[b + i] += target * x[i]
        row[theta + i] += step * u[i]
    row[COUNT] += 1.0
    row[SINCE] += 1.0
    params[P_UPDATES] += 1.0
    if row[SINCE] >= REFRESH_EVERY:
        refresh(table, params, arm, work)


@kernel
def update_one(kind, table, params, arm, x, reward, work):
    """Record one reward for ``arm`` in context ``x``: 0, or ``BAD_CONTEXT`` (nothing changed)."""
    if not finite(x):
        return BAD_CONTEXT
    if kind == LOGISTIC_TS:
        _update(LOGISTIC_TS, table, params, arm, x, reward, work)
    else:
        _update(LINUCB, table, params, arm, x, reward, work)
    return 0


@kernel
def update_many(table, params, arms, contexts, rewards, work):
    """``update_one`` of a linear policy for every row in order (contexts already checked).

    LogisticTS learns a batch in one Laplace step instead (:func:`laplace_many`).
    """
    for j in range(arms.size):
        _update(LINUCB, table, params, arms[j], contexts[j], rewards[j], work)


@kernel
def _neg_log_posterior(w, m0, h0, contexts, rewards, rows):
    # 0.5 (w - m0)' H0 (w - m0) minus the Bernoulli log-likelihood of the arm's rows.
    d = w.size
    total = 0.0
    for i in range(d):
        for j in range(d):
            total += 0.5 * (w[i] - m0[i]) * h0[i, j] * (w[j] - m0[j])
    for r in rows:
        z = 0.0
        for i in range(d):
            z += contexts[r, i] * w[i]
        y = rewards[r]
        total -= y * _log_sigmoid(z) + (1.0 - y) * _log_sigmoid(-z)
    return total


@kernel
def _solve_spd(a, rhs, out):
    # out = a^-1 rhs by Cholesky (a symmetric positive definite; a is overwritten by its factor).
    d = rhs.size
    for j in range(d):
        s = a[j, j]
        for k in range(j):
            s -= a[j, k] * a[j, k]
        a[j, j] = math.sqrt(max(s, 1e-300))
        for i in range(j + 1, d):
            s = a[i, j]
            for k in range(j):
                s -= a[i, k] * a[j, k]
            a[i, j] = s / a[j, j]
    for i in range(d):
        s = rhs[i]
        for k in range(i):
            s -= a[i, k] * out[k]
        out[i] = s / a[i, i]
    for i in range(d - 1, -1, -1):
        s = out[i]
        for k in range(i + 1, d):
            s -= a[k, i] * out[k]
        out[i] = s / a[i, i]


@kernel
def laplace_batch(table, params, arm, contexts, rewards, rows, work):
    """One Laplace step on a batch: the exact posterior mode of the arm's ``rows``, then its terms.

    The current state ``N(THETA, INV)`` is the prior; the mode of prior times Bernoulli
    likelihood is found by Newton's method with a backtracking line search, and the Hessian
    terms ``w_i x_i x_i'`` and information terms at that mode are added to ``G`` and ``B``.
    From an empty state this is the Laplace approximation of ridge logistic regression
    (Chapelle and Li, 2011, with a full covariance).
    """
    d = int(params[P_FEATURES])
    g, b, _, theta = _offsets(d)
    row = table[arm]
    m0 = row[theta : theta + d].copy()
    h0 = np.empty((d, d))
    for i in range(d):
        for j in range(d):
            h0[i, j] = row[g + max(i, j) * d + min(i, j)] + (params[P_L2] if i == j else 0.0)
    w = m0.copy()
    grad = np.empty(d)
    hess = np.empty((d, d))
    delta = np.empty(d)
    trial = np.empty(d)
    current = _neg_log_posterior(w, m0, h0, contexts, rewards, rows)
    value = current
    for _ in range(NEWTON_ITERATIONS):
        for i in range(d):
            acc = 0.0
            for j in range(d):
                acc += h0[i, j] * (w[j] - m0[j])
                hess[i, j] = h0[i, j]
            grad[i] = acc
        for r in rows:
            z = 0.0
            for i in range(d):
                z += contexts[r, i] * w[i]
            p = sigmoid(z)
            c = rewards[r] - p
            q = p * (1.0 - p)
            for i in range(d):
                grad[i] -= c * contexts[r, i]
                for j in range(i + 1):
                    hess[i, j] += q * contexts[r, i] * contexts[r, j]
        decrease = 0.0
        _solve_spd(hess, grad, delta)
        for i in range(d):
            decrease += grad[i] * delta[i]
        if decrease <= 1e-28 * (1.0 + abs(current)):
            break
        t = 1.0
        for _ in range(60):
            for i in range(d):
                trial[i] = w[i] - t * delta[i]
            value = _neg_log_posterior(trial, m0, h0, contexts, rewards, rows)
            # near the mode the objective cannot resolve the decrease: take the full step there
            if value <= current - 1e-4 * t * decrease or decrease <= 1e-10 * (1.0 + abs(current)):
                break
            t *= 0.5
        moved = 0.0
        for i in range(d):
            moved = max(moved, abs(trial[i] - w[i]))
            w[i] = trial[i]
        current = value
        if moved <= 1e-15 * (1.0 + np.abs(w).max()):
            break
    for r in rows:
        z = 0.0
        for i in range(d):
            z += contexts[r, i] * w[i]
        p = sigmoid(z)
        q = p * (1.0 - p)
        target = rewards[r] - p + q * z
        for i in range(d):
            row[b + i] += target * contexts[r, i]
            for j in range(d):
                row[g + i * d + j] += q * contexts[r, i] * contexts[r, j]
    row[COUNT] += rows.size
    params[P_UPDATES] += rows.size
    refresh(table, params, arm, work)


@kernel
def laplace_many(table, params, arms, contexts, rewards, work):
    """``laplace_batch`` for every arm on its own rows of the batch."""
    for arm in range(table.shape[0]):
        rows = np.nonzero(arms == arm)[0]
        if rows.size:
            laplace_batch(table, params, arm, contexts, rewards, rows, work)


# --- choosing -----------------------------------------------------------------------------------


@kernel
def _decide(kind, table, params, x, buf, rng):
    d = int(params[P_FEATURES])
    explore = params[P_EXPLORE]
    arm = -1
    best = -np.inf
    ties = 0
    for i in range(table.shape[0]):
        mean, var = moments(table, i, d, x)
        if kind == LINUCB:
            v = mean + explore * math.sqrt(var)
        elif kind == LINTS:
            v = mean + math.sqrt(explore * var) * _normal(buf, rng)
        else:
            v = mean + math.sqrt(var) * _normal(buf, rng)
        best, arm, ties = keep_best(v, i, best, arm, ties, buf, rng)
    return arm


@kernel
def _choose(kind, table, params, x, buf):
    start, spare = buf[0], buf[1]
    arm = _decide(kind, table, params, x, buf, None)
    if _exhausted(buf, None):
        buf[0], buf[1] = start, spare
        return EXHAUSTED
    return arm


@kernel
def choose(kind, table, params, x, buf):
    """One decision for context ``x`` from the uniform block: an arm, ``EXHAUSTED`` or ``BAD_CONTEXT``."""
    if not finite(x):
        return BAD_CONTEXT
    if kind == LINUCB:
        return _choose(LINUCB, table, params, x, buf)
    if kind == LINTS:
        return _choose(LINTS, table, params, x, buf)
    return _choose(LOGISTIC_TS, table, params, x, buf)


@kernel
def choose_many(kind, table, params, contexts, buf, rng):
    """One decision per row of ``contexts`` on the same state (refilling ``buf`` from ``rng``)."""
    out = np.empty(contexts.shape[0], dtype=np.int64)
    for j in range(out.size):
        arm = choose(kind, table, params, contexts[j], buf)
        while arm == EXHAUSTED:
            refill(buf, rng)
            arm = choose(kind, table, params, contexts[j], buf)
        out[j] = arm
    return out


@kernel
def score_moments(kind, table, params, x, mean, scale):
    """Each arm's score for context ``x``: LinUCB's index into ``mean`` (``scale`` 0), or the
    Thompson score's normal law ``N(mean, scale^2)`` (``BAD_CONTEXT`` for a non-finite ``x``)."""
    if not finite(x):
        return BAD_CONTEXT
    d = int(params[P_FEATURES])
    explore = params[P_EXPLORE]
    for i in range(table.shape[0]):
        m, var = moments(table, i, d, x)
        if kind == LINUCB:
            mean[i] = m + explore * math.sqrt(var)  # the very expression of _decide
            scale[i] = 0.0
        else:
            mean[i] = m
            scale[i] = math.sqrt(explore * var) if kind == LINTS else math.sqrt(var)
    return 0


@kernel
def probabilities(kind, table, params, contexts, greedy, n_samples, rng, out):
    """Each arm's probability of being chosen for each context, into ``out`` (rows x arms).

    Deterministic rules (LinUCB, or any policy with ``greedy``: the best posterior mean) are
    exact, ties shared equally; Thompson sampling counts ``n_samples`` decisions drawn from
    ``rng``.
    """
    n_arms = table.shape[0]
    d = int(params[P_FEATURES])
    explore = params[P_EXPLORE]
    mean = np.empty(n_arms)
    scale = np.empty(n_arms)
    for r in range(contexts.shape[0]):
        x = contexts[r]
        for i in range(n_arms):
            m, var = moments(table, i, d, x)
            mean[i] = m
            scale[i] = math.sqrt(explore * var) if kind == LINTS else math.sqrt(var)
            out[r, i] = 0.0
        if greedy or kind == LINUCB:
            best = -np.inf
            for i in range(n_arms):
                v = mean[i] if greedy else mean[i] + explore * scale[i]
                if v > best:
                    best = v
            ties = 0
            for i in range(n_arms):
                v = mean[i] if greedy else mean[i] + explore * scale[i]
                if v == best:
                    out[r, i] = 1.0
                    ties += 1
            for i in range(n_arms):
                out[r, i] /= ties
        else:
            for _ in range(n_samples):
                arm = 0
                best = -np.inf
                for i in range(n_arms):
                    v = mean[i] + scale[i] * rng.standard_normal()
                    if v > best:
                        best = v
                        arm = i
                out[r, arm] += 1.0
            for i in range(n_arms):
                out[r, i] /= n_samples


# --- simulation ---------------------------------------------------------------------------------


@kernel
def _simulate(kind, table, params, rng, coefs, sd, logistic, out, work):
    n_arms, d = coefs.shape
    x = np.empty(d)
    truth = np.empty(n_arms)
    no_block = np.empty(0)
    regret = 0.0
    for t in range(out.size):
        for i in range(d):
            x[i] = rng.standard_normal()
        arm = _decide(kind, table, params, x, no_block, rng)
        best = -np.inf
        for k in range(n_arms):
            z = 0.0
            for i in range(d):
                z += coefs[k, i] * x[i]
            truth[k] = sigmoid(z) if logistic else z
            best = max(best, truth[k])
        if logistic:
            reward = 1.0 if rng.random() < truth[arm] else 0.0
        else:
            reward = truth[arm] + sd * rng.standard_normal()
        _update(kind, table, params, arm, x, reward, work)
        regret += best - truth[arm]
        out[t] = regret


@kernel
def simulate_run(kind, table, params, rng, coefs, sd, logistic, out, work):
    """One replication: ``out[t]`` the cumulative pseudo-regret after step ``t`` (state updated in place).

    Contexts are standard normal vectors; the mean reward of arm ``k`` is ``x' coefs[k]``
    (rewards add Normal(0, ``sd``) noise) or, when ``logistic``, ``sigmoid(x' coefs[k])``
    (Bernoulli rewards).
    """
    if kind == LINUCB:
        _simulate(LINUCB, table, params, rng, coefs, sd, logistic, out, work)
    elif kind == LINTS:
        _simulate(LINTS, table, params, rng, coefs, sd, logistic, out, work)
    else:
        _simulate(LOGISTIC_TS, table, params, rng, coefs, sd, logistic, out, work)


@kernel
def lints_bare(coefs, sd, v, l2, horizon, rng):
    """The floor a contextual simulation is compared with: LinTS on linear rewards in a bare loop.

    Separate arrays per arm, full-matrix Sherman-Morrison updates without sums or refresh, the
    same draws in the same order as :func:`simulate_run` (so the two make the same decisions
    until rounding differences flip one).
    """
    n_arms, d = coefs.shape
    inverse = np.zeros((n_arms, d, d))
    for k in range(n_arms):
        for i in range(d):
            inverse[k, i, i] = 1.0 / l2
    theta = np.zeros((n_arms, d))
    x = np.empty(d)
    u = np.empty(d)
    out = np.empty(horizon)
    regret = 0.0
    for t in range(horizon):
        for i in range(d):
            x[i] = rng.standard_normal()
        arm = 0
        top = -np.inf
        for k in range(n_arms):
            mean = 0.0
            var = 0.0
            for i in range(d):
                mean += theta[k, i] * x[i]
                s = 0.0
                for j in range(d):
                    s += inverse[k, i, j] * x[j]
                var += x[i] * s
            score = mean + math.sqrt(v * max(var, 0.0)) * rng.standard_normal()
            if score > top:
                top = score
                arm = k
        best = -np.inf
        chosen = 0.0
        for k in range(n_arms):
            z = 0.0
            for i in range(d):
                z += coefs[k, i] * x[i]
            best = max(best, z)
            if k == arm:
                chosen = z
        reward = chosen + sd * rng.standard_normal()
        s = 0.0
        mean = 0.0
        for i in range(d):
            acc = 0.0
            for j in range(d):
                acc += inverse[arm, i, j] * x[j]
            u[i] = acc
            s += x[i] * acc
            mean += theta[arm, i] * x[i]
        step = (reward - mean) / (1.0 + s)
        shrink = 1.0 / (1.0 + s)
        for i in range(d):
            for j in range(d):
                inverse[arm, i, j] -= shrink * u[i] * u[j]
            theta[arm, i] += step * u[i]
        regret += best - chosen
        out[t] = regret
    return out
