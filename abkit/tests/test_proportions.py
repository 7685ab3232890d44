"""proportions_test against R, statsmodels and scipy; properties; calibration; bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from scipy import optimize, stats
from statsmodels.stats import proportion as sm_prop

from abkit import DegenerateDataWarning, ProportionStats, proportions_test
from abkit.proportions import restricted_rates
from abkit.tests.conftest import binomial_band, reference_cases

SM_ALTERNATIVE = {"two-sided": "two-sided", "greater": "larger", "less": "smaller"}


@st.composite
def two_arms(draw, min_n: int = 20):
    n_c = draw(st.integers(min_n, 5000))
    n_t = draw(st.integers(min_n, 5000))
    x_c = draw(st.integers(1, n_c - 1))
    x_t = draw(st.integers(1, n_t - 1))
    return ProportionStats(x_c, n_c), ProportionStats(x_t, n_t)


# ---------------------------------------------------------------- reference values


@pytest.mark.parametrize("case", reference_cases("ab_fixed", area="proportions_test"))
def test_reference_statsmodels(case) -> None:
    inputs, expected = case["inputs"], case["expected"]
    rel = case["tolerance"]["rel"]  # 1e-9 as the file states
    control = ProportionStats(**inputs["control"])
    treatment = ProportionStats(**inputs["treatment"])
    options = {"alternative": inputs["alternative"], "confidence_level": inputs["confidence_level"]}
    pooled = proportions_test(control, treatment, **options)
    unpooled = proportions_test(control, treatment, method="unpooled", **options)
    assert pooled.statistic == pytest.approx(expected["statistic_pooled"], rel=rel)
    assert pooled.pvalue == pytest.approx(expected["pvalue_pooled"], rel=rel)
    assert unpooled.pvalue == pytest.approx(expected["pvalue_unpooled"], rel=rel)
    if "effect" in expected:
        assert pooled.effect == pytest.approx(expected["effect"], rel=rel)
        assert tuple(pooled.ci) == pytest.approx(tuple(expected["ci_wald"]), rel=rel)
        assert pooled.relative_effect == pytest.approx(expected["relative_effect"], rel=rel)
        assert tuple(pooled.relative_ci) == pytest.approx(
            tuple(expected["relative_ci_delta_log"]), rel=rel
        )


@pytest.mark.parametrize("case", reference_cases("ab_fixed", id="ht_prop_test_greater"))
def test_reference_r_prop_test(case) -> None:
    # R prop.test(x = c(48, 30), n = c(400, 420)): group 1 is the treatment; chi2 = z^2.
    i = case["inputs"]
    r = proportions_test(
        ProportionStats(i["x2"], i["n2"]), ProportionStats(i["x1"], i["n1"]),
        alternative=i["alternative"],
    )
    assert r.statistic**2 == pytest.approx(case["expected"]["chi_squared"], rel=1e-9)
    assert r.pvalue == pytest.approx(case["expected"]["p_value"], rel=1e-9)


# ---------------------------------------------------------------- statsmodels / scipy on random inputs


@given(two_arms(), st.sampled_from(["two-sided", "greater", "less"]))
def test_pooled_equals_statsmodels_proportions_ztest(arms, alternative) -> None:
    c, t = arms
    r = proportions_test(c, t, alternative=alternative)
    z, p = sm_prop.proportions_ztest([t.successes, c.successes], [t.n, c.n],
                                     alternative=SM_ALTERNATIVE[alternative])
    assert r.statistic == pytest.approx(z, rel=1e-9)
    assert r.pvalue == pytest.approx(p, rel=1e-9, abs=1e-300)


@given(two_arms(), st.sampled_from(["two-sided", "greater", "less"]), st.floats(-0.2, 0.2))
def test_unpooled_with_margin_equals_statsmodels_wald(arms, alternative, margin) -> None:
    c, t = arms
    r = proportions_test(c, t, alternative=alternative, method="unpooled", margin=margin)
    sm = sm_prop.test_proportions_2indep(
        t.successes, t.n, c.successes, c.n, value=margin, method="wald", compare="diff",
        alternative=SM_ALTERNATIVE[alternative],
    )
    assert r.statistic == pytest.approx(sm.statistic, rel=1e-9)
    assert r.pvalue == pytest.approx(sm.pvalue, rel=1e-9, abs=1e-300)


def restricted_mle_by_optimiser(c: ProportionStats, t: ProportionStats, margin: float) -> float:
    """Control rate maximising the binomial likelihood under treatment - control = margin."""

    def nll(p):
        return -(stats.binom.logpmf(c.successes, c.n, p) + stats.binom.logpmf(t.successes, t.n, p + margin))

    lo, hi = max(0.0, -margin) + 1e-12, min(1.0, 1.0 - margin) - 1e-12
    best = optimize.minimize_scalar(nll, bounds=(lo, hi), method="bounded", options={"xatol": 1e-13})
    return float(best.x)


@given(two_arms(), st.sampled_from(["two-sided", "greater", "less"]), st.floats(-0.3, 0.3))
def test_pooled_with_margin_uses_the_restricted_mle(arms, alternative, margin) -> None:
    # Non-zero margins use the variance at the Farrington-Manning restricted MLE. Checked here
    # against direct numerical maximisation of the likelihood. (statsmodels' score test for a
    # non-zero difference does not reproduce this MLE: its z differs by up to ~1e-1, so it is
    # not used as the reference.)
    c, t = arms
    assume(abs(margin) > 1e-6)
    r = proportions_test(c, t, alternative=alternative, margin=margin)
    p_c = restricted_mle_by_optimiser(c, t, margin)
    p_t = p_c + margin
    se = math.sqrt(p_c * (1 - p_c) / c.n + p_t * (1 - p_t) / t.n)
    z = (t.rate - c.rate - margin) / se
    # the optimiser locates the maximum to ~1e-8 in the rate, which moves z by ~1e-7 relative
    assert r.statistic == pytest.approx(z, rel=1e-6, abs=1e-9)


@given(two_arms(), st.floats(0.5, 0.999))
def test_intervals_equal_statsmodels_and_scipy(arms, level) -> None:
    c, t = arms
    r = proportions_test(c, t, confidence_level=level)
    wald = sm_prop.confint_proportions_2indep(t.successes, t.n, c.successes, c.n,
                                              method="wald", compare="diff", alpha=1 - level)
    # statsmodels does not clip; abkit clips to [-1, 1] as R's prop.test
    assert tuple(r.ci) == pytest.approx(tuple(np.clip(wald, -1.0, 1.0)), rel=1e-9)
    katz = stats.contingency.relative_risk(t.successes, t.n, c.successes, c.n)
    low, high = katz.confidence_interval(level)
    assert tuple(r.relative_ci) == pytest.approx((low - 1, high - 1), rel=1e-9, abs=1e-12)


@given(two_arms(), st.sampled_from(["greater", "less"]))
def test_one_sided_interval_is_the_matching_end_of_a_two_sided_one(arms, alternative) -> None:
    c, t = arms
    one = proportions_test(c, t, alternative=alternative, confidence_level=0.95)
    two = proportions_test(c, t, confidence_level=0.90)
    # The open end is the end of the range of a difference of rates, as R's prop.test.
    if alternative == "greater":
        assert one.ci.low == pytest.approx(two.ci.low, rel=1e-12) and one.ci.high == 1.0
    else:
        assert one.ci.high == pytest.approx(two.ci.high, rel=1e-12) and one.ci.low == -1.0


@given(two_arms(min_n=200), st.floats(0.8, 0.99))
def test_fieller_interval_inverts_the_ratio_test(arms, level) -> None:
    # Independent check: endpoints are the roots of T(R) = +-q with
    # statistic_at(R) = (p_t - R p_c) / sqrt(v_t + R^2 v_c), found here by root bracketing.
    c, t = arms
    v_c, v_t = c.rate * (1 - c.rate) / c.n, t.rate * (1 - t.rate) / t.n
    q = stats.norm.ppf((1 + level) / 2)
    assume(c.rate**2 - q * q * v_c > 1e-6)  # otherwise the Fieller set is unbounded
    r = proportions_test(c, t, confidence_level=level, relative_method="fieller")

    def statistic_at(ratio):
        return (t.rate - ratio * c.rate) / math.sqrt(v_t + ratio**2 * v_c)

    estimate = t.rate / c.rate
    lower = -1.0
    while statistic_at(lower) - q < 0:  # the lower root may be negative when the treatment rate is small
        lower *= 2
    low = optimize.brentq(lambda x: statistic_at(x) - q, lower, estimate, xtol=1e-14)
    upper = 2 * estimate + 1
    while statistic_at(upper) + q > 0:  # bracket the upper root (bounded because the assume above holds)
        upper *= 2
    high = optimize.brentq(lambda x: statistic_at(x) + q, estimate, upper, xtol=1e-14)
    # the Fieller set may reach below a ratio of 0; a relative change of rates is clipped at -1
    assert r.relative_ci.low == pytest.approx(max(low - 1, -1.0), rel=1e-8, abs=1e-10)
    assert r.relative_ci.high == pytest.approx(high - 1, rel=1e-8, abs=1e-10)


def test_restricted_rates_maximise_the_likelihood() -> None:
    c, t = ProportionStats(50, 400), ProportionStats(71, 420)
    for margin in (-0.1, -0.01, 0.02, 0.2):
        control_rate, treatment_rate = restricted_rates(c, t, margin)
        assert treatment_rate - control_rate == pytest.approx(margin, abs=1e-12)
        # bounded Brent's method stops at ~1e-8 in the rate
        assert control_rate == pytest.approx(restricted_mle_by_optimiser(c, t, margin), abs=1e-7)
    pooled = (50 + 71) / (400 + 420)
    assert restricted_rates(c, t, 0.0) == (pooled, pooled)


# ---------------------------------------------------------------- properties


@given(two_arms(), st.sampled_from(["pooled", "unpooled"]))
def test_swapping_arms_flips_effect_and_keeps_two_sided_pvalue(arms, method) -> None:
    c, t = arms
    ab = proportions_test(c, t, method=method)
    ba = proportions_test(t, c, method=method)
    assert ba.effect == pytest.approx(-ab.effect, rel=1e-12, abs=1e-15)
    assert ba.statistic == pytest.approx(-ab.statistic, rel=1e-12, abs=1e-15)
    assert ba.pvalue == pytest.approx(ab.pvalue, rel=1e-12)
    assert (ba.ci.low, ba.ci.high) == pytest.approx((-ab.ci.high, -ab.ci.low), rel=1e-12, abs=1e-15)


@given(two_arms(), st.sampled_from(["two-sided", "greater", "less"]), st.floats(-0.05, 0.05),
       st.floats(0.8, 0.99))
def test_unpooled_pvalue_and_interval_are_dual(arms, alternative, margin, level) -> None:
    c, t = arms
    r = proportions_test(c, t, alternative=alternative, method="unpooled", margin=margin,
                         confidence_level=level)
    alpha = 1 - level
    assume(abs(r.pvalue - alpha) > 1e-9)  # exactly on the boundary rounding decides
    assert (r.pvalue < alpha) == (not r.ci.contains(margin))


def test_pooled_pvalue_and_wald_interval_can_disagree_and_pvalue_decides() -> None:
    # Documented: the pooled test and the Wald interval use different variances. With unequal
    # arms a pooled p just above 0.05 coexists with a Wald interval that excludes 0.
    disagreements = 0
    for x_c in range(1, 20):
        for x_t in range(1, 60):
            r = proportions_test(ProportionStats(x_c, 100), ProportionStats(x_t, 500))
            disagreements += (r.pvalue < 0.05) != (not r.ci.contains(0.0))
    assert disagreements > 0


# ---------------------------------------------------------------- degenerate data and bad input


def test_zero_conversions_in_both_arms_gives_nan_and_warning() -> None:
    with (
        pytest.warns(DegenerateDataWarning, match="variance is 0"),
        pytest.warns(DegenerateDataWarning, match="control arm has no successes"),
    ):
        r = proportions_test(ProportionStats(0, 100), ProportionStats(0, 120))
    assert math.isnan(r.statistic) and math.isnan(r.pvalue)
    assert math.isnan(r.relative_effect)


def test_unbounded_fieller_interval_is_nan_with_warning() -> None:
    with pytest.warns(DegenerateDataWarning, match="Fieller's interval is unbounded"):
        r = proportions_test(ProportionStats(1, 200), ProportionStats(2, 200), relative_method="fieller")
    assert math.isnan(r.relative_ci.low) and math.isnan(r.relative_ci.high)
    assert r.relative_effect == pytest.approx(1.0)


def test_zero_control_successes_gives_nan_relative_effect() -> None:
    with pytest.warns(DegenerateDataWarning, match="control arm has no successes"):
        r = proportions_test(ProportionStats(0, 100), ProportionStats(5, 100))
    assert math.isnan(r.relative_effect) and math.isnan(r.relative_ci.low)
    assert r.pvalue < 0.05  # the absolute test is still defined


def test_arrays_are_accepted() -> None:
    r = proportions_test([0, 1, 0, 0, 1, 0, 0, 0], np.array([1, 1, 0, 1, 0, 1, 1, 0]))
    assert (r.n_control, r.n_treatment) == (8, 8)
    assert r.effect == pytest.approx(5 / 8 - 2 / 8)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"alternative": "bigger"}, ValueError,
         r"`alternative` must be one of 'two-sided', 'less', 'greater'; got 'bigger'\."),
        ({"confidence_level": 1.5}, ValueError, r"`confidence_level` must be in \(0, 1\); got 1\.5\."),
        ({"confidence_level": 0.0}, ValueError, r"`confidence_level` must be in \(0, 1\); got 0\.0\."),
        ({"method": "exact"}, ValueError, r"`method` must be one of 'pooled', 'unpooled'; got 'exact'\."),
        ({"relative_method": "log"}, ValueError,
         r"`relative_method` must be one of 'delta-log', 'fieller'; got 'log'\."),
        ({"margin": 1.0}, ValueError, r"`margin` must be in \(-1, 1\) for a difference of rates; got 1\.0\."),
        ({"margin": math.nan}, ValueError, r"`margin` must be finite; got nan\."),
        ({"alternative": 1}, TypeError, r"`alternative` must be a string; got 1\."),
    ],
)
def test_bad_options(kwargs, error, message) -> None:
    with pytest.raises(error, match=message):
        proportions_test(ProportionStats(10, 100), ProportionStats(12, 100), **kwargs)


def test_empty_group_is_refused() -> None:
    with pytest.raises(ValueError, match=r"`control\.n` must be at least 1; got 0\."):
        proportions_test(ProportionStats(0, 0), ProportionStats(3, 10))
    with pytest.raises(ValueError, match=r"`treatment\.n` must be at least 1; got 0\."):
        proportions_test(ProportionStats(3, 10), [])
    with pytest.raises(ValueError, match=r"`successes` must be at most `n` \(10\); got 11\."):
        proportions_test(ProportionStats(11, 10), ProportionStats(3, 10))


# ---------------------------------------------------------------- A/A calibration


@pytest.mark.parametrize("method", ["pooled", "unpooled"])
def test_aa_type_one_error_and_coverage(method) -> None:
    rng = np.random.default_rng(20261126)
    n_sim, n, p = 2000, 3000, 0.1
    successes = rng.binomial(n, p, size=(n_sim, 2))
    rejections = covered = covered_relative = 0
    for x_c, x_t in successes:
        r = proportions_test(ProportionStats(int(x_c), n), ProportionStats(int(x_t), n), method=method)
        rejections += r.pvalue < 0.05
        covered += r.ci.contains(0.0)
        covered_relative += r.relative_ci.contains(0.0)
    low, high = binomial_band(n_sim, 0.05)
    assert low <= rejections <= high
    low, high = binomial_band(n_sim, 0.95)
    assert low <= covered <= high
    assert low <= covered_relative <= high
