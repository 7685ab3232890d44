"""Segments (``analyze(..., by=...)``): one query, each block equal to analysing the filtered table."""

from __future__ import annotations

import math
from typing import Any

import duckdb
import narwhals as nw
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from abkit import DegenerateDataWarning, Experiment, Mean, Proportion, Quantile, RatioOfMeans
from abkit.datasets import make_experiment
from abkit.multiple import adjust_pvalues
from abkit.srm import srm_test

METRICS = {
    "conversion": Proportion("converted"),
    "revenue": Mean("revenue", cap=("absolute", 150.0)),
    "revenue_cuped": Mean("revenue", covariate="revenue_pre"),
    "ctr": RatioOfMeans("clicks", "sessions"),
    "revenue_p90": Quantile("revenue", 0.9),
}
FIELDS = ["control_value", "treatment_value", "effect", "relative_effect", "statistic", "pvalue",
          "pvalue_adjusted"]


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    table = make_experiment(6000, rng=21)
    rng = np.random.default_rng(22)
    treated = table["variant"].to_numpy() == "treatment"
    table["variant"] = np.where(treated, np.where(rng.random(len(table)) < 0.5, "b", "c"), "a")
    return table


def engines(frame: pd.DataFrame) -> dict[str, Any]:
    arrow = pa.Table.from_pandas(frame, preserve_index=False)
    return {"pandas": frame, "polars": pl.from_pandas(frame), "duckdb": duckdb.from_arrow(arrow)}


def assert_rows_equal(actual: Any, expected: Any, rel: float) -> None:
    assert (actual.metric, actual.treatment, actual.n_control, actual.n_treatment) == (
        expected.metric, expected.treatment, expected.n_control, expected.n_treatment)
    for field in FIELDS:
        np.testing.assert_allclose(getattr(actual, field), getattr(expected, field), rtol=rel,
                                   err_msg=f"{actual.metric} {field}")
    np.testing.assert_allclose([actual.ci.low, actual.ci.high], [expected.ci.low, expected.ci.high],
                               rtol=rel)


@pytest.mark.parametrize("engine", ["pandas", "polars", "duckdb"])
def test_each_segment_equals_the_filtered_table(data: pd.DataFrame, engine: str) -> None:
    table = engines(data)[engine]
    experiment = Experiment(**METRICS)
    result = experiment.analyze(table, control="a", by=["country", "platform"])
    assert result.by == ("country", "platform") and result.family == "segment"
    whole = experiment.analyze(table, control="a")
    # The overall block merges the segments' statistics (Chan's formulas): equal to the
    # ungrouped query up to rounding in the last digits (1e-12 relative on every field).
    for row in whole.rows:
        assert_rows_equal(result.row(row.metric, row.treatment), row, rel=1e-12)
    segments = sorted({(c, p) for c, p in zip(data["country"], data["platform"], strict=True)})
    assert [s.segment for s in result.segments] == segments
    for country, platform in segments:
        part = data[(data["country"] == country) & (data["platform"] == platform)]
        alone = experiment.analyze(engines(part)[engine], control="a")
        for row in alone.rows:
            # Each segment's statistics come from the same group-by as the filtered table's:
            # equal to rounding (the engine's aggregates of the same rows; quantiles are order
            # statistics, exact), 1e-12 relative on every field.
            assert_rows_equal(result.row(row.metric, row.treatment, (country, platform)), row,
                              rel=1e-12)
        segment = next(s for s in result.segments if s.segment == (country, platform))
        assert segment.n == alone.n and segment.analyzed
        assert segment.srm is not None and segment.srm.pvalue == pytest.approx(alone.srm.pvalue,
                                                                               rel=1e-12)


def test_family_all_adjusts_every_row_together(data: pd.DataFrame) -> None:
    experiment = Experiment(conversion=Proportion("converted"), revenue=Mean("revenue"))
    for adjust in ("holm", "bh"):
        result = experiment.analyze(data, control="a", by="country", family="all", adjust=adjust)
        raw = [r.pvalue for r in result.rows]
        assert len(raw) == 2 * 2 * 4  # metrics x treatments x (overall + 3 countries)
        np.testing.assert_allclose([r.pvalue_adjusted for r in result.rows],
                                   adjust_pvalues(raw, method=adjust), rtol=1e-12)
        per_segment = experiment.analyze(data, control="a", by="country", adjust=adjust)
        us = [r.pvalue for r in per_segment.rows if r.segment == ("US",)]
        np.testing.assert_allclose([r.pvalue_adjusted for r in per_segment.rows if r.segment == ("US",)],
                                   adjust_pvalues(us, method=adjust), rtol=1e-12)


def test_one_group_by_for_every_segment(data: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, ...]] = []
    original = nw.LazyFrame.group_by

    def spy(self: Any, *keys: Any, **options: Any) -> Any:
        calls.append(keys)
        return original(self, *keys, **options)

    monkeypatch.setattr(nw.LazyFrame, "group_by", spy)
    experiment = Experiment(conversion=Proportion("converted"), ctr=RatioOfMeans("clicks", "sessions"))
    result = experiment.analyze(duckdb.from_df(data), control="a", by=["country", "platform"])
    assert calls == [("variant", "country", "platform")]
    assert len(result.rows) == 2 * 2 * (1 + 9)


def test_percentile_cap_keeps_the_whole_table_threshold(data: pd.DataFrame) -> None:
    experiment = Experiment(revenue=Mean("revenue", cap=("percentile", 0.95)))
    result = experiment.analyze(data, control="a", by="platform")
    threshold = float(np.quantile(data["revenue"], 0.95))
    assert len(result.rows) == 2 * 4
    for row in result.rows:
        assert row.cap_threshold == pytest.approx(threshold, rel=1e-12)
    web = data[data["platform"] == "web"]
    absolute = Experiment(revenue=Mean("revenue", cap=("absolute", result.rows[0].cap_threshold)))
    expected = absolute.analyze(web, control="a")
    for row in expected.rows:
        assert_rows_equal(result.row("revenue", row.treatment, "web"), row, rel=1e-9)


def test_sparse_segment_is_reported_not_analysed() -> None:
    table = pd.DataFrame({"variant": ["a", "b"] * 6 + ["a", "b", "a"],
                          "country": ["US"] * 12 + ["FR"] * 3,
                          "y": np.arange(15.0) % 4})
    with pytest.warns(DegenerateDataWarning, match=r"1 segment\(s\) have an arm with fewer than 2 "
                                                   r"units and are not analysed: country='FR'"):
        result = Experiment(y=Mean("y")).analyze(table, control="a", by="country")
    assert [r.segment for r in result.rows] == [(), ("US",)]
    fr = result.segments[0]
    assert fr.segment == ("FR",) and fr.n == (2, 1) and not fr.analyzed
    assert fr.srm is not None and fr.srm.pvalue == pytest.approx(srm_test([2, 1]).pvalue)
    assert "country='FR': not analysed" in repr(result)


def test_printing_and_to_frame_show_the_segment_columns(data: pd.DataFrame) -> None:
    result = Experiment(conversion=Proportion("converted")).analyze(
        data, control="a", by=["country", "platform"])
    frame = result.to_frame()
    assert list(frame.columns[:3]) == ["country", "platform", "metric"]
    assert pd.isna(frame["country"].iloc[0]) and frame["country"].iloc[2] == "DE"
    text = repr(result)
    assert "Segments by country, platform: 9 of 9 analysed; p-values adjusted across each segment" in text
    table = text.splitlines()[text.splitlines().index("") + 1:]
    assert table[0].split()[:4] == ["country", "platform", "metric", "treatment"]
    assert table[1].split()[:3] == ["(all)", "(all)", "conversion"]
    assert table[3].split()[:3] == ["DE", "android", "conversion"]
    assert "<th>country</th>" in result._repr_html_()


def test_bayes_engine_by_segment(data: pd.DataFrame) -> None:
    experiment = Experiment(conversion=Proportion("converted"), revenue=Mean("revenue"))
    result = experiment.analyze(data, control="a", by="platform", engine="bayes")
    ios = data[data["platform"] == "ios"]
    alone = experiment.analyze(ios, control="a", engine="bayes")
    for row in alone.rows:
        seg = result.row(row.metric, row.treatment, "ios")
        assert seg.chance_to_win == pytest.approx(row.chance_to_win, rel=1e-9)
        assert seg.effect == pytest.approx(row.effect, rel=1e-9)


def test_bad_by() -> None:
    table = pd.DataFrame({"variant": list("abab"), "y": [1.0, 2.0, 3.0, 5.0],
                          "country": ["US", None, "US", "DE"]})
    experiment = Experiment(y=Mean("y"))
    with pytest.raises(ValueError, match=r"Column 'country' \(in `by`\) must not contain nulls"):
        experiment.analyze(table, by="country")
    with pytest.raises(ValueError, match=r"`by` must name columns of the table; got 'city'"):
        experiment.analyze(table, by=["city"])
    with pytest.raises(TypeError, match=r"`by` must be a column name or a non-empty list of them; got 3"):
        experiment.analyze(table, by=3)
    with pytest.raises(TypeError, match=r"`by` must hold column names \(non-empty strings\); got 1"):
        experiment.analyze(table, by=["country", 1])
    with pytest.raises(ValueError, match=r"`by` must not hold the variant column 'variant'"):
        experiment.analyze(table, by="variant")
    with pytest.raises(ValueError, match=r"`by` must not repeat a column"):
        experiment.analyze(table, by=["country", "country"])
    with pytest.raises(ValueError, match=r"`family` must be one of"):
        experiment.analyze(table, family="some")


def test_segment_column_names_in_errors() -> None:
    table = pd.DataFrame({"variant": list("ababab"), "y": [1.0, 2.0, math.nan, 5.0, 1.0, 1.0],
                          "country": ["US", "US", "DE", "DE", "DE", "DE"]})
    with pytest.raises(ValueError, match=r"got 1 null or NaN value\(s\) in variant 'a' of column "
                                         r"'variant' \(segment country='DE'\)"):
        Experiment(y=Mean("y")).analyze(table, by="country")
