"""Shared pieces of large-sample inference: p-values, intervals and hypothesis wording.

Every fixed-horizon test reduces to an estimate, its standard error and a reference
distribution (normal, or Student t with some degrees of freedom); this module turns those into
p-values and intervals the same way for all of them, one- and two-sided. The normal critical
values, z p-values and Wald intervals of the rest of abkit come from here; the two exceptions
reproduce another program's arithmetic to the last bit and say so where they stand (the
asymptotic Wilcoxon interval along R's ``wilcox.test`` path in :mod:`abkit.nonparametric`, and
Netflix Kayenta's ``MannWhitney`` in :mod:`abkit.rollout.kayenta`).

Examples
--------
>>> round(pvalue_from_statistic(1.96, "two-sided"), 4)
0.05
>>> interval(1.0, 0.5, "two-sided", 0.95).low < 0.05
True
"""

from __future__ import annotations

import math
import os
import sys
import warnings
from typing import Any

from scipy import special, stats

from abkit._results import NAN_INTERVAL as NAN_INTERVAL
from abkit._results import ConfidenceInterval
from abkit.errors import DegenerateDataWarning


def pvalue_from_statistic(statistic: float, alternative: str, df: float | None = None) -> float:
    """P-value of a z statistic (``df=None``) or a t statistic with ``df`` degrees of freedom."""
    if math.isnan(statistic):
        return math.nan
    if df is None:
        upper = float(special.ndtr(-statistic))
        lower = float(special.ndtr(statistic))
        two_sided = float(2.0 * special.ndtr(-abs(statistic)))
    else:
        upper = float(stats.t.sf(statistic, df))
        lower = float(stats.t.cdf(statistic, df))
        two_sided = float(2.0 * stats.t.sf(abs(statistic), df))
    if alternative == "greater":
        return upper
    if alternative == "less":
        return lower
    return min(two_sided, 1.0)


def tail_quantile(tail: float, df: float | None = None) -> float:
    """The normal (``df=None``) or Student t quantile with probability ``tail`` above it.

    ``z_{1 - tail}``: the critical value of a one-sided test at level ``tail``, or of a two-sided
    test at level ``2 * tail``.

    >>> round(tail_quantile(0.025), 4)
    1.96
    """
    # From the tail itself: ``1 - tail`` rounds (to 1 below tail 1e-17, where ndtri gives inf).
    return float(normal_tail_quantiles(tail)) if df is None else float(-stats.t.ppf(tail, df))


def normal_tail_quantiles(tail: Any) -> Any:
    """:func:`tail_quantile` of the normal, elementwise over an array of upper tails.

    >>> [round(float(z), 4) for z in normal_tail_quantiles([0.025, 0.005])]
    [1.96, 2.5758]
    """
    return -special.ndtri(tail)


def critical_value(confidence_level: float, alternative: str, df: float | None = None) -> float:
    """The quantile that sets an interval's half-width (one- or two-sided)."""
    tail = 1.0 - confidence_level
    return tail_quantile(tail / 2.0 if alternative == "two-sided" else tail, df)


def fixed_horizon_drift(alpha: float, power: float) -> float:
    """``z_{1 - alpha} + z_{power}``: the mean of the z statistic at which a fixed-horizon one-sided
    z test at level ``alpha`` rejects with probability ``power``.

    >>> round(fixed_horizon_drift(0.025, 0.8), 4)
    2.8016
    """
    return float(special.ndtri(1.0 - alpha) + special.ndtri(power))


def interval(
    estimate: float,
    se: float,
    alternative: str,
    confidence_level: float,
    df: float | None = None,
) -> ConfidenceInterval:
    """``estimate ± crit * se``; one-sided alternatives get an infinite end (as scipy)."""
    if math.isnan(estimate) or math.isnan(se):
        return NAN_INTERVAL
    half = critical_value(confidence_level, alternative, df) * se
    low = -math.inf if alternative == "less" else estimate - half
    high = math.inf if alternative == "greater" else estimate + half
    return ConfidenceInterval(low, high)


def clip_interval(ci: ConfidenceInterval, low: float, high: float) -> ConfidenceInterval:
    """``ci`` clipped to its parameter's range ``[low, high]``; NaN ends stay NaN.

    For a bounded parameter (a rate, a difference of rates, a probability) a normal interval
    can leave the range by construction; R's ``prop.test`` clips it
    (``pmax(-1, pmin(1, CINT))``) and pROC's ``ci.auc`` does the same for an AUC. The open
    end of a one-sided interval becomes the end of the range, as R reports ``c(-1, upper)``
    for ``alternative = "less"``.

    >>> clip_interval(ConfidenceInterval(0.3, 1.2), -1.0, 1.0)
    ConfidenceInterval(low=0.3, high=1.0)
    >>> clip_interval(ConfidenceInterval(-math.inf, 0.2), -1.0, 1.0)
    ConfidenceInterval(low=-1.0, high=0.2)
    """

    def clip(x: float) -> float:
        return x if math.isnan(x) else min(max(x, low), high)

    return ConfidenceInterval(clip(ci.low), clip(ci.high))


def welch_df(var_mean_a: float, var_mean_b: float, n_a: int, n_b: int) -> float:
    """Welch-Satterthwaite degrees of freedom from the two variances of the means."""
    total = var_mean_a + var_mean_b
    if total == 0.0 or not math.isfinite(total):
        return math.nan
    # in shares of the total, so that huge or tiny variances neither overflow nor underflow
    share_a, share_b = var_mean_a / total, var_mean_b / total
    return 1.0 / (share_a * share_a / (n_a - 1) + share_b * share_b / (n_b - 1))


def relative_interval_log(
    control_mean: float,
    var_control_mean: float,
    treatment_mean: float,
    var_treatment_mean: float,
    alternative: str,
    confidence_level: float,
    df: float | None = None,
) -> ConfidenceInterval:
    """Interval for ``treatment / control - 1`` by the delta method on ``log(ratio)``.

    Needs both means positive; otherwise NaN with a ``DegenerateDataWarning``.
    """
    if not (control_mean > 0.0 and treatment_mean > 0.0):
        warn_degenerate(
            "The delta-log relative interval needs positive means in both arms; got "
            f"{control_mean} and {treatment_mean}. Use relative_method='fieller'."
        )
        return NAN_INTERVAL
    log_ratio = math.log(treatment_mean / control_mean)
    log_var = (var_treatment_mean / treatment_mean / treatment_mean
               + var_control_mean / control_mean / control_mean)
    if not math.isfinite(log_var) or (df is not None and math.isnan(df)):
        warn_degenerate(
            "A mean is too close to 0 for the delta-log relative interval; it is NaN."
        )
        return NAN_INTERVAL
    log_ci = interval(log_ratio, math.sqrt(log_var), alternative, confidence_level, df)
    return ConfidenceInterval(_expm1(log_ci.low), _expm1(log_ci.high))


def _expm1(x: float) -> float:
    # exp overflows past ~709.78; the interval end is then +inf, not an error
    return math.inf if x > 709.0 else math.expm1(x)


def relative_interval_fieller(
    control_mean: float,
    var_control_mean: float,
    treatment_mean: float,
    var_treatment_mean: float,
    alternative: str,
    confidence_level: float,
    df: float | None = None,
) -> ConfidenceInterval:
    """Fieller's interval for ``treatment / control - 1`` (independent arms).

    The set of ratios R with ``(t - R c)^2 <= q^2 (v_t + R^2 v_c)``. When the control mean is
    not significantly different from 0 the set is unbounded; then NaN with a
    ``DegenerateDataWarning``.
    """
    q = critical_value(confidence_level, alternative, df)
    a = control_mean * control_mean - q * q * var_control_mean
    b = -2.0 * treatment_mean * control_mean
    c = treatment_mean * treatment_mean - q * q * var_treatment_mean
    discriminant = b * b - 4.0 * a * c
    if a <= 0.0 or discriminant < 0.0:
        warn_degenerate(
            "Fieller's interval is unbounded: the control mean is not distinguishable from 0."
        )
        return NAN_INTERVAL
    root = math.sqrt(discriminant)
    low, high = (-b - root) / (2.0 * a) - 1.0, (-b + root) / (2.0 * a) - 1.0
    if alternative == "greater":
        high = math.inf
    elif alternative == "less":
        low = -math.inf
    return ConfidenceInterval(low, high)


def describe_hypothesis(alternative: str, margin: float, parameter: str = "effect") -> str:
    """Plain words for the null and alternative, naming the margin's role.

    >>> describe_hypothesis("greater", -0.01)
    'H0: effect <= -0.01 vs H1: effect > -0.01 (non-inferiority, higher is better)'
    """
    m = f"{margin:g}"
    if alternative == "two-sided":
        return f"H0: {parameter} = {m} vs H1: {parameter} != {m}"
    if alternative == "greater":
        text = f"H0: {parameter} <= {m} vs H1: {parameter} > {m}"
        kind = "non-inferiority" if margin < 0 else "superiority" if margin > 0 else "one-sided"
        return f"{text} ({kind}, higher is better)"
    text = f"H0: {parameter} >= {m} vs H1: {parameter} < {m}"
    kind = "non-inferiority" if margin > 0 else "superiority" if margin < 0 else "one-sided"
    return f"{text} ({kind}, lower is better)"


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_TESTS_DIR = _PACKAGE_DIR + "tests" + os.sep


def _outside_abkit(filename: str) -> bool:
    path = os.path.abspath(filename)
    return not path.startswith(_PACKAGE_DIR) or path.startswith(_TESTS_DIR)


def warn_degenerate(message: str) -> None:
    """Emit a ``DegenerateDataWarning`` at the caller's line, however deep inside abkit it arose.

    The stack level is the first frame outside the package (tests count as callers), so every
    module reports degenerate data the same way without counting its own call depth.
    """
    frame = sys._getframe(1)
    level = 2
    while frame.f_back is not None and not _outside_abkit(frame.f_code.co_filename):
        frame = frame.f_back
        level += 1
    warnings.warn(message, DegenerateDataWarning, stacklevel=level)
