"""Quantile order statistics from sample-placed bands: exact whatever the sample, one group-by."""

from __future__ import annotations

import itertools
import math
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from abkit import Experiment, Mean, Quantile
from abkit.frame import QuantileStats, order_stats, quantile_bands, quantile_test

P90 = Quantile("y", 0.9)


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    rng = np.random.default_rng(31)
    n = 30_000
    country = rng.choice(["DE", "IN", "US"], n, p=[0.2, 0.3, 0.5])
    variant = rng.choice(["a", "b", "c"], n)
    # Heavy tail, ties (a block of zeros and rounded values) and segments that differ in scale.
    y = np.round(rng.lognormal(np.where(country == "IN", 1.0, 3.0), 1.0), 1)
    y[rng.random(n) < 0.15] = 0.0
    return pd.DataFrame({"variant": variant, "country": country, "y": y})


def as_engine(frame: pd.DataFrame, engine: str) -> Any:
    if engine == "pandas":
        return frame
    if engine == "polars-lazy":
        return pl.from_pandas(frame).lazy()
    return duckdb.from_arrow(pa.Table.from_pandas(frame, preserve_index=False))


def expected_rows(frame: pd.DataFrame, q: float) -> dict[tuple[Any, ...], Any]:
    """Each block's p90 test from the raw values (QuantileStats.from_values sorts them)."""
    blocks: dict[tuple[Any, ...], pd.DataFrame] = {(): frame}
    blocks.update({(c,): part for c, part in frame.groupby("country")})
    out = {}
    for segment, part in blocks.items():
        arms = {v: QuantileStats.from_values(part.loc[part["variant"] == v, "y"], q) for v in "abc"}
        for v in "bc":
            out[segment, v] = quantile_test(arms["a"], arms[v])
    return out


def check(result: Any, frame: pd.DataFrame) -> None:
    expected = expected_rows(frame, 0.9)
    assert len(result.rows) == len(expected)
    for row in result.rows:
        want = expected[row.segment, row.treatment]
        # Order statistics are values of the table: exactly the sorted arrays' entries.
        assert (row.control_value, row.treatment_value) == (want.control_quantile,
                                                            want.treatment_quantile)
        assert (row.ci.low, row.ci.high) == (want.ci.low, want.ci.high)


@pytest.fixture
def small_sample(monkeypatch: pytest.MonkeyPatch) -> list[tuple[float, float]]:
    """A sample of 6,000 rows of the 30,000 (so bands are placed, not exact), recording
    every histogram narrowing's range."""
    monkeypatch.setattr(quantile_bands, "SAMPLE", 6000)
    monkeypatch.setattr(quantile_bands, "MIN_SAMPLE", 200)
    calls: list[tuple[float, float]] = []
    solve = order_stats._solve

    def spy(frame: Any, keys: Any, targets: Any, low: float, high: float, *rest: Any) -> None:
        calls.append((low, high))
        solve(frame, keys, targets, low, high, *rest)

    monkeypatch.setattr(order_stats, "_solve", spy)
    return calls


@pytest.mark.parametrize("engine", ["pandas", "polars-lazy", "duckdb"])
def test_sampled_bands_hold_every_wanted_rank(table: pd.DataFrame, engine: str,
                                              small_sample: list[tuple[float, float]]) -> None:
    result = Experiment(p90=P90).analyze(as_engine(table, engine), control="a", by="country")
    check(result, table)
    # A representative sample (random rows of the in-memory table; the first rows of a lazy
    # one, in random order here): every rank is read from a band, no histogram pass.
    assert small_sample == []


def test_unrepresentative_sample_falls_back_to_the_whole_range(
        table: pd.DataFrame, small_sample: list[tuple[float, float]]) -> None:
    # Sorted by the metric, a lazy table's first rows hold only its smallest values: the bands
    # miss the 0.9 quantiles, the main query's counts say so, and the ranks are found by
    # narrowing histograms over the whole range: the same exact answers.
    ordered = table.sort_values("y", kind="stable").reset_index(drop=True)
    result = Experiment(p90=P90).analyze(as_engine(ordered, "duckdb"), control="a", by="country")
    check(result, table)
    assert small_sample and small_sample[0] == (table["y"].min(), table["y"].max())


def test_band_with_too_many_rows_is_narrowed_within_it(
        table: pd.DataFrame, small_sample: list[tuple[float, float]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(order_stats, "BAND_FETCH", 10)
    monkeypatch.setattr(order_stats, "FETCH", 10)
    result = Experiment(p90=P90).analyze(table, control="a", by="country")
    check(result, table)
    low, high = small_sample[0]  # the first narrowing starts from the band, not the whole range
    assert table["y"].min() < low and high < table["y"].max()


def test_bands_merge_and_are_capped() -> None:
    rng = np.random.default_rng(2)
    groups = {(g,): np.sort(rng.normal(10.0 * g, 1.0, 5000)) for g in range(8)}
    merged = quantile_bands.bands(groups, [0.5], scale=1.0)
    assert len(merged) == quantile_bands.MAX_BANDS
    assert all(a[1] < b[0] for a, b in itertools.pairwise(merged))
    for values in groups.values():  # every group's median still lies in a band
        assert any(low <= np.median(values) <= high for low, high in merged)
    # Overlapping bands become one; too few sampled values place none.
    same = {("a",): groups[(0,)], ("b",): groups[(0,)].copy()}
    assert len(quantile_bands.bands(same, [0.5], scale=100.0)) == 1
    assert quantile_bands.bands({("a",): groups[(0,)][:10]}, [0.5], scale=100.0) == []


def test_non_finite_values_are_named_when_a_mean_shares_the_column() -> None:
    frame = pd.DataFrame({"variant": ["a"] * 3 + ["b"] * 3, "y": [1.0, 2.0, 3.0, 2.0, math.inf, 5.0]})
    experiment = Experiment(p50=Quantile("y", 0.5), mean=Mean("y"))
    with pytest.raises(ValueError, match=r"Column 'y' \(metric 'mean'\) must contain only finite "
                                         r"values.* in variant 'b'"):
        experiment.analyze(frame)
