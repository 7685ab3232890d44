"""Sequential designs and boundaries at extreme but valid parameters (issue 15): right answers
or a clear error naming the argument, never an overflow or a solver's internal error."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from abkit.errors import ConvergenceError
from abkit.sequential import (
    SPRT,
    GroupSequentialDesign,
    bernoulli_confidence_sequence,
    beta_binomial_log_mixture,
    gamma_poisson_log_mixture,
    msprt,
    normal_log_mixture,
    poly_stitching_bound,
    wang_tsiatis,
)
from abkit.sequential.spending import hsd_spending
from abkit.stats import MeanStats


def test_wang_tsiatis_small_alpha_final_bound_near_the_fixed_z():
    # One look is a fixed test: its bound is the normal quantile whatever alpha (closed form).
    for alpha in (0.05, 1e-6, 1e-10):
        design = wang_tsiatis(1, alpha=alpha)
        assert design.bounds[0] == pytest.approx(stats.norm.isf(alpha / 2), rel=1e-7)
    # Four looks at alpha 1e-10 (the old bracket [0.1, 20] held this one too): spends alpha.
    design = wang_tsiatis(4, alpha=1e-10)
    assert design.alpha_spent[-1] == pytest.approx(1e-10, rel=1e-6)


def test_design_alpha_and_delta_ranges_are_refused_by_name():
    with pytest.raises(ValueError, match=r"^`alpha` must be at least 1e-10 for a group sequential"):
        wang_tsiatis(4, alpha=1e-300)
    with pytest.raises(ValueError, match=r"^`alpha` must be at least 1e-10"):
        GroupSequentialDesign(4, alpha=1e-12)
    with pytest.raises(ValueError, match=r"^`delta` must be in \[-0\.5, 1\.0\] \(rpact's"):
        wang_tsiatis(4, delta=1e300)
    with pytest.raises(ValueError, match=r"^`alpha` must be below 0\.7"):
        wang_tsiatis(4, alpha=0.9, alternative="greater")


def test_hsd_spending_large_negative_gamma_matches_the_direct_formula():
    t = np.array([0.0, 0.1, 0.5, 0.9, 1.0])
    for gamma in (-0.5, -4.0, -20.0):  # the direct formula is exact here (no overflow)
        direct = 0.05 * np.expm1(-gamma * t) / math.expm1(-gamma)
        np.testing.assert_allclose(hsd_spending(t, 0.05, gamma), direct, rtol=1e-13)
    # -1000: e^{1000 (t - 1)} (the limit), where the direct formula overflows.
    np.testing.assert_allclose(hsd_spending(t, 0.05, -1000.0), 0.05 * np.exp(1000.0 * (t - 1.0)), rtol=1e-12)
    assert hsd_spending(t, 0.05, -1e300).tolist() == [0.0, 0.0, 0.0, 0.0, 0.05]


def test_sprt_wald_oc_at_rates_near_0_and_1():
    s = SPRT(0.1, 0.2, alpha=0.05, beta=0.2)
    # Wald's identities at the design rates: OC(p0) = 1 - alpha', OC(p1) = beta' with
    # A = (1 - beta) / alpha, B = beta / (1 - alpha): OC(p0) = (A - 1) / (A - B).
    a, b = (1 - 0.2) / 0.05, 0.2 / (1 - 0.05)
    assert s.operating_characteristic(0.1) == pytest.approx((a - 1) / (a - b), rel=1e-9)
    assert s.operating_characteristic(0.2) == pytest.approx((1 / a - 1) / (1 / a - 1 / b), rel=1e-9)
    # p -> 0: every trial fails, H0 is accepted; the average sample number is log B / log(0.9/0.8).
    assert s.operating_characteristic(1e-300) == 1.0
    assert s.expected_sample_size(1e-300) == pytest.approx(s.log_b / math.log(0.8 / 0.9), rel=1e-9)
    assert s.operating_characteristic(1 - 1e-16) < 1e-100


def test_msprt_far_null_gives_infinite_evidence_not_an_overflow():
    r = msprt(MeanStats(100, 1.0, 2.0), MeanStats(120, 1.2, 2.1), tau2=0.01, sigma2=1.0, theta0=1e300)
    assert r.log_likelihood_ratio == math.inf and r.pvalue == 0.0 and r.reject


def test_mixtures_refuse_inputs_beyond_double_precision_by_name():
    with pytest.raises(ValueError, match=r"^The beta-binomial mixture at .*`v_opt`=9\.22337e\+18.*beyond double"):
        beta_binomial_log_mixture(10.0, 100.0, 2.0**63, 0.5, 0.5)
    with pytest.raises(ValueError, match=r"`c`=1e-300.*beyond double precision"):
        gamma_poisson_log_mixture(10.0, 100.0, 1000.0, 1e-300)
    with pytest.raises(ConvergenceError, match=r"t_opt=1e\+300"):
        bernoulli_confidence_sequence(30, 100, t_opt=1e300)
    # Within range, the gamma-Poisson mixture nears its normal limit as c shrinks.
    assert gamma_poisson_log_mixture(1000.0, 1e3, 1e6, 0.1) == pytest.approx(
        normal_log_mixture(1000.0, 1e3, 1e6, one_sided=True), abs=1e-3)


def test_poly_stitching_large_s_in_log_space():
    # log(eta)**s underflows at s = 1e300; the bound is finite and grows with s.
    assert poly_stitching_bound(100.0, 0.05, 1.0, s=1e3) < poly_stitching_bound(100.0, 0.05, 1.0, s=1e300) < math.inf
    # Unchanged where the direct formula works (value pinned by the reference doctest).
    assert round(poly_stitching_bound(100, 0.05, 10, c=3), 5) == 64.48755
