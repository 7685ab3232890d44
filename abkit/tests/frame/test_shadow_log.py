"""Shadow logs from tables (:func:`abkit.frame.load_shadow_log`): loading, joining, reporting."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest

from abkit.datasets import make_shadow_log
from abkit.frame import compare_models, load_shadow_log
from abkit.shadow import ShadowLog


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return make_shadow_log(3000, models={"champion": 1.0, "better": 1.25, "same": 1.0},
                           latency_ms={"champion": 40.0, "better": 41.0, "same": 40.0},
                           missing_rate=0.02, pending_rate=0.1, rng=5)


# ---------------------------------------------------------------- loading and reporting


def test_long_pandas_log_joins_by_request_and_reports(frame: pd.DataFrame) -> None:
    log = load_shadow_log(frame)
    assert log.models == ("better", "champion", "same")
    answered = frame.groupby("model")["request_id"].nunique()
    assert log.report.missing == tuple(3000 - int(answered[m]) for m in log.models)
    assert log.report.unlabeled == int(frame.drop_duplicates("request_id")["label"].isna().sum())
    _, a, b = log.paired("champion", "better")
    both = frame.pivot(index="request_id", columns="model", values="score").dropna(subset=["better"])
    labels = frame.drop_duplicates("request_id").set_index("request_id")["label"]
    both = both[labels.reindex(both.index).notna()]
    assert a.size == len(both)
    np.testing.assert_allclose(np.sort(b), np.sort(both["better"].to_numpy()))


def test_polars_duckdb_parquet_csv_and_wide_load_the_same(frame: pd.DataFrame, tmp_path) -> None:
    import duckdb
    import polars as pl

    expected = load_shadow_log(frame)
    parquet, csv = tmp_path / "log.parquet", tmp_path / "log.csv"
    frame.to_parquet(parquet)
    frame.to_csv(csv, index=False)
    wide = frame.pivot(index="request_id", columns="model", values=["score", "latency"])
    wide.columns = [f"{field}_{model}" for field, model in wide.columns]
    wide = wide.join(frame.drop_duplicates("request_id").set_index("request_id")[["label", "timestamp"]])
    sources = [pl.from_pandas(frame), duckdb.from_df(frame), str(parquet), csv]
    logs = [load_shadow_log(s) for s in sources] + [load_shadow_log(wide.reset_index(), layout="wide")]
    for log in logs:
        assert log.models == expected.models
        assert log.report.missing == expected.report.missing
        np.testing.assert_allclose(log.score, expected.score)
        np.testing.assert_allclose(log.latency, expected.latency)  # type: ignore[arg-type]
        np.testing.assert_array_equal(np.isnan(log.label), np.isnan(expected.label))


def test_duplicates_are_reported_not_silently_dropped() -> None:
    table = pd.DataFrame({"request_id": [1, 1, 1, 2, 2], "model": ["a", "a", "b", "a", "b"],
                          "score": [0.1, 0.9, 0.5, 0.4, 0.6]})
    with pytest.raises(ValueError, match=re.escape("1 duplicated (request, model) row(s), e.g. request 1")):
        load_shadow_log(table)
    first = load_shadow_log(table, duplicates="first")
    last = load_shadow_log(table, duplicates="last")
    assert first.report.duplicates == last.report.duplicates == 1
    assert (first.score[0, 0], last.score[0, 0]) == (0.1, 0.9)


def test_late_labels_are_counted_and_set_aside() -> None:
    table = pd.DataFrame({
        "request_id": [1, 1, 2, 2, 3, 3], "model": ["a", "b"] * 3, "score": [0.2, 0.3, 0.8, 0.7, 0.6, 0.4],
        "label": [0, 0, 1, 1, None, None],
        "label_time": pd.to_datetime(["2026-01-01", "2026-01-01", "2026-01-05", "2026-01-05", None, None]),
    })
    log = load_shadow_log(table, as_of=np.datetime64("2026-01-03"))
    assert (log.report.unlabeled, log.report.late_labels) == (2, 1)
    y, _, _ = log.paired("a", "b")
    assert y.tolist() == [0.0]
    assert load_shadow_log(table).report.late_labels == 0  # without a cut-off every label counts


def test_paired_rows_follow_time_order_for_forecast_tests() -> None:
    # requests 30, 10, 20 arrive on days 1, 3, 2: time order (30, 20, 10) differs from id order
    times = np.array(["2026-01-01", "2026-01-03", "2026-01-02"], dtype="datetime64[s]")
    log = ShadowLog.from_arrays(request_id=[30, 10, 20, 30, 10, 20], model=["a"] * 3 + ["b"] * 3,
                                score=[3.0, 1.0, 2.0, 3.5, 1.5, 2.5], timestamp=np.tile(times, 2))
    _, a, b = log.paired("a", "b", labelled=False)
    assert a.tolist() == [3.0, 2.0, 1.0] and b.tolist() == [3.5, 2.5, 1.5]


def test_bad_logs_give_clear_errors() -> None:
    base = {"request_id": [1, 1, 2, 3], "model": ["a", "b", "a", "b"], "score": [0.1, 0.2, 0.3, 0.4]}
    log = load_shadow_log(pd.DataFrame(base))
    with pytest.raises(ValueError, match=re.escape("`challengers` must be one of the log's models ['a', 'b']; got 'c'.")):
        compare_models(log, champion="a", challengers=["c"])
    disjoint = load_shadow_log(pd.DataFrame({"request_id": [1, 2], "model": ["a", "b"], "score": [0.1, 0.2]}))
    message = "Challenger 'b' has no requests in common with champion 'a'"
    with pytest.raises(ValueError, match=re.escape(message)):
        compare_models(disjoint, champion="a", challengers=["b"])
    message = "`score` must not contain NaN; got 1 NaN value(s) (first at request 2)"
    with pytest.raises(ValueError, match=re.escape(message)):
        load_shadow_log(pd.DataFrame({**base, "score": [0.1, 0.2, math.nan, 0.4]}))
    message = "`label` differs between rows of the same request for 1 request"
    with pytest.raises(ValueError, match=re.escape(message)):
        load_shadow_log(pd.DataFrame({**base, "label": [0, 1, 0, 1]}))
    with pytest.raises(ValueError, match=re.escape("`score` must name a column of the table; got 'score'")):
        load_shadow_log(pd.DataFrame(base).rename(columns={"score": "pred"}))
    with pytest.raises(ValueError, match=re.escape("`layout` must be one of 'long', 'wide'; got 'tall'")):
        load_shadow_log(pd.DataFrame(base), layout="tall")
    message = "`table` must be a .parquet, .csv or .jsonl path or a directory of them; got 'log.txt'"
    with pytest.raises(ValueError, match=re.escape(message)):
        load_shadow_log("log.txt")
    with pytest.raises(TypeError, match=re.escape("`table` must be a DataFrame")):
        load_shadow_log(42)


def test_non_binary_labels_for_auc_are_an_error() -> None:
    n = 600
    rng = np.random.default_rng(1)
    log = ShadowLog.from_arrays(request_id=np.tile(np.arange(n), 2), model=np.repeat(["a", "b"], n),
                                score=rng.random(2 * n), label=np.tile(rng.integers(0, 3, n), 2))
    message = "`y_true` must be binary (0/1 or True/False) for an AUC; got 2.0"
    with pytest.raises(ValueError, match=re.escape(message)):
        compare_models(log, champion="a", challengers=["b"], metrics=["auc"])
