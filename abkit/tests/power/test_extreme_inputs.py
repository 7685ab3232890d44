"""Power designs at extreme inputs (issue 15): a clear error naming the argument or the
documented ConvergenceError, never a float overflow warning or an infinite sample size."""

from __future__ import annotations

import inspect
import warnings

import pytest
from scipy import stats

import abkit

# The control-rate argument is being renamed (baseline -> control_rate): use whichever exists.
RATE = "control_rate" if "control_rate" in inspect.signature(abkit.power_proportions).parameters else "baseline"


def proportions(**kwargs):
    return abkit.power_proportions(**{RATE: 0.10, "mde": 0.02, "power": 0.8, **kwargs})


def test_sample_sizes_beyond_the_cap_are_unreachable_not_infinite():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warning on the way
        for method in ("t", "z"):
            with pytest.raises(abkit.ConvergenceError, match=r"^No sample size reaches the power below "
                                                             r"n_control = 1e\+15"):
                abkit.power_means(sd=1.0, mde=1e-300, power=0.8, method=method)
            with pytest.raises(abkit.ConvergenceError, match=r"^No sample size reaches the power below"):
                abkit.power_means(sd=1e300, mde=0.2, power=0.8, method=method)
    # Inside the cap the closed form still answers: n = 2 (z_a + z_b)^2 sd^2 / mde^2 (near tail).
    mde = 1e-6
    expected = 2 * (stats.norm.isf(0.025) + stats.norm.isf(0.2)) ** 2 / mde**2
    result = abkit.power_means(sd=1.0, mde=mde, power=0.8, method="z", two_sided_power="near")
    assert result.n_control == pytest.approx(expected, rel=1e-12)


def test_ratio_and_margin_ranges():
    with pytest.raises(ValueError, match=r"^`ratio` must be in \[1e-06, 1e\+06\] \(n_treatment / n_control\); "
                                         r"got 1e\+300\.$"):
        proportions(ratio=1e300)
    with pytest.raises(ValueError, match=r"^`ratio` must be in \[1e-06, 1e\+06\]"):
        abkit.power_means(sd=1.0, mde=0.2, power=0.8, ratio=1e-300)
    with pytest.raises(ValueError, match=r"^`margin` must be in \(-1, 1\) \(a difference of rates\); got -1e\+300\.$"):
        proportions(margin=-1e300)


def test_ratio_metric_variance_beyond_the_float_range_names_the_arguments():
    with pytest.raises(ValueError, match=r"must be finite; `mean_numerator`, `mean_denominator`"):
        abkit.power_ratio(mean_numerator=1e300, mean_denominator=1.0, var_numerator=4.0,
                          var_denominator=1.0, covariance=1.0, mde=0.1, power=0.8)
    with pytest.raises(ValueError, match=r"must be greater than 0; got 0\.0 \(check `mean_numerator`"):
        abkit.power_ratio(mean_numerator=2.0, mean_denominator=1e300, var_numerator=4.0,
                          var_denominator=1.0, covariance=1.0, mde=0.1, power=0.8)


def test_duration_with_a_tiny_treatment_arm():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = abkit.duration(n_control=1000, daily_visitors=500, n_treatment=1e-300)
    assert result.units_needed == pytest.approx(1000.0) and result.days == pytest.approx(2.0)
