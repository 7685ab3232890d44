"""Always-valid inference: mSPRT, streaming, confidence sequences; properties and calibration."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from abkit import DegenerateDataWarning, MeanStats, ProportionStats
from abkit.sequential import (
    MSPRT,
    confidence_sequence,
    msprt,
    normal_log_mixture,
    normal_mixture_bound,
)
from abkit.sequential.always_valid import asymptotic_cs, msprt_halfwidth, msprt_log_likelihood_ratio

SEED = 424242


def _upper_band(reps: int, p: float) -> float:
    return stats.binom.ppf(0.999, reps, p) / reps


# -- single look --------------------------------------------------------------------------------


@given(
    n_a=st.integers(20, 5000),
    n_b=st.integers(20, 5000),
    rate_a=st.floats(0.05, 0.95),
    rate_b=st.floats(0.05, 0.95),
    tau2=st.floats(1e-5, 1.0),
)
def test_msprt_swap_arms_flips_effect(n_a: int, n_b: int, rate_a: float, rate_b: float, tau2: float) -> None:
    a = ProportionStats(round(rate_a * n_a), n_a)
    b = ProportionStats(round(rate_b * n_b), n_b)
    forward, backward = msprt(a, b, tau2=tau2), msprt(b, a, tau2=tau2)
    assert forward.effect == pytest.approx(-backward.effect, abs=1e-15)
    assert forward.pvalue == pytest.approx(backward.pvalue, rel=1e-12)
    assert forward.ci.low == pytest.approx(-backward.ci.high, rel=1e-12, abs=1e-15)


@given(
    effect=st.floats(-2.0, 2.0),
    se2=st.floats(1e-4, 1.0),
    tau2=st.floats(1e-3, 10.0),
    alpha=st.floats(0.01, 0.2),
)
def test_msprt_ci_is_the_inverted_test(effect: float, se2: float, tau2: float, alpha: float) -> None:
    """At the interval's ends the likelihood ratio against that null is exactly 1 / alpha."""
    half = msprt_halfwidth(se2, tau2, alpha)
    for theta0 in (effect - half, effect + half):
        assert msprt_log_likelihood_ratio(effect, se2, tau2, theta0) == pytest.approx(
            math.log(1 / alpha), rel=1e-9
        )


def test_msprt_sigma2_overrides_sample_variance() -> None:
    a, b = MeanStats(100, 1.0, 9.0), MeanStats(100, 1.5, 1.0)
    known = msprt(a, b, tau2=0.5, sigma2=4.0)
    assert known.se == pytest.approx(math.sqrt(8.0 / 100), rel=1e-12)
    assert msprt(a, b, tau2=0.5).se == pytest.approx(math.sqrt(10.0 / 100), rel=1e-12)


def test_msprt_matches_confseq_normal_mixture() -> None:
    """The two-sided normal mixture of Howard et al. with S = n d, v = n s2, rho = s2^2 n^2 / (tau2 n^2)."""
    n, s2, d, tau2 = 400, 2.0, 0.3, 0.05
    r = msprt(MeanStats(n, 0.0, s2 / 2), MeanStats(n, d, s2 / 2), tau2=tau2, sigma2=s2 / 2)
    se2 = s2 / n
    # S_t = d / se2, V_t = 1 / se2, rho = 1 / tau2: the same supermartingale
    rho = 1 / tau2
    log_m = 0.5 * math.log(rho / (1 / se2 + rho)) + (d / se2) ** 2 / (2 * (1 / se2 + rho))
    assert r.log_likelihood_ratio == pytest.approx(log_m, rel=1e-12)
    v_opt = rho * (2 * math.log(20) + math.log(1 + 2 * math.log(20)))  # makes confseq's rho equal 1/tau2
    assert normal_log_mixture(d / se2, 1 / se2, v_opt) == pytest.approx(log_m, rel=1e-10)
    assert normal_mixture_bound(1 / se2, 0.05, v_opt) * se2 == pytest.approx(r.ci.width / 2, rel=1e-10)


def test_degenerate_data_give_nan_and_warn() -> None:
    with pytest.warns(DegenerateDataWarning):
        r = msprt(ProportionStats(0, 100), ProportionStats(0, 100), tau2=1e-3)
    assert math.isnan(r.pvalue) and math.isnan(r.ci.low) and not r.reject
    with pytest.warns(DegenerateDataWarning):
        c = confidence_sequence(ProportionStats(0, 0), ProportionStats(3, 10))
    assert math.isnan(c.effect) and math.isnan(c.pvalue)


def test_bad_input() -> None:
    a, b = ProportionStats(10, 100), ProportionStats(12, 100)
    with pytest.raises(ValueError, match=r"`tau2` must be greater than 0; got 0.0"):
        msprt(a, b, tau2=0.0)
    with pytest.raises(ValueError, match=r"`alpha` must be in \(0, 1\); got 1.0"):
        msprt(a, b, tau2=0.1, alpha=1.0)
    with pytest.raises(TypeError, match=r"`control` must be a MeanStats or ProportionStats; got list"):
        msprt([1, 2], b, tau2=0.1)
    with pytest.raises(TypeError, match=r"must be the same kind of Stats; got ProportionStats and MeanStats"):
        msprt(a, MeanStats(10, 0.0, 1.0), tau2=0.1)
    with pytest.raises(ValueError, match=r"`difference` must be one of 'absolute', 'relative'; got 'ratio'"):
        confidence_sequence(a, b, difference="ratio")
    with pytest.raises(ValueError, match=r"`tuning_n` must be greater than 0; got -5.0"):
        confidence_sequence(a, b, tuning_n=-5.0)


def test_confidence_sequence_wider_than_fixed_interval() -> None:
    a, b = ProportionStats(5000, 50000), ProportionStats(5400, 50000)
    r = confidence_sequence(a, b)
    fixed_half = stats.norm.isf(0.025) * r.se
    assert r.ci.width / 2 > fixed_half


# -- streaming ----------------------------------------------------------------------------------


def test_streaming_equals_batch_and_pvalues_never_increase() -> None:
    rng = np.random.default_rng(SEED)
    test = MSPRT(tau2=1e-3)
    control = treatment = ProportionStats.empty()
    previous = 1.0
    for _ in range(30):
        new_a = ProportionStats(int(rng.binomial(200, 0.1)), 200)
        new_b = ProportionStats(int(rng.binomial(200, 0.1)), 200)
        r = test.update(new_a, new_b)
        control, treatment = control.merge(new_a), treatment.merge(new_b)
        assert r == msprt(control, treatment, tau2=1e-3)
        assert test.pvalue <= previous and test.pvalue <= r.pvalue
        assert test.ci.low >= r.ci.low - 1e-15 and test.ci.high <= r.ci.high + 1e-15
        previous = test.pvalue
    assert test.looks == 30 and test.treatment == treatment


def test_streaming_state_round_trips_through_json() -> None:
    test = MSPRT(tau2=0.2, sigma2=1.0)
    test.update(MeanStats(50, 0.1, 1.1), MeanStats(50, 0.3, 0.9))
    restored = MSPRT.from_dict(json.loads(json.dumps(test.to_dict())))
    assert restored.to_dict() == test.to_dict()
    a, b = MeanStats(30, 0.2, 1.0), MeanStats(30, 0.5, 1.2)
    assert restored.update(a, b) == test.update(a, b)


# -- calibration --------------------------------------------------------------------------------


def _normal_paths(reps: int, looks: int, batch: int, effect: float, rng: np.random.Generator):
    """Per-look cumulative means of two unit-variance arms (sufficient statistics, vectorised)."""
    n = batch * np.arange(1, looks + 1)
    sum_a = np.cumsum(rng.normal(0.0, math.sqrt(batch), size=(reps, looks)), axis=1)
    sum_b = np.cumsum(rng.normal(effect * batch, math.sqrt(batch), size=(reps, looks)), axis=1)
    return n, sum_b / n - sum_a / n


def test_null_peeking_naive_inflated_always_valid_hold_alpha() -> None:
    rng = np.random.default_rng(SEED + 1)
    reps, looks, batch = 20_000, 50, 20
    n, diff = _normal_paths(reps, looks, batch, 0.0, rng)
    se2 = 2.0 / n  # known unit variance per observation
    upper = _upper_band(reps, 0.05)
    naive = np.mean(np.any(np.abs(diff) / np.sqrt(se2) > stats.norm.isf(0.025), axis=1))
    assert naive > upper
    msprt_rate = np.mean(np.any(msprt_log_likelihood_ratio(diff, se2, 0.01, 0.0) >= math.log(20), axis=1))
    assert msprt_rate <= upper
    rho = confidence_sequence(MeanStats(2, 0.0, 1.0), MeanStats(2, 0.0, 1.0), tuning_n=2000).rho
    _, pvalues = asymptotic_cs(diff, se2, 2 * n, rho, 0.05)
    assert np.mean(np.any(pvalues <= 0.05, axis=1)) <= upper


def test_confidence_sequences_cover_at_every_look() -> None:
    rng = np.random.default_rng(SEED + 2)
    reps, looks, batch, effect = 20_000, 40, 25, 0.15
    n, diff = _normal_paths(reps, looks, batch, effect, rng)
    se2 = 2.0 / n
    low = stats.binom.ppf(0.001, reps, 0.95) / reps
    half = msprt_halfwidth(se2, 0.02, 0.05)
    assert np.mean(np.all(np.abs(diff - effect) <= half, axis=1)) >= low
    rho = confidence_sequence(MeanStats(2, 0.0, 1.0), MeanStats(2, 0.0, 1.0), tuning_n=1000).rho
    cs_half, _ = asymptotic_cs(diff - effect, se2, 2 * n, rho, 0.05)
    assert np.mean(np.all(np.abs(diff - effect) <= cs_half, axis=1)) >= low


def test_msprt_detects_a_real_effect() -> None:
    rng = np.random.default_rng(SEED + 3)
    reps, looks, batch = 4_000, 50, 40
    n, diff = _normal_paths(reps, looks, batch, 0.2, rng)
    rejected = np.any(msprt_log_likelihood_ratio(diff, 2.0 / n, 0.04, 0.0) >= math.log(20), axis=1)
    assert rejected.mean() > 0.9
