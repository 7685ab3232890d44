"""Group-sequential designs: properties, unplanned looks, decisions, bad input, calibration."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from abkit.errors import ConvergenceError
from abkit.sequential import (
    GroupSequentialDesign,
    hsd_spending,
    obrien_fleming_spending,
    peeking_type1_error,
    pocock_spending,
    power_spending,
    spending_function,
    wang_tsiatis,
)

SEED = 20251126


def _z_paths(fractions: np.ndarray, reps: int, drift: float, rng: np.random.Generator) -> np.ndarray:
    """Z statistics at the looks of ``reps`` Brownian paths with drift ``drift`` at information 1."""
    increments = np.diff(np.concatenate(([0.0], fractions)))
    steps = rng.standard_normal((reps, fractions.size)) * np.sqrt(increments) + drift * increments
    return np.cumsum(steps, axis=1) / np.sqrt(fractions)


def _band(reps: int, p: float) -> tuple[float, float]:
    """99.9% binomial band for a Monte Carlo proportion."""
    return stats.binom.ppf(0.0005, reps, p) / reps, stats.binom.ppf(0.9995, reps, p) / reps


# -- spending functions -------------------------------------------------------------------------


@given(
    t=st.lists(st.floats(0.0, 1.0), min_size=2, max_size=8),
    alpha=st.floats(0.001, 0.3),
    kind=st.sampled_from(["obrien-fleming", "pocock", "hsd", "power"]),
)
def test_spending_is_monotone_from_zero_to_alpha(t: list[float], alpha: float, kind: str) -> None:
    f = spending_function(kind)
    values = f(np.sort(t), alpha)
    assert np.all(np.diff(values) >= -1e-15)
    assert np.all((values >= 0.0) & (values <= alpha * (1 + 1e-12)))
    assert float(f(1.0, alpha)) == pytest.approx(alpha, rel=1e-12)
    assert float(f(0.0, alpha)) == 0.0


def test_spending_closed_forms() -> None:
    # the defining formulas, evaluated independently with scipy
    t = np.array([0.25, 0.5, 0.9])
    np.testing.assert_allclose(
        obrien_fleming_spending(t, 0.025), 2 * stats.norm.sf(stats.norm.isf(0.0125) / np.sqrt(t)), rtol=1e-12
    )
    np.testing.assert_allclose(pocock_spending(t, 0.05), 0.05 * np.log(1 + (np.e - 1) * t), rtol=1e-12)
    np.testing.assert_allclose(
        hsd_spending(t, 0.05, gamma=-4.0), 0.05 * (1 - np.exp(4 * t)) / (1 - np.exp(4)), rtol=1e-12
    )
    np.testing.assert_allclose(hsd_spending(t, 0.05, gamma=0.0), 0.05 * t, rtol=1e-12)
    np.testing.assert_allclose(power_spending(t, 0.05, rho=2.0), 0.05 * t**2, rtol=1e-12)


def test_spending_bad_parameters() -> None:
    with pytest.raises(ValueError, match=r"`param` must be None for spending 'pocock'; got 1.0"):
        spending_function("pocock", 1.0)
    with pytest.raises(ValueError, match=r"`param` must be greater than 0; got -1.0"):
        spending_function("power", -1.0)
    with pytest.raises(ValueError, match=r"`kind` must be one of"):
        spending_function("haybittle")
    with pytest.raises(ValueError, match=r"`t` must be information fractions of at least 0"):
        pocock_spending([-0.1], 0.05)


# -- designs ------------------------------------------------------------------------------------


@pytest.mark.parametrize("spending, param", [("hsd", -4.0), ("hsd", 1.0), ("power", 3.0), ("power", 1.0)])
def test_spending_families_spend_exactly(spending: str, param: float) -> None:
    fractions = [0.2, 0.45, 0.7, 1.0]
    d = GroupSequentialDesign(fractions, alpha=0.05, spending=spending, spending_param=param)
    target = 2 * spending_function(spending, param)(np.array(fractions), 0.025)
    np.testing.assert_allclose(d.alpha_spent, target, atol=1e-9)  # integration error well below 1e-9


@given(
    gaps=st.lists(st.floats(0.05, 1.0), min_size=1, max_size=6),
    alpha=st.floats(0.005, 0.2),
    kind=st.sampled_from(["obrien-fleming", "pocock", "hsd", "power"]),
    alternative=st.sampled_from(["two-sided", "greater"]),
)
def test_any_information_spends_exactly(gaps: list[float], alpha: float, kind: str, alternative: str) -> None:
    fractions = np.cumsum(gaps) / np.sum(gaps)
    d = GroupSequentialDesign(fractions, alpha=alpha, spending=kind, alternative=alternative)
    sides = 2 if alternative == "two-sided" else 1
    target = sides * spending_function(kind)(fractions, alpha / sides)
    np.testing.assert_allclose(d.alpha_spent, target, atol=1e-8)  # integration error < 1e-8
    smaller = GroupSequentialDesign(fractions, alpha=alpha / 2, spending=kind, alternative=alternative)
    assert np.all(np.abs(smaller.bounds) > np.abs(d.bounds))


def test_two_sided_bounds_equal_one_sided_at_half_alpha() -> None:
    two = GroupSequentialDesign([0.3, 0.6, 1.0], alpha=0.05, spending="hsd", spending_param=-2.0)
    one = GroupSequentialDesign(
        [0.3, 0.6, 1.0], alpha=0.025, alternative="greater", spending="hsd", spending_param=-2.0
    )
    # the lower bound barely changes the upper crossing probabilities (OBF-like spending)
    np.testing.assert_allclose(two.bounds, one.bounds, atol=1e-6)
    less = GroupSequentialDesign(
        [0.3, 0.6, 1.0], alpha=0.025, alternative="less", spending="hsd", spending_param=-2.0
    )
    np.testing.assert_allclose(less.bounds, -np.asarray(one.bounds), rtol=1e-12)


def test_single_look_is_the_fixed_test() -> None:
    d = GroupSequentialDesign(1, alpha=0.05)
    assert d.bounds[0] == pytest.approx(stats.norm.isf(0.025), abs=1e-10)
    assert d.inflation_factor(0.8) == pytest.approx(1.0, abs=1e-8)


def test_wang_tsiatis_shapes() -> None:
    obf = wang_tsiatis(4, alpha=0.05, delta=0.0)
    np.testing.assert_allclose(
        np.asarray(obf.bounds) * np.sqrt([0.25, 0.5, 0.75, 1.0]), obf.constant, rtol=1e-12
    )
    pocock = wang_tsiatis(4, alpha=0.05, delta=0.5)
    assert np.ptp(pocock.bounds) == 0.0
    mid = wang_tsiatis(4, alpha=0.05, delta=0.25)
    assert obf.constant < mid.constant < pocock.constant


def test_more_looks_cost_more_information() -> None:
    factors = [GroupSequentialDesign(k, spending="pocock").inflation_factor(0.9) for k in (2, 4, 8)]
    assert factors[0] < factors[1] < factors[2]


def test_expected_information_is_below_maximum_under_h1() -> None:
    d = GroupSequentialDesign(5, alpha=0.025, alternative="greater")
    theta = d.drift(0.9)
    assert d.expected_information(theta) < d.expected_information(0.0) <= 1.0


def test_futility_design() -> None:
    d = GroupSequentialDesign(4, alpha=0.025, alternative="greater", futility="obrien-fleming", power=0.9)
    assert d.futility_bounds is not None and d.futility_theta is not None
    assert d.futility_bounds[-1] == d.bounds[-1]
    assert all(a < b for a, b in zip(d.futility_bounds[:-1], d.bounds[:-1], strict=True))
    # the power at the design drift is the target (futility stops counted against power)
    up, low = d.stopping_probabilities(d.futility_theta)
    assert sum(up) == pytest.approx(0.9, abs=1e-7)
    # beta is spent as the spending function says under the design drift
    beta = obrien_fleming_spending(np.array(d.information), 0.1)
    np.testing.assert_allclose(np.cumsum(low)[:-1], beta[:-1], atol=1e-8)
    # non-binding: efficacy bounds are those of the design without futility
    plain = GroupSequentialDesign(4, alpha=0.025, alternative="greater")
    assert d.bounds == plain.bounds
    up0, _ = d.stopping_probabilities(0.0)
    assert sum(up0) < 0.025


def test_futility_needs_one_sided() -> None:
    with pytest.raises(ValueError, match=r"`futility` needs a one-sided `alternative`"):
        GroupSequentialDesign(3, futility="pocock")


@pytest.mark.parametrize(
    "information, message",
    [
        ([0.5, 0.4, 1.0], r"`information` must be strictly increasing; got"),
        ([0.5, 0.5, 1.0], r"`information` must be strictly increasing; got"),
        ([0.0, 0.5, 1.0], r"`information` must be greater than 0; got"),
        ([0.5, 1.2], r"`information` must not go past the maximum information \(fraction 1\); got 1.2"),
        ([0.3, 0.8], r"`information` must end at 1 \(the maximum\); got 0.8"),
        (0, r"`information` must be at least 1; got 0"),
    ],
)
def test_bad_information(information: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        GroupSequentialDesign(information)


def test_bad_alpha_and_options() -> None:
    with pytest.raises(ValueError, match=r"`alpha` must be in \(0, 1\); got 1.5"):
        GroupSequentialDesign(3, alpha=1.5)
    with pytest.raises(ValueError, match=r"`alpha` must be in \(0, 1\); got 0.0"):
        wang_tsiatis(3, alpha=0.0)
    with pytest.raises(ValueError, match=r"`alternative` must be one of"):
        GroupSequentialDesign(3, alternative="bigger")
    with pytest.raises(TypeError, match=r"`information` must be a 1-D array of numbers"):
        GroupSequentialDesign("three")
    with pytest.raises(ValueError, match=r"`power` must exceed the one-sided alpha 0.025; got 0.02"):
        GroupSequentialDesign(3).inflation_factor(0.02)


def test_spending_beyond_reach_raises_convergence_error() -> None:
    with pytest.raises(ConvergenceError, match=r"No boundary spends"):
        from abkit.sequential import _integration as integ

        integ.efficacy_bounds(np.array([0.5, 1.0]), np.array([0.6, 0.6]), two_sided=False)


# -- analysis and unplanned information ----------------------------------------------------------


def test_analyze_planned_looks() -> None:
    d = GroupSequentialDesign(3, alpha=0.05)
    r = d.analyze([0.1, 0.3], [0.2, 0.14])
    assert r.decision == "continue" and r.stopped_at is None and r.look == 2
    assert r.bounds == pytest.approx(d.bounds[:2], abs=1e-12)
    assert r.z == pytest.approx((0.5, 0.3 / 0.14))
    # repeated CIs: estimate +/- bound * se
    assert r.ci.low == pytest.approx(0.3 - d.bounds[1] * 0.14, rel=1e-12)
    assert r.repeated_cis[0].high == pytest.approx(0.1 + d.bounds[0] * 0.2, rel=1e-12)
    final = d.analyze([0.1, 0.3, 0.2], [0.2, 0.14, 0.11])
    assert final.decision == "futility" and final.stopped_at == 3
    assert d.analyze([0.1, -0.4], [0.2, 0.14]).decision == "efficacy"  # two-sided: either direction


def test_analyze_one_sided_and_futility() -> None:
    d = GroupSequentialDesign(3, alpha=0.025, alternative="greater", futility="pocock")
    r = d.analyze([-0.5], [0.3])
    assert r.decision == "futility" and r.stopped_at == 1
    assert math.isinf(r.ci.high)
    less = GroupSequentialDesign(3, alpha=0.025, alternative="less")
    assert less.analyze([-1.2], [0.2]).decision == "efficacy"
    assert less.analyze([1.2], [0.2]).decision == "continue"
    assert math.isinf(less.analyze([1.2], [0.2]).ci.low)
    less_futility = GroupSequentialDesign(3, alpha=0.025, alternative="less", futility="pocock")
    assert less_futility.futility_bounds == pytest.approx([-a for a in d.futility_bounds], rel=1e-12)
    assert less_futility.analyze([0.3], [0.2]).decision == "futility"
    assert less_futility.analyze([-0.5], [0.2]).decision == "continue"


def test_unplanned_information_recomputes_bounds() -> None:
    d = GroupSequentialDesign(4, alpha=0.05)
    actual = [0.31, 0.55]
    r = d.analyze([0.2, 0.25], [0.15, 0.11], information=actual)
    fresh = GroupSequentialDesign([*actual, 1.0], alpha=0.05)
    np.testing.assert_allclose(r.bounds, fresh.bounds[:2], atol=1e-12)
    assert r.information == tuple(actual)
    # an extra, unplanned look is handled, not refused
    extra = d.analyze([0.1] * 6, [0.2] * 6, information=[0.1, 0.25, 0.4, 0.6, 0.8, 1.0])
    assert extra.look == 6 and extra.decision == "futility"


def test_analyze_bad_input() -> None:
    d = GroupSequentialDesign(2)
    with pytest.raises(ValueError, match=r"`estimates` must have at most 2 looks \(the design's\); got 3"):
        d.analyze([0.1, 0.2, 0.3], [1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match=r"`information` must not go past the maximum information"):
        d.analyze([0.1, 0.2], [1.0, 1.0], information=[0.5, 1.3])
    with pytest.raises(ValueError, match=r"`standard_errors` must be greater than 0"):
        d.analyze([0.1], [0.0])
    with pytest.raises(
        ValueError, match=r"`information` and `estimates` must have the same length; got 1 and 2"
    ):
        d.analyze([0.1, 0.2], [1.0, 1.0], information=[0.5])


def test_design_repr_and_dict() -> None:
    d = GroupSequentialDesign(3)
    assert "alpha_spent" in repr(d)
    state = d.to_dict()
    assert state["bounds"] == list(d.bounds) and state["futility_bounds"] is None


# -- Monte Carlo calibration ---------------------------------------------------------------------


def test_null_simulation_naive_inflated_designs_hold_alpha() -> None:
    """Under H0 with a look after each of 5 batches: naive z > alpha, every design <= alpha."""
    rng = np.random.default_rng(SEED)
    reps = 40_000
    fractions = np.linspace(0.2, 1.0, 5)
    z = _z_paths(fractions, reps, 0.0, rng)
    low, high = _band(reps, 0.05)
    naive = np.mean(np.any(np.abs(z) > stats.norm.isf(0.025), axis=1))
    assert naive > high
    assert naive == pytest.approx(peeking_type1_error(5), abs=0.006)  # MC se ~ 0.0017
    designs = [
        GroupSequentialDesign(5, alpha=0.05),
        GroupSequentialDesign(5, alpha=0.05, spending="pocock"),
        GroupSequentialDesign(5, alpha=0.05, spending="hsd", spending_param=-4.0),
        GroupSequentialDesign(5, alpha=0.05, spending="power", spending_param=2.0),
        wang_tsiatis(5, alpha=0.05, delta=0.0),
        wang_tsiatis(5, alpha=0.05, delta=0.5),
    ]
    for d in designs:
        rate = np.mean(np.any(np.abs(z) >= np.asarray(d.bounds), axis=1))
        assert low <= rate <= high, (d, rate)


def test_one_sided_futility_design_error_and_power() -> None:
    rng = np.random.default_rng(SEED + 1)
    reps = 40_000
    d = GroupSequentialDesign(
        4, alpha=0.025, alternative="greater", futility="hsd", futility_param=-2.0, power=0.8
    )
    fractions = np.asarray(d.information)
    upper, lower = np.asarray(d.bounds), np.asarray(d.futility_bounds)

    def first_exit(z: np.ndarray) -> np.ndarray:
        stop = (z >= upper) | (z <= lower)
        first = np.argmax(stop, axis=1)
        return z[np.arange(z.shape[0]), first] >= upper[first]

    null = _z_paths(fractions, reps, 0.0, rng)
    # binding use of the futility bound: at most alpha
    assert np.mean(first_exit(null)) <= _band(reps, 0.025)[1]
    alt = _z_paths(fractions, reps, d.futility_theta, rng)
    low, high = _band(reps, 0.8)
    assert low <= np.mean(first_exit(alt)) <= high


def test_power_under_alternative_matches_design() -> None:
    rng = np.random.default_rng(SEED + 2)
    reps = 20_000
    d = GroupSequentialDesign([0.25, 0.6, 1.0], alpha=0.05, spending="pocock")
    theta = d.drift(0.85)
    z = _z_paths(np.asarray(d.information), reps, theta, rng)
    upper = np.asarray(d.bounds)
    # first exit above the upper bound
    stop = np.abs(z) >= upper
    first = np.argmax(stop, axis=1)
    any_stop = stop.any(axis=1)
    up = any_stop & (z[np.arange(reps), first] >= upper[first])
    low, high = _band(reps, 0.85)
    assert low <= up.mean() <= high


def test_repeated_cis_cover_simultaneously() -> None:
    rng = np.random.default_rng(SEED + 3)
    reps = 20_000
    d = GroupSequentialDesign(5, alpha=0.1, spending="pocock")
    fractions = np.asarray(d.information)
    # effect 0.3 with se_k = 1 / sqrt(100 t_k): z_k = estimate_k / se_k
    se = 1.0 / np.sqrt(100 * fractions)
    z = _z_paths(fractions, reps, 0.3 / se[-1], rng)
    estimates = z * se
    covered = np.all(np.abs(estimates - 0.3) <= np.asarray(d.bounds) * se, axis=1)
    low, _ = _band(reps, 0.9)
    assert covered.mean() >= low
    # the vectorised check is the analysis' own rule
    r = d.analyze(estimates[0], se)
    assert all(
        ci.contains(0.3) == bool(abs(e - 0.3) <= b * s)
        for ci, e, b, s in zip(r.repeated_cis, estimates[0], d.bounds, se, strict=True)
    )
