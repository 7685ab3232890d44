"""Sample size, power and minimum detectable effect for means and ratio metrics.

``method="t"`` is the two-sample t test with pooled degrees of freedom
``n_control + n_treatment - 2`` and noncentrality ``(mde - margin) / (sd * sqrt(1/n_control +
1/n_treatment))``, evaluated exactly with the noncentral t (R's ``power.t.test``, statsmodels'
``TTestIndPower``, rpact's ``getSampleSizeMeans(normalApproximation = FALSE)``), including unequal
allocation. ``method="z"`` is its large-sample normal version (statsmodels' ``NormalIndPower``).
Ratio metrics (:func:`power_ratio`) are means of a linearised per-unit variable whose variance
comes from the delta method, as :func:`abkit.ratio_test`.

Examples
--------
>>> from abkit import power_means
>>> r = power_means(sd=1.0, mde=0.5, power=0.8, two_sided_power="near")
>>> round(r.n_control, 4), r.n_control_rounded
(63.7658, 64)
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from scipy import special

from abkit._validation import as_checked_array, check_choice
from abkit.power import _kernels
from abkit.power._core import (
    FloatArray,
    FloatOrArray,
    Options,
    PowerResult,
    check_relative,
    critical_values,
    design_arguments,
    fail,
    normal_power,
    prepare,
    result_fields,
    shape_fields,
    solve_effect_normal,
    solve_increasing,
    solve_sqrt_n_normal,
    t_power,
    which_unknown,
)

__all__ = ["MeansPowerResult", "power_means", "power_ratio"]

MEAN_POWER_METHODS = ("t", "z")
MEAN_POWER_KINDS = ("two-sample", "one-sample", "paired")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class MeansPowerResult(PowerResult):
    """Result of :func:`power_means` and :func:`power_ratio`.

    ``mde`` is absolute (``treatment - control``) or, with ``relative=True``, relative to
    ``mean``; ``standardized_effect`` is the absolute effect over ``sd`` (Cohen's d). For a ratio
    metric, ``mean`` is the control ratio and ``sd`` the per-unit delta-method standard deviation.
    """

    sd: FloatOrArray
    mean: FloatOrArray
    standardized_effect: FloatOrArray
    relative: bool
    kind: str = "two-sample"


def _t_excess_n(n: FloatArray, effect: FloatArray, s: FloatArray, r: FloatArray, offset: FloatArray,
                level: FloatArray, target: FloatArray, tails: FloatArray, both: FloatArray) -> FloatArray:
    return t_power(n * (1.0 + r) - offset, np.sqrt(n) * effect / s, level, int(tails.flat[0]),
                   bool(both.flat[0])) - target


def _t_excess_ncp(ncp: FloatArray, df: FloatArray, level: FloatArray, target: FloatArray,
                  tails: FloatArray, both: FloatArray) -> FloatArray:
    return t_power(df, ncp, level, int(tails.flat[0]), bool(both.flat[0])) - target


def _flags(options: Options, size: int) -> tuple[FloatArray, FloatArray]:
    # Scalars ride along as arrays so that the solver can subset them with the other arguments.
    return np.full(size, float(options.tails)), np.full(size, float(options.both_tails))


def _solve_n_t(effect: FloatArray, s: FloatArray, r: FloatArray, offset: float, crit: FloatArray,
               level: FloatArray, target: FloatArray, options: Options) -> FloatArray:
    """Fixed-design n_control at which the t test reaches ``target``.

    A compiled Newton solve (:func:`abkit.power._kernels.t_sample_size`) from the normal
    approximation of the noncentral t takes n and the t critical value together to about 1e-13
    relative in two or three sums of the power. Designs it leaves unsolved (below one degree of
    freedom) go to the bracketed solve, which explains the failure. The degrees of freedom are
    ``n (1 + r) - offset``.
    """
    sqrt_n = solve_sqrt_n_normal(effect, s, s, crit, target, options, refine=False)
    # crit is the normal critical value, so -ndtri(level / tails) == crit.
    n = _kernels.t_sample_size(sqrt_n, effect, s, r, level / options.tails, crit, target, options.both_tails,
                               offset)
    missing = np.isnan(n)
    if missing.any():
        with np.errstate(over="ignore"):  # an astronomic n (sd 1e300) is inf: unreachable below
            n_squared = sqrt_n**2
        n_z, effect, s, r, crit, level, target = (
            v[missing] for v in (n_squared, effect, s, r, crit, level, target))
        n[missing] = _bracketed_n_t(n_z, effect, s, r, offset, crit, level, target, options)
    return n


def _bracketed_n_t(n_z: FloatArray, effect: FloatArray, s: FloatArray, r: FloatArray, offset: float,
                   crit: FloatArray, level: FloatArray, target: FloatArray, options: Options) -> FloatArray:
    correction = crit**2 / (2.0 * (1.0 + r))
    args = (effect, s, r, np.full(effect.size, offset), level, target, *_flags(options, effect.size))
    low = n_z + 0.95 * correction
    f_low = _t_excess_n(low, *args)
    for fallback in (n_z, (1.0 + offset) / (1.0 + r)):  # the z solution, then one degree of freedom
        passed = f_low >= 0.0
        if not passed.any():
            break
        low[passed] = np.minimum(low[passed], fallback[passed])
        f_low[passed] = _t_excess_n(low[passed], *(a[passed] for a in args))
    fail(f_low >= 0.0, "The t test reaches `power` below one degree of freedom "
         "(3 units in two samples, 2 in one sample or 2 pairs); no sample size is meaningful.",
         scalar=options.scalar)
    high = np.maximum(n_z + 1.1 * correction + 0.1, low * 1.001)
    return solve_increasing(_t_excess_n, low, high, args, what="n_control", scalar=options.scalar,
                            expand=True, f_low=f_low)


def _solve_effect_t(df: FloatArray, n: FloatArray, s: FloatArray, crit: FloatArray, level: FloatArray,
                    target: FloatArray, options: Options) -> FloatArray:
    """Effect toward the alternative that the t test detects with ``target`` power at ``n``.

    A compiled Newton solve in the noncentrality (:func:`abkit.power._kernels.t_effect`);
    designs it declines go to a bracketed solve.
    """
    args = (df, level, target, *_flags(options, n.size))
    zero = np.zeros_like(n)
    q = level / options.tails
    f_zero = q * (2.0 if options.both_tails else 1.0) - target  # the power at zero effect is the level
    fail(f_zero >= 0.0,
         "`power` must exceed the rejection rate at zero effect; raise `power` or lower `alpha`.",
         scalar=options.scalar)
    ncp = _kernels.t_effect(df, q, crit, special.ndtri(target), target, options.both_tails)
    missing = np.isnan(ncp)
    if missing.any():
        start = np.maximum(crit + special.ndtri(target), 0.5)[missing]
        sub = tuple(a[missing] for a in args)
        ncp[missing] = solve_increasing(_t_excess_ncp, zero[missing], 1.1 * start, sub, what="mde",
                                        scalar=options.scalar, expand=True, f_low=f_zero[missing])
    return ncp * s / np.sqrt(n)


def power_means(
    *,
    sd: Any,
    mde: Any = None,
    n_control: Any = None,
    power: Any = None,
    alpha: Any = 0.05,
    ratio: Any = 1.0,
    alternative: str = "two-sided",
    method: str = "t",
    two_sided_power: str = "both",
    mean: Any = None,
    relative: bool = False,
    margin: Any = 0.0,
    rho: Any = 0.0,
    n_treatments: Any = 1,
    adjustment: str = "bonferroni",
    inflation_factor: Any = 1.0,
    kind: str = "two-sample",
) -> MeansPowerResult:
    """Solve a means design for whichever of ``mde``, ``n_control``, ``power`` is None.

    Parameters
    ----------
    sd
        Per-unit standard deviation of the metric (common to both arms). With
        ``kind="paired"``, the standard deviation of the within-pair differences
        ``treatment - control`` (not of either measurement).
    mde
        Effect to detect, ``treatment - control`` (relative to ``mean`` with ``relative=True``).
        When solved it lies above the margin (below it for ``"less"``).
    n_control, power, alpha, ratio, alternative
        As :func:`abkit.power_proportions`.
    method
        ``"t"`` (default; exact noncentral t, df ``n_control + n_treatment - 2``) or ``"z"``.
    two_sided_power
        ``"both"`` (default; the exact two-sided power, R's ``strict = TRUE``, statsmodels) or
        ``"near"`` (R's ``power.t.test`` default ``strict = FALSE``).
    mean
        Control mean; needed only with ``relative=True``.
    relative
        Whether ``mde`` is relative to ``mean``.
    margin
        Null value of the absolute effect (non-inferiority or superiority margin).
    rho
        CUPED correlation with a pre-experiment covariate; the variance shrinks by ``1 - rho**2``.
    n_treatments, adjustment
        Several treatments against one control: ``"bonferroni"`` or ``"dunnett"`` (the
        large-sample Dunnett critical value, see :func:`abkit.power_proportions`). For
        ``method="t"`` each comparison is a two-sample t test at the per-comparison level the
        adjustment implies (Dunnett's exact multivariate t is not used).
    inflation_factor
        Group-sequential maximum sample size over the fixed design's (at least 1).
    kind
        ``"two-sample"`` (default): two independent arms. ``"one-sample"``: one sample's mean
        against ``margin``; ``"paired"``: the mean of within-pair differences against
        ``margin``. Both are R's ``power.t.test(type = "one.sample" | "paired")`` (statsmodels'
        ``TTestPower``): df ``n - 1``, noncentrality ``sqrt(n) (mde - margin) / sd``. Then
        ``n_control`` is the number of units (one-sample) or pairs (paired); ``n_treatment``
        repeats it and ``n_total`` counts them once. ``ratio`` and ``n_treatments`` must be 1.

    Returns
    -------
    MeansPowerResult
        Scalars when every numeric input is a scalar; arrays of the broadcast shape otherwise.

    Examples
    --------
    >>> from abkit import power_means
    >>> r = power_means(sd=1.0, mde=1.0, n_control=20, two_sided_power="near")
    >>> round(r.power, 6)
    0.868953
    >>> r = power_means(sd=2.0, n_control=[100, 400], power=0.8, method="z")
    >>> r.mde.round(4)
    array([0.7924, 0.3962])
    >>> r = power_means(sd=1.0, mde=0.5, power=0.8, kind="paired", two_sided_power="near")
    >>> round(r.n_control, 4), r.n_total
    (33.3672, 34)
    """
    unknown = which_unknown(mde, n_control, power)
    method = check_choice("method", method, MEAN_POWER_METHODS)
    kind = check_choice("kind", kind, MEAN_POWER_KINDS)
    check_relative(relative)
    if relative and mean is None:
        raise ValueError("`mean` must be given when `relative` is True; got None.")
    arrays, options = prepare(
        {
            "sd": (sd, "positive"),
            "mean": (mean, "real"),
            **design_arguments(mde=mde, n_control=n_control, power=power, alpha=alpha, ratio=ratio,
                               margin=margin, rho=rho, n_treatments=n_treatments,
                               inflation_factor=inflation_factor),
        },
        alternative=alternative,
        two_sided_power=two_sided_power,
        adjustment=adjustment,
    )
    size = options.alpha.size
    base = arrays.get("mean", np.full(size, np.nan))
    if relative and np.any(base == 0.0):
        raise ValueError("`mean` must not be 0 when `relative` is True; got 0.0.")
    scale = base if relative else np.ones(size)
    if kind == "two-sample":
        s = arrays["sd"] * np.sqrt((1.0 - options.rho**2) * (1.0 + 1.0 / options.ratio))
        r, offset = options.ratio, 2.0  # df = n_control (1 + ratio) - 2
    else:
        _check_one_sample(kind, options)
        s = arrays["sd"] * np.sqrt(1.0 - options.rho**2)
        r, offset = np.zeros(size), 1.0  # df = n - 1
    crit, level = critical_values(options.alpha, options.ratio, options.n_treatments, options.tails,
                                  options.adjustment)
    direction = -1.0 if options.alternative == "less" else 1.0
    if unknown == "mde":
        n_c, achieved = arrays["n_control"], arrays["power"]
        n_fixed = n_c / options.inflation_factor
        if method == "t":
            df = _check_df(n_fixed, r, offset, options)
            toward = _solve_effect_t(df, n_fixed, s, crit, level, achieved, options)
        else:
            toward = solve_effect_normal(np.sqrt(n_fixed), s, crit, achieved, options)
        effect = options.margin + direction * toward
    else:
        effect = arrays["mde"] * scale
        toward = direction * (effect - options.margin)
        if options.alternative == "two-sided":
            toward = np.abs(toward)
        if unknown == "n_control":
            achieved = arrays["power"]
            if method == "t":
                n_fixed = _solve_n_t(toward, s, r, offset, crit, level, achieved, options)
            else:
                n_fixed = solve_sqrt_n_normal(toward, s, s, crit, achieved, options) ** 2
            n_c = n_fixed * options.inflation_factor
        else:
            n_c = arrays["n_control"]
            n_fixed = n_c / options.inflation_factor
            if method == "t":
                df = _check_df(n_fixed, r, offset, options)
                ncp = np.sqrt(n_fixed) * toward / s
                achieved = t_power(df, ncp, level, options.tails, options.both_tails)
            else:
                achieved = normal_power(np.sqrt(n_fixed), toward, s, s, crit, options.both_tails)
    fields = {
        **result_fields(n_c, achieved, effect / scale, options, method=method, solved_for=unknown),
        "sd": arrays["sd"],
        "mean": base,
        "standardized_effect": effect / arrays["sd"],
        "relative": relative,
        "kind": kind,
    }
    if kind != "two-sample":  # one set of units (or pairs): count it once
        fields["n_total"] = fields["n_control_rounded"]
    return MeansPowerResult(**shape_fields(fields, options))


def _check_one_sample(kind: str, options: Options) -> None:
    for name in ("ratio", "n_treatments"):
        values = getattr(options, name)
        if np.any(values != 1.0):
            bad = float(values[values != 1.0][0])
            raise ValueError(f"`{name}` must be 1 with kind={kind!r}; got {bad:g}.")


def _check_df(n_fixed: FloatArray, r: FloatArray, offset: float, options: Options) -> FloatArray:
    df = n_fixed * (1.0 + r) - offset
    if np.any(df < 1.0):
        bad = float((n_fixed * options.inflation_factor)[df < 1.0][0])
        rule = "(n_control + n_treatment) / inflation_factor >= 3" if offset == 2.0 else (
            "n_control / inflation_factor >= 2")
        raise ValueError(
            f"`n_control` must give the t test at least 1 degree of freedom ({rule}); got {bad}."
        )
    return df


def power_ratio(
    *,
    mean_numerator: Any,
    mean_denominator: Any,
    var_numerator: Any,
    var_denominator: Any,
    covariance: Any = 0.0,
    mde: Any = None,
    n_control: Any = None,
    power: Any = None,
    alpha: Any = 0.05,
    ratio: Any = 1.0,
    relative: bool = False,
    alternative: str = "two-sided",
    method: str = "z",
    two_sided_power: str = "both",
    margin: Any = 0.0,
    rho: Any = 0.0,
    n_treatments: Any = 1,
    adjustment: str = "bonferroni",
    inflation_factor: Any = 1.0,
) -> MeansPowerResult:
    """Solve a ratio-metric design (e.g. clicks per session with users randomised).

    The metric is ``mean(numerator) / mean(denominator)`` over units; its per-unit delta-method
    variance is ``(var_num - 2 R cov + R**2 var_den) / mean_den**2`` with ``R`` the control ratio
    (Deng, Knoblich and Lu 2018), the variance :func:`abkit.ratio_test` uses. The per-unit
    moments are those of ``abkit.BivariateStats`` (``mean_x``, ``mean_y``, ``var_x``, ``var_y``,
    ``cov``) from a pilot or a previous period. The design is then :func:`power_means` with
    ``sd`` the delta-method standard deviation and ``mean = R``; ``method`` defaults to ``"z"``
    as :func:`abkit.ratio_test`.

    Parameters
    ----------
    mean_numerator, mean_denominator, var_numerator, var_denominator, covariance
        Per-unit moments of the numerator and denominator in the control arm.
    mde, n_control, power, alpha, ratio, relative, alternative, method, two_sided_power, margin,
    rho, n_treatments, adjustment, inflation_factor
        As :func:`power_means` (``relative`` is relative to the control ratio).

    Returns
    -------
    MeansPowerResult

    Examples
    --------
    >>> from abkit import power_ratio
    >>> r = power_ratio(mean_numerator=2.0, mean_denominator=4.0, var_numerator=4.0,
    ...                 var_denominator=9.0, covariance=4.5, mde=0.02, relative=True, power=0.8)
    >>> round(r.mean, 3), round(r.sd, 4), r.n_control_rounded
    (0.5, 0.3307, 17170)
    """
    mean_x = as_checked_array("mean_numerator", mean_numerator)
    mean_y = as_checked_array("mean_denominator", mean_denominator)
    var_x = as_checked_array("var_numerator", var_numerator, "nonnegative")
    var_y = as_checked_array("var_denominator", var_denominator, "nonnegative")
    cov = as_checked_array("covariance", covariance)
    if np.any(mean_y == 0.0):
        raise ValueError("`mean_denominator` must not be 0; got 0.0.")
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        control_ratio = mean_x / mean_y
        variance = (var_x - 2.0 * control_ratio * cov + control_ratio**2 * var_y) / mean_y**2
    arguments = "`mean_numerator`, `mean_denominator`, `var_numerator`, `var_denominator` and `covariance`"
    if not (np.all(np.isfinite(variance)) and np.all(np.isfinite(control_ratio))):
        raise ValueError(f"The delta-method variance of the ratio must be finite; {arguments} put "
                         "it beyond the float range.")
    if np.any(variance <= 0.0):
        bad = float(np.atleast_1d(variance)[np.atleast_1d(variance <= 0.0)][0])
        raise ValueError(
            f"The delta-method variance of the ratio must be greater than 0; got {bad} "
            f"(check {arguments})."
        )
    scalar = all(np.ndim(a) == 0 for a in (mean_x, mean_y, var_x, var_y, cov))
    sd = float(np.sqrt(variance)) if scalar else np.sqrt(variance)
    mean = float(control_ratio) if scalar else control_ratio
    return power_means(
        sd=sd, mean=mean, mde=mde, n_control=n_control, power=power, alpha=alpha, ratio=ratio,
        relative=relative, alternative=alternative, method=method, two_sided_power=two_sided_power,
        margin=margin, rho=rho, n_treatments=n_treatments, adjustment=adjustment,
        inflation_factor=inflation_factor,
    )
