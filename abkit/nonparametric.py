"""Tests on raw values: Mann-Whitney with the Hodges-Lehmann shift, and the two-sample bootstrap.

Mann-Whitney
    ``statistic`` is U of the treatment, ``scipy.stats.mannwhitneyu(treatment, control).statistic``
    (the number of (treatment, control) pairs with the treatment value larger, ties counting
    half). The p-value is the normal approximation with tie correction and continuity correction
    (scipy's ``method="asymptotic", use_continuity=True``; R's ``wilcox.test(exact=FALSE,
    correct=TRUE)``). ``effect`` is the Hodges-Lehmann shift, the median of the ``n * m``
    differences ``treatment[i] - control[j]``, and ``ci`` the interval R's ``wilcox.test(...,
    conf.int=TRUE, exact=FALSE, correct=TRUE)`` finds by root-finding on the continuity-corrected
    normal statistic of ``treatment - d`` against ``control``. That statistic is a step function
    of ``d`` that jumps at the pairwise differences, so its roots are order statistics of the
    differences; abkit computes them exactly (R's ``uniroot(tol=1e-4)`` returns a point within
    about 1e-4 of them; ``ci_method="uniroot"`` follows R's search instead, digit for digit).
    Order statistics come from a selection algorithm on the implicitly sorted difference
    matrix, in a few O(n + m) passes and O(n + m) memory: millions of observations per arm are
    fine. With ``method="exact"`` (small samples without ties) the p-value and the
    interval come from the exact null distribution of U instead (scipy's ``method="exact"``,
    R's ``wilcox.test(exact=TRUE, conf.int=TRUE)``).

Bootstrap
    Each arm is resampled independently with replacement; ``effect`` is
    ``statistic(treatment) - statistic(control)``, with a percentile or BCa interval (BCa as
    scipy.stats.bootstrap: jackknife acceleration over both samples) and a p-value by inverting
    that interval at 0 (see :func:`abkit._bootstrap.bootstrap_pvalue`). Named statistics run in
    numba kernels; a Python callable is the slower, general path.

Examples
--------
>>> import numpy as np
>>> from abkit import mann_whitney_test
>>> r = mann_whitney_test([1.1, 2.3, 2.9, 4.0, 5.2], [3.1, 4.4, 5.0, 6.3, 7.7])
>>> r.statistic, round(r.pvalue, 4), round(r.effect, 2), r.ci.low < 0.0 < r.ci.high
(21.0, 0.0947, 2.1, True)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import special, stats

from abkit import _kernels
from abkit._bootstrap import bca_interval, bca_parameters, bootstrap_pvalue, percentile_interval
from abkit._inference import NAN_INTERVAL, pvalue_from_statistic, tail_quantile, warn_degenerate
from abkit._progress import progress_bar, show_progress
from abkit._results import ConfidenceInterval, Result
from abkit._rootfind import zeroin
from abkit._validation import (
    as_float_array,
    as_paired_float_arrays,
    check_alternative,
    check_bool,
    check_choice,
    check_confidence_level,
    check_int,
    check_real,
    check_rng,
)

__all__ = [
    "BootstrapTestResult",
    "MannWhitneyResult",
    "bootstrap_test",
    "hodges_lehmann",
    "mann_whitney_test",
]

BOOTSTRAP_METHODS = ("bca", "percentile")
MANN_WHITNEY_METHODS = ("asymptotic", "exact")
CI_METHODS = ("exact", "uniroot")
# The exact null distribution costs O((n m)^2) operations; beyond this many pairs use asymptotic.
EXACT_MAX_PAIRS = 10_000
NAMED_STATISTICS = ("mean", "median", "ratio")
# Callables get resamples in batches of at most this many values (about 8 MB of float64).
_BATCH_VALUES = 1 << 20
_BLOCK_VALUES = 1 << 24  # values resampled per kernel call (a progress step, ~0.3 s)
_PROGRESS_VALUES = 100_000_000  # resampled values above which a watched call shows a bar


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class MannWhitneyResult(Result):
    """Result of :func:`mann_whitney_test`.

    ``statistic`` is U of the treatment; ``z`` the continuity- and tie-corrected normal score of
    the p-value; ``effect`` the Hodges-Lehmann shift (treatment - control) and ``ci`` its
    interval; ``relative_effect`` the shift over the control median (NaN unless that median is
    positive). ``probability_of_superiority`` is ``U / (n_control n_treatment)``, i.e.
    ``P(T > C) + P(T = C) / 2``, and ``rank_biserial`` is ``2 * probability_of_superiority - 1``.
    """

    statistic: float
    z: float
    pvalue: float
    effect: float
    ci: ConfidenceInterval
    relative_effect: float
    control_median: float
    treatment_median: float
    probability_of_superiority: float
    rank_biserial: float
    n_control: int
    n_treatment: int
    alternative: str
    confidence_level: float
    method: str


def _rank_sum_pvalue(
    treatment: npt.NDArray[np.float64], control: npt.NDArray[np.float64], alternative: str, correction: bool
) -> tuple[float, float, float]:
    """U of the treatment, its (tie- and, with ``correction``, continuity-) corrected z score and
    p-value (scipy's asymptotic method)."""
    n, m = treatment.size, control.size
    ranks = stats.rankdata(np.concatenate([treatment, control]))
    u = float(ranks[:n].sum()) - n * (n + 1) / 2.0
    sigma = _u_sd(n, m, _tie_sum(ranks))
    if sigma == 0.0:
        warn_degenerate("All observations are tied; the Mann-Whitney p-value is NaN.")
        return u, math.nan, math.nan
    deviation = u - n * m / 2.0
    z = (deviation - _continuity(deviation, alternative, correction)) / sigma
    return u, z, pvalue_from_statistic(z, alternative)


def _continuity(deviation: float, alternative: str, correction: bool = True) -> float:
    """R's and scipy's continuity correction of a centred U: one-sided +-1/2, else sign / 2
    (0 without ``correction``)."""
    if not correction:
        return 0.0
    if alternative == "greater":
        return 0.5
    if alternative == "less":
        return -0.5
    return 0.5 * float(np.sign(deviation))


def _tail(confidence_level: float, alternative: str) -> float:
    """Probability outside the interval on each bounded side."""
    tail = 1.0 - confidence_level
    return tail / 2.0 if alternative == "two-sided" else tail


def _tie_sum(values: npt.NDArray[np.float64]) -> float:
    """``sum(t^3 - t)`` over the sizes ``t`` of the groups of equal values."""
    _, counts = np.unique(values, return_counts=True)
    return float(np.sum(counts.astype(np.float64) ** 3 - counts))


def _u_sd(n: int, m: int, tie_sum: float) -> float:
    """Null standard deviation of U, tie-corrected."""
    total = n + m
    return math.sqrt(n * m / 12.0 * ((total + 1) - tie_sum / (total * (total - 1))))


def _first_true(predicate: Callable[[int], bool], size: int) -> int:
    """Smallest u in [0, size] where a monotone (False then True) predicate holds; size + 1 if none."""
    low, high = -1, size + 1
    while high - low > 1:
        middle = (low + high) // 2
        if predicate(middle):
            high = middle
        else:
            low = middle
    return high


def _shift_interval(
    treatment: npt.NDArray[np.float64],
    control: npt.NDArray[np.float64],
    alternative: str,
    confidence_level: float,
    correction: bool = True,
) -> ConfidenceInterval:
    """R's asymptotic ``wilcox.test`` interval for the shift, as exact order statistics.

    Between pairwise differences, ``U(d) = #{t_i - c_j > d}`` is an integer and R's statistic is
    ``g(U) = (U - n m / 2 - correction) / sigma``, with ``sigma`` tie-corrected for ties within
    each arm. The lower end is where ``g`` falls to ``z_{1 - alpha/2}``: with ``u*`` the largest
    count whose ``g`` is at most that quantile, it is the ``(n m - u*)``-th smallest difference.
    The upper end is symmetric.
    """
    n, m = treatment.size, control.size
    size = n * m
    sigma = _u_sd(n, m, _tie_sum(treatment) + _tie_sum(control))

    def g(u: int) -> float:
        deviation = u - size / 2.0
        return (deviation - _continuity(deviation, alternative, correction)) / sigma

    # R's wilcox.test takes its lower root at qnorm(alpha / 2) itself, not at minus the upper
    # critical value (they can differ in the last bit), so the lower quantile stays ndtri(tail)
    # here and in _uniroot_shift_interval; the upper one is abkit._inference's.
    tail = _tail(confidence_level, alternative)
    t_sorted, c_sorted = np.sort(treatment), np.sort(control)
    low, high = -math.inf, math.inf
    if alternative != "less":
        z_upper = tail_quantile(tail)
        u_star = _first_true(lambda u: g(u) > z_upper, size) - 1
        rank = min(max(size - u_star, 1), size)
        low = _kernels.kth_pairwise_difference(t_sorted, c_sorted, rank - 1)
    if alternative != "greater":
        z_lower = float(special.ndtri(tail))
        u_low = _first_true(lambda u: g(u) >= z_lower, size)
        rank = min(max(size - u_low + 1, 1), size)
        high = _kernels.kth_pairwise_difference(t_sorted, c_sorted, rank - 1)
    return ConfidenceInterval(float(low), float(high))


def _uniroot_shift_interval(
    treatment: npt.NDArray[np.float64],
    control: npt.NDArray[np.float64],
    alternative: str,
    confidence_level: float,
    correction: bool = True,
) -> ConfidenceInterval:
    """R's asymptotic ``wilcox.test`` interval along R's own path: its ``W(d)`` (the corrected
    normal score of ``treatment - d`` against ``control``, tie-corrected at each ``d``) solved
    by R's ``uniroot(tol = 1e-4)``, clamped to ``[min(t) - max(c), max(t) - min(c)]`` as R's
    ``root`` helper does. Each ``W(d)`` is one O(n + m) merge of the sorted samples."""
    n, m = treatment.size, control.size
    t_sorted, c_sorted = np.sort(treatment), np.sort(control)
    low_end, high_end = float(t_sorted[0] - c_sorted[-1]), float(t_sorted[-1] - c_sorted[0])
    if low_end == high_end:
        return ConfidenceInterval(low_end, high_end)

    def w(d: float) -> float:
        rank_sum, ties = _kernels.shifted_rank_sum(t_sorted, c_sorted, d)
        dz = rank_sum - n * (n + 1) / 2.0 - n * m / 2.0
        return (dz - _continuity(dz, alternative, correction)) / _u_sd(n, m, ties)

    w_low, w_high = w(low_end), w(high_end)

    def root(zq: float) -> float:
        if w_low - zq <= 0.0:
            return low_end
        if w_high - zq >= 0.0:
            return high_end
        return zeroin(lambda d: w(d) - zq, low_end, high_end, w_low - zq, w_high - zq, tol=1e-4)

    tail = _tail(confidence_level, alternative)
    low = root(tail_quantile(tail)) if alternative != "less" else -math.inf
    high = root(float(special.ndtri(tail))) if alternative != "greater" else math.inf
    return ConfidenceInterval(low, high)


def hodges_lehmann(treatment: Any, control: Any) -> float:
    """Median of all pairwise differences ``treatment[i] - control[j]``, in O(n + m) memory.

    >>> hodges_lehmann([3.0, 5.0], [1.0, 2.0, 4.0])
    1.5
    """
    t_sorted = np.sort(as_float_array("treatment", treatment))
    c_sorted = np.sort(as_float_array("control", control))
    size = t_sorted.size * c_sorted.size
    upper = _kernels.kth_pairwise_difference(t_sorted, c_sorted, size // 2)
    if size % 2:
        return float(upper)
    return 0.5 * (float(_kernels.kth_pairwise_difference(t_sorted, c_sorted, size // 2 - 1)) + upper)


def _relative_to_median(effect: float, control_median: float) -> float:
    if control_median > 0.0:
        return effect / control_median
    warn_degenerate(
        f"The relative shift needs a positive control median; got {control_median}. "
        "relative_effect is NaN."
    )
    return math.nan


def _u_null_pmf(n: int, m: int) -> npt.NDArray[np.float64]:
    """Null distribution of U without ties: ``P(U = u)`` for u = 0, ..., n m.

    Counts by the recurrence ``c(u; i, j) = c(u - j; i - 1, j) + c(u; i, j - 1)`` (the largest
    of the i + j values is a treatment value, above all j controls, or a control value); only
    additions of positive numbers, so the tails keep full relative precision.
    """
    size = n * m + 1
    unit = np.zeros(size)
    unit[0] = 1.0
    previous = [unit] * (m + 1)
    for _ in range(n):
        current = [unit]
        for j in range(1, m + 1):
            counts = current[j - 1].copy()
            counts[j:] += previous[j][: size - j]
            current.append(counts)
        previous = current
    return previous[m] / previous[m].sum()


def _exact_test(
    t_sorted: npt.NDArray[np.float64],
    c_sorted: npt.NDArray[np.float64],
    u: float,
    alternative: str,
    confidence_level: float,
) -> tuple[float, ConfidenceInterval]:
    """Exact p-value (as scipy's ``method="exact"``) and R's exact interval for the shift.

    R (``wilcox.test(exact=TRUE, conf.int=TRUE)`` without ties) takes ``qu``, the smallest q with
    ``P(U <= q) >= tail`` (at least 1), and returns the qu-th smallest and the qu-th largest
    pairwise difference.
    """
    size = t_sorted.size * c_sorted.size
    pmf = _u_null_pmf(t_sorted.size, c_sorted.size)
    cdf, sf = np.cumsum(pmf), np.cumsum(pmf[::-1])[::-1]
    at_most, at_least = float(cdf[int(u)]), float(sf[int(u)])
    pvalue = {"greater": at_least, "less": at_most}.get(alternative, min(1.0, 2.0 * min(at_most, at_least)))
    tail = _tail(confidence_level, alternative)
    qu = max(int(np.searchsorted(cdf, tail, side="left")), 1)
    low, high = -math.inf, math.inf
    if alternative != "less":
        low = _kernels.kth_pairwise_difference(t_sorted, c_sorted, qu - 1)
    if alternative != "greater":
        high = _kernels.kth_pairwise_difference(t_sorted, c_sorted, size - qu)
    return pvalue, ConfidenceInterval(float(low), float(high))


def mann_whitney_test(
    control: Any,
    treatment: Any,
    *,
    alternative: str = "two-sided",
    confidence_level: float = 0.95,
    method: str = "asymptotic",
    ci_method: str = "exact",
    correction: bool = True,
    nan_policy: str = "raise",
) -> MannWhitneyResult:
    """Mann-Whitney (Wilcoxon rank-sum) test with the Hodges-Lehmann shift and its interval.

    Parameters
    ----------
    control, treatment
        1-D arrays of raw values, one per unit (at least one each).
    alternative
        ``"two-sided"``, ``"greater"`` (treatment tends to be larger) or ``"less"``.
    confidence_level
        Of the shift's interval (one-sided alternatives give an infinite end).
    method
        ``"asymptotic"`` (default): the normal approximation with tie and continuity corrections
        for the p-value and the interval. ``"exact"``: the exact null distribution of U for both
        (as scipy's ``method="exact"`` and R's ``wilcox.test(exact=TRUE)``); only for data
        without ties and at most ``EXACT_MAX_PAIRS`` (10,000) pairs ``n_control * n_treatment``.
    ci_method
        How the asymptotic interval's roots are found. ``"exact"`` (default): the exact jump
        points of R's step function, order statistics of the pairwise differences, in O(n + m)
        memory. ``"uniroot"``: R's own search (``uniroot(tol = 1e-4)`` on the same function),
        which reproduces R's printed interval digit for digit but is only within about 1e-4 of
        the exact ends (an absolute tolerance: coarse for data on a small scale). Only with
        ``method="asymptotic"``.
    correction
        Continuity correction of the normal approximation (p-value, ``z`` and interval), as
        scipy's ``use_continuity`` and R's ``correct`` (both default to it). ``False`` matches
        ``mannwhitneyu(..., use_continuity=False)`` and ``wilcox.test(..., correct=FALSE)``;
        ``method="exact"`` has no correction to make.
    nan_policy
        ``"raise"`` (default) or ``"omit"`` to drop NaN values.

    Returns
    -------
    MannWhitneyResult
        ``statistic`` (U of the treatment), ``pvalue`` (as scipy's ``mannwhitneyu(treatment,
        control, method=method)``), ``effect`` (Hodges-Lehmann shift) and ``ci`` (as R's
        ``wilcox.test(treatment, control, conf.int=TRUE, exact=...)``, computed exactly).

    Examples
    --------
    >>> r = mann_whitney_test([1.0, 2.0, 3.0, 4.0], [3.0, 4.0, 5.0, 6.0], alternative="greater")
    >>> r.statistic, round(r.pvalue, 4), r.effect, r.probability_of_superiority
    (14.0, 0.054, 2.0, 0.875)
    >>> r = mann_whitney_test([1.1, 2.3, 2.9, 4.0], [3.1, 4.4, 5.0, 6.3], method="exact")
    >>> round(r.pvalue, 4), tuple(round(v, 2) for v in r.ci)
    (0.0571, (-0.9, 5.2))
    """
    alternative = check_alternative(alternative)
    confidence_level = check_confidence_level(confidence_level)
    method = check_choice("method", method, MANN_WHITNEY_METHODS)
    ci_method = check_choice("ci_method", ci_method, CI_METHODS)
    correction = check_bool("correction", correction)
    if ci_method == "uniroot" and method != "asymptotic":
        raise ValueError(f"`ci_method` 'uniroot' needs method='asymptotic'; got method={method!r}.")
    control_values = as_float_array("control", control, nan_policy=nan_policy)
    treatment_values = as_float_array("treatment", treatment, nan_policy=nan_policy)
    n, m = treatment_values.size, control_values.size
    if method == "exact":
        _check_exact_allowed(treatment_values, control_values)
    u, z, pvalue = _rank_sum_pvalue(treatment_values, control_values, alternative, correction)
    if method == "exact":
        pvalue, ci = _exact_test(np.sort(treatment_values), np.sort(control_values), u, alternative,
                                 confidence_level)
    elif ci_method == "uniroot":
        ci = _uniroot_shift_interval(treatment_values, control_values, alternative, confidence_level,
                                     correction)
    else:
        ci = _shift_interval(treatment_values, control_values, alternative, confidence_level, correction)
    effect = hodges_lehmann(treatment_values, control_values)
    control_median = float(np.median(control_values))
    superiority = u / (n * m)
    return MannWhitneyResult(
        statistic=u,
        z=z,
        pvalue=pvalue,
        effect=effect,
        ci=ci,
        relative_effect=_relative_to_median(effect, control_median),
        control_median=control_median,
        treatment_median=float(np.median(treatment_values)),
        probability_of_superiority=superiority,
        rank_biserial=2.0 * superiority - 1.0,
        n_control=m,
        n_treatment=n,
        alternative=alternative,
        confidence_level=confidence_level,
        method=method,
    )


def _check_exact_allowed(treatment: npt.NDArray[np.float64], control: npt.NDArray[np.float64]) -> None:
    pairs = treatment.size * control.size
    if pairs > EXACT_MAX_PAIRS:
        raise ValueError(
            f"method='exact' needs n_control * n_treatment <= {EXACT_MAX_PAIRS}; got {pairs}. "
            "Use method='asymptotic'."
        )
    combined = np.concatenate([treatment, control])
    tied = combined.size - np.unique(combined).size
    if tied:
        raise ValueError(
            f"method='exact' needs data without ties; got {tied} repeated value(s). Use method='asymptotic'."
        )


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class BootstrapTestResult(Result):
    """Result of :func:`bootstrap_test`.

    ``effect`` is ``statistic(treatment) - statistic(control)``; ``se`` the standard deviation of
    its bootstrap replicates and ``statistic`` the ratio ``effect / se`` (a bootstrap z score).
    ``relative_effect`` is ``statistic(treatment) / statistic(control) - 1`` and ``relative_ci``
    its interval from the same resamples (NaN unless the control statistic is positive on the
    sample and every resample). ``statistic_name`` says which statistic was bootstrapped.
    """

    statistic: float
    pvalue: float
    effect: float
    ci: ConfidenceInterval
    relative_effect: float
    relative_ci: ConfidenceInterval
    control_statistic: float
    treatment_statistic: float
    se: float
    statistic_name: str
    n_control: int
    n_treatment: int
    n_resamples: int
    alternative: str
    confidence_level: float
    method: str


@dataclasses.dataclass(frozen=True, slots=True)
class _Arm:
    """One arm's statistic: on the sample, on each resample, and left-one-out."""

    estimate: float
    replicates: npt.NDArray[np.float64]
    jackknife: npt.NDArray[np.float64] | None


def _parse_statistic(statistic: Any) -> tuple[int, float, str] | Callable[..., Any]:
    """A kernel code, quantile level and name, or the user's callable."""
    if callable(statistic):
        return statistic
    if isinstance(statistic, tuple) and len(statistic) == 2 and statistic[0] == "quantile":
        q = check_real("statistic[1]", statistic[1])
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"`statistic[1]` (the quantile level) must be in [0, 1]; got {q}.")
        return _kernels.STAT_QUANTILE, q, f"quantile({q:g})"
    if isinstance(statistic, str):
        check_choice("statistic", statistic, NAMED_STATISTICS)
        code = {"mean": _kernels.STAT_MEAN, "median": _kernels.STAT_QUANTILE, "ratio": _kernels.STAT_RATIO}
        return code[statistic], 0.5, statistic
    raise TypeError(
        "`statistic` must be 'mean', 'median', 'ratio', ('quantile', q) or a callable; "
        f"got {statistic!r}."
    )


def _as_arm_values(name: str, values: Any, kind: int, nan_policy: str) -> npt.NDArray[np.float64]:
    """The arm as a C-contiguous (n, 1) array, or (n, 2) of (numerator, denominator) for ratios."""
    if kind != _kernels.STAT_RATIO:
        return as_float_array(name, values, nan_policy=nan_policy, min_size=2).reshape(-1, 1)
    if not isinstance(values, tuple | list) or len(values) != 2:
        raise TypeError(
            f"`{name}` must be a (numerator, denominator) pair of arrays for statistic='ratio'; "
            f"got {type(values).__name__}."
        )
    numerator, denominator = as_paired_float_arrays(
        f"{name}[0]", values[0], f"{name}[1]", values[1], nan_policy=nan_policy, min_size=2
    )
    return np.ascontiguousarray(np.column_stack([numerator, denominator]))


def _kernel_arm(values: npt.NDArray[np.float64], kind: int, q: float, n_resamples: int,
                rng: np.random.Generator, jackknife: bool, advance: Callable[[float], Any]) -> _Arm:
    if kind == _kernels.STAT_RATIO:
        estimate = float(values[:, 0].sum() / values[:, 1].sum())
    elif kind == _kernels.STAT_MEAN:
        estimate = float(values[:, 0].mean())
    else:
        estimate = float(np.quantile(values[:, 0], q))
    # Blocks of resamples, so a progress bar can move; the kernel draws each resample's indices
    # in turn, so the blocks draw the same stream as one call.
    block = max(1, _BLOCK_VALUES // values.shape[0])
    replicates = np.empty(n_resamples, dtype=np.float64)
    for start in range(0, n_resamples, block):
        stop = min(start + block, n_resamples)
        replicates[start:stop] = _kernels.bootstrap_replicates(values, kind, q, stop - start, rng)
        advance(stop - start)
    loo = _kernels.jackknife_values(values, kind, q) if jackknife else None
    return _Arm(estimate, replicates, loo)


def _call_statistic(
    function: Callable[..., Any], samples: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    result = np.asarray(function(samples, axis=-1), dtype=np.float64)
    if result.shape != samples.shape[:1]:
        raise ValueError(
            "`statistic` must reduce the last axis: called on an array of shape "
            f"{samples.shape} with axis=-1 it must return shape {samples.shape[:1]}; got {result.shape}."
        )
    return result


def _callable_arm(values: npt.NDArray[np.float64], function: Callable[..., Any], n_resamples: int,
                  rng: np.random.Generator, jackknife: bool, advance: Callable[[float], Any]) -> _Arm:
    sample = values[:, 0]
    n = sample.size
    batch = max(1, _BATCH_VALUES // n)
    estimate = float(_call_statistic(function, sample[np.newaxis, :])[0])
    replicates = np.empty(n_resamples, dtype=np.float64)
    for start in range(0, n_resamples, batch):
        stop = min(start + batch, n_resamples)
        replicates[start:stop] = _call_statistic(function, sample[rng.integers(0, n, size=(stop - start, n))])
        advance(stop - start)
    loo = None
    if jackknife:
        loo = np.empty(n, dtype=np.float64)
        columns = np.arange(n - 1)
        for start in range(0, n, batch):
            left_out = np.arange(start, min(start + batch, n))
            index = columns[np.newaxis, :] + (columns[np.newaxis, :] >= left_out[:, np.newaxis])
            loo[left_out] = _call_statistic(function, sample[index])
    return _Arm(estimate, replicates, loo)


def _interval_and_pvalue(
    replicates: npt.NDArray[np.float64],
    estimate: float,
    jackknife: list[npt.NDArray[np.float64]] | None,
    null_value: float,
    alternative: str,
    confidence_level: float,
) -> tuple[ConfidenceInterval, float]:
    if jackknife is None:
        return (percentile_interval(replicates, confidence_level, alternative),
                bootstrap_pvalue(replicates, null_value, alternative))
    ci = bca_interval(replicates, estimate, jackknife, confidence_level, alternative)
    parameters = bca_parameters(replicates, estimate, jackknife) if not math.isnan(ci.low) else None
    if parameters is None:
        return ci, math.nan
    return ci, bootstrap_pvalue(replicates, null_value, alternative, *parameters)


def _relative(control: _Arm, treatment: _Arm, alternative: str,
              confidence_level: float) -> tuple[float, ConfidenceInterval]:
    if not (control.estimate > 0.0 and np.all(control.replicates > 0.0)):
        warn_degenerate(
            "The relative effect needs a positive control statistic on the sample and every "
            "resample; relative_effect and relative_ci are NaN."
        )
        return math.nan, NAN_INTERVAL
    relative = treatment.estimate / control.estimate - 1.0
    replicates = treatment.replicates / control.replicates - 1.0
    jackknife = None
    if control.jackknife is not None and treatment.jackknife is not None:
        jackknife = [treatment.estimate / control.jackknife - 1.0,
                     treatment.jackknife / control.estimate - 1.0]
    ci, _ = _interval_and_pvalue(replicates, relative, jackknife, 0.0, alternative, confidence_level)
    return relative, ci


def bootstrap_test(
    control: Any,
    treatment: Any,
    *,
    statistic: str | tuple[str, float] | Callable[..., Any] = "mean",
    n_resamples: int = 10_000,
    confidence_level: float = 0.95,
    method: str = "bca",
    alternative: str = "two-sided",
    rng: int | np.random.Generator | None = None,
    nan_policy: str = "raise",
    progress: bool | None = None,
) -> BootstrapTestResult:
    """Two-sample bootstrap of the difference in any statistic, with a percentile or BCa interval.

    Parameters
    ----------
    control, treatment
        1-D arrays of raw values, one per unit (at least two each). For ``statistic="ratio"``,
        each arm is a ``(numerator, denominator)`` pair of equal-length arrays, resampled by unit.
    statistic
        ``"mean"``, ``"median"``, ``("quantile", q)`` with ``q`` in [0, 1] (NumPy's default linear
        quantile), ``"ratio"`` (ratio of means, ``sum(numerator) / sum(denominator)``), or a
        callable ``f(sample, axis=-1)`` that reduces the last axis of a 2-D array of resamples
        (like NumPy's reductions and scipy.stats.bootstrap's ``vectorized=True``). Named
        statistics run in numba kernels; callables are slower, and their BCa jackknife costs
        O(n^2).
    n_resamples
        Bootstrap resamples per arm (at least 1).
    confidence_level, alternative
        As everywhere in abkit; one-sided alternatives give an infinite interval end.
    method
        ``"bca"`` (default, as scipy.stats.bootstrap) or ``"percentile"``.
    rng
        Seed or ``numpy.random.Generator``. The control's resamples are drawn first, then the
        treatment's, exactly as ``scipy.stats.bootstrap((control, treatment), ...)`` draws them:
        with the same generator both produce the same replicates.
    nan_policy
        ``"raise"`` (default) or ``"omit"``.
    progress
        Show a tqdm bar over the resamples; ``None`` (default): when the resampling is large
        (``n_resamples * (n_control + n_treatment)`` above 10^8 values, a few seconds) and
        standard error is a terminal or a notebook. ``TQDM_DISABLE=1`` hides it. The bar never
        changes the result.

    Returns
    -------
    BootstrapTestResult
        ``effect`` and ``ci``; ``pvalue`` by inverting the chosen interval at 0 (the largest
        ``1 - confidence_level`` whose interval contains 0; never below ``1 / n_resamples``
        two-sided).

    Examples
    --------
    >>> import numpy as np
    >>> from abkit import bootstrap_test
    >>> gen = np.random.default_rng(1)
    >>> control, treatment = gen.exponential(1.0, 500), gen.exponential(1.5, 500)
    >>> r = bootstrap_test(control, treatment, statistic="median", n_resamples=2000, rng=7)
    >>> r.statistic_name, round(r.effect, 3), r.ci.low < r.effect < r.ci.high, r.pvalue < 0.05
    ('median', 0.414, True, True)
    """
    parsed = _parse_statistic(statistic)
    n_resamples = check_int("n_resamples", n_resamples, minimum=1)
    confidence_level = check_confidence_level(confidence_level)
    method = check_choice("method", method, BOOTSTRAP_METHODS)
    alternative = check_alternative(alternative)
    generator = check_rng(rng)
    kind = _kernels.STAT_MEAN if callable(parsed) else parsed[0]
    control_values = _as_arm_values("control", control, kind, nan_policy)
    treatment_values = _as_arm_values("treatment", treatment, kind, nan_policy)
    jackknife = method == "bca"
    size = control_values.shape[0] + treatment_values.shape[0]
    show = show_progress(progress, work=n_resamples * size, threshold=_PROGRESS_VALUES)
    with progress_bar(show, total=2 * n_resamples, desc="bootstrap_test", unit="resample") as advance:
        if callable(parsed):
            name = getattr(parsed, "__name__", type(parsed).__name__)
            arms = [_callable_arm(v, parsed, n_resamples, generator, jackknife, advance)
                    for v in (control_values, treatment_values)]
        else:
            kind, q, name = parsed
            arms = [_kernel_arm(v, kind, q, n_resamples, generator, jackknife, advance)
                    for v in (control_values, treatment_values)]
    control_arm, treatment_arm = arms
    effect = treatment_arm.estimate - control_arm.estimate
    replicates = treatment_arm.replicates - control_arm.replicates
    loo = None
    if control_arm.jackknife is not None and treatment_arm.jackknife is not None:
        loo = [treatment_arm.estimate - control_arm.jackknife,
               treatment_arm.jackknife - control_arm.estimate]
    ci, pvalue = _interval_and_pvalue(replicates, effect, loo, 0.0, alternative, confidence_level)
    se = float(np.std(replicates, ddof=1)) if n_resamples > 1 else math.nan
    relative_effect, relative_ci = _relative(control_arm, treatment_arm, alternative, confidence_level)
    return BootstrapTestResult(
        statistic=effect / se if se > 0.0 else math.nan,
        pvalue=pvalue,
        effect=effect,
        ci=ci,
        relative_effect=relative_effect,
        relative_ci=relative_ci,
        control_statistic=control_arm.estimate,
        treatment_statistic=treatment_arm.estimate,
        se=se,
        statistic_name=name,
        n_control=control_values.shape[0],
        n_treatment=treatment_values.shape[0],
        n_resamples=n_resamples,
        alternative=alternative,
        confidence_level=confidence_level,
        method=method,
    )
