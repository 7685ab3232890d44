"""Exact distribution of the Wilcoxon signed-rank statistic and R's exact interval.

For ``n`` non-zero, untied differences, ``V`` (the sum of the positive ranks) is distributed as
the sum of a random subset of ``1..n``; the counts come from one pass of dynamic programming
(exact in float64 for ``n < 53``). The interval is R's: order statistics of the Walsh averages
at ``qsignrank(alpha / 2, n)``, and the estimate their median.

Examples
--------
>>> psignrank(3, 4)   # P(V <= 3) for n = 4: subsets of {1, 2, 3, 4} summing to at most 3
0.3125
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from abkit._results import ConfidenceInterval

_EPS = float(np.finfo(float).eps)


def signrank_cdf(n: int) -> npt.NDArray[np.float64]:
    """``P(V <= q)`` for ``q = 0 .. n(n+1)/2``."""
    counts = np.zeros(n * (n + 1) // 2 + 1)
    counts[0] = 1.0
    for k in range(1, n + 1):
        previous = counts.copy()
        counts[k:] += previous[:-k]
    return np.cumsum(counts) / 2.0**n


def psignrank(q: int, n: int) -> float:
    """R's ``psignrank(q, n)``."""
    if q < 0:
        return 0.0
    cdf = signrank_cdf(n)
    return float(cdf[min(q, cdf.size - 1)])


def qsignrank(p: float, n: int) -> int:
    """R's ``qsignrank(p, n)`` with its ``10 * DBL_EPSILON`` fuzz (lower tail, ``p <= 0.5``)."""
    cdf = signrank_cdf(n)
    return int(np.searchsorted(cdf, p - 10.0 * _EPS, side="left"))


def exact_signed_rank(
    diff: npt.NDArray[np.float64], v: float, alternative: str, confidence_level: float
) -> tuple[float, float, ConfidenceInterval]:
    """Exact p-value, Hodges-Lehmann estimate and interval (R's ``wilcox.test(exact=TRUE)``).

    ``diff`` holds the non-zero, untied differences and ``v`` their positive rank sum.
    """
    n = diff.size
    total = n * (n + 1) // 2
    cdf = signrank_cdf(n)
    upper = 1.0 - (cdf[int(v) - 1] if v >= 1 else 0.0)  # P(V >= v)
    lower = float(cdf[int(v)])
    if alternative == "greater":
        pvalue = upper
    elif alternative == "less":
        pvalue = lower
    else:
        pvalue = min(1.0, 2.0 * (upper if v > n * (n + 1) / 4.0 else lower))
    walsh = (diff[:, None] + diff[None, :])[np.triu_indices(n)] / 2.0
    walsh.sort()
    tail = 1.0 - confidence_level
    qu = max(qsignrank(tail / 2.0 if alternative == "two-sided" else tail, n), 1)
    ql = total - qu
    low = -math.inf if alternative == "less" else float(walsh[qu - 1])
    high = math.inf if alternative == "greater" else float(walsh[ql])
    return float(pvalue), float(np.median(walsh)), ConfidenceInterval(low, high)
