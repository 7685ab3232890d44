"""Wald's SPRT and the sequential SRM test: properties, errors, calibration; and the plot."""

from __future__ import annotations

import itertools
import math

import matplotlib
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import special, stats

from abkit.sequential import SPRT, GroupSequentialDesign, SequentialSRM, sequential_srm_test

matplotlib.use("Agg")

SEED = 777


def test_sprt_decision_lines_agree_with_llr() -> None:
    t = SPRT(0.1, 0.12, alpha=0.05, beta=0.2)
    for n in (100, 1000, 5000):
        for s in range(0, n + 1, max(1, n // 200)):
            by_lines = (
                "reject"
                if s >= t.reject_intercept + t.slope * n
                else "accept"
                if s <= -t.accept_intercept + t.slope * n
                else "continue"
            )
            assert (
                by_lines == t.decision(s, n)
                or abs(t.llr(s, n) - t.log_a) < 1e-9
                or abs(t.llr(s, n) - t.log_b) < 1e-9
            )


@given(
    p0=st.floats(0.01, 0.5), lift=st.floats(1.05, 1.9), alpha=st.floats(0.01, 0.2), beta=st.floats(0.05, 0.3)
)
def test_sprt_wald_oc_endpoints(p0: float, lift: float, alpha: float, beta: float) -> None:
    t = SPRT(p0, p0 * lift, alpha=alpha, beta=beta)
    assert t.operating_characteristic(p0) == pytest.approx(1 - alpha, rel=1e-9)
    assert t.operating_characteristic(p0 * lift) == pytest.approx(beta, rel=1e-7)
    assert t.expected_sample_size(p0) > 0 and t.expected_sample_size(p0 * lift) > 0


def test_sprt_monte_carlo_error_rates() -> None:
    """Simulated paths: type-I error at most alpha (inside a binomial band) and power near 1 - beta."""
    t = SPRT(0.5, 0.6, alpha=0.05, beta=0.05)
    rng = np.random.default_rng(SEED)
    reps, n_max = 10_000, 500
    for p, target in ((0.5, t.exact_operating_characteristics(0.5, n_max=n_max).prob_reject), (0.6, None)):
        successes = np.cumsum(rng.random((reps, n_max), dtype=np.float32) < p, axis=1, dtype=np.int32)
        n = np.arange(1, n_max + 1)
        llr = successes * math.log(0.6 / 0.5) + (n - successes) * math.log(0.4 / 0.5)
        stop = (llr >= t.log_a) | (llr <= t.log_b)
        first = np.argmax(stop, axis=1)
        rejected = stop.any(axis=1) & (llr[np.arange(reps), first] >= t.log_a)
        if target is not None:
            assert rejected.mean() <= stats.binom.ppf(0.999, reps, 0.05) / reps
            low, high = stats.binom.ppf([0.0005, 0.9995], reps, target) / reps
            assert low <= rejected.mean() <= high
        else:
            assert rejected.mean() >= stats.binom.ppf(0.001, reps, 0.95) / reps - 0.01  # overshoot margin


def test_sprt_bad_input() -> None:
    with pytest.raises(ValueError, match=r"`p1` must differ from `p0`; got p0 = p1 = 0.1"):
        SPRT(0.1, 0.1)
    with pytest.raises(ValueError, match=r"`alpha` must be in \(0, 1\); got 1.5"):
        SPRT(0.1, 0.2, alpha=1.5)
    with pytest.raises(ValueError, match=r"`alpha \+ beta` must be less than 1; got 1.1"):
        SPRT(0.1, 0.2, alpha=0.5, beta=0.6)
    with pytest.raises(ValueError, match=r"`successes` must be at most `n` \(5\); got 6"):
        SPRT(0.1, 0.2).decision(6, 5)


def test_sprt_lower_alternative() -> None:
    t = SPRT(0.2, 0.1, alpha=0.05, beta=0.1)
    assert t.decision(0, 60) == "reject"
    assert t.decision(30, 60) == "accept"


# -- sequential SRM -----------------------------------------------------------------------------


def test_srm_bayes_factor_closed_form() -> None:
    counts, shares, k = np.array([480, 260, 260]), np.array([0.5, 0.25, 0.25]), 30.0
    a = k * shares
    expected = (
        special.gammaln(a + counts).sum()
        - special.gammaln((a + counts).sum())
        - special.gammaln(a).sum()
        + special.gammaln(a.sum())
        - counts @ np.log(shares)
    )
    r = sequential_srm_test(counts, shares, concentration=k)
    assert r.log_bayes_factor == pytest.approx(expected, rel=1e-12)


def test_srm_streaming_running_minimum_and_detection() -> None:
    srm = SequentialSRM([0.5, 0.5], alpha=0.01)
    seen = []
    for counts in ([510, 490], [530, 470], [700, 300], [480, 520]):
        srm.update(counts)
        seen.append(srm.pvalue)
    assert all(b <= a for a, b in itertools.pairwise(seen))
    assert srm.mismatch and srm.counts == (2220, 1780) and srm.looks == 4
    with pytest.raises(ValueError, match=r"`counts` must have 2 arms; got 3"):
        srm.update([1, 2, 3])


def test_srm_null_calibration_under_continuous_monitoring() -> None:
    rng = np.random.default_rng(SEED + 1)
    reps, looks, batch, alpha = 4_000, 50, 100, 0.05
    counts_a = np.cumsum(rng.binomial(batch, 0.5, size=(reps, looks)), axis=1)
    total = batch * np.arange(1, looks + 1)
    k = 100.0
    a = k * 0.5
    log_bf = (
        special.gammaln(a + counts_a)
        + special.gammaln(a + total - counts_a)
        - special.gammaln(k + total)
        - 2 * special.gammaln(a)
        + special.gammaln(k)
        + total * math.log(2.0)
    )
    # the closed form above is what sequential_srm_test computes (checked on one path)
    one = sequential_srm_test([counts_a[0, -1], total[-1] - counts_a[0, -1]], concentration=k)
    assert one.log_bayes_factor == pytest.approx(log_bf[0, -1], rel=1e-10)
    rate = np.mean(np.any(log_bf >= math.log(1 / alpha), axis=1))
    assert rate <= stats.binom.ppf(0.999, reps, alpha) / reps


def test_srm_bad_input() -> None:
    with pytest.raises(ValueError, match=r"`counts` must be non-negative integers"):
        sequential_srm_test([10, -1])
    with pytest.raises(ValueError, match=r"`concentration` must be greater than 0; got 0.0"):
        sequential_srm_test([10, 12], concentration=0.0)


# -- plot ---------------------------------------------------------------------------------------


def test_plot_boundaries() -> None:
    import matplotlib.pyplot as plt

    from abkit.plotting.sequential import plot_boundaries

    d = GroupSequentialDesign(4, alpha=0.025, alternative="greater", futility="obrien-fleming")
    fig = plot_boundaries(d, z=[0.4, 1.1, 2.6])
    ax = fig.axes[0]
    assert len(ax.lines) == 4  # efficacy, futility, observed path, zero line
    np.testing.assert_allclose(ax.lines[0].get_ydata(), d.bounds)
    plt.close(fig)
    with pytest.raises(ValueError, match=r"`z` must have one value per look \(2 looks\); got 3"):
        plot_boundaries(d, z=[0.1, 0.2, 0.3], information=[0.3, 0.6])
