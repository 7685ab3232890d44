"""Sample size, power and minimum detectable effect for two proportions (conversion rates).

Methods, named as users know them:

- ``"pooled"``: the z test with the pooled variance under the null and the unpooled one under
  the alternative (Fleiss without continuity correction; R's ``power.prop.test``, statsmodels'
  ``power_proportions_2indep``, rpact's ``getSampleSizeRates``). With a non-zero ``margin`` the
  null variance uses the Farrington-Manning restricted rates, as :func:`abkit.proportions_test`.
- ``"unpooled"``: the Wald variance under both hypotheses (Chow, Shao and Wang, section 4.2).
- ``"arcsine"``: Cohen's ``h = 2 asin(sqrt(p_t)) - 2 asin(sqrt(p_c))`` with variance
  ``1/n_control + 1/n_treatment`` (pwr's ``pwr.2p.test``, statsmodels' ``NormalIndPower``).

With unequal arms the pooled test is slightly biased: for effects near the margin its power can
dip below its size before rising; a target power above the size is still crossed once, so the
solved MDE is unique.

Examples
--------
>>> from abkit import power_proportions
>>> r = power_proportions(control_rate=0.5, mde=0.25, power=0.9, two_sided_power="near")
>>> round(r.n_control, 4), r.n_total
(76.7069, 154)
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from abkit._validation import as_checked_array, check_choice
from abkit.power._core import (
    FloatArray,
    FloatOrArray,
    Options,
    PowerResult,
    check_margin_zero,
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
    which_unknown,
)

__all__ = ["ProportionsPowerResult", "power_proportions"]

PROPORTION_POWER_METHODS = ("pooled", "unpooled", "arcsine")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class ProportionsPowerResult(PowerResult):
    """Result of :func:`power_proportions`.

    ``mde`` is on the scale asked for (``relative=True``: ``treatment_rate / control_rate - 1``;
    otherwise ``treatment_rate - control_rate``); ``treatment_rate`` is the rate it implies.
    """

    control_rate: FloatOrArray
    treatment_rate: FloatOrArray
    relative: bool


def restricted_rates_limit(
    p_c: FloatArray, p_t: FloatArray, ratio: FloatArray, margin: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Limits of the Farrington-Manning restricted rates under ``p_t - p_c = margin``.

    The same closed-form root of the likelihood cubic (Miettinen and Nurminen 1985) that
    :func:`abkit.proportions.restricted_rates` solves for counts, with expected proportions in
    place of counts (the cubic is homogeneous in the counts), vectorised.
    """
    n_total = 1.0 + ratio
    events = p_c + ratio * p_t
    c3 = n_total
    c2 = (ratio + 2.0) * margin - n_total - events
    c1 = (p_c * margin - n_total - 2.0 * p_c) * margin + events
    c0 = p_c * margin * (1.0 - margin)
    q = (c2 / (3 * c3)) ** 3 - c1 * c2 / (6 * c3 * c3) + c0 / (2 * c3)
    p = np.copysign(np.sqrt(np.maximum((c2 / (3 * c3)) ** 2 - c1 / (3 * c3), 0.0)), q)
    with np.errstate(divide="ignore", invalid="ignore"):
        cos_arg = np.where(p == 0.0, 1.0, np.clip(q / p**3, -1.0, 1.0))
    angle = (np.pi + np.arccos(cos_arg)) / 3.0
    control = np.clip(2.0 * p * np.cos(angle) - c2 / (3 * c3), 0.0, 1.0)
    return control, np.clip(control + margin, 0.0, 1.0)


def _effect_and_sds(
    p_c: FloatArray, p_t: FloatArray, options: Options, method: str
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Effect toward the alternative and the null/alternative SDs per ``sqrt(n_control)``."""
    r, shrink = options.ratio, np.sqrt(1.0 - options.rho**2)
    if method == "arcsine":
        effect = cohens_h(p_c, p_t)
        s0 = s1 = np.sqrt(1.0 + 1.0 / r) * shrink
    else:
        effect = p_t - p_c - options.margin
        s1 = np.sqrt(p_c * (1.0 - p_c) + p_t * (1.0 - p_t) / r) * shrink
        if method == "unpooled":
            s0 = s1
        else:
            null_c, null_t = restricted_rates_limit(p_c, p_t, r, options.margin)
            pooled = (p_c + r * p_t) / (1.0 + r)
            null_c = np.where(options.margin == 0.0, pooled, null_c)
            null_t = np.where(options.margin == 0.0, pooled, null_t)
            s0 = np.sqrt(null_c * (1.0 - null_c) + null_t * (1.0 - null_t) / r) * shrink
    if options.alternative == "less":
        effect = -effect
    elif options.alternative == "two-sided":
        effect = np.abs(effect)
    return effect, s0, s1


def _power(n_control: FloatArray, p_c: FloatArray, p_t: FloatArray, crit: FloatArray,
           options: Options, method: str) -> FloatArray:
    effect, s0, s1 = _effect_and_sds(p_c, p_t, options, method)
    sqrt_n = np.sqrt(n_control / options.inflation_factor)
    return normal_power(sqrt_n, effect, s0, s1, crit, options.both_tails)


def _solve_rate(n_control: FloatArray, p_c: FloatArray, crit: FloatArray, target: FloatArray,
                options: Options, method: str) -> FloatArray:
    """Treatment rate at which the test reaches ``target`` power (upward unless ``"less"``)."""
    direction = -1.0 if options.alternative == "less" else 1.0
    sqrt_n = np.sqrt(n_control / options.inflation_factor)
    if method == "arcsine":
        s = np.sqrt(1.0 + 1.0 / options.ratio) * np.sqrt(1.0 - options.rho**2)
        h = solve_effect_normal(sqrt_n, s, crit, target, options)
        angle = np.arcsin(np.sqrt(p_c)) + direction * h / 2.0
        fail((angle > np.pi / 2) | (angle < 0.0),
             "No effect reaches `power`: the arcsine effect needed exceeds the largest possible "
             "(treatment rate 1, or 0 with alternative 'less').", scalar=options.scalar)
        return np.sin(angle) ** 2
    # The distance x from the margin toward the alternative, in [0, x_max].
    start = p_c + options.margin
    x_max = 1.0 - start if direction > 0 else start
    fail(~(x_max > 0.0), "No effect reaches `power`: the margin leaves no room for a treatment rate "
         "in [0, 1] in the direction of the alternative.", scalar=options.scalar)

    def excess(x: FloatArray, pc: FloatArray, st: FloatArray, n: FloatArray, cr: FloatArray,
               tg: FloatArray, r: FloatArray, m: FloatArray, rho: FloatArray) -> FloatArray:
        sub = dataclasses.replace(options, ratio=r, margin=m, rho=rho,
                                  inflation_factor=np.ones_like(r))
        return _power(n, pc, st + direction * x, cr, sub, method) - tg

    args = (p_c, start, n_control / options.inflation_factor, crit, target, options.ratio,
            options.margin, options.rho)
    at_max = excess(x_max, *args)
    fail(at_max < 0.0, "No effect reaches `power` with this n_control: even a treatment rate of "
         f"{'1' if direction > 0 else '0'} falls short.", scalar=options.scalar)
    at_zero = excess(np.zeros_like(x_max), *args)
    fail(at_zero >= 0.0, "`power` must exceed the rejection rate at an effect equal to the margin; "
         "raise `power` or lower `alpha`.", scalar=options.scalar)
    x = solve_increasing(excess, np.zeros_like(x_max), x_max, args, what="mde", scalar=options.scalar,
                         f_low=at_zero)
    return start + direction * x


def power_proportions(
    *,
    control_rate: Any,
    mde: Any = None,
    n_control: Any = None,
    power: Any = None,
    alpha: Any = 0.05,
    ratio: Any = 1.0,
    relative: bool = False,
    alternative: str = "two-sided",
    method: str = "pooled",
    two_sided_power: str = "both",
    margin: Any = 0.0,
    rho: Any = 0.0,
    n_treatments: Any = 1,
    adjustment: str = "bonferroni",
    inflation_factor: Any = 1.0,
) -> ProportionsPowerResult:
    """Solve a two-proportion design for whichever of ``mde``, ``n_control``, ``power`` is None.

    Parameters
    ----------
    control_rate
        Control rate, in (0, 1).
    mde
        Effect to detect: ``treatment_rate - control_rate``, or ``treatment_rate / control_rate - 1`` with
        ``relative=True``. When solved, it is above the margin (below it for ``"less"``); for a
        two-sided test the upward solution is reported, as R.
    n_control
        Units in the control arm (may be fractional); each treatment arm has
        ``ratio * n_control``.
    power
        Power of each treatment-versus-control comparison, in (0, 1).
    alpha
        Familywise significance level.
    ratio
        ``n_treatment / n_control``.
    relative
        Whether ``mde`` is relative to ``control_rate``.
    alternative
        ``"two-sided"``, ``"greater"`` (treatment rate above control plus margin) or ``"less"``.
    method
        ``"pooled"`` (default), ``"unpooled"`` or ``"arcsine"``; see the module docstring.
    two_sided_power
        ``"both"`` (default; the exact power of the two-sided test, as pwr, statsmodels and R's
        ``strict = TRUE``) or ``"near"`` (only the rejection region on the effect's side, as R's
        ``power.prop.test`` default ``strict = FALSE``). Ignored for one-sided tests.
    margin
        Null value of ``treatment_rate - control_rate`` (non-inferiority: ``margin < 0`` with
        ``"greater"``; superiority by a margin: ``margin > 0``). Must be 0 with ``"arcsine"``.
    rho
        Correlation of the outcome with a pre-experiment covariate (CUPED); variances shrink by
        ``1 - rho**2``.
    n_treatments
        Treatment arms, each compared with the one control.
    adjustment
        For ``n_treatments > 1``: ``"bonferroni"`` (each comparison at ``alpha / n_treatments``)
        or ``"dunnett"`` ("Dunnett-style": the large-sample Dunnett critical value ``c`` with
        ``P(max_i |Z_i| <= c) = 1 - alpha`` (``max_i Z_i`` one-sided) for standard normal
        statistics ``Z_i`` equicorrelated with correlation ``ratio / (1 + ratio)``, as the
        comparisons share the control arm; so the familywise error is exactly ``alpha`` in large
        samples). ``power`` stays the power of each single comparison, at that critical value.
    inflation_factor
        At least 1: the maximum sample size of a group-sequential design as a multiple of the
        fixed design's (take it from the sequential design, e.g. its ``inflation_factor(power)``;
        this module only takes the number). ``n_control`` is the inflated size.

    Returns
    -------
    ProportionsPowerResult
        Scalars when every numeric input is a scalar; arrays of the broadcast shape otherwise.

    Raises
    ------
    ConvergenceError
        When no design reaches the target (e.g. no treatment rate in [0, 1] gives the power).

    Examples
    --------
    >>> from abkit import power_proportions
    >>> r = power_proportions(control_rate=0.10, mde=0.10, relative=True, power=0.8)
    >>> r.n_control_rounded, r.n_total
    (14751, 29502)
    >>> r = power_proportions(control_rate=0.1, mde=0.01, n_control=[5000, 10000, 20000])
    >>> r.power.round(3)
    array([0.371, 0.636, 0.904])
    """
    unknown = which_unknown(mde, n_control, power)
    method_checked = check_choice("method", method, PROPORTION_POWER_METHODS)
    check_relative(relative)
    margins = as_checked_array("margin", margin)
    if np.any(np.abs(margins) >= 1.0):
        raise ValueError(f"`margin` must be in (-1, 1) (a difference of rates); "
                         f"got {float(margins[np.abs(margins) >= 1.0].ravel()[0])}.")
    if method_checked == "arcsine":
        check_margin_zero(margin, method_checked)
    arrays, options = prepare(
        {
            "control_rate": (control_rate, "open_unit"),
            **design_arguments(mde=mde, n_control=n_control, power=power, alpha=alpha, ratio=ratio,
                               margin=margin, rho=rho, n_treatments=n_treatments,
                               inflation_factor=inflation_factor),
        },
        alternative=alternative,
        two_sided_power=two_sided_power,
        adjustment=adjustment,
    )
    p_c = arrays["control_rate"]
    crit, _ = critical_values(options.alpha, options.ratio, options.n_treatments, options.tails,
                              options.adjustment)
    if unknown == "mde":
        p_t = _solve_rate(arrays["n_control"], p_c, crit, arrays["power"], options, method_checked)
        n_c, achieved = arrays["n_control"], arrays["power"]
    else:
        p_t = p_c * (1.0 + arrays["mde"]) if relative else p_c + arrays["mde"]
        if np.any((p_t < 0.0) | (p_t > 1.0)):
            bad = float(p_t[(p_t < 0.0) | (p_t > 1.0)][0])
            raise ValueError(f"`mde` must give a treatment rate in [0, 1]; got a treatment rate of {bad}.")
        if unknown == "n_control":
            effect, s0, s1 = _effect_and_sds(p_c, p_t, options, method_checked)
            sqrt_n = solve_sqrt_n_normal(effect, s0, s1, crit, arrays["power"], options)
            n_c, achieved = sqrt_n**2 * options.inflation_factor, arrays["power"]
        else:
            n_c = arrays["n_control"]
            achieved = _power(n_c, p_c, p_t, crit, options, method_checked)
    solved_mde = p_t / p_c - 1.0 if relative else p_t - p_c
    fields = {
        **result_fields(n_c, achieved, solved_mde, options, method=method_checked, solved_for=unknown),
        "control_rate": p_c,
        "treatment_rate": p_t,
        "relative": relative,
    }
    return ProportionsPowerResult(**shape_fields(fields, options))


def cohens_h(p_control: FloatArray | float, p_treatment: FloatArray | float) -> FloatArray:
    """Cohen's ``h = 2 asin(sqrt(p_treatment)) - 2 asin(sqrt(p_control))`` (pwr's ``ES.h``).

    Examples
    --------
    >>> round(float(cohens_h(0.45, 0.65)), 9)
    0.404860075
    """
    return np.asarray(
        2.0 * np.arcsin(np.sqrt(p_treatment)) - 2.0 * np.arcsin(np.sqrt(p_control)), dtype=np.float64
    )

