"""Kayenta's classifier, scorer and score thresholds, and Argo's assessment, against the
published cases in abkit/tests/reference/canary.json (Kayenta's ClassifierSuite and ScorerSuite,
Argo Rollouts' analysis_test.go)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from abkit.rollout import argo_assess, kayenta_classify, kayenta_score, kayenta_score_classification
from abkit.rollout.kayenta import _shift_interval, _WilcoxonShift
from abkit.tests.conftest import reference_cases


def _classify(inputs: dict[str, Any]) -> Any:
    return kayenta_classify(
        inputs["control"], inputs["experiment"], direction=inputs["direction"],
        nan_strategy=inputs["nan_strategy"], critical=inputs["is_critical"],
        tolerance=inputs["tolerance"], confidence_level=inputs["conf_level"],
        effect_size_measure=inputs["effect_size_measure"],
        effect_size_thresholds=tuple(inputs["effect_size_thresholds"]),
        critical_thresholds=tuple(inputs["critical_thresholds"]),
    )


@pytest.mark.parametrize("case", reference_cases("canary", area="kayenta_mw_classifier"))
def test_classifier_matches_kayenta(case: dict[str, Any]) -> None:
    result = _classify(case["inputs"])
    expected = case["expected"]
    if expected["classification"] is not None:  # exact: a label
        assert result.classification == expected["classification"]
    if "critical" in expected:
        assert result.critical is expected["critical"]
    if expected.get("reason_non_empty"):
        assert result.reason
    if expected.get("deviation_is_nan"):
        assert math.isnan(result.deviation)
    if "deviation" in expected:
        assert result.deviation == expected["deviation"]


@pytest.mark.parametrize("case", reference_cases("canary", area="kayenta_weighted_sum_score"))
def test_scorer_matches_kayenta(case: dict[str, Any]) -> None:
    result = kayenta_score(case["inputs"]["metrics"], case["inputs"]["group_weights"])
    # The reference tolerance (0.005) is half the rounding step of Kayenta's two decimals.
    assert result.summary_score == pytest.approx(case["expected"]["summary_score"],
                                                 abs=case["tolerance"]["abs"])


@pytest.mark.parametrize("case", reference_cases("canary", area="kayenta_score_classification"))
def test_score_thresholds_match_kayenta(case: dict[str, Any]) -> None:
    inputs = case["inputs"]
    label = kayenta_score_classification(inputs["score"], pass_threshold=inputs["pass"],
                                         marginal_threshold=inputs["marginal"])
    assert label == case["expected"]["classification"]


@pytest.mark.parametrize("case", reference_cases("canary", area="argo_metric_assessment"))
def test_argo_assessment_matches_argo(case: dict[str, Any]) -> None:
    inputs = case["inputs"]
    phase = argo_assess(inputs["metric"], inputs["result_counters"], terminating=inputs["terminating"])
    assert phase == case["expected"]["phase"]


def _wilcoxon_diff_by_ranking(x: np.ndarray, y: np.ndarray, mu: float, quantile: float) -> float:
    """Kayenta's wilcoxonDiff written the direct way: rank the pooled sample every time."""
    m, n = x.size, y.size
    ranks = stats.rankdata(np.concatenate([x - mu, y]))
    dz = ranks[:m].sum() - m * (m + 1) / 2 - m * n / 2
    _, ties = np.unique(ranks, return_counts=True)
    sigma = math.sqrt(m * n / 12 * ((m + n + 1) - np.sum(ties**3 - ties) / ((m + n) * (m + n - 1))))
    return (dz - np.sign(dz) * 0.5) / sigma - quantile


@given(
    x=st.lists(st.integers(0, 6), min_size=2, max_size=25),
    y=st.lists(st.integers(0, 6), min_size=2, max_size=25),
    mu=st.sampled_from([-2.0, -0.5, 0.0, 0.25, 1.0, 3.0]),
    quantile=st.sampled_from([-2.05, 0.0, 2.05]),
)
def test_fast_wilcoxon_diff_equals_ranking(x: list[int], y: list[int], mu: float, quantile: float) -> None:
    xa, ya = np.asarray(x, float) / 2, np.asarray(y, float) / 2
    if np.unique(np.concatenate([xa - mu, ya])).size == 1:
        return
    fast = _WilcoxonShift(xa, ya)(mu, quantile)
    # Same arithmetic up to summation order of half-integers: 1e-12 absolute.
    assert fast == pytest.approx(_wilcoxon_diff_by_ranking(xa, ya, mu, quantile), abs=1e-12)


@given(seed=st.integers(0, 10_000), m=st.integers(3, 40), n=st.integers(3, 40))
def test_estimate_is_hodges_lehmann(seed: int, m: int, n: int) -> None:
    # The estimate is a root of the continuity-corrected statistic, i.e. a shift mu with
    # |#{x_i - y_j > mu} - mn/2| <= 1/2: the middle pairwise differences, which bracket the
    # Hodges-Lehmann median of all differences. Checked to the solver's tolerance 1e-4.
    rng = np.random.default_rng(seed)
    x, y = rng.normal(1.0, 1.0, m), rng.normal(0.0, 1.0, n)
    low, high, estimate = _shift_interval(x, y, 0.95)
    diffs = np.sort(np.subtract.outer(x, y).ravel())
    k = diffs.size
    lower = diffs[math.ceil(k / 2 - 0.5) - 1]
    upper = diffs[min(math.floor(k / 2 + 0.5), k - 1)]
    assert lower - 1e-4 <= estimate <= upper + 1e-4
    assert lower - 1e-4 <= float(np.median(diffs)) <= upper + 1e-4
    assert low <= estimate <= high


def test_swapping_arms_flips_the_classification() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(10, 1, 40), rng.normal(14, 1, 40)
    assert kayenta_classify(a, b).classification == "High"
    assert kayenta_classify(b, a).classification == "Low"


def test_nan_strategies() -> None:
    control = [1.0, 2.0, 3.0, 4.0, 5.0]
    # "remove" drops NaN: a canary with only NaN has no data.
    assert kayenta_classify(control, [np.nan, np.nan]).classification == "Nodata"
    # "replace" sets NaN to 0: the canary is then all zeros, far below the baseline.
    assert kayenta_classify(control, [np.nan] * 5, nan_strategy="replace").classification == "Low"
    with_nan = kayenta_classify(control, [1.0, np.nan, 3.0, 4.0, 5.0, 2.0])
    assert with_nan.classification == "Pass"


def test_bad_input_messages() -> None:
    with pytest.raises(ValueError, match="`direction` must be one of 'either', 'increase', 'decrease'"):
        kayenta_classify([1.0], [2.0], direction="up")
    with pytest.raises(ValueError, match="`nan_strategy` must be one of 'remove', 'replace'; got 'drop'"):
        kayenta_classify([1.0], [2.0], nan_strategy="drop")
    with pytest.raises(ValueError, match="`confidence_level` must be in"):
        kayenta_classify([1.0], [2.0], confidence_level=1.5)
    with pytest.raises(TypeError, match="`effect_size_thresholds` must be a pair"):
        kayenta_classify([1.0], [2.0], effect_size_thresholds=1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="`experiment` must not contain infinite values"):
        kayenta_classify([1.0], [np.inf])
    with pytest.raises(ValueError, match="must have the key 'groups'"):
        kayenta_score([{"name": "a", "classification": "Pass"}], {})
    with pytest.raises(ValueError, match=r"`metrics\[0\].classification` must be one of"):
        kayenta_score([{"name": "a", "classification": "Great", "groups": ["g"]}], {})
    with pytest.raises(ValueError, match="`marginal_threshold` must be at most `pass_threshold`"):
        kayenta_score_classification(50.0, pass_threshold=70.0, marginal_threshold=80.0)
    with pytest.raises(ValueError, match="`metric` has unknown keys"):
        argo_assess({"failurelimit": 1}, {})


def test_results_are_json_safe() -> None:
    result = kayenta_classify([1.0, 2.0, 3.0, 4.0], [10.0, 20.0, 30.0, 40.0])
    assert result.to_dict()["classification"] == "High"
    score = kayenta_score([{"name": "a", "classification": "Pass", "groups": ["g"], "critical": True}], {})
    assert score.to_dict() == {"summary_score": 100.0, "group_scores": {"g": 100.0}, "reason": None,
                               "n_metrics": 1}
