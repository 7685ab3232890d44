"""The two-sample bootstrap: scipy.stats.bootstrap, exact enumeration, calibration, properties."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats as sps

from abkit import DegenerateDataWarning, bootstrap_test, mann_whitney_test
from abkit._bootstrap import bootstrap_pvalue

STATISTICS = [
    ("mean", np.mean),
    ("median", np.median),
    (("quantile", 0.9), lambda x, axis: np.quantile(x, 0.9, axis=axis)),
]


@pytest.fixture(scope="module")
def arms():
    gen = np.random.default_rng(0)
    return gen.exponential(1.0, 120), gen.exponential(1.3, 150)


@pytest.mark.parametrize("alternative", ["two-sided", "less", "greater"])
@pytest.mark.parametrize(("method", "scipy_method"), [("bca", "BCa"), ("percentile", "percentile")])
@pytest.mark.parametrize(("statistic", "function"), STATISTICS, ids=["mean", "median", "q90"])
def test_same_replicates_same_interval_as_scipy(arms, statistic, function, method, scipy_method, alternative):
    # With the same generator abkit draws the same resamples as scipy.stats.bootstrap, so the
    # intervals agree up to floating-point summation order (1e-12 relative).
    control, treatment = arms
    r = bootstrap_test(control, treatment, statistic=statistic, n_resamples=2000, method=method,
                       alternative=alternative, rng=np.random.default_rng(11))
    expected = sps.bootstrap(
        (control, treatment), lambda c, t, axis: function(t, axis=axis) - function(c, axis=axis),
        n_resamples=2000, method=scipy_method, alternative=alternative, vectorized=True,
        rng=np.random.default_rng(11),
    )
    assert tuple(r.ci) == pytest.approx(tuple(expected.confidence_interval), rel=1e-12)
    assert r.se == pytest.approx(expected.standard_error, rel=1e-12)
    assert r.effect == pytest.approx(function(treatment, axis=-1) - function(control, axis=-1), rel=1e-12)


@pytest.mark.parametrize("method", ["bca", "percentile"])
def test_callable_path_equals_kernel_path(arms, method):
    control, treatment = arms
    named = bootstrap_test(control, treatment, statistic="median", n_resamples=500, method=method, rng=3)
    called = bootstrap_test(control, treatment, statistic=np.median, n_resamples=500, method=method, rng=3)
    assert called.statistic_name == "median"
    for field in ("effect", "pvalue", "se", "relative_effect"):
        assert getattr(called, field) == pytest.approx(getattr(named, field), rel=1e-12)
    assert tuple(called.ci) == pytest.approx(tuple(named.ci), rel=1e-12)
    assert tuple(called.relative_ci) == pytest.approx(tuple(named.relative_ci), rel=1e-12)


def test_ratio_and_relative_from_the_same_indices():
    # Reconstruct the ratio-of-means replicates with NumPy from the same index draws (control
    # first, then treatment), and the percentile intervals from them.
    gen = np.random.default_rng(4)
    c_den, t_den = gen.integers(1, 6, 80).astype(float), gen.integers(1, 6, 90).astype(float)
    c_num, t_num = gen.poisson(2 * c_den).astype(float), gen.poisson(2.4 * t_den).astype(float)
    r = bootstrap_test((c_num, c_den), (t_num, t_den), statistic="ratio", n_resamples=3000,
                       method="percentile", rng=8)
    draw = np.random.default_rng(8)
    ic, it = draw.integers(0, 80, size=(3000, 80)), draw.integers(0, 90, size=(3000, 90))
    control_reps = c_num[ic].sum(axis=1) / c_den[ic].sum(axis=1)
    treatment_reps = t_num[it].sum(axis=1) / t_den[it].sum(axis=1)
    effect_reps = treatment_reps - control_reps
    assert r.effect == pytest.approx(t_num.sum() / t_den.sum() - c_num.sum() / c_den.sum(), rel=1e-12)
    assert tuple(r.ci) == pytest.approx(tuple(np.quantile(effect_reps, [0.025, 0.975])), rel=1e-12)
    relative_reps = treatment_reps / control_reps - 1
    assert tuple(r.relative_ci) == pytest.approx(tuple(np.quantile(relative_reps, [0.025, 0.975])), rel=1e-12)
    assert r.pvalue == pytest.approx(2 * min(np.mean(effect_reps < 0), np.mean(effect_reps > 0)), abs=1e-12)


def test_exact_enumeration_of_tiny_samples():
    # Every ordered resample of control (3^3) and treatment (4^4) is equally likely: the exact
    # bootstrap distribution of the median difference. The percentile p-value for "greater" is
    # the share of replicates below 0 (ties half), so it estimates P*(D < 0) + P*(D = 0) / 2;
    # with B = 200,000 its Monte Carlo sd is below 0.0012, and 5 sd is the tolerance.
    control, treatment = np.array([1.0, 3.0, 6.0]), np.array([2.0, 4.0, 5.0, 9.0])
    c_meds = np.array([np.median(s) for s in itertools.product(control, repeat=3)])
    t_meds = np.array([np.median(s) for s in itertools.product(treatment, repeat=4)])
    d = np.subtract.outer(t_meds, c_meds).ravel()
    exact_share = np.mean(d < 0) + 0.5 * np.mean(d == 0)
    r = bootstrap_test(control, treatment, statistic="median", n_resamples=200_000,
                       method="percentile", alternative="greater", rng=21)
    assert r.pvalue == pytest.approx(exact_share, abs=5 * math.sqrt(0.25 / 200_000))
    # The bootstrap standard error against the exact one (relative sd of a sd ~ 1/sqrt(2B)).
    assert r.se == pytest.approx(d.std(), rel=5 / math.sqrt(2 * 200_000))


@pytest.mark.parametrize("method", ["bca", "percentile"])
def test_aa_coverage_in_binomial_band(method):
    # A/A: both arms from the same skewed distribution; the 90% interval for the difference in
    # means must cover 0 at a rate inside the 99.9% binomial band around 0.90, and the p-value
    # (the interval inverted) must reject at 10% exactly when 0 is outside, away from ties.
    gen = np.random.default_rng(99)
    sims, covered = 300, 0
    for _ in range(sims):
        r = bootstrap_test(gen.gamma(4.0, size=80), gen.gamma(4.0, size=80), n_resamples=500,
                           confidence_level=0.9, method=method, rng=gen)
        covered += r.ci.contains(0.0)
        if abs(r.pvalue - 0.1) > 0.01:
            assert (r.pvalue < 0.1) == (not r.ci.contains(0.0))
    low, high = sps.binom.ppf([0.0005, 0.9995], sims, 0.9)
    assert low <= covered <= high


def test_pvalue_inverts_bca_level_map():
    # The BCa p-value is the tail level whose adjusted quantile is the null value: feeding it
    # back into the level map must return the share of replicates below the null.
    reps = np.random.default_rng(1).normal(0.3, 1.0, 10_001)
    z0, a = 0.2, 0.05
    level = bootstrap_pvalue(reps, 0.0, "greater", z0, a)
    z = sps.norm.ppf(level)
    adjusted = sps.norm.cdf(z0 + (z0 + z) / (1 - a * (z0 + z)))
    assert adjusted == pytest.approx(np.mean(reps < 0.0), rel=1e-10)
    assert bootstrap_pvalue(reps, 0.0, "less", z0, a) == pytest.approx(1 - level, rel=1e-12)


positive_samples = st.lists(st.floats(1.0, 100.0, allow_nan=False), min_size=3, max_size=25)


@given(positive_samples, positive_samples, st.floats(-5.0, 5.0), st.sampled_from(["bca", "percentile"]))
def test_shift_equivariance(control, treatment, shift, method):
    # Same seed, same resamples: shifting the treatment shifts the mean effect and its interval.
    control, treatment = np.array(control), np.array(treatment)
    base = bootstrap_test(control, treatment, n_resamples=200, method=method, rng=5)
    moved = bootstrap_test(control, treatment + shift, n_resamples=200, method=method, rng=5)
    if math.isnan(base.ci.low) or math.isnan(moved.ci.low):
        return
    assert moved.effect == pytest.approx(base.effect + shift, abs=1e-9)
    # BCa's z0 counts replicates below the estimate; a shift can flip an exact tie by one ulp.
    if method == "percentile":
        assert tuple(moved.ci) == pytest.approx((base.ci.low + shift, base.ci.high + shift), abs=1e-9)


@given(positive_samples, positive_samples)
def test_swapping_arms_flips_the_effect(control, treatment):
    a = bootstrap_test(control, treatment, n_resamples=50, method="percentile", rng=1)
    b = bootstrap_test(treatment, control, n_resamples=50, method="percentile", rng=1)
    assert b.effect == -a.effect
    assert a.control_statistic == b.treatment_statistic


def test_constant_control_gives_nan_relative_with_warning():
    with pytest.warns(DegenerateDataWarning, match="positive control statistic"):
        r = bootstrap_test([0.0, 0.0, 0.0], [1.0, 2.0, 3.0], method="percentile", n_resamples=100, rng=0)
    assert math.isnan(r.relative_effect) and math.isnan(r.relative_ci.low)
    assert r.effect == 2.0


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"statistic": "mode"}, ValueError, "must be one of 'mean', 'median', 'ratio'; got 'mode'"),
        ({"statistic": ("quantile", 1.5)}, ValueError, r"`statistic\[1\]` \(the quantile level\) must be in"),
        ({"statistic": 3}, TypeError, "`statistic` must be 'mean', 'median', 'ratio', \\('quantile', q\\)"),
        ({"statistic": "ratio"}, TypeError, "`control` must be a \\(numerator, denominator\\) pair"),
        ({"statistic": lambda x, axis: x}, ValueError, "`statistic` must reduce the last axis"),
        ({"n_resamples": 0}, ValueError, "`n_resamples` must be at least 1; got 0."),
        ({"method": "basic"}, ValueError, "`method` must be one of 'bca', 'percentile'; got 'basic'."),
        ({"rng": "seed"}, TypeError, "`rng` must be an int seed"),
        ({"control": [1.0]}, ValueError, r"`control` must have at least 2 value\(s\); got 1."),
        ({"treatment": [1.0, np.nan]}, ValueError, "`treatment` must not contain NaN"),
    ],
)
def test_bad_input(kwargs, error, message):
    arguments = {"control": [1.0, 2.0, 3.0], "treatment": [2.0, 4.0, 5.0]} | kwargs
    control, treatment = arguments.pop("control"), arguments.pop("treatment")
    with pytest.raises(error, match=message):
        bootstrap_test(control, treatment, n_resamples=arguments.pop("n_resamples", 20), **arguments)


def test_ratio_pairs_must_match():
    with pytest.raises(ValueError, match=r"`control\[0\]` and `control\[1\]` must have the same length"):
        bootstrap_test(([1.0, 2.0], [1.0]), ([1.0, 2.0], [1.0, 1.0]), statistic="ratio")


def test_results_are_json_safe_tables():
    for result in (bootstrap_test([1.0, 2.0, 4.0], [2.0, 3.0, 7.0], n_resamples=50, rng=0),
                   mann_whitney_test([1.0, 2.0, 4.0], [2.0, 3.0, 7.0])):
        data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
        assert data["ci"] == {"low": result.ci.low, "high": result.ci.high}
        assert type(result).__name__ in repr(result) and "effect" in repr(result)
