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
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from scipy import special

from abkit._inference import NAN_INTERVAL, warn_degenerate
from abkit._results import ConfidenceInterval

__all__ = ["bca_interval", "bca_parameters", "bootstrap_pvalue", "percentile_interval"]


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
    jackknife: npt.NDArray[np.float64] | Sequence[npt.NDArray[np.float64]],
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
        The statistic with each unit left out in turn (for the acceleration). For a statistic of
        several independent samples, a sequence with one such array per sample: the acceleration
        then sums over samples as Efron and Tibshirani (1993, eq. 15.36) and
        scipy.stats.bootstrap do.
    confidence_level, alternative
        As everywhere in abkit.
    """
    parameters = bca_parameters(replicates, estimate, jackknife)
    if parameters is None:
        return NAN_INTERVAL
    z0, acceleration = parameters
    low, high = _tail_levels(confidence_level, alternative)

    def adjust(level: float) -> float:
        if level <= 0.0 or level >= 1.0:
            return level
        z = z0 + float(special.ndtri(level))
        return float(special.ndtr(z0 + z / (1.0 - acceleration * z)))

    return _quantiles(np.asarray(replicates, dtype=np.float64), adjust(low), adjust(high))


def bca_parameters(
    replicates: npt.NDArray[np.float64],
    estimate: float,
    jackknife: npt.NDArray[np.float64] | Sequence[npt.NDArray[np.float64]],
) -> tuple[float, float] | None:
    """BCa's bias correction ``z0`` and acceleration ``a`` (as :func:`bca_interval` uses them).

    ``None``, with a ``DegenerateDataWarning``, when they are undefined (NaN values, or every
    replicate on one side of the estimate).

    >>> bca_parameters(np.array([0.0, 1.0, 2.0, 3.0]), 1.5, np.array([1.0, 2.0]))
    (0.0, 0.0)
    >>> two_samples = [np.array([1.0, 2.0, 4.0]), np.array([3.0, 3.5])]
    >>> z0, a = bca_parameters(np.array([0.0, 1.0, 2.0, 3.0]), 1.5, two_samples)
    >>> round(a, 6)
    -0.035924
    """
    replicates = np.asarray(replicates, dtype=np.float64)
    several = isinstance(jackknife, list | tuple) and all(np.ndim(v) == 1 for v in jackknife)
    samples = ([np.asarray(values, dtype=np.float64) for values in jackknife] if several
               else [np.asarray(jackknife, dtype=np.float64)])
    if np.isnan(replicates).any() or any(np.isnan(v).any() for v in samples) or math.isnan(estimate):
        warn_degenerate("Some bootstrap or jackknife values are NaN; the BCa interval is NaN.")
        return None
    share_below = (np.count_nonzero(replicates < estimate)
                   + 0.5 * np.count_nonzero(replicates == estimate)) / replicates.size
    if share_below <= 0.0 or share_below >= 1.0:
        warn_degenerate("All bootstrap replicates lie on one side of the estimate; BCa is NaN.")
        return None
    z0 = float(special.ndtri(share_below))
    # Per sample j of size n: U = (n - 1) (mean - value); a = sum_j sum U^3 / n^3 over
    # 6 (sum_j sum U^2 / n^2)^(3/2). With one sample the factors cancel.
    cubes = squares = 0.0
    for values in samples:
        size = float(values.size)
        influence = (size - 1.0) * (values.mean() - values)
        cubes += float(np.sum(influence**3)) / size**3
        squares += float(np.sum(influence**2)) / size**2
    acceleration = cubes / (6.0 * squares**1.5) if squares > 0 else 0.0
    return z0, acceleration


def bootstrap_pvalue(
    replicates: npt.NDArray[np.float64],
    null_value: float,
    alternative: str,
    z0: float = 0.0,
    acceleration: float = 0.0,
) -> float:
    """P-value by inverting the bootstrap interval at ``null_value``.

    The p-value is the largest ``1 - confidence_level`` at which the interval (percentile with
    ``z0 = acceleration = 0``, BCa with :func:`bca_parameters`) still contains ``null_value``:
    solving the BCa level map for the share of replicates below ``null_value``. That share is
    kept within ``[0.5 / B, 1 - 0.5 / B]`` for ``B`` replicates, so a two-sided p-value is never
    below ``1 / B``: the resolution of ``B`` resamples.

    >>> reps = np.arange(1.0, 101.0)  # 1, ..., 100: 10 replicates lie below 10.5
    >>> round(bootstrap_pvalue(reps, 10.5, "greater"), 6), round(bootstrap_pvalue(reps, 10.5, "two-sided"), 6)
    (0.1, 0.2)
    """
    replicates = np.asarray(replicates, dtype=np.float64)
    if np.isnan(replicates).any() or math.isnan(z0) or math.isnan(acceleration):
        return math.nan
    size = replicates.size
    share = float(np.count_nonzero(replicates < null_value)
                  + 0.5 * np.count_nonzero(replicates == null_value)) / size
    share = min(max(share, 0.5 / size), 1.0 - 0.5 / size)
    w = float(special.ndtri(share)) - z0
    if 1.0 + acceleration * w <= 0.0:
        # Beyond the reach of the BCa level map: every interval lies on one side of the null.
        level = 0.0 if w < 0.0 else 1.0
    else:
        level = float(special.ndtr(w / (1.0 + acceleration * w) - z0))
    if alternative == "greater":
        return level
    if alternative == "less":
        return 1.0 - level
    return min(1.0, 2.0 * min(level, 1.0 - level))
