"""Bayesian summaries: Evan Miller's closed form, high-precision integration, Monte Carlo."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, special
from scipy import stats as sps

from abkit import DegenerateDataWarning, MeanStats, ProportionStats, bayes_means, bayes_proportions
from abkit.bayes import prob_greater
from abkit.tests.conftest import reference_cases


@pytest.mark.parametrize("case", reference_cases("ab_fixed", function_kind="beta_bernoulli_prob_b_beats_a"))
def test_reference_chance_to_win(case):
    i = case["inputs"]
    # Prior (1, 1): Beta(1 + successes, 1 + failures), so alpha - 1 successes out of alpha + beta - 2.
    control = ProportionStats(i["alpha_A"] - 1, i["alpha_A"] + i["beta_A"] - 2)
    treatment = ProportionStats(i["alpha_B"] - 1, i["alpha_B"] + i["beta_B"] - 2)
    r = bayes_proportions(control, treatment)
    expected, tolerance = case["expected"]["prob_B_greater_A"], case["tolerance"]["abs"]  # 1e-9
    assert r.chance_to_win == pytest.approx(expected, abs=tolerance)


def _evan_miller(a_t, b_t, a_c, b_c):
    """P(T > C), Evan Miller's closed form (integer a_t), summed in log space."""
    i = np.arange(a_t)
    log_terms = (special.betaln(a_c + i, b_c + b_t) - np.log(b_t + i) - special.betaln(1 + i, b_t)
                 - special.betaln(a_c, b_c))
    return float(np.exp(log_terms).sum())


@pytest.mark.parametrize(
    "params",
    [(3, 5, 2, 7), (121, 881, 101, 901), (1000, 9000, 950, 9050), (25, 4000, 40, 3985), (7, 2, 7, 2),
     (27, 275, 1, 301), (1, 301, 27, 275), (2, 3000, 900, 100)],
)
def test_chance_to_win_matches_closed_form(params):
    # The closed form sums positive terms; 1e-10 absolute is far above either's rounding.
    assert prob_greater(*params) == pytest.approx(_evan_miller(*params), abs=1e-10)


def _loss_by_nested_quadrature(a_t, b_t, a_c, b_c):
    """E[max(T - C, 0)] = int f_C(c) int_c^1 (t - c) f_T(t) dt dc, both integrals by quad."""
    t_dist, c_dist = sps.beta(a_t, b_t), sps.beta(a_c, b_c)

    def inner(c):
        return integrate.quad(lambda t: (t - c) * t_dist.pdf(t), c, 1.0, epsabs=1e-13)[0]

    lo, hi = c_dist.ppf(1e-12), c_dist.ppf(1 - 1e-12)
    return integrate.quad(lambda c: c_dist.pdf(c) * inner(c), lo, hi, epsabs=1e-13)[0]


@pytest.mark.parametrize("successes", [(6, 4)])
def test_expected_losses_match_nested_quadrature(successes):
    control, treatment = ProportionStats(successes[0], 100), ProportionStats(successes[1], 40)
    r = bayes_proportions(control, treatment, prior=(0.5, 0.5))
    a_c, b_c, a_t, b_t = r.control_alpha, r.control_beta, r.treatment_alpha, r.treatment_beta
    # Nested quad reaches ~1e-11 here; the reduction to P(T' > C) is exact.
    gain = _loss_by_nested_quadrature(a_t, b_t, a_c, b_c)
    loss = _loss_by_nested_quadrature(a_c, b_c, a_t, b_t)
    assert r.control_expected_loss == pytest.approx(gain, abs=1e-10)
    assert r.treatment_expected_loss == pytest.approx(loss, abs=1e-10)


def test_beta_summaries_match_monte_carlo():
    # 2 million seeded posterior draws; tolerances are 5 Monte Carlo standard errors.
    r = bayes_proportions(ProportionStats(48, 400), ProportionStats(62, 410), prior=(1, 1))
    gen = np.random.default_rng(7)
    size = 2_000_000
    c = gen.beta(r.control_alpha, r.control_beta, size)
    t = gen.beta(r.treatment_alpha, r.treatment_beta, size)
    d = t - c
    win = d > 0
    assert r.chance_to_win == pytest.approx(win.mean(), abs=5 * win.std() / math.sqrt(size))
    gain, loss = np.maximum(d, 0), np.maximum(-d, 0)
    assert r.control_expected_loss == pytest.approx(gain.mean(), abs=5 * gain.std() / math.sqrt(size))
    assert r.treatment_expected_loss == pytest.approx(loss.mean(), abs=5 * loss.std() / math.sqrt(size))
    # Interval ends: the Monte Carlo CDF at them must be the nominal tails (sd sqrt(p(1-p)/N)).
    tail_sd = 5 * math.sqrt(0.025 * 0.975 / size)
    assert np.mean(d <= r.ci.low) == pytest.approx(0.025, abs=tail_sd)
    assert np.mean(d <= r.ci.high) == pytest.approx(0.975, abs=tail_sd)
    relative = t / c - 1
    assert np.mean(relative <= r.relative_ci.low) == pytest.approx(0.025, abs=tail_sd)
    assert np.mean(relative <= r.relative_ci.high) == pytest.approx(0.975, abs=tail_sd)


@pytest.mark.parametrize(
    ("control", "treatment"),
    [((20, 200), (31, 200)), ((0, 50), (3, 40)), ((2, 5000), (900, 1000)), ((7, 9), (1, 300))],
)
def test_beta_interval_ends_by_direct_integration(control, treatment):
    # Independent CDFs in the x domain, P(T - C <= d) = int f_C(c) F_T(c + d) dc and
    # P(T / C - 1 <= r) = int f_C(c) F_T((1 + r) c) dc, by adaptive quad with breakpoints where
    # either factor changes (C's quantiles, and T's quantiles mapped to the c axis).
    r = bayes_proportions(ProportionStats(*control), ProportionStats(*treatment), confidence_level=0.9)
    t_dist, c_dist = sps.beta(r.treatment_alpha, r.treatment_beta), sps.beta(r.control_alpha, r.control_beta)
    levels = [1e-9, 1e-6, 1e-3, 0.05, 0.5, 0.95, 1 - 1e-3, 1 - 1e-6, 1 - 1e-9]

    def cdf(t_to_c, c_to_t):
        breaks = np.concatenate([c_dist.ppf(levels), t_to_c(t_dist.ppf(levels))])
        breaks = np.unique(breaks[(breaks > 0) & (breaks < 1)])
        return integrate.quad(lambda c: c_dist.pdf(c) * t_dist.cdf(c_to_t(c)), 0, 1, points=breaks,
                              epsabs=1e-14, limit=2000)[0]

    for d, level in [(r.ci.low, 0.05), (r.ci.high, 0.95)]:
        assert cdf(lambda t, d=d: t - d, lambda c, d=d: c + d) == pytest.approx(level, abs=1e-9)
    for q, level in [(r.relative_ci.low, 0.05), (r.relative_ci.high, 0.95)]:
        assert cdf(lambda t, q=q: t / (1 + q), lambda c, q=q: (1 + q) * c) == pytest.approx(level, abs=1e-9)
    assert tuple(r.control_ci) == pytest.approx(tuple(c_dist.ppf([0.05, 0.95])), rel=1e-10)
    assert r.effect == pytest.approx(t_dist.mean() - c_dist.mean(), rel=1e-12)


counts = st.integers(0, 300)


@settings(max_examples=30)  # each call integrates numerically (~0.05 s)
@given(counts, counts, st.integers(300, 600), st.integers(300, 600))
def test_chance_to_win_is_complementary_and_losses_swap(s_c, s_t, n_c, n_t):
    control, treatment = ProportionStats(s_c, n_c), ProportionStats(s_t, n_t)
    a = bayes_proportions(control, treatment)
    b = bayes_proportions(treatment, control)
    assert a.chance_to_win + b.chance_to_win == pytest.approx(1.0, abs=1e-10)
    assert a.control_expected_loss == pytest.approx(b.treatment_expected_loss, abs=1e-10)
    assert a.effect == pytest.approx(-b.effect, abs=1e-15)


@settings(max_examples=30)
@given(st.integers(0, 99), st.integers(0, 200))
def test_chance_to_win_increases_with_treatment_successes(s_t, s_c):
    control = ProportionStats(s_c, 200)
    lower = bayes_proportions(control, ProportionStats(s_t, 100)).chance_to_win
    higher = bayes_proportions(control, ProportionStats(s_t + 1, 100)).chance_to_win
    assert higher >= lower - 1e-12


def test_normal_closed_forms_match_integration_and_monte_carlo():
    control, treatment = MeanStats(900, 5.0, 9.0), MeanStats(1100, 5.25, 10.0)
    r = bayes_means(control, treatment)
    mu, s = 0.25, math.sqrt(9.0 / 900 + 10.0 / 1100)
    # E[max(D, 0)] by quadrature of the normal density (independent of the closed form).
    gain = integrate.quad(lambda x: x * sps.norm.pdf(x, mu, s), 0, np.inf, epsabs=1e-14)[0]
    loss = integrate.quad(lambda x: -x * sps.norm.pdf(x, mu, s), -np.inf, 0, epsabs=1e-14)[0]
    assert r.control_expected_loss == pytest.approx(gain, rel=1e-9)
    assert r.treatment_expected_loss == pytest.approx(loss, rel=1e-9)
    assert r.chance_to_win == pytest.approx(sps.norm.sf(0, mu, s), rel=1e-12)
    assert tuple(r.ci) == pytest.approx(tuple(sps.norm.ppf([0.025, 0.975], mu, s)), rel=1e-12)
    gen = np.random.default_rng(3)
    size = 2_000_000
    t_draws = gen.normal(5.25, math.sqrt(10.0 / 1100), size)
    relative = t_draws / gen.normal(5.0, math.sqrt(9.0 / 900), size) - 1
    tail_sd = 5 * math.sqrt(0.025 * 0.975 / size)
    assert np.mean(relative <= r.relative_ci.low) == pytest.approx(0.025, abs=tail_sd)
    assert np.mean(relative <= r.relative_ci.high) == pytest.approx(0.975, abs=tail_sd)


def test_bayes_means_from_arrays_equals_from_stats():
    gen = np.random.default_rng(2)
    c, t = gen.normal(10, 2, 300), gen.normal(10.4, 2, 320)
    assert bayes_means(c, t) == bayes_means(MeanStats.from_samples(c), MeanStats.from_samples(t))


def test_degenerate_means():
    with pytest.warns(DegenerateDataWarning, match="zero variance"):
        r = bayes_means(MeanStats(10, 1.0, 0.0), MeanStats(10, 2.0, 0.0))
    assert math.isnan(r.chance_to_win)
    with pytest.warns(DegenerateDataWarning, match="control posterior clearly above 0"):
        r = bayes_means(MeanStats(50, 0.1, 4.0), MeanStats(50, 0.5, 4.0))
    assert math.isnan(r.relative_ci.low)
    assert 0.5 < r.chance_to_win < 1.0


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"prior": (0.0, 1.0)}, ValueError, r"`prior\[0\]` must be greater than 0; got 0.0."),
        ({"prior": 1.0}, TypeError, r"`prior` must be an \(alpha, beta\) pair"),
        ({"confidence_level": 95}, ValueError, r"`confidence_level` must be in \(0, 1\); got 95.0."),
        ({"control": ProportionStats(0, 0)}, ValueError, "`control.n` must be at least 1; got 0."),
        ({"treatment": [0, 1, 2]}, ValueError, "`treatment` must contain only 0 and 1; got 2.0."),
    ],
)
def test_bad_input_proportions(kwargs, error, message):
    arguments = {"control": ProportionStats(3, 10), "treatment": ProportionStats(5, 10)} | kwargs
    control, treatment = arguments.pop("control"), arguments.pop("treatment")
    with pytest.raises(error, match=message):
        bayes_proportions(control, treatment, **arguments)


def test_bad_input_means():
    with pytest.raises(ValueError, match=r"`treatment\.n` must be at least 2; got 1\."):
        bayes_means(MeanStats(5, 1.0, 1.0), [3.0])


def test_results_are_json_safe_tables():
    r = bayes_proportions(ProportionStats(10, 100), ProportionStats(14, 100))
    data = json.loads(json.dumps(r.to_dict(), allow_nan=False))
    assert data["chance_to_win"] == r.chance_to_win and data["treatment_alpha"] == 15.0
    assert "control_expected_loss" in repr(r)
