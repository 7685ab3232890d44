"""Hypothesis properties of the power solvers: round trips, monotonicity, rounding, symmetry."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import abkit

alternatives = st.sampled_from(["two-sided", "greater", "less"])
conventions = st.sampled_from(["both", "near"])
alphas = st.floats(0.01, 0.2)
powers = st.floats(0.5, 0.95)
ratios = st.floats(0.25, 4.0)


@st.composite
def proportion_designs(draw: Any) -> dict[str, Any]:
    baseline = draw(st.floats(0.02, 0.9))
    alternative = draw(alternatives)
    room = (1.0 - baseline) if alternative != "less" else baseline
    size = draw(st.floats(0.05, 0.6)) * room
    return dict(
        control_rate=baseline,
        mde=-size if alternative == "less" else size,
        alpha=draw(alphas),
        ratio=draw(ratios),
        alternative=alternative,
        two_sided_power=draw(conventions),
        method=draw(st.sampled_from(["pooled", "unpooled", "arcsine"])),
        rho=draw(st.floats(0.0, 0.7)),
        n_treatments=draw(st.integers(1, 3)),
        adjustment=draw(st.sampled_from(["bonferroni", "dunnett"])),
        inflation_factor=draw(st.floats(1.0, 1.3)),
    )


@st.composite
def mean_designs(draw: Any) -> dict[str, Any]:
    alternative = draw(alternatives)
    sd = draw(st.floats(0.5, 5.0))
    size = draw(st.floats(0.05, 0.8)) * sd  # designs needing under 3 units have no t test
    return dict(
        sd=sd,
        mde=-size if alternative == "less" else size,
        alpha=draw(alphas),
        ratio=draw(ratios),
        alternative=alternative,
        two_sided_power=draw(conventions),
        method=draw(st.sampled_from(["t", "z"])),
        margin=draw(st.floats(-0.3, 0.0)) * (-1 if alternative == "less" else 1),
        n_treatments=draw(st.integers(1, 3)),
        adjustment=draw(st.sampled_from(["bonferroni", "dunnett"])),
    )


designs = st.one_of(
    proportion_designs().map(lambda d: (abkit.power_proportions, d)),
    mean_designs().map(lambda d: (abkit.power_means, d)),
)


@given(designs, powers)
def test_round_trip(solver_and_design: tuple[Any, dict[str, Any]], power: float) -> None:
    solve, design = solver_and_design
    solved = solve(power=power, **design)
    mde = design.pop("mde")
    back = solve(n_control=solved.n_control, mde=mde, **design)
    assert back.power == pytest.approx(power, abs=1e-9)
    again = solve(n_control=solved.n_control, power=power, **design)
    assert again.mde == pytest.approx(mde, rel=1e-7)
    rounded = solve(n_control=solved.n_control_rounded, mde=mde, **design)
    assert rounded.power >= power - 1e-12


@given(mean_designs())
def test_means_power_monotone_in_n_and_effect(design: dict[str, Any]) -> None:
    n = np.geomspace(5, 5000, 40)
    along_n = abkit.power_means(n_control=n, **design).power
    assert np.all(np.diff(along_n) >= -1e-12)
    mde = design.pop("mde")
    effects = np.linspace(0.0, 1.0, 30) * mde + design["margin"]
    along_effect = abkit.power_means(n_control=200, mde=effects, **design).power
    assert np.all(np.diff(along_effect) >= -1e-12)


@given(proportion_designs())
def test_proportions_power_monotone_in_n_and_effect(design: dict[str, Any]) -> None:
    n = np.geomspace(10, 1e6, 40)
    along_n = abkit.power_proportions(n_control=n, **design).power
    assert np.all(np.diff(along_n) >= -1e-12)
    mde = design.pop("mde")
    along_effect = abkit.power_proportions(n_control=500, mde=np.linspace(0.0, 1.0, 30) * mde,
                                           **design).power
    # The pooled test with unequal arms is biased: its power dips just below alpha for tiny
    # effects. Above power 1/2 (where the solvers work) it rises with the effect.
    assert np.all(np.diff(along_effect)[along_effect[:-1] >= 0.5] >= -1e-12)


@given(st.floats(0.02, 0.9), st.floats(0.01, 0.08), ratios, st.sampled_from(["pooled", "unpooled"]))
def test_swapping_success_and_failure_mirrors_the_design(
    baseline: float, lift: float, ratio: float, method: str
) -> None:
    # Counting failures instead of successes flips the effect's sign and the alternative.
    up = abkit.power_proportions(control_rate=baseline, mde=lift * (1 - baseline), power=0.8, ratio=ratio,
                                 alternative="greater", method=method)
    down = abkit.power_proportions(control_rate=1 - baseline, mde=-lift * (1 - baseline), power=0.8,
                                   ratio=ratio, alternative="less", method=method)
    assert down.n_control == pytest.approx(up.n_control, rel=1e-10)


@given(mean_designs(), st.lists(st.floats(0.5, 0.95), min_size=2, max_size=5))
def test_vectorised_equals_elementwise(design: dict[str, Any], targets: list[float]) -> None:
    together = abkit.power_means(power=targets, **design).n_control
    alone = [abkit.power_means(power=p, **design).n_control for p in targets]
    assert together.tolist() == pytest.approx(alone, rel=1e-9)
