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
    check_confidence_level,
    check_positive,
    check_same_length,
    to_array,
)

__all__ = ["OffPolicyResult", "direct_method", "doubly_robust", "ips", "replay", "snips"]

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


def _matrix(name: str, values: Any, n: int | None) -> FloatArray:
    array = to_array(name, values, np.float64) if not isinstance(values, np.ndarray) else values
    if array.ndim != 2 or not np.issubdtype(array.dtype, np.number):
        raise ValueError(f"`{name}` must be a 2-D array (rounds x arms); got shape {np.shape(array)}.")
    array = np.ascontiguousarray(array, dtype=np.float64)
    if n is not None and array.shape[0] != n:
        raise ValueError(f"`{name}` must have one row per round ({n}); got {array.shape[0]}.")
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
        raise ValueError(f"`target` must have one row per round ({n}); got {target_array.shape[0]}.")
    return reward_array, action_array, pscore, target_array


def _weights(target: FloatArray, actions: Any, pscore: FloatArray, clip: Any) -> FloatArray:
    weights: FloatArray = target[np.arange(actions.size), actions] / pscore
    if clip is not None:
        weights = np.minimum(weights, check_positive("clip", clip))
    return weights


def _kish(weights: FloatArray) -> float:
    total_sq = float((weights**2).sum())
    return float(weights.sum()) ** 2 / total_sq if total_sq > 0 else 0.0


def _result(
    value: float, terms: FloatArray, ess: float, method: str, confidence_level: Any
) -> OffPolicyResult:
    """Normal-approximation interval from the per-round terms whose mean is ``value``."""
    level = check_confidence_level(confidence_level)
    n = terms.size
    if n < 2 or math.isnan(value):
        warn_degenerate(f"{method}: too few rounds for an interval (n = {n}); se and ci are NaN.")
        se = math.nan
    else:
        se = float(terms.std(ddof=1) / math.sqrt(n))
    return OffPolicyResult(
        value=value,
        se=se,
        ci=interval(value, se, "two-sided", level),
        n=n,
        effective_sample_size=ess,
        method=method,
        confidence_level=level,
    )


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
    if mean_weight == 0.0:
        value = math.nan
        terms = np.full(rewards.size, math.nan)
    else:
        value = float((rewards * weights / mean_weight).mean())
        terms = weights * (rewards - value) / mean_weight
    result = _result(value, terms, _kish(weights), method, confidence_level)
    return result


def direct_method(target: Any, q_hat: Any, *, confidence_level: float = 0.95) -> OffPolicyResult:
    """Direct method: the reward model's value of the target, ``mean_i sum_a target q_hat``.

    Its interval covers the sampling of rounds only, not the reward model's error.

    Examples
    --------
    >>> direct_method([[0.5, 0.5], [1.0, 0.0]], [[0.2, 0.4], [0.1, 0.9]]).value
    0.2
    """
    target_array = _target(target, None)
    q = _matrix("q_hat", q_hat, target_array.shape[0])
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
