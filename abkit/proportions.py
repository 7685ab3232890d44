"""Two-proportion z-tests with absolute and relative intervals.

The p-value comes from a z statistic whose variance is either *pooled* (estimated under the
null: the classic pooled proportion at ``margin=0``, and the Farrington-Manning restricted
maximum-likelihood rates for a non-zero margin) or *unpooled* (Wald). The interval for the
difference is always the Wald interval.

With ``method="unpooled"`` the p-value and the interval are dual: ``pvalue < 1 - confidence``
exactly when the interval excludes the margin. With ``method="pooled"`` (the default, as R's
``prop.test`` and statsmodels' ``proportions_ztest``) the two use different variances and can
disagree near the boundary; the p-value is the test's decision and the interval describes the
estimate.

A difference of two rates lies in [-1, 1], so the Wald interval is clipped to it as R's
``prop.test`` and tea-tasting do (``pmax(-1, pmin(1, CINT))``): the open end of a one-sided
interval is -1 or 1, not infinite. The relative effect ``treatment / control - 1`` is at least
-1, so its interval's lower end is clipped at -1 (Fieller's interval can cross it; the
delta-log interval cannot), and the open lower end of a one-sided interval is -1 as in
tea-tasting.

Examples
--------
>>> from abkit import ProportionStats, proportions_test
>>> r = proportions_test(ProportionStats(1000, 10000), ProportionStats(1100, 10000))
>>> round(r.pvalue, 6), round(r.effect, 4)
(0.021075, 0.01)
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from abkit._inference import (
    NAN_INTERVAL,
    clip_interval,
    describe_hypothesis,
    interval,
    pvalue_from_statistic,
    relative_interval_fieller,
    relative_interval_log,
    warn_degenerate,
)
from abkit._results import ConfidenceInterval, Result
from abkit._validation import (
    check_alternative,
    check_choice,
    check_confidence_level,
    check_real,
)
from abkit.stats import ProportionStats

__all__ = ["ProportionsTestResult", "proportions_test"]

PROPORTION_METHODS = ("pooled", "unpooled")
RELATIVE_METHODS = ("delta-log", "fieller")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class ProportionsTestResult(Result):
    """Result of :func:`proportions_test`; ``effect`` is treatment rate minus control rate."""

    statistic: float
    pvalue: float
    effect: float
    ci: ConfidenceInterval
    relative_effect: float
    relative_ci: ConfidenceInterval
    control_rate: float
    treatment_rate: float
    n_control: int
    n_treatment: int
    margin: float
    hypothesis: str
    alternative: str
    confidence_level: float
    method: str
    relative_method: str


def as_proportion_stats(name: str, value: Any) -> ProportionStats:
    """``value`` if it is ``ProportionStats``, else ``ProportionStats.from_samples(value)``."""
    stats = value if isinstance(value, ProportionStats) else ProportionStats.from_samples(value)
    if stats.n < 1:
        raise ValueError(f"`{name}.n` must be at least 1; got {stats.n}.")
    return stats


def restricted_rates(
    control: ProportionStats, treatment: ProportionStats, margin: float
) -> tuple[float, float]:
    """Maximum-likelihood rates under ``treatment - control = margin`` (Farrington-Manning).

    At ``margin=0`` both equal the pooled rate.
    """
    if margin == 0.0:
        pooled = (control.successes + treatment.successes) / (control.n + treatment.n)
        return pooled, pooled
    # Closed-form root of the likelihood cubic (Farrington and Manning 1990, appendix), with
    # group 1 the treatment and theta = n_control / n_treatment.
    p_t, p_c = treatment.rate, control.rate
    theta = control.n / treatment.n
    a = 1.0 + theta
    b = -(1.0 + theta + p_t + theta * p_c + margin * (theta + 2.0))
    c = margin * margin + margin * (2.0 * p_t + theta + 1.0) + p_t + theta * p_c
    d = -p_t * margin * (1.0 + margin)
    v = b**3 / (27.0 * a**3) - b * c / (6.0 * a * a) + d / (2.0 * a)
    u = math.copysign(math.sqrt(max(b * b / (9.0 * a * a) - c / (3.0 * a), 0.0)), v)
    cos_arg = 1.0 if u == 0.0 else min(max(v / u**3, -1.0), 1.0)
    w = (math.pi + math.acos(cos_arg)) / 3.0
    treatment_rate = min(max(2.0 * u * math.cos(w) - b / (3.0 * a), 0.0), 1.0)
    control_rate = min(max(treatment_rate - margin, 0.0), 1.0)
    return control_rate, treatment_rate


def proportions_test(
    control: ProportionStats | Any,
    treatment: ProportionStats | Any,
    *,
    alternative: str = "two-sided",
    confidence_level: float = 0.95,
    method: str = "pooled",
    relative_method: str = "delta-log",
    margin: float = 0.0,
) -> ProportionsTestResult:
    """Two-sample z-test for a difference in proportions (conversion rates).

    Parameters
    ----------
    control, treatment
        ``ProportionStats`` or arrays of 0/1 outcomes, one per unit.
    alternative
        ``"two-sided"``, ``"greater"`` (treatment rate above control rate plus ``margin``) or
        ``"less"``.
    confidence_level
        Of the intervals; one-sided alternatives give one-sided intervals.
    method
        ``"pooled"`` (variance under the null) or ``"unpooled"`` (Wald variance).
    relative_method
        Interval for ``treatment / control - 1``: ``"delta-log"`` (Katz log interval, as scipy's
        ``relative_risk``) or ``"fieller"`` (its lower end clipped at -1).
    margin
        Null value of ``effect`` (absolute difference). For "not worse by more than 0.5 points"
        with higher-is-better use ``margin=-0.005, alternative="greater"``.

    Returns
    -------
    ProportionsTestResult
        ``ci`` is the Wald interval clipped to [-1, 1] (R's ``prop.test``); a one-sided
        interval's open end is -1 or 1.

    Examples
    --------
    >>> from abkit import ProportionStats, proportions_test
    >>> r = proportions_test(ProportionStats(30, 420), ProportionStats(48, 400),
    ...                      alternative="greater")
    >>> round(r.statistic**2, 6), round(r.pvalue, 6)
    (5.615473, 0.008901)
    >>> r.ci.high
    1.0
    """
    control = as_proportion_stats("control", control)
    treatment = as_proportion_stats("treatment", treatment)
    alternative = check_alternative(alternative)
    confidence_level = check_confidence_level(confidence_level)
    method = check_choice("method", method, PROPORTION_METHODS)
    relative_method = check_choice("relative_method", relative_method, RELATIVE_METHODS)
    margin = check_real("margin", margin)
    if not -1.0 < margin < 1.0:
        raise ValueError(f"`margin` must be in (-1, 1) for a difference of rates; got {margin}.")

    p_c, p_t = control.rate, treatment.rate
    effect = p_t - p_c
    var_c, var_t = p_c * (1.0 - p_c) / control.n, p_t * (1.0 - p_t) / treatment.n
    wald_se = math.sqrt(var_c + var_t)

    if method == "pooled":
        null_c, null_t = restricted_rates(control, treatment, margin)
        se = math.sqrt(null_c * (1 - null_c) / control.n + null_t * (1 - null_t) / treatment.n)
    else:
        se = wald_se
    if se > 0.0:
        statistic = (effect - margin) / se
    else:
        warn_degenerate(
            "Both arms have the same all-or-nothing rate, so the test statistic's variance is 0; "
            "statistic and pvalue are NaN."
        )
        statistic = math.nan
    pvalue = pvalue_from_statistic(statistic, alternative)
    ci = NAN_INTERVAL
    if wald_se > 0:  # clipped to the range of a difference of rates, as R's prop.test
        ci = clip_interval(interval(effect, wald_se, alternative, confidence_level), -1.0, 1.0)

    if control.successes == 0:
        warn_degenerate("The control arm has no successes; the relative effect is NaN.")
        relative_effect, relative_ci = math.nan, NAN_INTERVAL
    else:
        relative_effect = p_t / p_c - 1.0
        if relative_method == "fieller":
            relative_ci = relative_interval_fieller(p_c, var_c, p_t, var_t, alternative,
                                                    confidence_level)
        elif treatment.successes == 0:
            warn_degenerate("The treatment arm has no successes; the delta-log interval is NaN.")
            relative_ci = NAN_INTERVAL
        else:
            relative_ci = relative_interval_log(p_c, var_c, p_t, var_t, alternative,
                                                confidence_level)

    relative_ci = clip_interval(relative_ci, -1.0, math.inf)  # a relative change of rates >= -1
    return ProportionsTestResult(
        statistic=statistic,
        pvalue=pvalue,
        effect=effect,
        ci=ci,
        relative_effect=relative_effect,
        relative_ci=relative_ci,
        control_rate=p_c,
        treatment_rate=p_t,
        n_control=control.n,
        n_treatment=treatment.n,
        margin=margin,
        hypothesis=describe_hypothesis(alternative, margin),
        alternative=alternative,
        confidence_level=confidence_level,
        method=method,
        relative_method=relative_method,
    )
