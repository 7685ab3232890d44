"""means_test, ratio_test and cuped_test against scipy, R formulas, statsmodels and tea-tasting."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from abkit import (
    BivariateStats,
    DegenerateDataWarning,
    MeanStats,
    cuped_test,
    means_test,
    ratio_test,
)
from abkit.tests.conftest import REFERENCE_DIR, binomial_band, reference_cases

# positive values keep both means positive, where the delta-log relative interval is defined
values = arrays(np.float64, st.integers(3, 40), elements=st.floats(0.01, 100, allow_nan=False))


def both_constant(a: np.ndarray, b: np.ndarray) -> bool:
    """Both samples constant: the tests' variance is 0 (covered by a degenerate-data test)."""
    return bool(np.ptp(a) == 0 and np.ptp(b) == 0)


def read_groups(path: str) -> tuple[np.ndarray, np.ndarray]:
    data = pd.read_csv(Path(REFERENCE_DIR) / path)
    return (data.loc[data["group"] == "control", "y"].to_numpy(),
            data.loc[data["group"] == "treatment", "y"].to_numpy())


# ---------------------------------------------------------------- reference values


@pytest.mark.parametrize("case", reference_cases("ab_fixed", area="means_test_welch"))
def test_reference_means(case) -> None:
    inputs, expected = case["inputs"], case["expected"]
    rel = case["tolerance"]["rel"]
    if "variant_column" in inputs:  # tea-tasting on a user-level table, normal reference
        data = pd.read_csv(Path(REFERENCE_DIR) / inputs["data"])
        column = inputs["columns"][0]
        control = data.loc[data["variant"] == inputs["control"], column].to_numpy()
        treatment = data.loc[data["variant"] != inputs["control"], column].to_numpy()
        r = means_test(control, treatment, method="z", alternative=inputs["alternative"])
        assert r.control_mean == pytest.approx(expected["control"], rel=rel)
        assert r.treatment_mean == pytest.approx(expected["treatment"], rel=rel)
        assert r.relative_effect == pytest.approx(expected["relative_effect"], rel=rel)
        assert tuple(r.relative_ci) == pytest.approx(tuple(expected["relative_ci_delta_log"]), rel=rel)
    else:  # scipy ttest_ind(treatment, control, equal_var=False)
        control, treatment = read_groups(inputs["data"])
        r = means_test(control, treatment, alternative=inputs["alternative"],
                       confidence_level=inputs["confidence_level"])
        assert r.statistic == pytest.approx(expected["statistic"], rel=rel)
        assert r.df == pytest.approx(expected["df"], rel=rel)
    assert r.pvalue == pytest.approx(expected["pvalue"], rel=rel)
    assert r.effect == pytest.approx(expected["effect"], rel=rel)
    assert tuple(r.ci) == pytest.approx(tuple(expected["ci"]), rel=rel)


@pytest.mark.parametrize("case", reference_cases("ab_fixed", id="ht_welch_summary"))
def test_reference_welch_from_summary(case) -> None:
    i, e = case["inputs"], case["expected"]
    # R: group 1 is the treatment, t = (mean1 - mean2) / se
    r = means_test(MeanStats(i["n2"], i["mean2"], i["sd2"] ** 2),
                   MeanStats(i["n1"], i["mean1"], i["sd1"] ** 2), alternative=i["alternative"])
    assert r.statistic == pytest.approx(e["t"], rel=1e-9)
    assert r.df == pytest.approx(e["df"], rel=1e-9)
    assert r.pvalue == pytest.approx(e["p_value"], rel=1e-9)
    assert tuple(r.ci) == pytest.approx(tuple(e["ci_diff"]), rel=1e-9)


def _bivariate_arms(case) -> tuple[BivariateStats, BivariateStats]:
    inputs = case["inputs"]
    data = pd.read_csv(Path(REFERENCE_DIR) / inputs["data"])
    x, y = inputs["columns"]
    is_control = data[inputs["variant_column"]] == inputs["control"]
    return (BivariateStats.from_samples(data.loc[is_control, x], data.loc[is_control, y]),
            BivariateStats.from_samples(data.loc[~is_control, x], data.loc[~is_control, y]))


@pytest.mark.parametrize(
    "case",
    reference_cases("ab_fixed", area="ratio_test_delta") + reference_cases("ab_fixed", area="cuped_test"),
)
def test_reference_tea_tasting_ratio_and_cuped(case) -> None:
    expected, rel = case["expected"], case["tolerance"]["rel"]  # 1e-7 as the file states
    control, treatment = _bivariate_arms(case)
    method = "welch" if case["inputs"]["distribution"].startswith("t") else "z"
    test = ratio_test if case["area"] == "ratio_test_delta" else cuped_test
    r = test(control, treatment, method=method, alternative=case["inputs"]["alternative"])
    assert r.control_mean == pytest.approx(expected["control"], rel=rel)
    assert r.treatment_mean == pytest.approx(expected["treatment"], rel=rel)
    assert r.effect == pytest.approx(expected["effect"], rel=rel)
    assert tuple(r.ci) == pytest.approx(tuple(expected["ci"]), rel=rel)
    assert r.relative_effect == pytest.approx(expected["relative_effect"], rel=rel)
    assert tuple(r.relative_ci) == pytest.approx(tuple(expected["relative_ci_delta_log"]), rel=rel)
    assert r.pvalue == pytest.approx(expected["pvalue"], rel=rel)


# ---------------------------------------------------------------- scipy / statsmodels on random data


@given(values, values, st.sampled_from(["two-sided", "greater", "less"]), st.floats(0.5, 0.999))
def test_welch_equals_scipy(control, treatment, alternative, level) -> None:
    if both_constant(control, treatment):
        return
    r = means_test(control, treatment, alternative=alternative, confidence_level=level)
    with warnings.catch_warnings():  # scipy warns about nearly constant samples
        warnings.simplefilter("ignore", RuntimeWarning)
        ref = stats.ttest_ind(treatment, control, equal_var=False, alternative=alternative)
    ci = ref.confidence_interval(level)
    assert r.statistic == pytest.approx(ref.statistic, rel=1e-9)
    assert r.pvalue == pytest.approx(ref.pvalue, rel=1e-9, abs=1e-300)
    assert r.df == pytest.approx(ref.df, rel=1e-9)
    assert (r.ci.low, r.ci.high) == pytest.approx((ci.low, ci.high), rel=1e-9, abs=1e-9)


@given(values, values, st.sampled_from(["two-sided", "greater", "less"]), st.floats(-5, 5))
def test_z_equals_statsmodels(control, treatment, alternative, margin) -> None:
    if both_constant(control, treatment):
        return
    r = means_test(control, treatment, method="z", alternative=alternative, margin=margin)
    sm_alt = {"two-sided": "two-sided", "greater": "larger", "less": "smaller"}[alternative]
    cm = CompareMeans(DescrStatsW(treatment), DescrStatsW(control))
    z, p = cm.ztest_ind(alternative=sm_alt, usevar="unequal", value=margin)
    assert r.statistic == pytest.approx(z, rel=1e-9)
    assert r.pvalue == pytest.approx(p, rel=1e-9, abs=1e-300)
    low, high = cm.zconfint_diff(alpha=0.05, alternative=sm_alt, usevar="unequal")
    assert (r.ci.low, r.ci.high) == pytest.approx((low, high), rel=1e-9, abs=1e-9)


@given(st.integers(0, 10_000), st.sampled_from(["z", "welch"]))
def test_ratio_test_equals_means_test_on_linearised_values(seed, method) -> None:
    # Independent route: the delta-method variance of mean(x)/mean(y) is the variance of the
    # linearised per-unit values (x - r y) / mean(y) (Deng, Knoblich and Lu 2018).
    rng = np.random.default_rng(seed)
    arms = []
    for _ in range(2):
        y = rng.poisson(4, 300) + 1.0
        arms.append((rng.binomial(y.astype(int), 0.1).astype(float), y))
    r = ratio_test(arms[0], arms[1], method=method)
    linear = []
    for x, y in arms:
        ratio = x.mean() / y.mean()
        linear.append(ratio + (x - ratio * y) / y.mean())
    ref = means_test(linear[0], linear[1], method=method)
    assert r.effect == pytest.approx(ref.effect, rel=1e-9)
    assert r.se == pytest.approx(ref.se, rel=1e-9)
    assert r.pvalue == pytest.approx(ref.pvalue, rel=1e-9)


@given(st.integers(0, 10_000), st.floats(-0.9, 0.9))
def test_cuped_equals_means_test_on_adjusted_values(seed, rho) -> None:
    rng = np.random.default_rng(seed)
    pre = rng.normal(10, 2, (2, 250))
    post = 20 + rho * pre + rng.normal(0, 1, (2, 250))
    r = cuped_test((post[0], pre[0]), (post[1], pre[1]))
    theta = np.cov(post.ravel(), pre.ravel(), ddof=1)[0, 1] / pre.ravel().var(ddof=1)
    adjusted = post - theta * (pre - pre.mean())
    ref = means_test(adjusted[0], adjusted[1], method="z")
    assert r.theta == pytest.approx(theta, rel=1e-9)
    assert r.effect == pytest.approx(ref.effect, rel=1e-9, abs=1e-12)
    assert r.se == pytest.approx(ref.se, rel=1e-9)
    raw = means_test(post[0], post[1], method="z")
    assert r.variance_reduction == pytest.approx(1 - ref.se**2 / raw.se**2, rel=1e-9, abs=1e-12)


# ---------------------------------------------------------------- properties


@given(values, values, st.sampled_from(["welch", "z"]))
def test_swapping_arms_flips_effect_and_keeps_pvalue(control, treatment, method) -> None:
    if both_constant(control, treatment):
        return
    ab = means_test(control, treatment, method=method)
    ba = means_test(treatment, control, method=method)
    assert ba.effect == pytest.approx(-ab.effect, rel=1e-12, abs=1e-12)
    assert ba.pvalue == pytest.approx(ab.pvalue, rel=1e-12)
    assert (ba.ci.low, ba.ci.high) == pytest.approx((-ab.ci.high, -ab.ci.low), rel=1e-12, abs=1e-12)


@given(values, values, st.sampled_from(["two-sided", "greater", "less"]), st.floats(-3, 3),
       st.sampled_from(["welch", "z"]))
def test_pvalue_and_interval_are_dual(control, treatment, alternative, margin, method) -> None:
    if both_constant(control, treatment):
        return
    r = means_test(control, treatment, alternative=alternative, margin=margin, method=method)
    if abs(r.pvalue - 0.05) > 1e-9:
        assert (r.pvalue < 0.05) == (not r.ci.contains(margin))


def test_fieller_relative_interval_contains_estimate_and_is_wider_for_small_means() -> None:
    rng = np.random.default_rng(1)
    c, t = rng.normal(10, 3, 400), rng.normal(11, 3, 400)
    log = means_test(c, t)
    fieller = means_test(c, t, relative_method="fieller")
    assert fieller.relative_ci.contains(fieller.relative_effect)
    # far from zero the two agree to first order
    assert fieller.relative_ci.low == pytest.approx(log.relative_ci.low, abs=5e-3)
    assert fieller.relative_ci.high == pytest.approx(log.relative_ci.high, abs=5e-3)


def test_negative_means_need_fieller() -> None:
    c, t = np.array([-1.0, -2.0, -3.0, -2.5]), np.array([-2.0, -3.0, -3.5, -4.0])
    with pytest.warns(DegenerateDataWarning, match="needs positive means"):
        r = means_test(c, t)
    assert math.isnan(r.relative_ci.low)
    assert means_test(c, t, relative_method="fieller").relative_ci.contains(r.relative_effect)


# ---------------------------------------------------------------- degenerate data and bad input


def test_zero_variance_in_both_arms_gives_nan() -> None:
    with pytest.warns(DegenerateDataWarning, match="Both arms have zero variance"):
        r = means_test([2.0, 2.0, 2.0], [3.0, 3.0])
    assert math.isnan(r.statistic) and math.isnan(r.pvalue) and math.isnan(r.ci.low)
    assert r.effect == 1.0


def test_zero_control_mean_gives_nan_relative_effect() -> None:
    with pytest.warns(DegenerateDataWarning, match="control mean is 0"):
        r = means_test([-1.0, 1.0, 0.0], [1.0, 2.0, 3.0])
    assert math.isnan(r.relative_effect)


def test_constant_covariate_in_cuped() -> None:
    with pytest.warns(DegenerateDataWarning, match="covariate has zero variance"):
        r = cuped_test(([1.0, 2.0, 3.0], [1.0, 1.0, 1.0]), ([2.0, 3.0, 4.0], [1.0, 1.0, 1.0]))
    assert math.isnan(r.pvalue) and math.isnan(r.theta)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: means_test([1.0], [1.0, 2.0]), ValueError, r"`control\.n` must be at least 2; got 1\."),
        (lambda: means_test(MeanStats(5, 1.0, 1.0), MeanStats(0, 0.0, 0.0)), ValueError,
         r"`treatment\.n` must be at least 2; got 0\."),
        (lambda: means_test([1.0, np.nan, 2.0], [1.0, 2.0]), ValueError,
         r"`control` must not contain NaN; got 1 NaN value\(s\)"),
        (lambda: means_test([1.0, 2.0], [1.0, 2.0], method="t"), ValueError,
         r"`method` must be one of 'welch', 'z'; got 't'\."),
        (lambda: means_test([1.0, 2.0], [1.0, 2.0], margin=math.inf), ValueError,
         r"`margin` must be finite; got inf\."),
        (lambda: ratio_test(BivariateStats(3, 1.0, 0.0, 1.0, 1.0, 0.0),
                            BivariateStats(3, 1.0, 1.0, 1.0, 1.0, 0.0)), ValueError,
         r"`control\.mean_y` \(the denominator's mean\) must not be 0; got 0\.0\."),
        (lambda: ratio_test([1.0, 2.0], [1.0, 2.0]), TypeError,
         r"`control` must be a BivariateStats or a tuple of two arrays; got list\."),
        (lambda: cuped_test(([1.0, 2.0, 3.0], [1.0, 2.0]), ([1.0, 2.0], [1.0, 2.0])), ValueError,
         r"`control\[0\]` and `control\[1\]` must have the same length; got 3 and 2\."),
        (lambda: means_test([1.0, 2.0], [1.0, 2.0], confidence_level=95), ValueError,
         r"`confidence_level` must be in \(0, 1\); got 95\.0\."),
    ],
)
def test_bad_input(call, error, message) -> None:
    with pytest.raises(error, match=message):
        call()


# ---------------------------------------------------------------- A/A calibration


def _check_calibration(results) -> None:
    n_sim = len(results)
    rejections = sum(r.pvalue < 0.05 for r in results)
    covered = sum(r.ci.contains(0.0) for r in results)
    covered_relative = sum(r.relative_ci.contains(0.0) for r in results)
    low, high = binomial_band(n_sim, 0.05)
    assert low <= rejections <= high, rejections
    low, high = binomial_band(n_sim, 0.95)
    assert low <= covered <= high, covered
    assert low <= covered_relative <= high, covered_relative


N_SIM = 2000


@pytest.mark.parametrize("method", ["welch", "z"])
def test_aa_means(method) -> None:
    rng = np.random.default_rng(11)
    data = rng.gamma(2.0, 5.0, size=(N_SIM, 2, 400))  # skewed, like revenue
    mean, var = data.mean(axis=2), data.var(axis=2, ddof=1)
    _check_calibration([
        means_test(MeanStats(400, m[0], v[0]), MeanStats(400, m[1], v[1]), method=method)
        for m, v in zip(mean, var, strict=True)
    ])


def _bivariate_batch(x: np.ndarray, y: np.ndarray) -> list[list[BivariateStats]]:
    n = x.shape[-1]
    mx, my = x.mean(-1), y.mean(-1)
    vx, vy = x.var(-1, ddof=1), y.var(-1, ddof=1)
    cov = ((x - mx[..., None]) * (y - my[..., None])).sum(-1) / (n - 1)
    return [[BivariateStats(n, mx[i, a], my[i, a], vx[i, a], vy[i, a], cov[i, a]) for a in range(2)]
            for i in range(x.shape[0])]


def test_aa_ratio() -> None:
    rng = np.random.default_rng(12)
    sessions = rng.poisson(3.0, size=(N_SIM, 2, 400)) + 1.0
    clicks = rng.binomial(sessions.astype(np.int64), 0.1).astype(float)
    _check_calibration([ratio_test(c, t) for c, t in _bivariate_batch(clicks, sessions)])


def test_aa_cuped() -> None:
    rng = np.random.default_rng(13)
    pre = rng.normal(20, 5, size=(N_SIM, 2, 400))
    post = pre + rng.normal(0, 3, size=(N_SIM, 2, 400))
    _check_calibration([cuped_test(c, t) for c, t in _bivariate_batch(post, pre)])
