"""Argo Rollouts' metric assessment: the threshold-counting rule of today's rollout controllers.

Argo Rollouts (``analysis/analysis.go``, ``assessMetricStatus``) counts measurements of one
metric, each already judged ``Successful``, ``Failed``, ``Inconclusive`` or ``Error`` against a
fixed threshold with no baseline, and turns the counters into a phase. It is reproduced here so
abkit's judge can be compared with it; the counting rule, in order:

1. ``Failed`` if ``failed > failureLimit`` (default 0; ``-1`` disables the check);
   ``Inconclusive`` if ``inconclusive > inconclusiveLimit`` (default 0); ``Error`` if
   ``consecutiveError > consecutiveErrorLimit`` (default 4); a later rule wins.
2. ``Successful`` if ``consecutiveSuccessLimit > 0`` and ``consecutiveSuccess`` reached it.
3. Once ``count`` measurements are taken: ``Successful``, unless a consecutive-success limit
   was set and not reached (then ``Failed``).
4. Otherwise ``Running`` (``Successful`` when the run is terminating).

Examples
--------
>>> argo_assess({"failureLimit": 2}, {"failed": 3, "count": 3})
'Failed'
>>> argo_assess({"count": 10}, {"successful": 10, "count": 10})
'Successful'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from abkit._validation import check_bool, check_int

__all__ = ["argo_assess"]

DEFAULT_CONSECUTIVE_ERROR_LIMIT = 4
_METRIC_KEYS = ("failureLimit", "inconclusiveLimit", "consecutiveErrorLimit", "consecutiveSuccessLimit",
                "count", "interval")
_COUNTER_KEYS = ("count", "successful", "failed", "inconclusive", "error", "consecutiveError",
                 "consecutiveSuccess")


def _counter(values: Mapping[str, Any], key: str, default: int, minimum: int = 0) -> int:
    return check_int(key, values.get(key, default), minimum=minimum)


def argo_assess(metric: Mapping[str, Any], result_counters: Mapping[str, Any], *,
                terminating: bool = False) -> str:
    """The phase Argo Rollouts assigns to a metric after its latest completed measurement.

    Parameters
    ----------
    metric
        The metric's limits: ``failureLimit``, ``inconclusiveLimit``, ``consecutiveErrorLimit``,
        ``consecutiveSuccessLimit``, ``count`` (and ``interval``, which does not matter here).
    result_counters
        Counters so far: ``count``, ``successful``, ``failed``, ``inconclusive``, ``error``,
        ``consecutiveError``, ``consecutiveSuccess``.
    terminating
        Whether the analysis run is being stopped.

    Returns
    -------
    str
        ``"Successful"``, ``"Failed"``, ``"Inconclusive"``, ``"Error"`` or ``"Running"``.

    Examples
    --------
    >>> argo_assess({}, {"consecutiveError": 4, "count": 5}, terminating=True)
    'Successful'
    """
    for name, mapping, keys in (("metric", metric, _METRIC_KEYS),
                                ("result_counters", result_counters, _COUNTER_KEYS)):
        if not isinstance(mapping, Mapping):
            raise TypeError(f"`{name}` must be a mapping; got {type(mapping).__name__}.")
        unknown = sorted(set(mapping) - set(keys))
        if unknown:
            raise ValueError(f"`{name}` has unknown keys {unknown}; allowed: {list(keys)}.")
    terminating = check_bool("terminating", terminating)
    failure_limit = _counter(metric, "failureLimit", 0, minimum=-1)
    inconclusive_limit = _counter(metric, "inconclusiveLimit", 0)
    error_limit = _counter(metric, "consecutiveErrorLimit", DEFAULT_CONSECUTIVE_ERROR_LIMIT)
    success_limit = _counter(metric, "consecutiveSuccessLimit", 0)
    count_target = metric.get("count")

    phase = ""
    if failure_limit >= 0 and _counter(result_counters, "failed", 0) > failure_limit:
        phase = "Failed"
    if _counter(result_counters, "inconclusive", 0) > inconclusive_limit:
        phase = "Inconclusive"
    if _counter(result_counters, "consecutiveError", 0) > error_limit:
        phase = "Error"
    if phase:
        return phase
    if success_limit > 0 and _counter(result_counters, "consecutiveSuccess", 0) >= success_limit:
        return "Successful"
    if count_target is not None and _counter(result_counters, "count", 0) >= check_int("count", count_target):
        return "Failed" if success_limit > 0 else "Successful"
    return "Successful" if terminating else "Running"
