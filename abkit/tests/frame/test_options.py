"""Several treatments against a chosen control, per-metric alternative and margin, arm labels."""

from __future__ import annotations

import pandas as pd
import pytest

import abkit
from abkit import Experiment, Mean, Proportion, Quantile, RatioOfMeans
from abkit.tests.frame.test_experiment import three_arm_data


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return three_arm_data(3000, seed=21)


def arm(data: pd.DataFrame, name: str, column: str) -> pd.Series:
    return data.loc[data["variant"] == name, column]


@pytest.mark.parametrize("adjust", ["holm", "bh"])
def test_family_is_every_metric_and_treatment_against_the_chosen_control(
        data: pd.DataFrame, adjust: str) -> None:
    experiment = Experiment(conversion=Proportion("converted"), revenue=Mean("revenue"))
    result = experiment.analyze(data, control="b", adjust=adjust)
    assert result.control == "b" and result.treatments == ("a", "c")
    assert [(r.metric, r.treatment, r.control) for r in result.rows] == [
        ("conversion", "a", "b"), ("conversion", "c", "b"), ("revenue", "a", "b"), ("revenue", "c", "b")]
    expected = abkit.adjust_pvalues([r.pvalue for r in result.rows], method=adjust)
    assert [r.pvalue_adjusted for r in result.rows] == pytest.approx(list(expected), rel=1e-12)


def test_per_metric_alternative_and_margin_reach_the_primitives(data: pd.DataFrame) -> None:
    experiment = Experiment(
        conversion=Proportion("converted", alternative="greater", margin=-0.01),
        revenue=Mean("revenue", alternative="less", margin=2.0),
        ctr=RatioOfMeans("clicks", "sessions", margin=0.05),
        p50=Quantile("revenue", 0.5, alternative="greater", margin=-1.0),
    )
    result = experiment.analyze(data[data["variant"] != "c"], control="a", alternative="two-sided")
    two = data[data["variant"] != "c"]
    conv = abkit.proportions_test(arm(two, "a", "converted"), arm(two, "b", "converted"),
                                  alternative="greater", margin=-0.01)
    rev = abkit.means_test(arm(two, "a", "revenue"), arm(two, "b", "revenue"), method="welch",
                           alternative="less", margin=2.0)
    ctr = abkit.ratio_test((arm(two, "a", "clicks"), arm(two, "a", "sessions")),
                           (arm(two, "b", "clicks"), arm(two, "b", "sessions")), method="welch",
                           margin=0.05)
    for row, ref in zip(result.rows[:3], (conv, rev, ctr), strict=True):
        assert (row.alternative, row.margin) == (ref.alternative, ref.margin)
        # engine aggregates vs numpy: 1e-9 relative
        assert row.pvalue == pytest.approx(ref.pvalue, rel=1e-9)
    p50 = result.row("p50")
    assert (p50.alternative, p50.margin) == ("greater", -1.0)
    assert p50.statistic == pytest.approx((p50.effect + 1.0) / p50.details.se, rel=1e-12)  # type: ignore[attr-defined]


def test_labels_are_carried_to_rows_and_print(data: pd.DataFrame) -> None:
    result = Experiment(revenue=Mean("revenue")).analyze(
        data, control="a", labels={"a": "Control", "b": "New ranker"})
    assert result.labels == ("Control", "New ranker", "c")
    assert [(r.control_label, r.treatment_label) for r in result.rows] == [
        ("Control", "New ranker"), ("Control", "c")]
    assert "'b' New ranker (n = " in repr(result)
    assert list(result.to_frame()["treatment_label"]) == ["New ranker", "c"]


def test_bad_options(data: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="`alternative` must be one of"):
        Mean("y", alternative="bigger")
    with pytest.raises(TypeError, match="`margin` must be a real number; got 'x'"):
        Proportion("y", margin="x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"Variant 'z' in `labels` has no rows in column 'variant'"):
        Experiment(r=Mean("revenue")).analyze(data, labels={"z": "Zed"})
    with pytest.raises(TypeError, match=r"`labels\['a'\]` must be a non-empty string; got 3"):
        Experiment(r=Mean("revenue")).analyze(data, labels={"a": 3})
