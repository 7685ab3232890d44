"""Group-sequential sample sizes: rpact and Jennison-Turnbull references and a seeded simulation."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy import stats

import abkit
from abkit.sequential import GroupSequentialDesign, wang_tsiatis
from abkit.tests.conftest import reference_cases


def _design(inputs: dict[str, Any]) -> Any:
    alternative = "two-sided" if inputs["sided"] == 2 else "greater"
    if inputs["design"] in ("OF", "P"):
        delta = 0.0 if inputs["design"] == "OF" else 0.5
        return wang_tsiatis(inputs["K"], alpha=inputs["alpha"], delta=delta, alternative=alternative)
    spending = {"asOF": "obrien-fleming", "asP": "pocock"}[inputs["design"]]
    return GroupSequentialDesign(inputs["information_fractions"], alpha=inputs["alpha"],
                                 alternative=alternative, spending=spending)


@pytest.mark.parametrize("case", reference_cases("sequential", function_kind="gsd_sample_size_means"))
def test_rpact_sample_size_means(case: dict[str, Any]) -> None:
    inputs, expected = case["inputs"], case["expected"]
    design = GroupSequentialDesign(inputs["information_fractions"], alpha=inputs["alpha_one_sided"],
                                   alternative="greater", spending="obrien-fleming")
    fixed = abkit.power_means(sd=inputs["sd"], mde=inputs["delta"], power=inputs["power"],
                              alpha=inputs["alpha_one_sided"], alternative="greater", method="z")
    s = abkit.sequential_sample_size(fixed, design)
    rel = case["tolerance"]["rel"]  # rpact's values to 1e-5 as the case states
    assert 2 * s.n_fixed_control == pytest.approx(expected["fixed_n_total"], rel=rel)
    assert s.inflation_factor == pytest.approx(expected["inflation_factor"], rel=rel)
    assert s.n_total_max == pytest.approx(expected["max_n_total"], rel=rel)
    assert s.expected_n_h0 == pytest.approx(expected["expected_n_H0"], rel=rel)
    assert s.expected_n_h1 == pytest.approx(expected["expected_n_H1"], rel=rel)
    assert s.n_total == 2 * int(np.ceil(expected["max_n_total"] / 2))


GSD_CASES = [
    case for case in reference_cases("sequential", area="group_sequential")
    if "inflation_factor_power80" in case.values[0]["expected"]
]


@pytest.mark.parametrize("case", GSD_CASES)
def test_inflation_factor_against_rpact(case: dict[str, Any]) -> None:
    inputs, expected = case["inputs"], case["expected"]
    design = _design(inputs)
    alternative = design.alternative
    for power, key in [(0.8, "inflation_factor_power80"), (0.9, "inflation_factor_power90")]:
        fixed = abkit.power_means(sd=1.0, mde=0.3, power=power, alpha=inputs["alpha"],
                                  alternative=alternative, method="z", two_sided_power="near")
        s = abkit.sequential_sample_size(fixed, design)
        # rpact to 1e-6 relative (its printed digits); the case allows 2e-4 (J&T's 3 dp tables).
        assert s.inflation_factor == pytest.approx(expected[key], rel=1e-6)
        assert s.n_control == pytest.approx(fixed.n_control * expected[key], rel=1e-6)
        assert s.n_total >= fixed.n_total


def test_matches_the_design_sample_size_and_inflation_option() -> None:
    design = GroupSequentialDesign(4, alpha=0.05, spending="pocock")
    fixed = abkit.power_proportions(control_rate=0.2, mde=0.02, power=0.85)
    s = abkit.sequential_sample_size(fixed, design)
    direct = design.sample_size(fixed.n_control, power=0.85)
    assert s.n_control == pytest.approx(direct.n_max, rel=1e-12)
    assert s.expected_n_h1 == pytest.approx(direct.expected_n_h1 * (1 + fixed.ratio), rel=1e-12)
    # The number option gives the same maximum size.
    option = abkit.power_proportions(control_rate=0.2, mde=0.02, power=0.85, inflation_factor=s.inflation_factor)
    assert option.n_control == pytest.approx(s.n_control, rel=1e-12)


def test_arrays_of_designs() -> None:
    design = GroupSequentialDesign(3, alpha=0.05)
    fixed = abkit.power_means(sd=1.0, mde=[0.1, 0.2, 0.2], power=[0.8, 0.8, 0.9], method="z")
    s = abkit.sequential_sample_size(fixed, design)
    assert s.n_control.shape == (3,)
    assert s.inflation_factor[0] == s.inflation_factor[1] != s.inflation_factor[2]
    assert s.n_control[0] == pytest.approx(4 * s.n_control[1], rel=1e-9)
    assert np.all(s.expected_n_h1 < s.expected_n_h0) and np.all(s.expected_n_h0 < s.n_total_max)
    assert s.to_dict()["n_total"] == s.n_total.tolist()


def test_simulated_group_sequential_test_at_the_computed_size() -> None:
    # The O'Brien-Fleming test with 3 equal looks run on normal data (known sd, z statistics)
    # at the computed maximum size: rejection rate within a 99.9% binomial band of the target
    # power, and the mean total size at stopping within 4 standard errors of expected_n_h1.
    design = GroupSequentialDesign(3, alpha=0.05)
    fixed = abkit.power_means(sd=2.0, mde=0.5, power=0.8, method="z")
    s = abkit.sequential_sample_size(fixed, design)
    n_per_arm = s.n_control_rounded
    looks = np.round(np.array(design.information) * n_per_arm).astype(int)
    sizes = np.diff(np.concatenate(([0], looks)))
    rng = np.random.default_rng(20261126)
    trials = 4000
    # Sums of each arm's new observations at each look (sufficient statistics of normal data).
    sums_c = rng.normal(0.0, 2.0 * np.sqrt(sizes), (trials, sizes.size))
    sums_t = rng.normal(0.5 * sizes, 2.0 * np.sqrt(sizes), (trials, sizes.size))
    diff = (np.cumsum(sums_t, axis=1) - np.cumsum(sums_c, axis=1)) / looks
    z = diff / (2.0 * np.sqrt(2.0 / looks))
    crossed = np.abs(z) >= np.asarray(design.bounds)
    rejected = crossed.any(axis=1)
    stop = np.where(rejected, crossed.argmax(axis=1), sizes.size - 1)
    low, high = stats.binom.ppf([0.0005, 0.9995], trials, 0.8)
    assert low <= rejected.sum() <= high
    totals = 2 * looks[stop]
    assert abs(totals.mean() - s.expected_n_h1) <= 4 * totals.std() / np.sqrt(trials)


@pytest.mark.parametrize(
    ("fixed_kwargs", "design", "match"),
    [
        (dict(alpha=0.01), GroupSequentialDesign(2, alpha=0.05),
         r"`fixed` must have the design's alpha 0.05; got \[0.01\]."),
        (dict(alternative="greater"), GroupSequentialDesign(2, alpha=0.05),
         "`fixed` must have the design's alternative 'two-sided'; got 'greater'."),
        (dict(inflation_factor=1.1), GroupSequentialDesign(2, alpha=0.05),
         r"`fixed` must be a fixed-horizon design \(inflation_factor=1\); got inflation_factor=1.1."),
    ],
)
def test_incompatible_designs_are_refused(fixed_kwargs: dict[str, Any], design: Any, match: str) -> None:
    fixed = abkit.power_means(**{"sd": 1.0, "mde": 0.2, "power": 0.8, **fixed_kwargs})
    with pytest.raises(ValueError, match=match):
        abkit.sequential_sample_size(fixed, design)


def test_fixed_must_be_a_power_result() -> None:
    with pytest.raises(TypeError, match=r"`fixed` must be a result of abkit\.power_\*; got dict\."):
        abkit.sequential_sample_size({"n_control": 100}, GroupSequentialDesign(2))  # type: ignore[arg-type]
