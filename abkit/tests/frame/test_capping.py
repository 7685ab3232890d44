"""Capped means: the threshold from the pooled quantile in the engine, values capped before aggregation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from abkit import Experiment, Mean, cuped_test, means_test
from abkit.tests.frame.test_experiment import engines, three_arm_data


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return three_arm_data(3000, seed=8)


@pytest.mark.parametrize("engine", ["pandas", "polars", "polars-lazy", "pyarrow", "duckdb"])
def test_percentile_cap_equals_the_test_on_capped_values(data: pd.DataFrame, engine: str) -> None:
    experiment = Experiment(revenue=Mean("revenue", cap=("percentile", 0.95)))
    result = experiment.analyze(engines(data)[engine], control="a")
    # Independent reference: numpy's type-7 quantile of all rows (every variant pooled), capped
    # arrays, and the primitive on them.
    threshold = float(np.quantile(data["revenue"], 0.95))
    capped = np.minimum(data["revenue"].to_numpy(), threshold)
    for row in result.rows:
        assert row.cap_threshold == pytest.approx(threshold, rel=1e-12)
        expected = means_test(capped[data["variant"] == "a"], capped[data["variant"] == row.treatment])
        # engines sum in different orders: 1e-9 relative
        assert row.effect == pytest.approx(expected.effect, rel=1e-9)
        assert row.ci.low == pytest.approx(expected.ci.low, rel=1e-9)
        assert row.pvalue == pytest.approx(expected.pvalue, rel=1e-9)


def test_absolute_cap_with_cuped_caps_only_the_metric(data: pd.DataFrame) -> None:
    result = Experiment(r=Mean("revenue", "revenue_pre", cap=("absolute", 40.0))).analyze(
        data[data["variant"] != "c"], control="a")
    row = result.rows[0]
    assert row.cap_threshold == 40.0
    two = data[data["variant"] != "c"]
    x = np.minimum(two["revenue"].to_numpy(), 40.0)
    pre = two["revenue_pre"].to_numpy()
    a, b = (two["variant"] == "a").to_numpy(), (two["variant"] == "b").to_numpy()
    expected = cuped_test((x[a], pre[a]), (x[b], pre[b]), method="welch")
    assert row.effect == pytest.approx(expected.effect, rel=1e-9)
    assert row.pvalue == pytest.approx(expected.pvalue, rel=1e-9)


def test_threshold_is_reported(data: pd.DataFrame) -> None:
    result = Experiment(plain=Mean("revenue"), capped=Mean("revenue", cap=("absolute", 40.0))
                        ).analyze(data, control="a")
    frame = result.to_frame()
    assert frame["cap_threshold"].isna().tolist() == [True, True, False, False]
    assert "Capped at: capped 40" in repr(result)
    assert math.isnan(result.row("plain", "b").cap_threshold)


def test_missing_values_name_the_source_column() -> None:
    table = pd.DataFrame({"variant": ["a"] * 3 + ["b"] * 3, "y": [1.0, 2.0, 3.0, 2.0, math.nan, 5.0]})
    with pytest.raises(ValueError, match=r"Column 'y' \(metric 'y'\) must not contain missing values"):
        Experiment(y=Mean("y", cap=("percentile", 0.9))).analyze(table)


@pytest.mark.parametrize("cap", [("percentile", 1.0), ("percentile", 0.0)])
def test_bad_percentile(cap: tuple[str, float]) -> None:
    with pytest.raises(ValueError, match=r"`cap` must be in \(0, 1\)"):
        Mean("y", cap=cap)


@pytest.mark.parametrize("cap", [("top", 0.9), 0.99, ("absolute",)])
def test_bad_cap_forms(cap: object) -> None:
    with pytest.raises(ValueError, match=r'`cap` must be \("percentile", p\) with p in \(0, 1\) or '
                                         r'\("absolute", x\) with x finite; got'):
        Mean("y", cap=cap)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="`cap` must be finite"):
        Mean("y", cap=("absolute", math.inf))
