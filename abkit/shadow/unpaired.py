"""The unpaired baseline: Mann-Whitney with the Hodges-Lehmann shift, as R's ``wilcox.test``.

A shadow log pairs every request, and the paired tests use that; this two-sample test ignores
the pairing. It is what a canary judge runs (Kayenta's Mann-Whitney classifier implements the
same interval) and serves here as the comparison that shows what pairing buys, and for logs
whose models saw different requests.

As R's ``wilcox.test(x, y, exact=FALSE, correct=TRUE, conf.int=TRUE)`` with ``x`` the
challenger: the normal approximation with the tie correction and (by default) the continuity
correction; the shift estimate and interval invert the same statistic with R's own root finder
(the estimate without the continuity correction, as R since 4.0).

Examples
--------
>>> r = mann_whitney_test([1, 2, 3, 4], [10, 20, 30, 40])
>>> r.rank_sum_statistic, round(r.pvalue, 6), r.effect, (r.ci.low, r.ci.high)
(16.0, 0.030383, 22.5, (6.0, 39.0))
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import numpy.typing as npt

from abkit._inference import NAN_INTERVAL, critical_value, pvalue_from_statistic, warn_degenerate
from abkit._results import ConfidenceInterval, Result
from abkit._validation import as_float_array, check_alternative, check_confidence_level
from abkit.shadow._ranks import tie_runs
from abkit.shadow.paired import continuity_shift, invert_step

__all__ = ["MannWhitneyTestResult", "mann_whitney_test"]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class MannWhitneyTestResult(Result):
    """Result of :func:`mann_whitney_test`.

    ``rank_sum_statistic`` is R's ``W`` for the challenger (its rank sum minus ``n(n+1)/2``);
    ``statistic`` the signed normal score; ``effect`` and ``ci`` the Hodges-Lehmann shift
    ``challenger - champion`` and its interval.
    """

    statistic: float
    pvalue: float
    effect: float
    ci: ConfidenceInterval
    rank_sum_statistic: float
    n_champion: int
    n_challenger: int
    alternative: str
    confidence_level: float
    correction: bool


def _rank_sum_z(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], alternative: str,
                correction: bool) -> tuple[float, float]:
    """R's ``(W - nx ny / 2 - correction) / sigma`` with the tie-corrected sigma, and ``W``."""
    nx, ny = x.size, y.size
    pooled = np.concatenate((x, y))
    order = np.argsort(pooled, kind="stable")
    starts, lengths = tie_runs(pooled[order])
    ranks = np.empty(pooled.size)
    ranks[order] = np.repeat(starts + (lengths + 1) / 2.0, lengths)
    w = float(ranks[:nx].sum()) - nx * (nx + 1) / 2.0
    z = w - nx * ny / 2.0
    total = nx + ny
    sigma2 = nx * ny / 12.0 * ((total + 1) - float(np.sum(lengths**3 - lengths)) / (total * (total - 1)))
    if sigma2 <= 0.0:
        return math.nan, w
    return (z - continuity_shift(z, alternative, correction)) / math.sqrt(sigma2), w


def _invert(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], target: float, alternative: str,
            correction: bool, *, clamp: bool) -> float:
    low, high = float(x.min() - y.max()), float(x.max() - y.min())

    def score(shift: float) -> float:
        return _rank_sum_z(x - shift, y, alternative, correction)[0] - target

    return invert_step(score, low, high, clamp=clamp)


def mann_whitney_test(
    values_champion: Any,
    values_challenger: Any,
    *,
    correction: bool = True,
    alternative: str = "two-sided",
    confidence_level: float = 0.95,
) -> MannWhitneyTestResult:
    """Two-sample Wilcoxon (Mann-Whitney) test with the Hodges-Lehmann shift and interval.

    Parameters
    ----------
    values_champion, values_challenger
        The two samples (any lengths; the pairing, if any, is ignored).
    correction
        Continuity correction of the normal approximation (R's ``correct``).
    alternative
        ``"greater"``: the challenger's values are shifted up.
    confidence_level
        Of the interval for the shift.

    Returns
    -------
    MannWhitneyTestResult

    Examples
    --------
    >>> r = mann_whitney_test([1, 2.2, 1.1, 2.5, 3], [20, 22, 21, 25, 30])
    >>> r.rank_sum_statistic, round(r.pvalue, 6)
    (25.0, 0.012186)
    """
    y = as_float_array("values_champion", values_champion)
    x = as_float_array("values_challenger", values_challenger)
    if not isinstance(correction, bool):
        raise TypeError(f"`correction` must be True or False; got {correction!r}.")
    alternative = check_alternative(alternative)
    confidence_level = check_confidence_level(confidence_level)
    z, w = _rank_sum_z(x, y, alternative, correction)
    common: dict[str, Any] = {"rank_sum_statistic": w, "n_champion": int(y.size), "n_challenger": int(x.size),
              "alternative": alternative, "confidence_level": confidence_level, "correction": correction}
    if math.isnan(z):
        warn_degenerate("All values are tied; the rank-sum test is undefined.")
        return MannWhitneyTestResult(statistic=math.nan, pvalue=math.nan, effect=math.nan,
                                     ci=NAN_INTERVAL, **common)
    crit = critical_value(confidence_level, alternative)
    low = -math.inf if alternative == "less" else _invert(x, y, crit, alternative, correction, clamp=True)
    high = math.inf if alternative == "greater" else _invert(x, y, -crit, alternative, correction,
                                                             clamp=True)
    estimate = _invert(x, y, 0.0, alternative, False, clamp=False)
    return MannWhitneyTestResult(statistic=z, pvalue=pvalue_from_statistic(z, alternative),
                                 effect=estimate, ci=ConfidenceInterval(low, high), **common)
