"""pandas' group-by on integer group codes: the same summaries, bit for bit, as the generic query."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest

from abkit import Experiment, Mean, Proportion, Quantile, RatioOfMeans
from abkit.frame import aggregate, pandas_groups, quantile_bands

METRICS = {
    "conversion": Proportion("converted"),
    "revenue": Mean("revenue", cap=("percentile", 0.99)),
    "revenue_cuped": Mean("revenue", covariate="revenue_pre"),
    "ctr": RatioOfMeans("clicks", "sessions"),
    "revenue_p90": Quantile("revenue", 0.9),
    "sessions_p50": Quantile("sessions", 0.5),
}


def generic(monkeypatch: pytest.MonkeyPatch) -> None:
    """Send pandas tables through the generic narwhals query (as a null key does)."""
    monkeypatch.setattr(pandas_groups, "group_codes", lambda table, keys: None)


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    rng = np.random.default_rng(41)
    n = 40_000
    sessions = 1 + rng.poisson(3.0, n)
    frame = pd.DataFrame({
        "variant": rng.choice(["control", "b", "c"], n),
        "country": pd.array(rng.choice(["US", "DE", "IN", "FR"], n, p=[0.5, 0.3, 0.19, 0.01]),
                            dtype="string[pyarrow]"),
        "platform": pd.Categorical(rng.choice(["ios", "web"], n), categories=["web", "ios", "tv"]),
        "cohort": rng.integers(2020, 2023, n),
        "converted": rng.random(n) < 0.1,
        "revenue": np.round(rng.lognormal(3.0, 1.0, n), 2),
        "revenue_pre": rng.lognormal(3.0, 1.0, n),
        "sessions": sessions,
        "clicks": rng.binomial(sessions, 0.1),
    })
    return frame.iloc[rng.permutation(n)[: n - 1000]]  # a shuffled index with gaps


@pytest.mark.parametrize("by", [(), ("country",), ("country", "platform", "cohort")])
def test_same_summary_as_the_generic_query(table: pd.DataFrame, by: tuple[str, ...],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    fast = aggregate._summarize(table, "variant", METRICS, by)
    generic(monkeypatch)
    slow = aggregate._summarize(table, "variant", METRICS, by)
    # Bit for bit: the same pandas kernels over the same rows in the same order.
    assert fast == slow
    assert list(fast.segments) == list(slow.segments)
    assert len(fast.segments) == {0: 0, 1: 4, 3: 4 * 2 * 3}[len(by)]


@pytest.mark.filterwarnings("ignore::abkit.DegenerateDataWarning")  # sessions' median: ties
def test_same_analysis_as_polars(table: pd.DataFrame) -> None:
    experiment = Experiment(**METRICS)
    by = ["country", "platform"]
    fast = experiment.analyze(table, control="control", by=by)
    other = experiment.analyze(pl.from_pandas(table), control="control", by=by)
    assert len(fast.rows) == len(other.rows)
    for row in other.rows:
        mine = fast.row(row.metric, row.treatment, row.segment)
        # Another engine's sums and variances: equal to rounding, 1e-12 relative.
        np.testing.assert_allclose([mine.effect, mine.pvalue, mine.ci.low, mine.ci.high],
                                   [row.effect, row.pvalue, row.ci.low, row.ci.high], rtol=1e-12)


@pytest.mark.parametrize("change", ["nan revenue", "na Int64 clicks", "inf sessions", "proportion 2",
                                    "few rows"])
def test_same_errors_as_the_generic_query(table: pd.DataFrame, change: str,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    bad = table.copy()
    rows = bad.index[(bad["country"] == "DE").to_numpy() & (bad["variant"] == "b").to_numpy()][:2]
    if change == "nan revenue":
        bad.loc[rows, "revenue"] = math.nan
    elif change == "na Int64 clicks":  # a nullable integer column: its nulls are counted
        bad["clicks"] = bad["clicks"].astype("Int64")
        bad.loc[rows, "clicks"] = pd.NA
    elif change == "inf sessions":
        bad["sessions"] = bad["sessions"].astype(float)
        bad.loc[rows, "sessions"] = math.inf
    elif change == "proportion 2":
        bad["converted"] = bad["converted"].astype(int)
        bad.loc[rows, "converted"] = 2
    else:
        bad = bad.head(3)
    messages = []
    for _ in range(2):
        with pytest.raises(ValueError) as info:
            aggregate._summarize(bad, "variant", METRICS, ("country",))
        messages.append(str(info.value))
        generic(monkeypatch)
    assert messages[0] == messages[1]


@pytest.mark.parametrize("null", [None, math.nan, pd.NA])
@pytest.mark.parametrize("dtype", ["object", "string[pyarrow]", "category", "float"])
def test_null_keys_are_rejected(null: Any, dtype: str) -> None:
    """Documented: a null variant or ``by`` value is an error naming the column and its rows."""
    frame = pd.DataFrame({"variant": [0.0, 1.0] * 4, "country": [1.0, 2.0] * 4, "y": np.arange(8.0)})
    if dtype != "float":
        frame = frame.astype({"variant": dtype, "country": dtype})
    experiment = Experiment(y=Mean("y"))
    first = frame.copy()
    first.loc[[0, 2], "variant"] = null
    with pytest.raises(ValueError, match=r"Column 'variant' \(the variant\) must not contain "
                                         r"nulls; got 2 row\(s\) with a null variant"):
        experiment.analyze(first, control=frame["variant"].iloc[1], by="country")
    second = frame.copy()
    second.loc[[0, 2, 4], "country"] = null
    with pytest.raises(ValueError, match=r"Column 'country' \(in `by`\) must not contain nulls .*got "
                                         r"3 row\(s\) with a null 'country' in variant"):
        experiment.analyze(second, control=frame["variant"].iloc[1], by="country")


def test_group_codes_compress_many_combinations() -> None:
    rng = np.random.default_rng(3)
    n = 5000
    frame = pd.DataFrame({"a": rng.integers(0, 3000, n), "b": rng.integers(0, 3000, n).astype(str),
                          "c": rng.choice([True, False], n)})
    groups = pandas_groups.group_codes(frame, ["a", "b", "c"])
    assert groups is not None
    # More combinations than rows: the numbers are compressed to the observed ones.
    assert groups.codes.max() < len(groups.keys) <= n
    decoded = groups.keys.iloc[groups.codes].reset_index(drop=True)
    pd.testing.assert_frame_equal(decoded, frame.reset_index(drop=True))
    assert len(groups.keys.drop_duplicates()) == len(groups.keys)
    assert pandas_groups.group_codes(frame.head(0), ["a"]) is None


def test_band_counts_count_below_and_above_each_band() -> None:
    rng = np.random.default_rng(4)
    values = np.round(rng.normal(0.0, 3.0, 20_000), 1)  # ties at the bands' ends
    codes = rng.integers(0, 5, values.size)
    groups = pandas_groups.Groups(codes, pd.DataFrame({"g": range(5)}))
    bands = [(-4.0, -2.5), (-0.3, -0.3), (0.0, 1.0), (6.1, 20.0)]
    for (low, high), (below, above) in zip(bands, pandas_groups.band_counts(values, groups, bands),
                                           strict=True):
        for g in range(5):
            mine = values[codes == g]
            assert (below[g], above[g]) == (np.sum(mine < low), np.sum(mine > high))


def test_bands_are_sorted_and_disjoint() -> None:
    """band_counts relies on it: low <= high < next low, whatever the groups and quantiles."""
    rng = np.random.default_rng(5)
    for _ in range(20):
        groups = {(v, s): np.sort(np.round(rng.lognormal(rng.normal(), 1.0, rng.integers(1000, 5000)), 1))
                  for v in "ab" for s in range(rng.integers(1, 6))}
        found = quantile_bands.bands(groups, list(rng.uniform(0.05, 0.95, 3)), scale=50.0)
        assert 1 <= len(found) <= quantile_bands.MAX_BANDS
        for (low, high), (next_low, _) in zip(found, [*found[1:], (math.inf, math.inf)], strict=True):
            assert low <= high < next_low
