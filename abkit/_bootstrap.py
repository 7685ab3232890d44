"""Bootstrap confidence intervals from replicates: percentile and BCa.

Resampling itself lives with each caller (two-sample in ``abkit.nonparametric``, paired in
``abkit.shadow``); this module turns replicates into intervals the same way for both.

BCa follows Efron (1987) as scipy.stats.bootstrap does: bias correction ``z0`` from the share of
replicates below the estimate, acceleration ``a`` from jackknife values.

Examples
--------
>>> import numpy as np
>>> reps = np.random.default_rng(0).normal(1.0, 0.1, 20_000)
>>> ci = percentile_interval(reps, 0.95, "two-sided")
>>> round(ci.low, 2), round(ci.high, 2)
(0.81, 1.2)
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy import special

from abkit._inference import NAN_INTERVAL, warn_degenerate
from abkit._results import ConfidenceInterval

__all__ = ["bca_interval", "percentile_interval"]


def _tail_levels(confidence_level: float, alternative: str) -> tuple[float, float]:
    tail = 1.0 - confidence_level
    if alternative == "two-sided":
        return tail / 2.0, 1.0 - tail / 2.0
    if alternative == "greater":
        return tail, 1.0
    return 0.0, 1.0 - tail


def _quantiles(replicates: npt.NDArray[np.float64], low: float, high: float) -> ConfidenceInterval:
    lo = -math.inf if low <= 0.0 else float(np.quantile(replicates, low))
    hi = math.inf if high >= 1.0 else float(np.quantile(replicates, high))
    return ConfidenceInterval(lo, hi)


def percentile_interval(
    replicates: npt.NDArray[np.float64], confidence_level: float, alternative: str
) -> ConfidenceInterval:
    """Percentile interval: quantiles of the bootstrap replicates.

    One-sided alternatives give an infinite end; NaN replicates give a NaN interval with a
    ``DegenerateDataWarning``.
    """
    replicates = np.asarray(replicates, dtype=np.float64)
    if np.isnan(replicates).any():
        warn_degenerate("Some bootstrap replicates are NaN; the interval is NaN.")
        return NAN_INTERVAL
    low, high = _tail_levels(confidence_level, alternative)
    return _quantiles(replicates, low, high)


def bca_interval(
    replicates: npt.NDArray[np.float64],
    estimate: float,
    jackknife: npt.NDArray[np.float64],
    confidence_level: float,
    alternative: str,
) -> ConfidenceInterval:
    """Bias-corrected and accelerated (BCa) interval.

    Parameters
    ----------
    replicates
        The statistic on each bootstrap resample.
    estimate
        The statistic on the original sample.
    jackknife
        The statistic with each unit left out in turn (for the acceleration); for two-sample
        statistics, the leave-one-out values of both samples concatenated.
    confidence_level, alternative
        As everywhere in abkit.
    """
    replicates = np.asarray(replicates, dtype=np.float64)
    jackknife = np.asarray(jackknife, dtype=np.float64)
    if np.isnan(replicates).any() or np.isnan(jackknife).any() or math.isnan(estimate):
        warn_degenerate("Some bootstrap or jackknife values are NaN; the BCa interval is NaN.")
        return NAN_INTERVAL
    share_below = (np.count_nonzero(replicates < estimate)
                   + 0.5 * np.count_nonzero(replicates == estimate)) / replicates.size
    if share_below <= 0.0 or share_below >= 1.0:
        warn_degenerate("All bootstrap replicates lie on one side of the estimate; BCa is NaN.")
        return NAN_INTERVAL
    z0 = float(special.ndtri(share_below))
    deviations = jackknife.mean() - jackknife
    denominator = 6.0 * float(np.sum(deviations**2)) ** 1.5
    acceleration = float(np.sum(deviations**3)) / denominator if denominator > 0 else 0.0
    low, high = _tail_levels(confidence_level, alternative)

    def adjust(level: float) -> float:
        if level <= 0.0 or level >= 1.0:
            return level
        z = z0 + float(special.ndtri(level))
        return float(special.ndtr(z0 + z / (1.0 - acceleration * z)))

    return _quantiles(replicates, adjust(low), adjust(high))
