"""The fixed Gauss-Legendre rule of ``_posterior`` against its adaptive quadrature and closed forms."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from abkit.bandits import _posterior


def _beta(sizes: list[float], rates: list[float]) -> _posterior.Marginals:
    n, p = np.array(sizes), np.array(rates)
    return _posterior.beta_marginals(1.0 + n * p, 1.0 + n * (1.0 - p))


@settings(max_examples=40, deadline=None)
@given(
    arms=st.integers(2, 5),
    data=st.data(),
)
def test_fixed_rule_matches_adaptive_quadrature_for_beta(arms: int, data: st.DataObject) -> None:
    # from one reward to 10^5 per arm, rates anywhere: separated, overlapping and nested posteriors
    sizes = data.draw(st.lists(st.floats(0.0, 1e5), min_size=arms, max_size=arms))
    rates = data.draw(st.lists(st.floats(0.0, 1.0), min_size=arms, max_size=arms))
    marginals = _beta(sizes, rates)
    p, expected_max, p_error, _ = _posterior._fixed_rule(marginals)
    p_ref, max_ref = _posterior._adaptive(marginals)
    assert p.sum() == pytest.approx(1.0, abs=1e-10)
    assert p_error < 1e-8  # the fixed rule is the one used, but for rare borderline cases
    # The adaptive rule in u can miss a posterior far narrower than another (Beta(1, 1) against
    # Beta(1, 16002): its P sum to 1 - 6e-5); compare where it is self-consistent.
    if abs(p_ref.sum() - 1.0) < 1e-11:
        # both rules are accurate to ~1e-11 here; the task's bar is 1e-10
        np.testing.assert_allclose(p, p_ref, rtol=0, atol=1e-10)
        assert expected_max == pytest.approx(max_ref, abs=1e-10)
        # ... and what users get: first the rules with the higher order's CDFs integrated from
        # its densities (accepted only if the estimate, against exact CDFs, meets the tolerance)
        np.testing.assert_allclose(_posterior.prob_best(marginals), p_ref, rtol=0, atol=1e-10)
        np.testing.assert_allclose(_posterior.expected_loss(marginals), np.maximum(max_ref - marginals.mean, 0.0),
                                   rtol=0, atol=1e-10)


@settings(max_examples=30, deadline=None)
@given(
    arms=st.integers(2, 4),
    data=st.data(),
)
def test_fixed_rule_matches_adaptive_quadrature_for_student_t(arms: int, data: st.DataObject) -> None:
    df = np.array(data.draw(st.lists(st.floats(4.0, 1e4), min_size=arms, max_size=arms)))
    loc = np.array(data.draw(st.lists(st.floats(-3.0, 3.0), min_size=arms, max_size=arms)))
    scale = np.array(data.draw(st.lists(st.floats(0.01, 10.0), min_size=arms, max_size=arms)))
    marginals = _posterior.t_marginals(df, loc, scale)
    p, expected_max, _, _ = _posterior._fixed_rule(marginals)
    p_ref, max_ref = _posterior._adaptive(marginals)
    assert p.sum() == pytest.approx(1.0, abs=1e-10)
    np.testing.assert_allclose(p, p_ref, rtol=0, atol=1e-10)
    # the adaptive rule drops the t tail beyond its 1e-15 quantile (up to ~scale * 1e-11 at 5 df)
    assert expected_max == pytest.approx(max_ref, abs=1e-9 * scale.max())
    np.testing.assert_allclose(_posterior.prob_best(marginals), p_ref, rtol=0, atol=1e-10)
    np.testing.assert_allclose(_posterior.expected_loss(marginals), max_ref - marginals.mean, rtol=0,
                               atol=1e-9 * scale.max())


def test_expected_maximum_of_two_normals_has_a_closed_form() -> None:
    # Large df: t is Normal to ~1/df; E[max(X, Y)] = mu_x Phi(d) + mu_y Phi(-d) + s phi(d),
    # s = sqrt(sx^2 + sy^2), d = (mu_x - mu_y) / s (Clark 1961); at df = 1e9 t equals N to 1e-9.
    loc, scale = np.array([0.3, 0.0]), np.array([1.0, 2.0])
    marginals = _posterior.t_marginals(np.full(2, 1e9), loc, scale)
    s = float(np.hypot(*scale))
    d = (loc[0] - loc[1]) / s
    expected = loc[0] * stats.norm.cdf(d) + loc[1] * stats.norm.cdf(-d) + s * stats.norm.pdf(d)
    loss = _posterior.expected_loss(marginals)
    np.testing.assert_allclose(loss, expected - loc, rtol=0, atol=1e-8)
    np.testing.assert_allclose(_posterior.prob_best(marginals), [stats.norm.cdf(d), stats.norm.cdf(-d)],
                               rtol=0, atol=1e-8)


def test_router_steady_state_needs_no_fallback() -> None:
    # the router's steady state: 100,000 rewards over 4/5/6% arms
    marginals = _beta([33_000.0, 33_000.0, 34_000.0], [0.04, 0.05, 0.06])
    p, _, p_error, _ = _posterior._fixed_rule(marginals)
    assert p_error < _posterior._TOLERANCE  # no fallback
    np.testing.assert_allclose(p, _posterior._adaptive(marginals)[0], rtol=0, atol=1e-12)
    assert p.sum() == pytest.approx(1.0, abs=1e-12)


def test_heavy_t_tails_match_the_expected_maximum_by_scipy_quad() -> None:
    # E[max] = int_0^inf (1 - prod F) dx - int_-inf^0 prod F dx (scipy's QUADPACK on infinite ranges,
    # error estimate ~1e-13). At 2 df the adaptive rule in u drops ~1e-7 of tail; the fixed rule
    # adds the tail beyond its last panel in closed form.
    df, loc, scale = np.array([2.0, 2.0, 2.0]), np.array([0.0, 0.3, 0.6]), np.ones(3)
    marginals = _posterior.t_marginals(df, loc, scale)

    def below(x: float) -> float:
        return float(np.prod(stats.t.cdf(x, df, loc, scale)))

    upper = integrate.quad(lambda x: 1.0 - below(x), 0, np.inf, epsabs=1e-14, epsrel=1e-13, limit=1000)[0]
    lower = integrate.quad(below, -np.inf, 0, epsabs=1e-14, epsrel=1e-13, limit=1000)[0]
    max_error = _posterior._fixed_rule(marginals)[3]
    assert max_error < _posterior._TOLERANCE
    np.testing.assert_allclose(_posterior.expected_loss(marginals), upper - lower - loc, rtol=0, atol=1e-10)


def test_fallback_to_adaptive_quadrature_when_the_estimate_is_too_large() -> None:
    # Arcsine posteriors (Beta(0.5, 0.5)): E[max] of two is 1 - int_0^1 F(x)^2 dx with
    # F = (2 / pi) arcsin(sqrt(x)); the fixed rule's estimate flags its moment, so the adaptive rule
    # (exact here to ~1e-12) answers.
    marginals = _posterior.beta_marginals(np.full(2, 0.5), np.full(2, 0.5))
    assert _posterior._fixed_rule(marginals)[3] > _posterior._TOLERANCE
    below = integrate.quad(lambda x: (2 / np.pi * np.arcsin(np.sqrt(x))) ** 2, 0, 1, epsabs=1e-14)[0]
    np.testing.assert_allclose(_posterior.expected_loss(marginals), 0.5 - below, rtol=0, atol=1e-10)
    np.testing.assert_allclose(_posterior.prob_best(marginals), [0.5, 0.5], rtol=0, atol=1e-12)


def test_expected_loss_near_the_boundary_of_a_mean_matches_scipy_quad() -> None:
    # Student t at 1.05 df (a Normal-Inverse-Gamma shape alpha = 0.525, just above where the mean
    # ceases to exist): 3.8 of E[max] lies beyond the 1 - 1e-15 quantile, which the adaptive rule
    # used to drop (it answered 18.7 for 23.3). Reference: E[max] = int_0^inf (1 - prod F) dx -
    # int_-inf^0 prod F dx by QUADPACK in u = log x up to x = 1e300 (upper tail from the survival
    # functions, no cancellation; beyond 1e300 a closed-form power tail); it is reliable to ~1e-7
    # relative here (its own estimate is not trustworthy so far out), hence the tolerance.
    df, loc, scale = np.full(3, 1.05), np.array([0.0, 0.3, 0.6]), np.array([1.0, 0.5, 2.0])
    marginals = _posterior.t_marginals(df, loc, scale)

    def above(x: float) -> float:
        return float(-np.expm1(np.log1p(-stats.t.sf(x, df, loc, scale)).sum()))

    def below(x: float) -> float:
        return float(np.prod(stats.t.cdf(x, df, loc, scale)))

    end = 1e300
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", integrate.IntegrationWarning)
        upper = integrate.quad(lambda u: above(np.exp(u)) * np.exp(u), -40, np.log(end), limit=10_000,
                               epsabs=1e-13, epsrel=1e-12)[0]
        lower = integrate.quad(lambda u: below(-np.exp(u)) * np.exp(u), -40, np.log(end), limit=10_000,
                               epsabs=1e-13, epsrel=1e-12)[0]
    upper += float(sum(stats.t.sf(end, 1.05, m, s) * end / 0.05 for m, s in zip(loc, scale, strict=True)))
    np.testing.assert_allclose(_posterior.expected_loss(marginals), upper - lower - loc, rtol=1e-6)
