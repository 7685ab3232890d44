"""Sample-ratio mismatch (SRM): did the arms receive the traffic they were meant to?

A mismatch between the observed counts and the designed split usually means broken assignment
or logging, and invalidates the experiment's comparison.

Examples
--------
>>> from abkit import srm_test
>>> r = srm_test([10300, 4800, 4900], [0.5, 0.25, 0.25])
>>> r.statistic, round(r.pvalue, 10)
(19.0, 7.48518e-05)
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from scipy import stats

from abkit._results import Result
from abkit._validation import as_float_array, check_open_unit

__all__ = ["SRMTestResult", "srm_test"]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class SRMTestResult(Result):
    """Result of :func:`srm_test`; ``mismatch`` is ``pvalue < alpha``."""

    statistic: float
    pvalue: float
    df: int
    observed: tuple[int, ...]
    expected: tuple[float, ...]
    observed_shares: tuple[float, ...]
    expected_shares: tuple[float, ...]
    alpha: float
    mismatch: bool


def srm_test(counts: Any, weights: Any = None, *, alpha: float = 0.001) -> SRMTestResult:
    """Chi-square goodness-of-fit test of observed arm counts against the designed split.

    Parameters
    ----------
    counts
        Units observed in each arm (non-negative integers, at least two arms).
    weights
        Designed traffic shares, one per arm (positive; normalised to sum to 1). ``None`` means
        an equal split.
    alpha
        Threshold for flagging a mismatch; SRM checks conventionally use a strict 0.001.

    Returns
    -------
    SRMTestResult
        As R's ``chisq.test(counts, p = weights)``.

    Examples
    --------
    >>> srm_test([5000, 5150]).mismatch
    False
    """
    observed = as_float_array("counts", counts, min_size=2)
    if np.any(observed < 0) or np.any(observed != np.floor(observed)):
        raise ValueError(f"`counts` must be non-negative integers; got {observed}.")
    total = observed.sum()
    if total <= 0:
        raise ValueError("`counts` must have a positive total; got 0.")
    if weights is None:
        shares = np.full(observed.size, 1.0 / observed.size)
    else:
        w = as_float_array("weights", weights, min_size=2)
        if w.size != observed.size:
            raise ValueError(
                f"`counts` and `weights` must have the same length; got {observed.size} and {w.size}."
            )
        if np.any(w <= 0):
            raise ValueError(f"`weights` must be positive; got {w}.")
        shares = w / w.sum()
    alpha = check_open_unit("alpha", alpha)
    expected = total * shares
    statistic = float(np.sum((observed - expected) ** 2 / expected))
    df = observed.size - 1
    pvalue = float(stats.chi2.sf(statistic, df))
    return SRMTestResult(
        statistic=statistic,
        pvalue=pvalue,
        df=df,
        observed=tuple(int(c) for c in observed),
        expected=tuple(float(e) for e in expected),
        observed_shares=tuple(float(c / total) for c in observed),
        expected_shares=tuple(float(s) for s in shares),
        alpha=alpha,
        mismatch=pvalue < alpha,
    )
