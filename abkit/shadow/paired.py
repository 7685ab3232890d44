"""Paired tests on per-request outcomes: McNemar, paired t and Wilcoxon signed-rank.

Every request is seen by both models, so each test works on the per-request difference
``challenger - champion``: ``effect`` and ``statistic`` are oriented that way, and a positive
effect on a loss means the challenger is worse.

- :func:`mcnemar_test` compares accuracies from the discordant pairs, as R's ``mcnemar.test``
  (chi-square with and without continuity correction; at ``b == c`` the corrected statistic is
  0, as R, where statsmodels gives 0.1) and ``binom.test`` (exact, and its mid-p version).
- :func:`paired_t_test` is R's ``t.test(paired=TRUE)``, with a margin.
- :func:`wilcoxon_test` is R's ``wilcox.test(paired=TRUE, conf.int=TRUE)``: exact below 50
  differences without ties or zeros (Walsh-average interval), otherwise the normal
  approximation with the tie correction and (by default) the continuity correction; zero
  differences are dropped (Wilcoxon's convention). The approximate Hodges-Lehmann estimate and
  interval invert the same statistic with R's own root finder, so they agree with R's digits
  (the estimate without the continuity correction, as R since 4.0).

Examples
--------
>>> r = paired_t_test([0.7, 0.4, 0.9, 0.5], [0.6, 0.3, 0.7, 0.5])
>>> round(r.effect, 3), round(r.pvalue, 4)
(-0.1, 0.0917)
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats

from abkit._inference import (
    NAN_INTERVAL,
    clip_interval,
    critical_value,
    describe_hypothesis,
    interval,
    pvalue_from_statistic,
    warn_degenerate,
)
from abkit._ranks import midranks_and_run_lengths
from abkit._results import ConfidenceInterval, Result
from abkit._rootfind import zeroin
from abkit._validation import (
    as_paired_float_arrays,
    check_alternative,
    check_choice,
    check_confidence_level,
    check_int,
    check_nonnegative,
    check_real,
)
from abkit.shadow._signrank import exact_signed_rank

__all__ = [
    "McNemarTestResult",
    "PairedTTestResult",
    "WilcoxonTestResult",
    "mcnemar_from_counts",
    "mcnemar_test",
    "paired_t_from_moments",
    "paired_t_test",
    "wilcoxon_test",
]

MCNEMAR_METHODS = ("exact", "mid-p", "chi2", "chi2-corrected")
WILCOXON_METHODS = ("auto", "exact", "approx")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class McNemarTestResult(Result):
    """Result of :func:`mcnemar_test`.

    ``b`` counts requests only the champion got right, ``c`` those only the challenger got
    right. ``statistic`` is, for the chi-square methods, the signed square root of R's
    McNemar chi-square (``chi2``), positive when ``c > b``; for ``"exact"`` and ``"mid-p"`` it
    is ``c - b``. ``ci`` is the Wald interval for the accuracy difference of paired proportions,
    clipped to [-1, 1] as R's ``prop.test`` clips a difference of rates (a one-sided interval's
    open end is -1 or 1).
    """

    statistic: float
    pvalue: float
    effect: float
    ci: ConfidenceInterval
    chi2: float
    champion_accuracy: float
    challenger_accuracy: float
    b: int
    c: int
    n: int
    alternative: str
    confidence_level: float
    method: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class PairedTTestResult(Result):
    """Result of :func:`paired_t_test`: ``effect`` is the mean of ``challenger - champion``."""

    statistic: float
    pvalue: float
    effect: float
    ci: ConfidenceInterval
    se: float
    df: float
    champion_mean: float
    challenger_mean: float
    n: int
    margin: float
    hypothesis: str
    alternative: str
    confidence_level: float


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class WilcoxonTestResult(Result):
    """Result of :func:`wilcoxon_test`.

    ``statistic`` is the signed normal score (positive when the challenger's values are
    larger; with ``method="exact"`` the p-value comes from ``V``'s exact distribution instead);
    ``rank_sum_positive`` is R's ``V`` (scipy reports ``min(V, n(n+1)/2 - V)``).
    ``effect`` and ``ci`` are the Hodges-Lehmann pseudomedian of ``challenger - champion`` and
    its interval; ``n`` counts the non-zero differences used.
    """

    statistic: float
    pvalue: float
    effect: float
    ci: ConfidenceInterval
    rank_sum_positive: float
    n: int
    n_zero: int
    alternative: str
    confidence_level: float
    correction: bool
    method: str


def _as_binary(name: str, values: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
    if not np.isin(values, (0.0, 1.0)).all():
        bad = values[~np.isin(values, (0.0, 1.0))][0]
        raise ValueError(f"`{name}` must hold only 0/1 or True/False; got {bad}.")
    return values == 1.0


def _binomial_pvalue(c: int, total: int, alternative: str, mid: bool) -> float:
    # X ~ Binomial(b + c, 1/2), X = c; mid-p subtracts half the point mass at the observed value.
    half_point = 0.5 * float(stats.binom.pmf(c, total, 0.5)) if mid else 0.0
    upper = float(stats.binom.sf(c - 1, total, 0.5)) - half_point
    lower = float(stats.binom.cdf(c, total, 0.5)) - half_point
    if alternative == "greater":
        return upper
    if alternative == "less":
        return lower
    return min(1.0, 2.0 * min(upper, lower))


def mcnemar_test(
    champion_correct: Any,
    challenger_correct: Any,
    *,
    method: str = "exact",
    alternative: str = "two-sided",
    confidence_level: float = 0.95,
) -> McNemarTestResult:
    """McNemar's test for a difference in accuracy between two models on the same requests.

    Parameters
    ----------
    champion_correct, challenger_correct
        Per request, whether each model was right (0/1 or booleans), aligned by request.
    method
        ``"exact"`` (binomial test on the discordant pairs, as R's ``binom.test``), ``"mid-p"``
        (the exact p-value minus half the point probability), ``"chi2"`` (R's
        ``mcnemar.test(correct=FALSE)``) or ``"chi2-corrected"`` (``correct=TRUE``; 0 when
        ``b == c``, as R).
    alternative
        ``"greater"``: the challenger is more accurate.
    confidence_level
        Of the Wald interval for ``challenger_accuracy - champion_accuracy``.

    Returns
    -------
    McNemarTestResult

    Examples
    --------
    >>> champion = [1] * 944 + [0] * 656
    >>> challenger = [1] * 794 + [0] * 150 + [1] * 86 + [0] * 570
    >>> r = mcnemar_test(champion, challenger, method="chi2-corrected")
    >>> round(r.chi2, 4), round(r.pvalue, 9), r.b, r.c
    (16.8178, 4.1146e-05, 150, 86)
    """
    first, second = as_paired_float_arrays(
        "champion_correct", champion_correct, "challenger_correct", challenger_correct
    )
    champ = _as_binary("champion_correct", first)
    chall = _as_binary("challenger_correct", second)
    method = check_choice("method", method, MCNEMAR_METHODS)
    alternative = check_alternative(alternative)
    confidence_level = check_confidence_level(confidence_level)
    return mcnemar_from_counts(
        int(np.count_nonzero(champ & chall)), int(np.count_nonzero(champ & ~chall)),
        int(np.count_nonzero(~champ & chall)), int(champ.size), method=method,
        alternative=alternative, confidence_level=confidence_level,
    )


def mcnemar_from_counts(
    both: int,
    b: int,
    c: int,
    n: int,
    *,
    method: str = "exact",
    alternative: str = "two-sided",
    confidence_level: float = 0.95,
) -> McNemarTestResult:
    """:func:`mcnemar_test` from the 2x2 counts (as an engine aggregates them).

    ``both`` counts requests both models got right, ``b`` only the champion, ``c`` only the
    challenger, out of ``n`` requests.

    Examples
    --------
    >>> r = mcnemar_from_counts(794, 150, 86, 1600, method="chi2-corrected")
    >>> round(r.chi2, 4), r.b, r.c
    (16.8178, 150, 86)
    """
    method = check_choice("method", method, MCNEMAR_METHODS)
    alternative = check_alternative(alternative)
    confidence_level = check_confidence_level(confidence_level)
    both, b, c = (check_int(label, count) for label, count in (("both", both), ("b", b), ("c", c)))
    n = check_int("n", n, minimum=1)
    if both + b + c > n:
        raise ValueError(f"`both` + `b` + `c` must be at most `n` ({n}); got {both + b + c}.")
    effect = (c - b) / n
    discordant = b + c
    chi2 = math.nan
    if discordant == 0:
        warn_degenerate("No discordant requests (b = c = 0); statistic and pvalue are NaN.")
        statistic = pvalue = math.nan
    elif method in ("exact", "mid-p"):
        statistic = float(c - b)
        pvalue = _binomial_pvalue(c, discordant, alternative, mid=method == "mid-p")
    else:
        numerator = abs(c - b)
        if method == "chi2-corrected" and numerator > 0:
            numerator -= 1  # Yates; R keeps 0 at b == c rather than statsmodels' (0 - 1)^2
        chi2 = numerator**2 / discordant
        statistic = math.copysign(math.sqrt(chi2), c - b)
        pvalue = (float(stats.chi2.sf(chi2, 1)) if alternative == "two-sided"
                  else pvalue_from_statistic(statistic, alternative))
    se = math.sqrt(max(discordant - (c - b) ** 2 / n, 0.0)) / n
    ci = NAN_INTERVAL
    if se > 0:  # an accuracy difference lies in [-1, 1]
        ci = clip_interval(interval(effect, se, alternative, confidence_level), -1.0, 1.0)
    return McNemarTestResult(
        statistic=statistic, pvalue=pvalue, effect=effect, ci=ci, chi2=chi2,
        champion_accuracy=(both + b) / n, challenger_accuracy=(both + c) / n,
        b=b, c=c, n=n, alternative=alternative, confidence_level=confidence_level, method=method,
    )


def paired_t_test(
    champion_loss: Any,
    challenger_loss: Any,
    *,
    alternative: str = "two-sided",
    confidence_level: float = 0.95,
    margin: float = 0.0,
    nan_policy: str = "raise",
) -> PairedTTestResult:
    """Paired t test on per-request values (a loss, a score), as R's ``t.test(paired=TRUE)``.

    Parameters
    ----------
    champion_loss, challenger_loss
        One value per request for each model, aligned by request.
    alternative
        ``"greater"``: the mean difference ``challenger - champion`` exceeds ``margin``.
    confidence_level
        Of the interval for the mean difference (one-sided for one-sided alternatives).
    margin
        Null value of the mean difference (non-inferiority or superiority margins).
    nan_policy
        ``"raise"`` or ``"omit"`` (drop requests with a NaN on either side).

    Returns
    -------
    PairedTTestResult

    Examples
    --------
    >>> a = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
    >>> b = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]
    >>> r = paired_t_test(b, a)   # R: t.test(a, b, paired = TRUE) gives t = -4.0621
    >>> round(r.statistic, 4), r.df, round(r.pvalue, 6)
    (-4.0621, 9.0, 0.002833)
    """
    champ, chall = as_paired_float_arrays(
        "champion_loss", champion_loss, "challenger_loss", challenger_loss,
        nan_policy=nan_policy, min_size=2,
    )
    alternative = check_alternative(alternative)
    confidence_level = check_confidence_level(confidence_level)
    margin = check_real("margin", margin)
    diff = chall - champ
    return paired_t_from_moments(
        int(diff.size), float(champ.mean()), float(chall.mean()), float(diff.mean()),
        float(diff.var(ddof=1)), alternative=alternative, confidence_level=confidence_level,
        margin=margin,
    )


def paired_t_from_moments(
    n: int,
    champion_mean: float,
    challenger_mean: float,
    mean_difference: float,
    var_difference: float,
    *,
    alternative: str = "two-sided",
    confidence_level: float = 0.95,
    margin: float = 0.0,
) -> PairedTTestResult:
    """:func:`paired_t_test` from its sufficient statistics (as an engine aggregates them).

    ``mean_difference`` and ``var_difference`` (``ddof=1``) are of ``challenger - champion``
    over the ``n`` paired requests.

    Examples
    --------
    >>> r = paired_t_from_moments(10, 0.75, 2.33, 1.58, 1.5129)   # R's sleep data, reversed
    >>> round(r.statistic, 4), r.df
    (4.0621, 9.0)
    """
    alternative = check_alternative(alternative)
    confidence_level = check_confidence_level(confidence_level)
    margin = check_real("margin", margin)
    n = check_int("n", n, minimum=2)  # a variance of differences needs two pairs
    mean_difference = check_real("mean_difference", mean_difference)
    var_difference = check_nonnegative("var_difference", var_difference)
    effect = mean_difference
    se = math.sqrt(var_difference) / math.sqrt(n)
    df = float(n - 1)
    if se == 0.0:
        warn_degenerate("The paired differences have zero variance; statistic, pvalue and ci are NaN.")
        statistic, ci = math.nan, NAN_INTERVAL
    else:
        statistic = (effect - margin) / se
        ci = interval(effect, se, alternative, confidence_level, df)
    return PairedTTestResult(
        statistic=statistic, pvalue=pvalue_from_statistic(statistic, alternative, df),
        effect=effect, ci=ci, se=se, df=df, champion_mean=champion_mean,
        challenger_mean=challenger_mean, n=n, margin=margin,
        hypothesis=describe_hypothesis(alternative, margin), alternative=alternative,
        confidence_level=confidence_level,
    )


def _signed_rank_z(diff: npt.NDArray[np.float64], alternative: str, correction: bool) -> tuple[float, float]:
    """R's normal score ``(V - n(n+1)/4 - correction) / sigma`` and ``V``; zeros dropped."""
    diff = diff[diff != 0.0]
    n = diff.size
    if n == 0:
        return math.nan, 0.0
    magnitude = np.abs(diff)
    order = np.argsort(magnitude, kind="stable")
    ranks, lengths = midranks_and_run_lengths(magnitude[order])
    v = float(ranks[diff[order] > 0].sum())
    return signed_rank_z(n, v, float(np.sum(lengths**3 - lengths)), alternative, correction), v


def signed_rank_z(n: int, v: float, tie_sum: float, alternative: str, correction: bool) -> float:
    """The normal score of the positive rank sum ``v`` of ``n`` non-zero differences.

    ``tie_sum`` is ``sum(t^3 - t)`` over the groups of tied ``|d|``. The engine path
    (:meth:`abkit.frame.ShadowTable.wilcoxon_test`) computes the three sums with window
    functions and finishes here, as the in-memory path does.

    >>> signed_rank_z(10, 55.0, 0.0, "two-sided", False) > 2.8
    True
    """
    z = v - n * (n + 1) / 4.0
    sigma2 = n * (n + 1) * (2 * n + 1) / 24.0 - tie_sum / 48.0
    if sigma2 <= 0.0:
        return math.nan
    return (z - continuity_shift(z, alternative, correction)) / math.sqrt(sigma2)


def continuity_shift(centred: float, alternative: str, correction: bool) -> float:
    """R's continuity correction of a centred rank statistic: ``sign(z) / 2`` or one-sided ``±1/2``."""
    if not correction:
        return 0.0
    if alternative == "two-sided":
        return math.copysign(0.5, centred) if centred != 0 else 0.0
    return 0.5 if alternative == "greater" else -0.5





def invert_step(score: Any, low: float, high: float, *, clamp: bool) -> float:
    """Where a non-increasing step ``score`` crosses 0 on ``[low, high]``, as R's ``uniroot``.

    With ``clamp`` an end is returned when the crossing is not bracketed (R's ``root`` helper
    for the interval), tolerance ``1e-4`` as R's ``wilcox.test``.
    """
    f_low, f_high = score(low), score(high)
    if clamp and f_low <= 0.0:
        return low
    if clamp and f_high >= 0.0:
        return high
    return zeroin(score, low, high, f_low, f_high, tol=1e-4)


def wilcoxon_test(
    champion_loss: Any,
    challenger_loss: Any,
    *,
    correction: bool = True,
    method: str = "auto",
    alternative: str = "two-sided",
    confidence_level: float = 0.95,
    nan_policy: str = "raise",
) -> WilcoxonTestResult:
    """Wilcoxon signed-rank test with the Hodges-Lehmann estimate, as R's paired ``wilcox.test``.

    Parameters
    ----------
    champion_loss, challenger_loss
        One value per request for each model, aligned by request.
    correction
        Continuity correction of the normal approximation (R's ``correct``).
    method
        ``"auto"`` (R's default: exact below 50 non-zero differences without ties or zeros,
        else the normal approximation), ``"exact"`` (exact distribution of ``V``, Walsh-average
        interval; falls back to the approximation, as R, when there are ties or zeros) or
        ``"approx"``.
    alternative
        ``"greater"``: the differences ``challenger - champion`` are shifted above 0.
    confidence_level
        Of the Hodges-Lehmann interval.
    nan_policy
        ``"raise"`` or ``"omit"``.

    Returns
    -------
    WilcoxonTestResult
        With the approximation the p-value equals ``scipy.stats.wilcoxon(challenger - champion,
        zero_method="wilcox", correction=correction, method="approx")`` and R's
        ``wilcox.test(..., exact=FALSE)``; ``method`` records which was used.

    Examples
    --------
    >>> a = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
    >>> b = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]
    >>> r = wilcoxon_test(b, a)   # R: wilcox.test(a, b, paired = TRUE, conf.int = TRUE)
    >>> r.rank_sum_positive, round(r.pvalue, 6), round(r.effect, 4)
    (0.0, 0.009091, -1.4)
    """
    champ, chall = as_paired_float_arrays(
        "champion_loss", champion_loss, "challenger_loss", challenger_loss, nan_policy=nan_policy,
    )
    if not isinstance(correction, bool):
        raise TypeError(f"`correction` must be True or False; got {correction!r}.")
    method = check_choice("method", method, WILCOXON_METHODS)
    alternative = check_alternative(alternative)
    confidence_level = check_confidence_level(confidence_level)
    diff = chall - champ
    n_zero = int(np.count_nonzero(diff == 0.0))
    z, v = _signed_rank_z(diff, alternative, correction)
    n = int(diff.size) - n_zero
    nonzero = diff[diff != 0.0]  # R inverts the statistic on the non-zero differences only
    if not math.isnan(z):
        untied = n_zero == 0 and np.unique(np.abs(nonzero)).size == n
        if untied and (method == "exact" or (method == "auto" and n < 50)):
            pvalue, estimate, ci = exact_signed_rank(nonzero, v, alternative, confidence_level)
            return WilcoxonTestResult(statistic=z, pvalue=pvalue, effect=estimate, ci=ci, method="exact",
                                      rank_sum_positive=v, n=n, n_zero=n_zero, alternative=alternative,
                                      confidence_level=confidence_level, correction=correction)

    def score(shift: float, corrected: bool) -> float:
        return _signed_rank_z(nonzero - shift, alternative, corrected)[0]

    bounds = (float(nonzero.min()), float(nonzero.max())) if n else (math.nan, math.nan)
    return wilcoxon_from_scores(z, v, n, n_zero, score, bounds, alternative=alternative,
                                correction=correction, confidence_level=confidence_level)


def wilcoxon_from_scores(
    z: float, v: float, n: int, n_zero: int, score: Any, bounds: tuple[float, float], *,
    alternative: str, correction: bool, confidence_level: float,
) -> WilcoxonTestResult:
    """:func:`wilcoxon_test` by the normal approximation, from the normal score of the data.

    ``z`` and ``v`` are the normal score and positive rank sum of the ``n`` non-zero
    differences (``n_zero`` zeros dropped); ``score(shift, corrected)`` the normal score of the
    non-zero differences minus ``shift`` (R's ``wdiff``), and ``bounds`` their minimum and
    maximum, between which the Hodges-Lehmann estimate and interval are found by root finding.
    The in-memory test and the engine path (:meth:`abkit.frame.ShadowTable.wilcoxon_test`,
    whose engine ranks ``|d - shift|`` with window functions) both finish here.
    """
    common: dict[str, Any] = {"rank_sum_positive": v, "n": n, "n_zero": n_zero, "alternative": alternative,
              "confidence_level": confidence_level, "correction": correction}
    if math.isnan(z):
        warn_degenerate("All paired differences are 0 (or tied at one value); the test is undefined.")
        return WilcoxonTestResult(statistic=math.nan, pvalue=math.nan, effect=math.nan, ci=NAN_INTERVAL,
                                  method="approx", **common)
    low_end, high_end = bounds

    def invert(target: float, corrected: bool, clamp: bool) -> float:
        return invert_step(lambda shift: score(shift, corrected) - target, low_end, high_end, clamp=clamp)

    pvalue = pvalue_from_statistic(z, alternative)
    crit = critical_value(confidence_level, alternative)
    low = -math.inf if alternative == "less" else invert(crit, correction, True)
    high = math.inf if alternative == "greater" else invert(-crit, correction, True)
    estimate = invert(0.0, False, False)  # R >= 4.0: no correction here
    return WilcoxonTestResult(statistic=z, pvalue=pvalue, effect=estimate, ci=ConfidenceInterval(low, high),
                              method="approx", **common)

