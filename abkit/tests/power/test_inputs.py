"""Bad inputs to the power functions: exact messages; unreachable targets: ConvergenceError."""

from __future__ import annotations

import re

import pytest

import abkit


def _msg(text: str) -> str:
    return re.escape(text) + "$"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(mde=0.01),
         "Exactly one of `mde`, `n_control`, `power` must be None; got 2 (`n_control`, `power`)."),
        (dict(mde=0.01, n_control=10, power=0.8),
         "Exactly one of `mde`, `n_control`, `power` must be None; got 0 (none)."),
        (dict(mde=0.01, power=0.8, alpha=1.5), "`alpha` must be in (0, 1); got 1.5."),
        (dict(mde=0.01, power=[0.8, 1.0]), "`power` must be in (0, 1); got 1.0."),
        (dict(mde=0.01, n_control=-5), "`n_control` must be greater than 0; got -5.0."),
        (dict(mde=0.01, power=0.8, ratio=0), "`ratio` must be greater than 0; got 0.0."),
        (dict(mde=0.01, power=0.8, method="exact"),
         "`method` must be one of 'pooled', 'unpooled', 'arcsine'; got 'exact'."),
        (dict(mde=0.01, power=0.8, alternative="larger"),
         "`alternative` must be one of 'two-sided', 'less', 'greater'; got 'larger'."),
        (dict(mde=0.01, power=0.8, two_sided_power="far"),
         "`two_sided_power` must be one of 'both', 'near'; got 'far'."),
        (dict(mde=0.01, power=0.8, adjustment="holm"),
         "`adjustment` must be one of 'bonferroni', 'dunnett'; got 'holm'."),
        (dict(mde=0.01, power=0.8, rho=1.0), "`rho` must be in (-1, 1); got 1.0."),
        (dict(mde=0.01, power=0.8, inflation_factor=0.9), "`inflation_factor` must be at least 1; got 0.9."),
        (dict(mde=0.01, power=0.8, n_treatments=1.5), "`n_treatments` must be a whole number; got 1.5."),
        (dict(mde=0.01, power=0.8, n_treatments=0), "`n_treatments` must be at least 1; got 0."),
        (dict(mde=0.95, power=0.8),
         "`mde` must give a treatment rate in [0, 1]; got a treatment rate of 1.05."),
        (dict(mde=0.01, power=0.8, margin=0.01, method="arcsine"),
         "`margin` must be 0 with method 'arcsine'; got 0.01."),
        (dict(mde=[0.01, 0.02], power=[0.8, 0.9, 0.95]),
         "The numeric arguments must broadcast to one shape; got mde (2,), power (3,)."),
    ],
)
def test_bad_proportion_inputs(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=_msg(message)):
        abkit.power_proportions(control_rate=0.1, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (dict(control_rate="0.1", mde=0.01, power=0.8), TypeError,
         "`control_rate` must be a real number or an array of real numbers; got '0.1'."),
        (dict(control_rate=[0.1, 1.0], mde=0.01, power=0.8), ValueError,
         "`control_rate` must be in (0, 1); got 1.0."),
        (dict(control_rate=0.1, mde=float("nan"), power=0.8), ValueError, "`mde` must be finite; got nan."),
        (dict(control_rate=0.1, mde=0.01, power=0.8, relative=1), TypeError,
         "`relative` must be True or False; got 1."),
    ],
)
def test_bad_kinds(kwargs: dict[str, object], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=_msg(message)):
        abkit.power_proportions(**kwargs)  # type: ignore[arg-type]


def test_bad_mean_inputs() -> None:
    with pytest.raises(ValueError, match=_msg("`sd` must be greater than 0; got 0.0.")):
        abkit.power_means(sd=0.0, mde=1.0, power=0.8)
    with pytest.raises(ValueError, match=_msg("`mean` must be given when `relative` is True; got None.")):
        abkit.power_means(sd=1.0, mde=0.1, power=0.8, relative=True)
    with pytest.raises(ValueError, match=_msg("`mean` must not be 0 when `relative` is True; got 0.0.")):
        abkit.power_means(sd=1.0, mean=0.0, mde=0.1, power=0.8, relative=True)
    with pytest.raises(ValueError, match=_msg("`method` must be one of 't', 'z'; got 'welch'.")):
        abkit.power_means(sd=1.0, mde=0.1, power=0.8, method="welch")
    with pytest.raises(ValueError, match=re.escape(
        "`n_control` must give the t test at least 1 degree of freedom "
        "((n_control + n_treatment) / inflation_factor >= 3); got 1.2."
    )):
        abkit.power_means(sd=1.0, mde=0.1, n_control=1.2)


def test_bad_ratio_inputs() -> None:
    with pytest.raises(ValueError, match=_msg("`mean_denominator` must not be 0; got 0.0.")):
        abkit.power_ratio(mean_numerator=1.0, mean_denominator=0.0, var_numerator=1.0,
                          var_denominator=1.0, mde=0.1, power=0.8)
    with pytest.raises(ValueError, match=re.escape(
        "The delta-method variance of the ratio must be greater than 0; got 0.0"
    )):
        abkit.power_ratio(mean_numerator=1.0, mean_denominator=1.0, var_numerator=1.0,
                          var_denominator=1.0, covariance=1.0, mde=0.1, power=0.8)


def test_bad_duration_inputs() -> None:
    with pytest.raises(ValueError, match=_msg("`traffic_share` must be in (0, 1]; got 1.5.")):
        abkit.duration(n_control=100, daily_visitors=10, traffic_share=1.5)
    with pytest.raises(ValueError, match=_msg("`daily_visitors` must be greater than 0; got 0.0.")):
        abkit.duration(n_control=100, daily_visitors=0)
    with pytest.raises(ValueError, match=_msg("`control_share` must be in (0, 1); got 1.0.")):
        abkit.duration(n_control=100, daily_visitors=10, control_share=1.0)


def test_unreachable_targets_raise_convergence_error() -> None:
    with pytest.raises(abkit.ConvergenceError, match="the effect \\(mde minus margin\\) is 0"):
        abkit.power_means(sd=1.0, mde=0.0, power=0.8)
    with pytest.raises(abkit.ConvergenceError, match="points against the alternative"):
        abkit.power_proportions(control_rate=0.1, mde=-0.01, power=0.8, alternative="greater")
    with pytest.raises(abkit.ConvergenceError, match="even a treatment rate of 1 falls short"):
        abkit.power_proportions(control_rate=0.5, n_control=3, power=0.99)
    with pytest.raises(abkit.ConvergenceError, match="first at flat index 1 of 2"):
        abkit.power_proportions(control_rate=0.5, n_control=[1000, 3], power=0.99)
    with pytest.raises(abkit.ConvergenceError, match="`power` must exceed"):
        abkit.power_means(sd=1.0, mde=0.1, power=0.02)
    with pytest.raises(abkit.ConvergenceError, match="`power` must exceed the rejection rate"):
        abkit.power_means(sd=1.0, n_control=50, power=0.04, method="t")
    with pytest.raises(abkit.ConvergenceError, match="largest possible"):
        abkit.power_proportions(control_rate=0.9, n_control=5, power=0.99, method="arcsine")
