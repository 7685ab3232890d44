"""Paired tests of abkit.shadow: properties, bad input, calibration under a null, power.

References for exact values are in test_shadow_reference.py; here scipy and closed forms check
the rest, hypothesis checks the orientation (challenger - champion), and seeded Monte Carlo
checks that each test rejects at its level when the models are equally good (inside a 99.9%
binomial band) and that pairing buys power.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from abkit import means_test
from abkit.errors import DegenerateDataWarning
from abkit.shadow import (
    auc_ci,
    delong_test,
    diebold_mariano_test,
    latency_quantiles,
    latency_ratio_test,
    mcnemar_test,
    paired_bootstrap,
    paired_t_test,
    wilcoxon_test,
)
from abkit.shadow.auc import placements

ALPHA = 0.05


def _band(reps: int, alpha: float = ALPHA) -> tuple[float, float]:
    """99.9% binomial band for the rejection rate of ``reps`` independent tests at ``alpha``."""
    return stats.binom.ppf(0.0005, reps, alpha) / reps, stats.binom.ppf(0.9995, reps, alpha) / reps


# ---------------------------------------------------------------- independent checks


def test_delong_placements_equal_the_quadratic_definition() -> None:
    # Sun & Xu's midrank placements equal DeLong's O(mn) pairwise definition, ties counting 1/2.
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 120).astype(bool)
    score = rng.integers(0, 8, 120).astype(float)  # many ties
    v10, v01 = placements(y, score)
    pos, neg = score[y], score[~y]
    kernel = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    np.testing.assert_allclose(v10, kernel.mean(axis=1), rtol=1e-12)
    np.testing.assert_allclose(v01, kernel.mean(axis=0), rtol=1e-12)


def test_auc_equals_mann_whitney_u_share() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 300)
    score = rng.normal(y * 0.7, 1.0)
    u = stats.mannwhitneyu(score[y == 1], score[y == 0]).statistic
    assert auc_ci(y, score).auc == pytest.approx(u / ((y == 1).sum() * (y == 0).sum()), rel=1e-12)


def test_paired_t_equals_scipy_ttest_rel_with_margin() -> None:
    rng = np.random.default_rng(2)
    champion, challenger = rng.normal(size=50), rng.normal(0.2, 1.0, 50)
    r = paired_t_test(champion, challenger, alternative="greater", margin=0.1)
    s = stats.ttest_1samp(challenger - champion, 0.1, alternative="greater")
    assert r.statistic == pytest.approx(s.statistic, rel=1e-12)
    assert r.pvalue == pytest.approx(s.pvalue, rel=1e-10)
    assert r.ci.high == math.inf


def test_wilcoxon_pvalue_equals_scipy_without_correction() -> None:
    rng = np.random.default_rng(3)
    champion, challenger = rng.normal(size=35).round(1), rng.normal(0.4, 1.0, 35).round(1)  # ties, zeros
    r = wilcoxon_test(champion, challenger, correction=False, alternative="less")
    s = stats.wilcoxon(challenger - champion, correction=False, method="approx", alternative="less")
    assert r.pvalue == pytest.approx(s.pvalue, rel=1e-10)


def test_exact_wilcoxon_equals_scipy_and_the_walsh_average_interval() -> None:
    from abkit.shadow._signrank import psignrank, qsignrank

    # Published two-sided 5% critical value of the signed-rank statistic for n = 15 is 25.
    assert qsignrank(0.025, 15) == 26 and psignrank(25, 15) <= 0.025 < psignrank(26, 15)
    rng = np.random.default_rng(13)
    champion, challenger = rng.normal(size=15), rng.normal(0.5, 1.0, 15)
    r = wilcoxon_test(champion, challenger)  # n < 50, no ties: exact, as R's default
    d = challenger - champion
    walsh = np.sort([(d[i] + d[j]) / 2 for i in range(15) for j in range(i, 15)])
    assert r.method == "exact"
    for alternative in ("two-sided", "greater", "less"):
        exact = stats.wilcoxon(d, method="exact", alternative=alternative).pvalue
        assert wilcoxon_test(champion, challenger, alternative=alternative).pvalue == pytest.approx(exact)
    assert r.effect == np.median(walsh)
    assert (r.ci.low, r.ci.high) == (walsh[25], walsh[120 - 26])
    assert wilcoxon_test(champion, challenger, method="approx").method == "approx"
    tied = wilcoxon_test(champion.round(0), challenger.round(0), method="exact")
    assert tied.method == "approx"  # ties: R falls back to the normal approximation too


def test_mcnemar_exact_equals_binomtest_one_sided() -> None:
    champion = np.repeat([1, 1, 0, 0], [40, 7, 16, 10])
    challenger = np.repeat([1, 0, 1, 0], [40, 7, 16, 10])
    r = mcnemar_test(champion, challenger, alternative="greater")
    assert r.pvalue == pytest.approx(stats.binomtest(16, 23, 0.5, alternative="greater").pvalue, rel=1e-12)
    assert r.effect == pytest.approx((16 - 7) / 73)
    # Wald interval of a difference of paired proportions: se = sqrt(b + c - (c - b)^2 / n) / n
    se = math.sqrt(23 - 81 / 73) / 73
    two_sided = mcnemar_test(champion, challenger)
    np.testing.assert_allclose(list(two_sided.ci), [9 / 73 - 1.959963984540054 * se,
                                                    9 / 73 + 1.959963984540054 * se], rtol=1e-12)


def test_mcnemar_corrected_statistic_is_zero_at_b_equals_c() -> None:
    # R's mcnemar.test convention; statsmodels would give 0.1 here.
    r = mcnemar_test([1, 0, 1, 0, 1], [0, 1, 0, 1, 1], method="chi2-corrected")
    assert (r.b, r.c, r.chi2, r.pvalue) == (2, 2, 0.0, 1.0)


def test_diebold_mariano_original_form_uses_normal() -> None:
    rng = np.random.default_rng(5)
    champion, challenger = rng.gamma(2.0, size=60), rng.gamma(2.2, size=60)
    r = diebold_mariano_test(champion, challenger, small_sample=False)
    d = challenger - champion
    z = d.mean() / math.sqrt(np.var(d) / d.size)
    assert (r.method, r.statistic) == ("DM", pytest.approx(z, rel=1e-12))
    assert r.pvalue == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-12)
    assert math.isnan(r.df)


def test_paired_bootstrap_matches_scipy_percentile_and_bca() -> None:
    rng = np.random.default_rng(6)
    champion, challenger = rng.exponential(size=40), rng.exponential(1.2, size=40)
    for method, scipy_method in (("percentile", "percentile"), ("bca", "BCa")):
        r = paired_bootstrap(np.median, champion, challenger, n_resamples=999, method=method, rng=11)
        s = stats.bootstrap((champion, challenger), lambda a, b: np.median(b) - np.median(a), paired=True,
                            vectorized=False, n_resamples=999, method=scipy_method,
                            rng=np.random.default_rng(11))
        np.testing.assert_allclose(list(r.ci), list(s.confidence_interval), rtol=1e-12)


def test_latency_quantile_interval_is_order_statistics_with_binomial_coverage() -> None:
    values = np.arange(1.0, 201.0)
    row = latency_quantiles(values[::-1], quantiles=[0.9]).rows[0]
    low, high = int(row.ci.low), int(row.ci.high)  # the data are their own ranks
    coverage = stats.binom.cdf(high - 1, 200, 0.9) - stats.binom.cdf(low - 1, 200, 0.9)
    assert row.coverage == pytest.approx(coverage) and coverage >= 0.95
    assert row.estimate == pytest.approx(np.quantile(values, 0.9, method="weibull"))


def test_latency_quantile_too_few_events_is_not_a_number() -> None:
    row = latency_quantiles(np.arange(1.0, 101.0), quantiles=[0.99]).rows[0]
    assert row.quality == "insufficient tail data"
    with pytest.warns(DeprecationWarning, match="quality"):
        assert row.status == row.quality
    assert math.isnan(row.estimate) and math.isnan(row.ci.low)
    assert "insufficient tail data" in repr(latency_quantiles(np.arange(1.0, 101.0), quantiles=[0.99]))


def test_latency_ratio_is_geometric_mean_of_ratios() -> None:
    champion = np.array([10.0, 20.0, 40.0, 25.0])
    challenger = np.array([12.0, 22.0, 40.0, 30.0])
    r = latency_ratio_test(champion, challenger, margin=0.05, alternative="greater")
    assert r.ratio == pytest.approx(stats.gmean(challenger / champion), rel=1e-12)
    t = stats.ttest_1samp(np.log(challenger / champion), math.log(1.05), alternative="greater")
    assert r.pvalue == pytest.approx(t.pvalue, rel=1e-10)


# ---------------------------------------------------------------- orientation properties

losses = st.floats(-100, 100, allow_nan=False).map(lambda v: round(v, 3))  # no underflowing variances
pairs = st.integers(min_value=3, max_value=30).flatmap(
    lambda n: st.tuples(
        st.lists(losses, min_size=n, max_size=n),
        st.lists(losses, min_size=n, max_size=n),
    )
)


@given(pairs)
def test_swapping_models_flips_the_sign(data: tuple[list[float], list[float]]) -> None:
    a, b = np.array(data[0]), np.array(data[1])
    if np.ptp(b - a) == 0:  # degenerate: checked separately
        return
    forward, backward = paired_t_test(a, b), paired_t_test(b, a)
    assert forward.effect == pytest.approx(-backward.effect, abs=1e-9)
    assert forward.pvalue == pytest.approx(backward.pvalue, rel=1e-9)
    w_forward, w_backward = wilcoxon_test(a, b), wilcoxon_test(b, a)
    assert w_forward.statistic == pytest.approx(-w_backward.statistic, abs=1e-12)
    assert w_forward.pvalue == pytest.approx(w_backward.pvalue, rel=1e-9)
    assert w_forward.ci.low <= w_forward.effect <= w_forward.ci.high


@given(st.integers(0, 2**32 - 1))
def test_delong_swap_and_interval_duality(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = np.r_[0, 1, rng.integers(0, 2, 40)]
    s1, s2 = rng.normal(y, 1.0), rng.normal(y * 1.3, 1.0)
    r, swapped = delong_test(y, s1, s2), delong_test(y, s2, s1)
    assert r.effect == pytest.approx(-swapped.effect, abs=1e-12)
    assert r.statistic == pytest.approx(-swapped.statistic, abs=1e-9)
    # the interval excludes 0 exactly when the two-sided p-value is below 5%
    assert (not r.ci.contains(0.0)) == (r.pvalue < 0.05)


@given(st.lists(st.booleans(), min_size=5, max_size=60), st.lists(st.booleans(), min_size=5, max_size=60))
def test_mcnemar_swap(a: list[bool], b: list[bool]) -> None:
    n = min(len(a), len(b))
    first, second = np.array(a[:n]), np.array(b[:n])
    if (first != second).sum() == 0:
        return
    for method in ("exact", "mid-p", "chi2", "chi2-corrected"):
        r, s = mcnemar_test(first, second, method=method), mcnemar_test(second, first, method=method)
        assert r.effect == pytest.approx(-s.effect) and r.statistic == pytest.approx(-s.statistic)
        assert r.pvalue == pytest.approx(s.pvalue)
        assert (r.pvalue <= 1.0) and (method != "mid-p" or r.pvalue <= mcnemar_test(first, second).pvalue)


# ---------------------------------------------------------------- bad and degenerate input


def test_bad_inputs_name_the_argument() -> None:
    message = "`y_true` must be binary (0/1 or True/False) for an AUC; got 2.0"
    with pytest.raises(ValueError, match=re.escape(message)):
        delong_test([0, 1, 2], [0.1, 0.2, 0.3], [0.3, 0.2, 0.1])
    message = "`y_true` must contain both classes for an AUC; got no positive"
    with pytest.raises(ValueError, match=re.escape(message)):
        auc_ci([0, 0, 0], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match=re.escape("`challenger_score` must not contain NaN; got 1 NaN")):
        delong_test([0, 1, 1], [0.1, 0.2, 0.3], [0.3, math.nan, 0.1])
    message = "`y_true` and `champion_score` must have the same length; got 3 and 2"
    with pytest.raises(ValueError, match=re.escape(message)):
        delong_test([0, 1, 1], [0.1, 0.2], [0.3, 0.2, 0.1])
    message = "`challenger_correct` must hold only 0/1 or True/False; got 0.5"
    with pytest.raises(ValueError, match=re.escape(message)):
        mcnemar_test([1, 0], [0.5, 1])
    message = "`method` must be one of 'exact', 'mid-p', 'chi2', 'chi2-corrected'"
    with pytest.raises(ValueError, match=re.escape(message)):
        mcnemar_test([1, 0], [0, 1], method="yates")
    with pytest.raises(ValueError, match=re.escape("`variance` must be one of 'acf', 'bartlett'; got 'hac'")):
        diebold_mariano_test([1.0, 2.0, 3.0], [1.0, 2.0, 2.5], variance="hac")
    message = "`horizon` must be less than the number of periods (3); got 3"
    with pytest.raises(ValueError, match=re.escape(message)):
        diebold_mariano_test([1.0, 2.0, 3.0], [1.0, 2.0, 2.5], horizon=3)
    message = "`challenger_latency` must be positive for a ratio; got 0.0"
    with pytest.raises(ValueError, match=re.escape(message)):
        latency_ratio_test([1.0, 2.0], [0.0, 2.0])
    with pytest.raises(TypeError, match=re.escape("`metric` must be callable; got str")):
        paired_bootstrap("mean", [1.0, 2.0], [2.0, 3.0])
    with pytest.raises(TypeError, match=re.escape("`correction` must be True or False; got 1")):
        wilcoxon_test([1.0, 2.0], [2.0, 3.0], correction=1)  # type: ignore[arg-type]


def test_degenerate_data_give_nan_and_a_warning() -> None:
    with pytest.warns(DegenerateDataWarning, match="zero variance"):
        r = paired_t_test([1.0, 2.0, 3.0], [2.0, 3.0, 4.0])
    assert math.isnan(r.pvalue) and r.effect == 1.0
    with pytest.warns(DegenerateDataWarning, match="No discordant requests"):
        assert math.isnan(mcnemar_test([1, 0, 1], [1, 0, 1]).pvalue)
    with pytest.warns(DegenerateDataWarning, match="All paired differences are 0"):
        assert math.isnan(wilcoxon_test([1.0, 2.0], [1.0, 2.0]).pvalue)
    with pytest.warns(DegenerateDataWarning, match="zero"):
        assert math.isnan(delong_test([0, 1, 1], [0.1, 0.9, 0.2], [0.3, 0.8, 0.1]).pvalue)


# ---------------------------------------------------------------- calibration under the null


def _reject_rate(pvalues: list[float]) -> float:
    return float(np.mean(np.asarray(pvalues) <= ALPHA))


def test_paired_tests_reject_at_alpha_under_the_null() -> None:
    # Champion and challenger equally good, errors correlated within request (the shadow case).
    rng = np.random.default_rng(2026)
    reps, n = 1000, 60
    shared = rng.normal(size=(reps, n))
    champion = shared + rng.normal(size=(reps, n))
    challenger = shared + rng.normal(size=(reps, n))
    low, high = _band(reps)
    pairs = list(zip(champion, challenger, strict=True))
    assert low <= _reject_rate([paired_t_test(a, b).pvalue for a, b in pairs]) <= high
    assert low <= _reject_rate([diebold_mariano_test(a**2, b**2).pvalue for a, b in pairs]) <= high
    w_reps = 400  # the signed-rank test inverts its statistic for the interval: fewer, slower reps
    w_low, w_high = _band(w_reps)
    w_shared = rng.normal(size=(w_reps, n))
    rate = _reject_rate([
        wilcoxon_test(s + rng.normal(size=n), s + rng.normal(size=n)).pvalue for s in w_shared
    ])
    assert w_low <= rate <= w_high


def test_delong_rejects_at_alpha_under_the_null() -> None:
    rng = np.random.default_rng(7)
    reps, n = 1000, 300
    y = rng.integers(0, 2, (reps, n))
    shared = rng.normal(size=(reps, n))
    score_a = y + shared + rng.normal(size=(reps, n))
    score_b = y + shared + rng.normal(size=(reps, n))
    low, high = _band(reps)
    rate = _reject_rate([delong_test(*row).pvalue for row in zip(y, score_a, score_b, strict=True)])
    assert low <= rate <= high


def test_mcnemar_rejects_at_alpha_and_exact_is_conservative() -> None:
    rng = np.random.default_rng(8)
    reps, n = 1000, 400
    skill = rng.random((reps, n))
    correct_a = skill + 0.3 * rng.random((reps, n)) > 0.45
    correct_b = skill + 0.3 * rng.random((reps, n)) > 0.45
    low, high = _band(reps)
    chi2 = _reject_rate([mcnemar_test(a, b, method="chi2").pvalue for a, b in zip(correct_a, correct_b,
                                                                                  strict=True)])
    exact = _reject_rate([mcnemar_test(a, b).pvalue for a, b in zip(correct_a, correct_b, strict=True)])
    mid_p = _reject_rate([mcnemar_test(a, b, method="mid-p").pvalue
                          for a, b in zip(correct_a, correct_b, strict=True)])
    corrected = _reject_rate([mcnemar_test(a, b, method="chi2-corrected").pvalue
                              for a, b in zip(correct_a, correct_b, strict=True)])
    assert low <= chi2 <= high
    assert low <= mid_p <= high
    # the exact test and Yates' correction are conservative: never above the band, below chi2
    assert exact <= high and exact <= chi2
    assert corrected <= high and corrected <= chi2


def test_paired_bootstrap_rejects_near_alpha_under_the_null() -> None:
    rng = np.random.default_rng(9)
    reps, n = 300, 80
    low, high = _band(reps)
    shared = rng.normal(size=(reps, n))
    rate = _reject_rate([
        paired_bootstrap(np.mean, s + rng.normal(size=n), s + rng.normal(size=n), n_resamples=199,
                         rng=i).pvalue
        for i, s in enumerate(shared)
    ])
    assert low <= rate <= high


# ---------------------------------------------------------------- pairing buys power


def test_paired_tests_need_far_fewer_requests_than_unpaired() -> None:
    # Same data, two analyses: the paired t test and an unpaired Welch test (what a canary tool
    # would run). Request difficulty dominates the loss, so pairing removes most of the noise.
    rng = np.random.default_rng(10)
    reps, n = 200, 400
    difficulty = rng.gamma(2.0, 1.0, (reps, n))
    champion = difficulty + rng.normal(0.0, 0.3, (reps, n))
    challenger = difficulty - 0.1 + rng.normal(0.0, 0.3, (reps, n))

    def power(sizes: int, paired: bool) -> float:
        rejections = [
            (paired_t_test(a[:sizes], b[:sizes]).pvalue if paired
             else means_test(a[:sizes], b[:sizes]).pvalue) <= ALPHA
            for a, b in zip(champion, challenger, strict=True)
        ]
        return float(np.mean(rejections))

    # Normal theory: paired sd 0.3*sqrt(2) -> power 0.998 at n=400 and 0.65 at n=100; unpaired sd
    # ~1.45 per arm -> power 0.16 at n=400. The bounds leave > 3 Monte Carlo standard errors.
    assert power(400, paired=True) >= 0.95
    assert power(400, paired=False) <= 0.30
    assert power(100, paired=True) > power(400, paired=False) + 0.25  # a quarter of the data suffices


def test_paired_wilcoxon_detects_a_latency_shift_the_unpaired_test_misses() -> None:
    # Latency = request cost (shared, log-normal) x model factor; the challenger adds 5%.
    from abkit.shadow import mann_whitney_test

    rng = np.random.default_rng(12)
    reps, n = 100, 100
    cost = rng.lognormal(3.5, 0.5, (reps, n))
    champion = cost * rng.lognormal(0.0, 0.05, (reps, n))
    challenger = 1.05 * cost * rng.lognormal(0.0, 0.05, (reps, n))
    paired = np.mean([wilcoxon_test(a, b).pvalue <= ALPHA for a, b in zip(champion, challenger, strict=True)])
    unpaired = np.mean([mann_whitney_test(a, b).pvalue <= ALPHA
                        for a, b in zip(champion, challenger, strict=True)])
    # paired: shift 5% against 7% noise per request -> power ~1; unpaired: against 50% -> ~0.1
    assert paired >= 0.95 and unpaired <= 0.3
