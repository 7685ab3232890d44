"""Regret simulation of bandit policies on Bernoulli or Gaussian arms, and kernel warm-up.

:func:`simulate_contextual` does the same for contextual policies on linear or logistic
environments (standard normal contexts, a coefficient vector per arm).

:func:`simulate` runs a policy (its options, prior and current state) for ``n_runs`` seeded
replications of ``horizon`` steps in numba and returns the cumulative pseudo-regret
``sum_t (max_k mu_k - mu_{A_t})`` per run and step. :func:`lai_robbins_bound` gives the
asymptotic lower bound ``log(t) * sum_k Delta_k / KL(mu_k, mu*)`` of Lai and Robbins (1985) that
no consistent policy beats.

Examples
--------
>>> from abkit.bandits import ThompsonBernoulli, simulate
>>> regret = simulate(ThompsonBernoulli(2), [0.1, 0.2], horizon=1000, n_runs=3, rng=1)
>>> regret.shape
(3, 1000)
>>> bool((regret[:, -1] < 0.1 * 1000).all())
True
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from abkit._progress import progress_bar, show_progress
from abkit._validation import as_float_array, check_choice, check_int, check_real, check_rng, to_array
from abkit.bandits import _kernels as k
from abkit.bandits import _linear_kernels as lk
from abkit.bandits.contextual import ContextualPolicy, LinTS, LinUCB, LogisticTS
from abkit.bandits.offpolicy import policy_probabilities
from abkit.bandits.policies import (
    KLUCB,
    UCB1,
    BasePolicy,
    EpsilonGreedy,
    ThompsonBernoulli,
    ThompsonGaussian,
)

__all__ = ["lai_robbins_bound", "simulate", "simulate_contextual", "warmup"]

ARMS = ("bernoulli", "gaussian")
ENVIRONMENTS = ("linear", "logistic")
_PROGRESS_STEPS = 5_000_000  # steps in all above which a watched run shows a bar by default


def _check_means(means: Any, arms: str, sd: Any) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    mean_array = as_float_array("means", means, min_size=2)
    if arms == "bernoulli" and ((mean_array < 0) | (mean_array > 1)).any():
        raise ValueError(f"`means` must be in [0, 1] for Bernoulli arms; got {mean_array.tolist()}.")
    sd_array = to_array("sd", sd, np.float64)
    try:
        sds = np.broadcast_to(sd_array, mean_array.shape).copy()
    except ValueError:
        raise ValueError(f"`sd` must be one number or one per arm ({mean_array.size}); "
                         f"got shape {sd_array.shape}.") from None
    if not (np.isfinite(sds).all() and (sds > 0).all()):
        raise ValueError(f"`sd` must be positive and finite; got {sd!r}.")
    return mean_array, sds


def simulate(
    policy: BasePolicy,
    means: Any,
    *,
    horizon: int,
    n_runs: int,
    rng: Any = None,
    arms: str = "bernoulli",
    sd: Any = 1.0,
    progress: bool | None = None,
) -> npt.NDArray[np.float64]:
    """Cumulative pseudo-regret of ``policy`` per run and step, shape ``(n_runs, horizon)``.

    Parameters
    ----------
    policy
        Any policy; each run starts from a copy of its current state (``policy`` is not changed).
    means
        Mean reward of each arm (at least two arms, as many as the policy has).
    horizon, n_runs
        Steps per run and number of independent runs.
    rng
        Seed or Generator driving every run (the policy's own stream is not used).
    arms
        ``"bernoulli"`` (rewards 0/1) or ``"gaussian"`` (Normal with standard deviation ``sd``,
        one number or one per arm).
    progress
        Show a tqdm bar over runs; ``None`` (default): when ``horizon * n_runs`` exceeds five
        million and standard error is a terminal or a notebook. ``TQDM_DISABLE=1`` hides it.

    Returns
    -------
    numpy.ndarray
        ``regret[r, t]`` is ``sum_{s <= t} (max(means) - means[arm chosen at s])`` in run ``r``.

    Examples
    --------
    >>> from abkit.bandits import UCB1
    >>> simulate(UCB1(2), [0.5, 0.5], horizon=10, n_runs=2, rng=0).max()
    np.float64(0.0)
    """
    if not isinstance(policy, BasePolicy):
        raise TypeError(f"`policy` must be an abkit bandit policy; got {type(policy).__name__}.")
    check_choice("arms", arms, ARMS)
    mean_array, sds = _check_means(means, arms, sd)
    if mean_array.size != policy.n_arms:
        raise ValueError(f"`means` must have one value per arm ({policy.n_arms}); got {mean_array.size}.")
    if policy._bounded and arms == "gaussian":
        raise ValueError(f"{type(policy).__name__} needs rewards in [0, 1]; use arms='bernoulli'.")
    steps = check_int("horizon", horizon, minimum=1)
    runs = check_int("n_runs", n_runs, minimum=1)
    generator = check_rng(rng)
    show = show_progress(progress, work=steps * runs, threshold=_PROGRESS_STEPS)
    with policy._lock:
        table, params = policy._table.copy(), policy._params.copy()
    out = np.empty((runs, steps))
    with progress_bar(show, total=runs, desc=f"simulate {type(policy).__name__}", unit="run") as advance:
        for r in range(runs):
            k.simulate_run(
                policy._kind, table.copy(), params.copy(), generator, mean_array, sds, arms == "gaussian",
                out[r],
            )
            advance(1)
    return out


def simulate_contextual(
    policy: ContextualPolicy,
    coefs: Any,
    *,
    horizon: int,
    n_runs: int,
    rng: Any = None,
    environment: str = "linear",
    sd: float = 1.0,
    progress: bool | None = None,
) -> npt.NDArray[np.float64]:
    """Cumulative pseudo-regret of a contextual ``policy`` per run and step, shape ``(n_runs, horizon)``.

    At each step the context ``x`` is a standard normal vector; arm ``k``'s mean reward is
    ``x' coefs[k]`` (``environment="linear"``, rewards with Normal(0, ``sd``) noise) or
    ``sigmoid(x' coefs[k])`` (``"logistic"``, Bernoulli rewards). Regret is
    ``sum_t (max_k mu_k(x_t) - mu_{A_t}(x_t))``. Each run starts from a copy of the policy's
    state; the whole loop runs in numba. ``progress`` shows a tqdm bar over the runs; ``None``
    (default): above 5,000,000 steps in all, when standard error is a terminal or a notebook.
    ``TQDM_DISABLE=1`` hides it.

    Examples
    --------
    >>> import numpy as np
    >>> from abkit.bandits import LinTS
    >>> coefs = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> regret = simulate_contextual(LinTS(2, 2), coefs, horizon=2000, n_runs=2, rng=0)
    >>> regret.shape, bool((regret[:, -1] < 0.1 * 2000).all())
    ((2, 2000), True)
    """
    if not isinstance(policy, ContextualPolicy):
        raise TypeError(f"`policy` must be an abkit contextual policy; got {type(policy).__name__}.")
    check_choice("environment", environment, ENVIRONMENTS)
    try:
        coef_array = np.ascontiguousarray(coefs, dtype=np.float64)
    except OverflowError:  # an int beyond the float range, e.g. 10**400
        raise ValueError("`coefs` must be finite; it holds a number beyond the float range.") from None
    except (TypeError, ValueError) as exc:
        raise TypeError("`coefs` must be a matrix of real numbers (arms x features).") from exc
    if coef_array.shape != (policy.n_arms, policy.n_features):
        raise ValueError(
            f"`coefs` must have shape ({policy.n_arms}, {policy.n_features}); got {coef_array.shape}."
        )
    if not np.isfinite(coef_array).all():
        raise ValueError("`coefs` must be finite.")
    if environment == "linear" and policy._bounded:
        raise ValueError(f"{type(policy).__name__} needs rewards in [0, 1]; use environment='logistic'.")
    noise = check_real("sd", sd)
    if not noise > 0:
        raise ValueError(f"`sd` must be greater than 0; got {noise}.")
    steps = check_int("horizon", horizon, minimum=1)
    runs = check_int("n_runs", n_runs, minimum=1)
    generator = check_rng(rng)
    with policy._lock:
        table, params = policy._table.copy(), policy._params.copy()
    work = np.empty(lk.work_size(policy.n_features))
    out = np.empty((runs, steps))
    show = show_progress(progress, work=steps * runs, threshold=_PROGRESS_STEPS)
    with progress_bar(show, total=runs, desc=f"simulate {type(policy).__name__}", unit="run") as advance:
        for r in range(runs):
            lk.simulate_run(
                policy._kind, table.copy(), params.copy(), generator, coef_array, noise,
                environment == "logistic", out[r], work,
            )
            advance(1)
    return out


def _kl(
    p: npt.NDArray[np.float64], q: float, arms: str, sds: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    if arms == "gaussian":
        result: npt.NDArray[np.float64] = (q - p) ** 2 / (2.0 * sds**2)
        return result
    with np.errstate(divide="ignore", invalid="ignore"):
        first = np.where(p > 0, p * np.log(p / q), 0.0)
        second = np.where(p < 1, (1 - p) * np.log((1 - p) / (1 - q)), 0.0)
    return np.asarray(first + second, dtype=np.float64)


def lai_robbins_bound(
    means: Any, horizon: int, *, arms: str = "bernoulli", sd: Any = 1.0
) -> npt.NDArray[np.float64]:
    """Lai and Robbins' asymptotic lower bound on regret, ``log(t) * sum_k Delta_k / KL_k``, t = 1..horizon.

    ``KL_k`` is the Kullback-Leibler divergence from arm ``k`` to the best arm: Bernoulli, or
    Gaussian with known standard deviation ``sd`` (``Delta^2 / (2 sd^2)``). It is a rate for large
    ``t``, not a bound at every finite ``t``.

    Examples
    --------
    >>> round(float(lai_robbins_bound([0.1, 0.2], 100)[-1]), 4)
    12.5516
    """
    check_choice("arms", arms, ARMS)
    mean_array, sds = _check_means(means, arms, sd)
    steps = check_int("horizon", horizon, minimum=1)
    best = mean_array.max()
    gap = best - mean_array
    worse = gap > 0
    if worse.any() and (arms == "bernoulli" and best >= 1.0):
        return np.zeros(steps)  # a sure arm is found in finitely many pulls
    constant = float((gap[worse] / _kl(mean_array[worse], best, arms, sds[worse])).sum())
    return constant * np.log(np.arange(1, steps + 1, dtype=np.float64))


_WARMUP_POLICIES = (
    lambda: EpsilonGreedy(2, epsilon=0.1, rng=0),
    lambda: UCB1(2, rng=0),
    lambda: KLUCB(2, rng=0),
    lambda: ThompsonBernoulli(2, rng=0),
    lambda: ThompsonGaussian(2, rng=0),
)


def warmup() -> None:
    """Compile (or load from numba's cache) every bandit kernel: call at service start-up.

    Examples
    --------
    >>> warmup()
    """
    for make in _WARMUP_POLICIES:
        policy = make()
        policy.update_batch(np.array([0, 0, 1, 1]), np.array([0.0, 1.0, 1.0, 0.0]))
        policy.update(policy.select(), 1.0)
        policy.select_many(2)
        policy.allocation()
        simulate(policy, [0.2, 0.3], horizon=2, n_runs=1, rng=0, progress=False)
    k.thompson_bernoulli_bare(np.array([0.2, 0.3]), 2, np.random.default_rng(0))
    coefs = np.eye(2)
    for contextual in (LinUCB(2, 2, rng=0), LinTS(2, 2, rng=0), LogisticTS(2, 2, rng=0)):
        contexts = np.array([[1.0, 0.0], [0.0, 1.0]])
        contextual.update_batch(np.array([0, 1]), np.array([1.0, 0.0]), contexts)
        contextual.update(contextual.select(contexts[0]), 1.0, contexts[0])
        contextual.select_many(contexts)
        policy_probabilities(contextual, contexts, n_samples=2, rng=0)
        policy_probabilities(contextual, contexts, greedy=True)
        environment = "logistic" if contextual._bounded else "linear"
        simulate_contextual(
            contextual, coefs, horizon=2, n_runs=1, rng=0, environment=environment, progress=False
        )
    lk.lints_bare(coefs, 1.0, 1.0, 1.0, 2, np.random.default_rng(0))
