"""Posteriors at scale and at extremes (issue 15): many arms in O(arms x nodes), counts to 1e300,
rewards offset by 1e12.

References: the adaptive quadrature ``_posterior._adaptive`` (scipy's ``quad_vec``, accurate to
~1e-11 where it is self-consistent), symmetry (equal arms are best equally often), and the
normal closed form ``P(X_2 > X_1) = Phi(d / sqrt(s_1^2 + s_2^2))`` for posteriors that are normal
to far below 1e-10 (Beta with counts above 1e19, skewness below 1e-9).
"""

from __future__ import annotations

import warnings
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special, stats

from abkit.bandits import ThompsonGaussian, _posterior


@settings(max_examples=6, deadline=None)
@given(arms=st.integers(_posterior._FEW + 1, 30), trials=st.sampled_from([30.0, 1e3, 1e5]), seed=st.integers(0, 99))
def test_many_arms_on_snapped_panels_match_adaptive_quadrature(arms: int, trials: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    rate = rng.uniform(0.04, 0.08, arms)
    sizes = trials * rng.uniform(0.5, 2.0, arms)
    marginals = _posterior.beta_marginals(1.0 + sizes * rate, 1.0 + sizes * (1.0 - rate))
    p, expected_max, p_error, m_error = _posterior._fixed_rule(marginals)
    assert p_error < _posterior._TOLERANCE and m_error < _posterior._TOLERANCE  # no fallback
    p_ref, max_ref = _posterior._adaptive(marginals)
    assert abs(p_ref.sum() - 1.0) < 1e-11  # the reference is self-consistent here
    np.testing.assert_allclose(p, p_ref, rtol=0, atol=1e-10)  # today's accuracy, the bar
    assert expected_max == pytest.approx(max_ref, abs=1e-10)


def test_student_t_arms_on_snapped_panels_match_adaptive_quadrature() -> None:
    rng = np.random.default_rng(7)
    df, loc, scale = rng.uniform(5, 500, 20), rng.normal(0, 0.5, 20), rng.uniform(0.1, 1.0, 20)
    marginals = _posterior.t_marginals(df, loc, scale)
    p, expected_max, p_error, _ = _posterior._fixed_rule(marginals)
    assert p_error < _posterior._TOLERANCE
    p_ref, max_ref = _posterior._adaptive(marginals)
    np.testing.assert_allclose(p, p_ref, rtol=0, atol=1e-10)
    assert expected_max == pytest.approx(max_ref, abs=1e-9 * scale.max())  # t tails beyond 1e-15


def test_a_thousand_arms_sum_to_one_and_agree_with_finer_panels() -> None:
    rng = np.random.default_rng(0)
    rate = rng.uniform(0.04, 0.06, 1000)
    marginals = _posterior.beta_marginals(1.0 + 1e3 * rate, 1.0 + 1e3 * (1.0 - rate))
    p = _posterior.prob_best(marginals)
    assert p.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(p, _posterior._fixed_rule(marginals, refine=1, moment=False)[0], rtol=0, atol=1e-12)


def test_dominated_arms_get_zero_and_do_not_change_the_rest() -> None:
    a, b = np.array([500.0, 520.0, 5.0]), np.array([500.0, 480.0, 995.0])
    with_far = _posterior.prob_best(_posterior.beta_marginals(a, b))
    without = _posterior.prob_best(_posterior.beta_marginals(a[:2], b[:2]))
    assert with_far[2] == 0.0  # its P(best) is below 1e-200
    np.testing.assert_allclose(with_far[:2], without, rtol=0, atol=1e-15)


def test_products_of_the_other_cdfs_handle_zeros() -> None:
    cdf = np.array([[0.5, 0.0, 0.0, 1.0], [0.25, 0.3, 0.0, 1.0], [1.0, 0.2, 0.5, 0.0]])
    expected = np.array([[np.prod(np.delete(cdf[:, k], i)) for k in range(4)] for i in range(3)])
    np.testing.assert_allclose(_posterior._others(cdf), expected, rtol=1e-15, atol=0)


@pytest.mark.parametrize("count", [1e6, 1e10, 1e15, 1e20, 1e50, 1e300])
def test_equal_arms_are_best_equally_often_at_any_count(count: float) -> None:
    marginals = _posterior.beta_marginals(np.full(3, count), np.full(3, count))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = _posterior.prob_best(marginals)
        loss = _posterior.expected_loss(marginals)
    np.testing.assert_allclose(p, 1.0 / 3.0, rtol=0, atol=1e-12)
    # E[max of 3 iid normals] = 3 / (2 sqrt(pi)) sd, sd = 1 / (2 sqrt(2 count + 1)): to 1/count
    sd = 0.5 / np.sqrt(2.0 * count + 1.0)
    tolerance = 1e-6 if count < 1e10 else 1e-9
    np.testing.assert_allclose(loss, 1.5 / np.sqrt(np.pi) * sd, rtol=tolerance)


def test_huge_arms_closer_than_a_float_spacing_of_their_means() -> None:
    # At 1e20 the means differ by 4e-17, below the float spacing of 0.5 (1.1e-16), and by 1e-6
    # posterior sd: only the double-double gap sees it. Normal to ~1e-10 (skewness 0 at a = b).
    a = np.array([1e20, 1e20 + 16384.0])
    b = np.array([1e20, 1e20])
    p = _posterior.prob_best(_posterior.beta_marginals(a, b))
    mean = a / (a + b)
    x = [Fraction(v) for v in (*a, *b)]
    gap = float(x[1] / (x[1] + x[3]) - x[0] / (x[0] + x[2]))  # exact
    sd = np.sqrt(a * b / ((a + b) ** 2 * (a + b + 1.0)))
    assert abs((mean[1] - mean[0]) - gap) > gap  # the rounded means get the gap wrong
    expected = stats.norm.cdf(gap / np.hypot(*sd))
    np.testing.assert_allclose(p, [1.0 - expected, expected], rtol=0, atol=1e-10)
    assert p[1] > 0.5


def test_edgeworth_meets_scipy_where_both_are_accurate() -> None:
    # Just above the switch, scipy's incomplete beta is still accurate to ~1e-12.
    for a, b in ((2e9, 3e10), (5e9, 5e9)):
        quantile, cdf, pdf, _ = _posterior._edgeworth(np.array([a]), np.array([b]), np.zeros(1))
        mean, sd = a / (a + b), np.sqrt(a * b / ((a + b) ** 2 * (a + b + 1.0)))
        y = np.linspace(-7.0, 7.0, 29) * sd
        np.testing.assert_allclose(cdf(y)[0], special.betainc(a, b, mean + y), rtol=0, atol=1e-11)
        assert quantile(np.array([0.5]))[0, 0] == pytest.approx(0.0, abs=1e-3 * sd)
        step = 1e-4 * sd  # the density is the CDF's derivative (central difference, error ~1e-8)
        np.testing.assert_allclose(pdf(y)[0], (cdf(y + step)[0] - cdf(y - step)[0]) / (2 * step),
                                   rtol=1e-5, atol=1e-9 / sd)


def test_posteriors_are_shift_invariant() -> None:
    # Dyadic locations are exact at 1e12 too, so the offset changes nothing in the input.
    df, loc, scale = np.array([50.0, 80.0, 20.0]), np.array([0.0, 0.25, -0.125]), np.array([0.5, 0.75, 0.25])
    plain = _posterior.t_marginals(df, loc, scale)
    for offset in (1e6, 2.0**40, -(2.0**40)):
        moved = _posterior.t_marginals(df, loc + offset, scale)
        np.testing.assert_allclose(_posterior.prob_best(moved), _posterior.prob_best(plain), rtol=0, atol=1e-13)
        np.testing.assert_allclose(_posterior.expected_loss(moved), _posterior.expected_loss(plain), rtol=0,
                                   atol=1e-13)


def test_gaussian_thompson_losses_are_shift_invariant() -> None:
    rewards = np.random.default_rng(1).integers(-512, 512, 400) / 256.0  # exact after any offset below 2**44
    arms = np.arange(400) % 2
    rewards[arms == 1] += 0.25
    losses = []
    for offset in (0.0, 2.0**20, 2.0**40):
        policy = ThompsonGaussian(2, rng=0)
        policy.update_batch(arms.tolist(), (rewards + offset).tolist())
        losses.append(policy.expected_loss())
    assert losses[0][1] > 0.0
    # The policy keeps each arm's running mean as a float: at 2**20 it is rounded to 1e-10, at
    # 2**40 to 1e-4 per update, and its Welford sums of squares inherit that (a few percent on a
    # posterior sd of 0.06). The quadrature adds nothing (see the Marginals test above).
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-6)
    np.testing.assert_allclose(losses[2], losses[0], rtol=5e-2)


@pytest.mark.parametrize("config", ["similar", "sizes", "leaders"])
def test_a_thousand_arms_match_the_exact_cdf_rule(config: str) -> None:
    # The fast path (CDFs of the higher order integrated from its densities, panel edges from a
    # normal fit) against the rule with every CDF and quantile exact on halved panels (the adaptive
    # rule is too slow at 1,000 arms; both meet 1e-10 against it at 30 arms, tests above).
    rng = np.random.default_rng(3)
    rate = rng.uniform(0.04, 0.06, 1000)
    sizes = {"similar": np.full(1000, 1e3), "sizes": 10 ** rng.uniform(1.5, 5, 1000),
             "leaders": np.where(np.arange(1000) < 5, 1e4, 1e3)}[config]
    if config == "leaders":
        rate[:5] = 0.07
    marginals = _posterior.beta_marginals(1.0 + sizes * rate, 1.0 + sizes * (1.0 - rate))
    p_exact, max_exact, _, _ = _posterior._fixed_rule(marginals, refine=1)
    np.testing.assert_allclose(_posterior.prob_best(marginals), p_exact, rtol=0, atol=1e-10)
    np.testing.assert_allclose(_posterior.expected_loss(marginals), np.maximum(max_exact - marginals.mean, 0.0),
                               rtol=0, atol=1e-10)
