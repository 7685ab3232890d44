"""Tests on means: Welch t and z tests, ratio metrics by the delta method, and CUPED.

All three reduce to two independent estimates with standard errors and share one core:
``effect = treatment - control`` with a Welch (t, Welch-Satterthwaite degrees of freedom) or
normal reference, and ``relative_effect = treatment / control - 1`` with an interval by the
delta method on the log scale (as tea-tasting) or Fieller's theorem.

Examples
--------
>>> from abkit import MeanStats, means_test
>>> r = means_test(MeanStats(5100, 10.25, 3.0**2), MeanStats(5000, 10.4, 3.1**2))
>>> round(r.statistic, 6), round(r.df, 3)
(2.470427, 10070.169)
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from abkit._inference import (
    NAN_INTERVAL,
    describe_hypothesis,
    interval,
    pvalue_from_statistic,
    relative_interval_fieller,
    relative_interval_log,
    warn_degenerate,
    welch_df,
)
from abkit._results import ConfidenceInterval, Result
from abkit._validation import (
    check_alternative,
    check_choice,
    check_confidence_level,
    check_real,
)
from abkit.stats import BivariateStats, MeanStats, bivariate_stats_from, mean_stats_from

__all__ = ["CupedTestResult", "MeansTestResult", "cuped_test", "means_test", "ratio_test"]

MEAN_METHODS = ("welch", "z")
RELATIVE_METHODS = ("delta-log", "fieller")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class MeansTestResult(Result):
    """Result of :func:`means_test` and :func:`ratio_test`.

    ``control_mean``/``treatment_mean`` are the arms' means (for a ratio metric, their ratios of
    means); ``df`` is the Welch degrees of freedom (NaN for the z test).
    """

    statistic: float
    pvalue: float
    effect: float
    ci: ConfidenceInterval
    relative_effect: float
    relative_ci: ConfidenceInterval
    control_mean: float
    treatment_mean: float
    se: float
    df: float
    n_control: int
    n_treatment: int
    margin: float
    hypothesis: str
    alternative: str
    confidence_level: float
    method: str
    relative_method: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class CupedTestResult(MeansTestResult):
    """Result of :func:`cuped_test`: a means test on covariate-adjusted means.

    ``theta`` is the regression coefficient of the metric on the covariate, and
    ``variance_reduction`` the share of the effect's variance removed by the adjustment.
    """

    theta: float
    variance_reduction: float


@dataclasses.dataclass(frozen=True, slots=True)
class _Arm:
    mean: float
    var: float  # per-unit variance of the (linearised) metric
    n: int


def _check_options(
    alternative: str, confidence_level: float, method: str, relative_method: str, margin: float
) -> tuple[str, float, str, str, float]:
    return (
        check_alternative(alternative),
        check_confidence_level(confidence_level),
        check_choice("method", method, MEAN_METHODS),
        check_choice("relative_method", relative_method, RELATIVE_METHODS),
        check_real("margin", margin),
    )


def _check_n(name: str, n: int) -> None:
    if n < 2:
        raise ValueError(f"`{name}.n` must be at least 2; got {n}.")


def _compare(
    control: _Arm,
    treatment: _Arm,
    *,
    alternative: str,
    confidence_level: float,
    method: str,
    relative_method: str,
    margin: float,
) -> dict[str, Any]:
    var_mean_c, var_mean_t = control.var / control.n, treatment.var / treatment.n
    se = math.sqrt(var_mean_c + var_mean_t)
    effect = treatment.mean - control.mean
    df: float | None = None
    if se == 0.0 or not math.isfinite(se):
        warn_degenerate(
            "Both arms have zero variance; statistic, pvalue and ci are NaN." if se == 0.0 else
            "The variance of the effect overflows (a mean too close to 0); statistic, pvalue and "
            "ci are NaN."
        )
        statistic, ci = math.nan, NAN_INTERVAL
        df_value = math.nan
    else:
        if method == "welch":
            df = welch_df(var_mean_c, var_mean_t, control.n, treatment.n)
        statistic = (effect - margin) / se
        ci = interval(effect, se, alternative, confidence_level, df)
        df_value = math.nan if df is None else df
    pvalue = pvalue_from_statistic(statistic, alternative, df)

    if control.mean == 0.0:
        warn_degenerate("The control mean is 0; the relative effect is NaN.")
        relative_effect, relative_ci = math.nan, NAN_INTERVAL
    else:
        relative_effect = treatment.mean / control.mean - 1.0
        if se == 0.0 or not math.isfinite(se):
            relative_ci = NAN_INTERVAL
        elif relative_method == "fieller":
            relative_ci = relative_interval_fieller(
                control.mean, var_mean_c, treatment.mean, var_mean_t, alternative,
                confidence_level, df,
            )
        else:
            log_df = None
            if method == "welch" and control.mean > 0 and treatment.mean > 0:
                # divide twice: a tiny mean overflows to inf instead of dividing by an underflowed 0
                log_df = welch_df(var_mean_c / control.mean / control.mean,
                                  var_mean_t / treatment.mean / treatment.mean,
                                  control.n, treatment.n)
            relative_ci = relative_interval_log(
                control.mean, var_mean_c, treatment.mean, var_mean_t, alternative,
                confidence_level, log_df,
            )
    return {
        "statistic": statistic,
        "pvalue": pvalue,
        "effect": effect,
        "ci": ci,
        "relative_effect": relative_effect,
        "relative_ci": relative_ci,
        "control_mean": control.mean,
        "treatment_mean": treatment.mean,
        "se": se,
        "df": df_value,
        "n_control": control.n,
        "n_treatment": treatment.n,
        "margin": margin,
        "hypothesis": describe_hypothesis(alternative, margin),
        "alternative": alternative,
        "confidence_level": confidence_level,
        "method": method,
        "relative_method": relative_method,
    }


def _as_mean_stats(name: str, value: Any) -> MeanStats:
    stats = value if isinstance(value, MeanStats) else mean_stats_from(name, value)
    _check_n(name, stats.n)
    return stats


def _as_bivariate_stats(name: str, value: Any) -> BivariateStats:
    if isinstance(value, BivariateStats):
        stats = value
    elif isinstance(value, tuple) and len(value) == 2:
        stats = bivariate_stats_from(f"{name}[0]", value[0], f"{name}[1]", value[1])
    else:
        raise TypeError(
            f"`{name}` must be a BivariateStats or a tuple of two arrays; got {type(value).__name__}."
        )
    _check_n(name, stats.n)
    return stats


def means_test(
    control: MeanStats | Any,
    treatment: MeanStats | Any,
    *,
    alternative: str = "two-sided",
    confidence_level: float = 0.95,
    method: str = "welch",
    relative_method: str = "delta-log",
    margin: float = 0.0,
) -> MeansTestResult:
    """Welch's t test (default) or a z test for a difference in means.

    Parameters
    ----------
    control, treatment
        ``MeanStats`` or arrays of one value per unit.
    alternative
        ``"two-sided"``, ``"greater"`` (treatment mean above control mean plus ``margin``) or
        ``"less"``.
    confidence_level
        Of the intervals; one-sided alternatives give one-sided intervals (as scipy).
    method
        ``"welch"`` (Student t with Welch-Satterthwaite df, as ``scipy.stats.ttest_ind(...,
        equal_var=False)``) or ``"z"`` (normal reference).
    relative_method
        ``"delta-log"`` (needs positive means) or ``"fieller"``.
    margin
        Null value of ``effect`` for non-inferiority or superiority questions.

    Returns
    -------
    MeansTestResult

    Examples
    --------
    >>> from abkit import means_test
    >>> r = means_test([1.0, 2.0, 3.0, 4.0], [2.0, 3.0, 4.0, 5.5])
    >>> round(r.effect, 3), round(r.pvalue, 4)
    (1.125, 0.2986)
    """
    control = _as_mean_stats("control", control)
    treatment = _as_mean_stats("treatment", treatment)
    alternative, confidence_level, method, relative_method, margin = _check_options(
        alternative, confidence_level, method, relative_method, margin
    )
    fields = _compare(
        _Arm(control.mean, control.var, control.n),
        _Arm(treatment.mean, treatment.var, treatment.n),
        alternative=alternative,
        confidence_level=confidence_level,
        method=method,
        relative_method=relative_method,
        margin=margin,
    )
    return MeansTestResult(**fields)


def _ratio_arm(name: str, stats: BivariateStats) -> _Arm:
    if stats.mean_y == 0.0:
        raise ValueError(f"`{name}.mean_y` (the denominator's mean) must not be 0; got 0.0.")
    ratio = stats.mean_x / stats.mean_y
    var = (stats.var_x - 2.0 * ratio * stats.cov + ratio * ratio * stats.var_y) / stats.mean_y / stats.mean_y
    return _Arm(ratio, max(var, 0.0), stats.n)


def ratio_test(
    control: BivariateStats | tuple[Any, Any],
    treatment: BivariateStats | tuple[Any, Any],
    *,
    alternative: str = "two-sided",
    confidence_level: float = 0.95,
    method: str = "z",
    relative_method: str = "delta-log",
    margin: float = 0.0,
) -> MeansTestResult:
    """Test a ratio metric (e.g. clicks per session, users randomised) by the delta method.

    Each arm's metric is ``mean(x) / mean(y)`` over units (``x`` numerator, ``y`` denominator),
    with variance from the first-order Taylor expansion (Deng, Knoblich and Lu 2018), as
    tea-tasting's ``RatioOfMeans``.

    Parameters
    ----------
    control, treatment
        ``BivariateStats`` (x = numerator, y = denominator) or ``(numerator, denominator)``
        tuples of arrays, one pair per randomisation unit.
    alternative, confidence_level, relative_method, margin
        As in :func:`means_test`.
    method
        ``"z"`` (default, as is usual for large-sample ratio metrics) or ``"welch"``.

    Returns
    -------
    MeansTestResult
        ``control_mean`` and ``treatment_mean`` are the arms' ratios.

    Examples
    --------
    >>> from abkit import BivariateStats, ratio_test
    >>> c = BivariateStats(n=1000, mean_x=0.5, mean_y=5.0, var_x=0.6, var_y=4.0, cov=0.5)
    >>> t = BivariateStats(n=1000, mean_x=0.6, mean_y=5.0, var_x=0.7, var_y=4.0, cov=0.6)
    >>> round(ratio_test(c, t).effect, 6)
    0.02
    """
    control = _as_bivariate_stats("control", control)
    treatment = _as_bivariate_stats("treatment", treatment)
    alternative, confidence_level, method, relative_method, margin = _check_options(
        alternative, confidence_level, method, relative_method, margin
    )
    fields = _compare(
        _ratio_arm("control", control),
        _ratio_arm("treatment", treatment),
        alternative=alternative,
        confidence_level=confidence_level,
        method=method,
        relative_method=relative_method,
        margin=margin,
    )
    return MeansTestResult(**fields)


def _cuped_arms(control: BivariateStats, treatment: BivariateStats) -> tuple[float, _Arm, _Arm]:
    """``theta`` over both arms and each arm's adjusted mean and per-unit variance."""
    total = control.merge(treatment)
    if total.var_y == 0.0:
        warn_degenerate("The covariate has zero variance; CUPED fields are NaN.")
        theta = math.nan
    else:
        theta = total.cov / total.var_y

    def adjusted(stats: BivariateStats) -> _Arm:
        t = 0.0 if math.isnan(theta) else theta
        mean = stats.mean_x - t * (stats.mean_y - total.mean_y)
        var = stats.var_x - 2.0 * t * stats.cov + t * t * stats.var_y
        return _Arm(mean, max(var, 0.0), stats.n)

    return theta, adjusted(control), adjusted(treatment)


def cuped_test(
    control: BivariateStats | tuple[Any, Any],
    treatment: BivariateStats | tuple[Any, Any],
    *,
    alternative: str = "two-sided",
    confidence_level: float = 0.95,
    method: str = "z",
    relative_method: str = "delta-log",
    margin: float = 0.0,
) -> CupedTestResult:
    """Means test with CUPED variance reduction by a pre-experiment covariate.

    ``theta = cov(x, y) / var(y)`` over both arms together; each arm's metric mean becomes
    ``mean(x) - theta * (mean(y) - overall mean(y))`` with per-unit variance
    ``var(x) - 2 theta cov(x, y) + theta**2 var(y)`` (Deng, Xu, Kohavi and Walker 2013; the
    same estimator as tea-tasting's ``Mean(..., covariate=...)``).

    Parameters
    ----------
    control, treatment
        ``BivariateStats`` with ``x`` the metric and ``y`` the covariate, or
        ``(metric, covariate)`` tuples of arrays.
    alternative, confidence_level, method, relative_method, margin
        As in :func:`ratio_test`.

    Returns
    -------
    CupedTestResult
        Adds ``theta`` and ``variance_reduction`` to the means test's fields.

    Examples
    --------
    >>> import numpy as np
    >>> from abkit import cuped_test
    >>> rng = np.random.default_rng(0)
    >>> pre = rng.normal(10, 2, size=(2, 500))
    >>> post = pre + rng.normal(0, 1, size=(2, 500))
    >>> r = cuped_test((post[0], pre[0]), (post[1], pre[1]))
    >>> r.variance_reduction > 0.7
    True
    """
    control = _as_bivariate_stats("control", control)
    treatment = _as_bivariate_stats("treatment", treatment)
    alternative, confidence_level, method, relative_method, margin = _check_options(
        alternative, confidence_level, method, relative_method, margin
    )
    theta, control_arm, treatment_arm = _cuped_arms(control, treatment)
    fields = _compare(
        control_arm,
        treatment_arm,
        alternative=alternative,
        confidence_level=confidence_level,
        method=method,
        relative_method=relative_method,
        margin=margin,
    )
    raw_var = control.var_x / control.n + treatment.var_x / treatment.n
    if math.isnan(theta):
        fields = {k: (math.nan if isinstance(v, float) and k not in ("confidence_level", "margin")
                      else NAN_INTERVAL if isinstance(v, ConfidenceInterval) else v)
                  for k, v in fields.items()}
        reduction = math.nan
    else:
        reduction = 1.0 - fields["se"] ** 2 / raw_var if raw_var > 0 else math.nan
    return CupedTestResult(**fields, theta=theta, variance_reduction=reduction)
