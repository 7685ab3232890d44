"""Off-policy evaluation: judge a new policy on logged decisions before it serves anyone.

Logged data are ``n`` rounds of (action taken, its propensity under the logging policy, reward).
The evaluated (target) policy is given by its action probabilities ``target`` (``n x n_arms``);
a reward model by its predictions ``q_hat`` (``n x n_arms``). Estimators of the target's value
``V = E[sum_a target(a | x) r(x, a)]``:

* :func:`ips`: inverse propensity scoring, ``mean(w r)`` with ``w = target[i, a_i] / p_i``
  (Horvitz-Thompson), optionally with weights clipped at ``clip``;
* :func:`snips`: self-normalised IPS, ``sum(w r) / sum(w)`` (Swaminathan and Joachims, 2015);
* :func:`direct_method`: ``mean(sum_a target q_hat)``, as good as the reward model;
* :func:`doubly_robust`: DM plus IPS on the model's residual (Dudík, Langford and Li, 2011);
* :func:`replay`: the mean reward of rounds where a deterministic target agrees with the logged
  action (Li et al., 2011), unbiased when the logging policy was uniformly random.

For a contextual target (:class:`abkit.bandits.LinUCB`, :class:`~abkit.bandits.LinTS`,
:class:`~abkit.bandits.LogisticTS`) and a log with contexts, :func:`policy_probabilities` gives
the target's action probabilities per logged context (exact for LinUCB and for any policy used
greedily, ties shared equally; Monte Carlo with a standard error per entry for Thompson
sampling), :func:`ridge_reward_model` a reward model ``q_hat`` fitted on the log, and
:func:`evaluate_contextual` all four estimators at once.

The values equal Open Bandit Pipeline's (``obp.ope``: ``InverseProbabilityWeighting``,
``SelfNormalizedInverseProbabilityWeighting``, ``DirectMethod``, ``DoublyRobust``,
``ReplayMethod``) to rounding. Intervals are normal approximations from the per-round terms
(OBP bootstraps the same terms), using their linearisation for the two ratio estimators.

Examples
--------
>>> import numpy as np
>>> rewards = np.array([1.0, 0.0, 1.0, 1.0])
>>> actions = np.array([0, 1, 1, 0])
>>> propensities = np.full(4, 0.5)
>>> target = np.tile([1.0, 0.0], (4, 1))            # always arm 0
>>> ips(rewards, actions, propensities, target).value
1.0
>>> replay(rewards, actions, np.zeros(4, dtype=int)).value
1.0
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import numpy.typing as npt

from abkit._inference import interval, warn_degenerate
from abkit._results import ConfidenceInterval, Result
from abkit._validation import (
    as_float_array,
    check_bool,
    check_confidence_level,
    check_int,
    check_positive,
    check_rng,
    check_same_length,
    to_array,
)
from abkit.bandits import _linear_kernels as lk
from abkit.bandits.contextual import ContextualPolicy

__all__ = [
    "OffPolicyResult",
    "PolicyProbabilities",
    "direct_method",
    "doubly_robust",
    "evaluate_contextual",
    "ips",
    "policy_probabilities",
    "replay",
    "ridge_reward_model",
    "snips",
]

FloatArray = npt.NDArray[np.float64]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class OffPolicyResult(Result):
    """An estimate of a policy's value from logged data.

    ``effective_sample_size`` is Kish's ``(sum w)^2 / sum w^2`` of the importance weights (the
    number of rounds for the direct method, the number of matches for replay): a small value
    warns that a few rounds carry the estimate.
    """

    value: float
    se: float
    ci: ConfidenceInterval
    n: int
    effective_sample_size: float
    method: str
    confidence_level: float


def _matrix(name: str, values: Any, n: int | None, rounds_from: str = "rewards") -> FloatArray:
    array = to_array(name, values, np.float64) if not isinstance(values, np.ndarray) else values
    if array.ndim != 2 or not np.issubdtype(array.dtype, np.number):
        raise ValueError(f"`{name}` must be a 2-D array (rounds x arms); got shape {np.shape(array)}.")
    array = np.ascontiguousarray(array, dtype=np.float64)
    if n is not None and array.shape[0] != n:
        raise ValueError(
            f"`{name}` must have one row per round ({n}); got {array.shape[0]} "
            f"(rounds counted from `{rounds_from}`)."
        )
    if not np.isfinite(array).all():
        raise ValueError(
            f"`{name}` must be finite; got {int((~np.isfinite(array)).sum())} non-finite value(s)."
        )
    return array


def _target(target: Any, n: int | None) -> FloatArray:
    array = _matrix("target", target, n)
    if (array < 0).any() or (array > 1).any():
        raise ValueError("`target` must hold probabilities in [0, 1].")
    sums = array.sum(axis=1)
    if not np.allclose(sums, 1.0, rtol=0.0, atol=1e-6):
        row = int(np.argmax(np.abs(sums - 1.0)))
        raise ValueError(f"`target` rows must sum to 1; row {row} sums to {sums[row]}.")
    return array


def _actions(name: str, actions: Any, n: int, n_arms: int | None) -> npt.NDArray[np.int64]:
    array = to_array(name, actions)
    if array.ndim != 1 or not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"`{name}` must be a 1-D array of integers; got dtype {array.dtype}.")
    check_same_length("rewards", range(n), name, array)
    if (array < 0).any() or (n_arms is not None and (array >= n_arms).any()):
        bad = array[(array < 0) | (array >= (n_arms if n_arms is not None else np.inf))][0]
        limit = f"[0, {n_arms - 1}]" if n_arms is not None else "at least 0"
        raise ValueError(f"`{name}` must be in {limit}; got {bad}.")
    return np.ascontiguousarray(array, dtype=np.int64)


def _logged(
    rewards: Any, actions: Any, propensities: Any, target: Any
) -> tuple[FloatArray, npt.NDArray[np.int64], FloatArray, FloatArray]:
    """The logged rounds and the target's probabilities, checked against each other."""
    target_array = _target(target, None)
    reward_array = as_float_array("rewards", rewards)
    n = reward_array.size
    action_array = _actions("actions", actions, n, target_array.shape[1])
    pscore = as_float_array("propensities", propensities)
    check_same_length("rewards", reward_array, "propensities", pscore)
    if ((pscore <= 0) | (pscore > 1)).any():
        raise ValueError(f"`propensities` must be in (0, 1]; got {pscore[(pscore <= 0) | (pscore > 1)][0]}.")
    if target_array.shape[0] != n:
        raise ValueError(
            f"`target` must have one row per round ({n}); got {target_array.shape[0]} "
            "(rounds counted from `rewards`)."
        )
    return reward_array, action_array, pscore, target_array


def _weights(target: FloatArray, actions: Any, pscore: FloatArray, clip: Any) -> FloatArray:
    weights: FloatArray = target[np.arange(actions.size), actions] / pscore
    if clip is not None:
        weights = np.minimum(weights, check_positive("clip", clip))
    return weights


def _kish(weights: FloatArray) -> float:
    return kish(float(weights.sum()), float((weights**2).sum()))


def kish(weight_sum: float, weight_square_sum: float) -> float:
    """Kish's effective sample size ``(sum w)^2 / sum w^2`` from the two sums (0 when all w are 0)."""
    return weight_sum**2 / weight_square_sum if weight_square_sum > 0 else 0.0


def _sample_variance(terms: FloatArray) -> float:
    return float(terms.var(ddof=1)) if terms.size > 1 else math.nan


def _result(
    value: float, terms: FloatArray, ess: float, method: str, confidence_level: Any
) -> OffPolicyResult:
    """Normal-approximation interval from the per-round terms whose mean is ``value``."""
    return estimate_from_moments(value, terms.size, _sample_variance(terms), ess, method, confidence_level)


def estimate_from_moments(
    value: float, n: int, variance: float, ess: float, method: str, confidence_level: Any
) -> OffPolicyResult:
    """An estimate from the mean ``value`` of ``n`` per-round terms and their sample variance.

    ``variance`` is the terms' ``ddof=1`` variance; the standard error is ``sqrt(variance / n)``
    and the interval a normal approximation. The in-memory estimators and the engine path
    (:mod:`abkit.frame.offpolicy`, whose engine returns ``n``, the mean and the variance) both
    finish here.

    Examples
    --------
    >>> r = estimate_from_moments(0.5, 100, 0.25, 80.0, "ips", 0.95)
    >>> r.se, round(r.ci.low, 4)
    (0.05, 0.402)
    """
    level = check_confidence_level(confidence_level)
    if n < 2 or math.isnan(value):
        warn_degenerate(f"{method}: too few rounds for an interval (n = {n}); se and ci are NaN.")
        se = math.nan
    else:
        se = math.sqrt(variance) / math.sqrt(n)
    return OffPolicyResult(
        value=value,
        se=se,
        ci=interval(value, se, "two-sided", level),
        n=n,
        effective_sample_size=ess,
        method=method,
        confidence_level=level,
    )


def ratio_value(weighted_reward_mean: float, weight_mean: float) -> float:
    """The self-normalised estimate ``mean(w r) / mean(w)`` (NaN when every weight is 0)."""
    return math.nan if weight_mean == 0.0 else weighted_reward_mean / weight_mean


def ratio_from_moments(
    value: float, weight_mean: float, n: int, residual_variance: float, ess: float, method: str,
    confidence_level: Any,
) -> OffPolicyResult:
    """A ratio estimate (SNIPS, replay) and its linearised interval.

    ``value`` is :func:`ratio_value`; ``residual_variance`` the ``ddof=1`` variance of the
    residual terms ``w (r - value)``. The linearised per-round terms are
    ``w (r - value) / mean(w)``, so their variance is ``residual_variance / mean(w)^2``.

    Examples
    --------
    >>> r = ratio_from_moments(0.5, 2.0, 100, 1.0, 50.0, "snips", 0.95)
    >>> r.se
    0.05
    """
    variance = math.nan if weight_mean == 0.0 else residual_variance / weight_mean**2
    return estimate_from_moments(value, n, variance, ess, method, confidence_level)


def ips(
    rewards: Any,
    actions: Any,
    propensities: Any,
    target: Any,
    *,
    clip: float | None = None,
    confidence_level: float = 0.95,
) -> OffPolicyResult:
    """Inverse propensity scoring: ``mean(w_i r_i)``, ``w_i = target[i, a_i] / p_i``.

    Unbiased when every action the target may take had a positive logging propensity;
    ``clip`` caps the weights (less variance, some bias; OBP's ``lambda_``).

    Examples
    --------
    >>> import numpy as np
    >>> r = ips([1.0, 0.0, 1.0], [0, 1, 0], [0.5, 0.5, 0.5], np.full((3, 2), 0.5))
    >>> round(r.value, 4)
    0.6667
    """
    reward_array, action_array, pscore, target_array = _logged(rewards, actions, propensities, target)
    weights = _weights(target_array, action_array, pscore, clip)
    terms = weights * reward_array
    return _result(float(terms.mean()), terms, _kish(weights), "ips", confidence_level)


def snips(
    rewards: Any,
    actions: Any,
    propensities: Any,
    target: Any,
    *,
    confidence_level: float = 0.95,
) -> OffPolicyResult:
    """Self-normalised IPS: ``sum(w r) / sum(w)``; slightly biased, far less variable than IPS.

    Examples
    --------
    >>> import numpy as np
    >>> r = snips([1.0, 0.0, 1.0], [0, 1, 0], [0.5, 0.5, 0.5], np.tile([1.0, 0.0], (3, 1)))
    >>> r.value
    1.0
    """
    reward_array, action_array, pscore, target_array = _logged(rewards, actions, propensities, target)
    weights = _weights(target_array, action_array, pscore, None)
    return _ratio_estimate(reward_array, weights, "snips", confidence_level)


def _ratio_estimate(
    rewards: FloatArray, weights: FloatArray, method: str, confidence_level: Any
) -> OffPolicyResult:
    # sum(w r) / sum(w); its interval from the linearised terms w (r - value) / mean(w).
    mean_weight = float(weights.mean())
    value = ratio_value(float((weights * rewards).mean()), mean_weight)
    residual = weights * (rewards - value)
    return ratio_from_moments(value, mean_weight, rewards.size, _sample_variance(residual), _kish(weights),
                              method, confidence_level)


def direct_method(target: Any, q_hat: Any, *, confidence_level: float = 0.95) -> OffPolicyResult:
    """Direct method: the reward model's value of the target, ``mean_i sum_a target q_hat``.

    Its interval covers the sampling of rounds only, not the reward model's error.

    Examples
    --------
    >>> direct_method([[0.5, 0.5], [1.0, 0.0]], [[0.2, 0.4], [0.1, 0.9]]).value
    0.2
    """
    target_array = _target(target, None)
    q = _matrix("q_hat", q_hat, target_array.shape[0], rounds_from="target")
    if q.shape != target_array.shape:
        raise ValueError(f"`q_hat` must have the shape of `target` {target_array.shape}; got {q.shape}.")
    terms = (target_array * q).sum(axis=1)
    return _result(float(terms.mean()), terms, float(terms.size), "direct_method", confidence_level)


def doubly_robust(
    rewards: Any,
    actions: Any,
    propensities: Any,
    target: Any,
    q_hat: Any,
    *,
    clip: float | None = None,
    confidence_level: float = 0.95,
) -> OffPolicyResult:
    """Doubly robust: DM plus IPS of the residual, ``sum_a target q_hat + w (r - q_hat[a_i])``.

    Unbiased if either the propensities or the reward model are right.

    Examples
    --------
    >>> import numpy as np
    >>> target, q_hat = np.tile([1.0, 0.0], (2, 1)), np.tile([0.5, 0.5], (2, 1))
    >>> doubly_robust([1.0, 1.0], [0, 1], [0.5, 0.5], target, q_hat).value
    1.0
    """
    reward_array, action_array, pscore, target_array = _logged(rewards, actions, propensities, target)
    q = _matrix("q_hat", q_hat, reward_array.size)
    if q.shape != target_array.shape:
        raise ValueError(f"`q_hat` must have the shape of `target` {target_array.shape}; got {q.shape}.")
    weights = _weights(target_array, action_array, pscore, clip)
    rows = np.arange(reward_array.size)
    terms = (target_array * q).sum(axis=1) + weights * (reward_array - q[rows, action_array])
    return _result(float(terms.mean()), terms, _kish(weights), "doubly_robust", confidence_level)


def replay(
    rewards: Any, actions: Any, target_actions: Any, *, confidence_level: float = 0.95
) -> OffPolicyResult:
    """Replay (Li et al., 2011): mean reward of the rounds where ``target_actions == actions``.

    Unbiased for a deterministic target when the logging policy chose uniformly at random.
    No match gives NaN and a ``DegenerateDataWarning``.

    Examples
    --------
    >>> replay([1.0, 0.0, 0.5], [0, 1, 1], [0, 0, 1]).value
    0.75
    """
    reward_array = as_float_array("rewards", rewards)
    action_array = _actions("actions", actions, reward_array.size, None)
    chosen = _actions("target_actions", target_actions, reward_array.size, None)
    match = (action_array == chosen).astype(np.float64)
    result = _ratio_estimate(reward_array, match, "replay", confidence_level)
    return dataclasses.replace(result, effective_sample_size=float(match.sum()))


# --- contextual targets -------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class PolicyProbabilities:
    """A contextual policy's action probabilities on logged contexts.

    ``probabilities[i, a]`` is the probability that the policy, in its current state, serves arm
    ``a`` in context ``i``. ``standard_errors`` are the Monte Carlo standard errors
    ``sqrt(p (1 - p) / n_samples)`` of each entry (zeros when ``method == "exact"``); no entry's
    standard error exceeds ``0.5 / sqrt(n_samples)``.
    """

    probabilities: FloatArray
    standard_errors: FloatArray
    method: str
    n_samples: int


def policy_probabilities(
    policy: ContextualPolicy,
    contexts: Any,
    *,
    greedy: bool = False,
    n_samples: int = 10_000,
    rng: Any = None,
) -> PolicyProbabilities:
    """Action probabilities of a contextual ``policy`` for every row of ``contexts``.

    LinUCB, and any policy with ``greedy=True`` (serve the best posterior mean), choose
    deterministically: the probabilities are exact, ``1 / m`` on each of ``m`` tied arms.
    Thompson sampling (LinTS, LogisticTS) is estimated from ``n_samples`` posterior draws per
    context (``rng`` seeds them; the policy's own stream is not used).

    Examples
    --------
    >>> import numpy as np
    >>> from abkit.bandits import LinUCB
    >>> policy = LinUCB(2, n_features=2, alpha=0.0, rng=0)
    >>> policy.update_batch([0, 1], [1.0, 0.0], [[1.0, 0.0], [1.0, 0.0]])
    >>> policy_probabilities(policy, [[1.0, 0.0], [0.0, 1.0]]).probabilities.tolist()
    [[1.0, 0.0], [0.5, 0.5]]
    """
    if not isinstance(policy, ContextualPolicy):
        raise TypeError(f"`policy` must be an abkit contextual policy; got {type(policy).__name__}.")
    x = policy._contexts(contexts)
    greedy = check_bool("greedy", greedy)
    draws = check_int("n_samples", n_samples, minimum=1)
    generator = check_rng(rng)
    exact = greedy or policy._kind == lk.LINUCB
    with policy._lock:
        table, params = policy._table.copy(), policy._params.copy()
    out = np.empty((x.shape[0], policy.n_arms))
    lk.probabilities(policy._kind, table, params, x, exact and greedy, draws, generator, out)
    if exact:
        return PolicyProbabilities(out, np.zeros_like(out), "exact", 0)
    errors = np.sqrt(out * (1.0 - out) / draws)
    return PolicyProbabilities(out, errors, "monte carlo", draws)


def ridge_reward_model(
    contexts: Any, actions: Any, rewards: Any, n_arms: int, *, l2: float = 1.0
) -> FloatArray:
    """A reward model for the direct method: ridge regression per arm, fitted on the log.

    Returns ``q_hat[i, a] = x_i' beta_a`` with ``beta_a = (l2 I + X_a'X_a)^-1 X_a'y_a`` over the
    logged rounds where arm ``a`` was taken (zero for an arm never taken). There is no separate
    intercept: include a column of ones in ``contexts`` for one. For 0/1 rewards a logistic model
    may fit better: ``LogisticTS.update_batch`` on the log, then ``expected_rewards``.

    Examples
    --------
    >>> ridge_reward_model([[1.0], [1.0]], [0, 1], [2.0, 4.0], 2, l2=1.0).tolist()
    [[1.0, 2.0], [1.0, 2.0]]
    """
    arms = check_int("n_arms", n_arms, minimum=1)
    penalty = check_positive("l2", l2)
    x = _matrix("contexts", contexts, None)
    y = as_float_array("rewards", rewards)
    if x.shape[0] != y.size:
        raise ValueError(
            f"`contexts` must have one row per round ({y.size}); got {x.shape[0]} "
            "(rounds counted from `rewards`)."
        )
    a = _actions("actions", actions, y.size, arms)
    q = np.zeros((y.size, arms))
    identity = penalty * np.eye(x.shape[1])
    for arm in range(arms):
        rows = a == arm
        if rows.any():
            beta = np.linalg.solve(identity + x[rows].T @ x[rows], x[rows].T @ y[rows])
            q[:, arm] = x @ beta
    return q


def evaluate_contextual(
    policy: ContextualPolicy,
    contexts: Any,
    actions: Any,
    rewards: Any,
    propensities: Any,
    *,
    q_hat: Any = None,
    greedy: bool = False,
    n_samples: int = 10_000,
    rng: Any = None,
    confidence_level: float = 0.95,
) -> dict[str, OffPolicyResult]:
    """IPS, SNIPS, direct method and doubly robust estimates of a contextual policy's value.

    The target probabilities come from :func:`policy_probabilities` (same ``greedy``,
    ``n_samples``, ``rng``); ``q_hat`` defaults to :func:`ridge_reward_model` on the log.
    ``propensities`` are the logging policy's probabilities of the logged actions.

    Examples
    --------
    >>> import numpy as np
    >>> from abkit.bandits import LinUCB
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((500, 2)); actions = rng.integers(0, 2, 500)
    >>> rewards = np.where(actions == (x[:, 0] > 0), 1.0, 0.0)
    >>> policy = LinUCB(2, n_features=2, alpha=0.0, rng=0)
    >>> policy.update_batch(actions, rewards, x)
    >>> result = evaluate_contextual(policy, x, actions, rewards, np.full(500, 0.5))
    >>> {name: round(r.value, 2) for name, r in result.items()}  # the linear model is biased here
    {'ips': 1.01, 'snips': 0.98, 'direct_method': 0.33, 'doubly_robust': 1.01}
    """
    target = policy_probabilities(policy, contexts, greedy=greedy, n_samples=n_samples, rng=rng).probabilities
    if q_hat is None:
        q_hat = ridge_reward_model(contexts, actions, rewards, policy.n_arms)
    logged = (rewards, actions, propensities, target)
    return {
        "ips": ips(*logged, confidence_level=confidence_level),
        "snips": snips(*logged, confidence_level=confidence_level),
        "direct_method": direct_method(target, q_hat, confidence_level=confidence_level),
        "doubly_robust": doubly_robust(*logged, q_hat, confidence_level=confidence_level),
    }
