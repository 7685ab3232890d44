"""abkit.frame.shadow_engine: engine aggregates equal the in-memory path (1e-9 relative).

Every shared reference case (abkit/tests/reference/shadow.json) that a sufficient-statistics
path covers is run through DuckDB, pandas and Polars and compared with the core function on the
same arrays; the core itself is checked against R in abkit/tests/shadow/test_reference.py.
Tolerance 1e-9 relative: the engines sum in a different order than NumPy's pairwise sums.
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pytest

from abkit.datasets import make_shadow_log
from abkit.frame import ShadowTable, compare_models, load_shadow_log
from abkit.shadow import (
    ShadowMetric,
    delong_test,
    diebold_mariano_test,
    latency_ratio_test,
    mcnemar_test,
    paired_t_test,
)
from abkit.shadow import compare_models as compare_in_memory
from abkit.tests.conftest import REFERENCE_DIR, reference_cases

RTOL = 1e-9
ENGINES = ("duckdb", "pandas", "polars")


def _engine(frame: pd.DataFrame, engine: str) -> Any:
    if engine == "duckdb":
        return duckdb.from_df(frame)
    if engine == "polars":
        return pl.from_pandas(frame).lazy()
    return frame


def _long(a: Any, b: Any, label: Any = None, column: str = "score") -> pd.DataFrame:
    """Two aligned columns as a long-layout log of models ``a`` (champion) and ``b``."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    ids = np.arange(a.size)
    frame = pd.DataFrame({"request_id": np.concatenate([ids, ids]), "model": ["a"] * a.size + ["b"] * b.size,
                          column: np.concatenate([a, b])})
    if label is not None:
        frame["label"] = np.tile(np.asarray(label, float), 2)
    return frame


def _assert_same(engine_result: Any, memory_result: Any) -> None:
    """Every numeric field equal to 1e-9 relative (NaN where NaN), every other field equal."""
    for field in dataclasses.fields(memory_result):
        got, want = getattr(engine_result, field.name), getattr(memory_result, field.name)
        if isinstance(want, float):
            np.testing.assert_allclose(got, want, rtol=RTOL, atol=1e-15, err_msg=field.name)
        elif isinstance(want, tuple) and want and isinstance(want[0], float):  # an interval
            np.testing.assert_allclose(list(got), list(want), rtol=RTOL, atol=1e-15, err_msg=field.name)
        elif dataclasses.is_dataclass(want):
            _assert_same(got, want)
        elif isinstance(want, tuple) and want and dataclasses.is_dataclass(want[0]):
            for g, w in zip(got, want, strict=True):
                _assert_same(g, w)
        else:
            assert got == want, field.name


def _data(case: dict[str, Any]) -> pd.DataFrame:
    return pd.read_csv(REFERENCE_DIR / case["inputs"]["data"])


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("case", reference_cases("shadow", area="delong_paired_auc"))
def test_delong_reference_cases_in_the_engine(case: dict[str, Any], engine: str) -> None:
    inputs = case["inputs"]
    data = _data(case)
    y = (data[inputs["label_column"]] == inputs["positive_label"]).astype(float)
    a, b = data[inputs["score_a"]], data[inputs["score_b"]]
    table = ShadowTable(_engine(_long(a, b, y), engine))
    for alternative in ("two-sided", "greater"):
        _assert_same(table.delong_test("a", "b", alternative=alternative, margin=0.01),
                     delong_test(y, a, b, alternative=alternative, margin=0.01))


def _paired_cases() -> list[Any]:
    cases = []
    for param in reference_cases("shadow", area="paired_t"):
        case = param.values[0]
        inputs = case["inputs"]
        if isinstance(inputs["a"], list):
            a, b = inputs["a"], inputs["b"]
        else:
            data = _data(case)
            a, b = data[inputs["a"]], data[inputs["b"]]
        cases.append(pytest.param(a, b, id=case["id"]))
    return cases


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("a", "b"), _paired_cases())
def test_paired_t_reference_cases_in_the_engine(a: Any, b: Any, engine: str) -> None:
    table = ShadowTable(_engine(_long(a, b), engine))
    for alternative in ("two-sided", "less"):
        _assert_same(table.paired_t_test("a", "b", alternative=alternative, margin=-0.05),
                     paired_t_test(a, b, alternative=alternative, margin=-0.05))


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("case", reference_cases("shadow", area="mcnemar"))
def test_mcnemar_reference_cases_in_the_engine(case: dict[str, Any], engine: str) -> None:
    (both, b), (c, neither) = case["inputs"]["table_2x2"]
    right_a = np.repeat([1.0, 1.0, 0.0, 0.0], [both, b, c, neither])
    right_b = np.repeat([1.0, 0.0, 1.0, 0.0], [both, b, c, neither])
    table = ShadowTable(_engine(_long(right_a, right_b, np.ones(right_a.size)), engine))
    for method in ("exact", "mid-p", "chi2", "chi2-corrected"):
        _assert_same(table.mcnemar_test("a", "b", method=method), mcnemar_test(right_a, right_b, method=method))


@pytest.mark.parametrize("engine", ENGINES)
def test_latency_ratio_reference_case_in_the_engine(engine: str) -> None:
    data = pd.read_csv(REFERENCE_DIR / "data" / "latency_paired_n400.csv")
    a, b = data["champion_ms"], data["challenger_ms"]
    table = ShadowTable(_engine(_long(a, b, column="latency").assign(score=0.5), engine))
    _assert_same(table.latency_ratio_test("a", "b", margin=0.02, alternative="less"),
                 latency_ratio_test(a, b, margin=0.02, alternative="less"))


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("case", reference_cases("shadow", area="diebold_mariano"))
def test_diebold_mariano_reference_cases_in_the_engine(case: dict[str, Any], engine: str) -> None:
    inputs = case["inputs"]
    data = _data(case)
    power = inputs["power"]
    a, b = np.abs(data[inputs["e1"]]) ** power, np.abs(data[inputs["e2"]]) ** power
    frame = _long(a, b)
    frame["timestamp"] = np.tile(np.arange(a.size)[::-1], 2)  # request ids run against time
    memory = diebold_mariano_test(a[::-1], b[::-1], horizon=inputs["h"],
                                  variance=inputs.get("varestimator", "acf"))
    engine_result = ShadowTable(_engine(frame, engine)).diebold_mariano_test(
        "a", "b", horizon=inputs["h"], variance=inputs.get("varestimator", "acf"))
    _assert_same(engine_result, memory)


ALL_METRICS = ["auc", "accuracy", "log_loss", "brier", "latency",
               ShadowMetric.builtin("log_loss", goal="non-inferiority", margin=0.01),
               ShadowMetric.builtin("auc", goal="non-inferiority", margin=0.02)]


@pytest.fixture(scope="module")
def shadow_table() -> pd.DataFrame:
    table = make_shadow_log(1500, models={"v1": 1.0, "v2": 1.3, "v3": 0.9}, rng=11)
    table.loc[table.index[::7], "label"] = np.nan  # pending labels
    return table.iloc[3:]  # a model misses a few requests


@pytest.mark.parametrize("engine", ENGINES)
def test_compare_models_equals_the_in_memory_path(shadow_table: pd.DataFrame, engine: str) -> None:
    options = {"champion": "v1", "challengers": ["v2", "v3"], "metrics": ALL_METRICS, "min_requests": 100}
    _assert_same(compare_models(_engine(shadow_table, engine), **options),
                 compare_in_memory(load_shadow_log(shadow_table), **options))


def test_compare_models_falls_back_for_bootstrap_metrics(shadow_table: pd.DataFrame) -> None:
    # latency_p90 (bootstrap) loads the table; the seeds match the in-memory path's.
    options = {"champion": "v1", "challengers": ["v2", "v3"], "metrics": ["latency_p90", "auc"],
               "n_resamples": 200, "rng": 5, "min_requests": 100}
    engine = compare_models(duckdb.from_df(shadow_table), **options)
    _assert_same(engine, compare_in_memory(load_shadow_log(shadow_table), **options))
    assert engine.rows[0].method == "paired bootstrap"


def test_files_and_directories_of_segments(shadow_table: pd.DataFrame, tmp_path: Any) -> None:
    options = {"champion": "v1", "challengers": ["v2"], "metrics": ["auc", "brier", "latency"]}
    expected = compare_in_memory(load_shadow_log(shadow_table), **options)
    parts = np.array_split(np.arange(len(shadow_table)), 3)
    for kind in ("parquet", "jsonl"):
        folder = tmp_path / kind
        folder.mkdir()
        for i, rows in enumerate(parts):
            segment = shadow_table.iloc[rows]
            if kind == "parquet":
                segment.to_parquet(folder / f"part-{i}.parquet")
            else:
                segment.assign(timestamp=segment["timestamp"].astype(str)).to_json(
                    folder / f"part-{i}.jsonl", orient="records", lines=True)
        _assert_same(compare_models(folder, **options), expected)
    csv = tmp_path / "log.csv"
    shadow_table.to_csv(csv, index=False)
    _assert_same(compare_models(str(csv), **options), expected)


def test_router_logs_use_prediction_and_a_shadow_log_stays_in_memory(shadow_table: pd.DataFrame) -> None:
    log = load_shadow_log(shadow_table)
    options = {"champion": "v1", "challengers": ["v3"], "metrics": ["log_loss"]}
    renamed = shadow_table.rename(columns={"score": "prediction"})
    _assert_same(compare_models(renamed, **options), compare_models(log, **options))


@pytest.mark.parametrize("engine", ["duckdb", "polars"])
def test_monitor_fed_engine_aggregates_equals_monitor_fed_logs(engine: str) -> None:
    from abkit.shadow import ShadowMonitor

    metrics = ["log_loss", "accuracy", "brier", "latency"]
    by_log = ShadowMonitor("v1", ["v2", "v3"], metrics, min_requests=300)
    by_stats = ShadowMonitor("v1", ["v2", "v3"], metrics, min_requests=300)
    for day in range(3):
        batch = make_shadow_log(800, models={"v1": 1.0, "v2": 1.2, "v3": 0.9}, rng=20 + day)
        batch.loc[batch["request_id"] % 9 == 0, "label"] = np.nan  # pending requests
        expected = by_log.update(load_shadow_log(batch))
        got = by_stats.update_stats(**ShadowTable(_engine(batch, engine)).monitor_stats(by_stats))
        _assert_same(got, expected)
    assert got.looks == 3 and got.n_pending > 0
    with pytest.raises(ValueError, match=re.escape("`stats` must hold exactly the keys")):
        by_stats.update_stats({})
    absolute = ShadowMetric(name="absolute", worse="higher", loss=lambda y, p: np.abs(y - p))
    with pytest.raises(ValueError, match=re.escape("Metric 'absolute' needs the per-request values")):
        ShadowTable(batch).monitor_stats(ShadowMonitor("v1", ["v2"], [absolute]))


def test_bad_tables_give_clear_errors(tmp_path: Any) -> None:
    good = _long([0.2, 0.4, 0.6], [0.3, 0.5, 0.1], [0, 1, 1])
    with pytest.raises(ValueError, match=re.escape("Unknown model 'c'; the log has models ['a', 'b']")):
        ShadowTable(good).delong_test("a", "c")
    with pytest.raises(ValueError, match=re.escape("Model 'a' has 1 duplicated request(s)")):
        ShadowTable(pd.concat([good, good.iloc[:1]])).paired_t_test("a", "b")
    with pytest.raises(ValueError, match=re.escape("`score` must not contain NaN; model 'b' has 1")):
        ShadowTable(good.assign(score=[0.1, 0.2, 0.3, math.nan, 0.5, 0.6])).model_index("a")
    with pytest.raises(ValueError, match=re.escape("`table` has no column(s) ['model']")):
        ShadowTable(good.drop(columns="model"))
    with pytest.raises(ValueError, match=re.escape("`label` must be binary (0/1 or True/False); got 1 other value(s).")):
        ShadowTable(good.assign(label=[0, 1, 2, 0, 1, 2])).delong_test("a", "b")
    with pytest.raises(ValueError, match=re.escape("`y_true` must contain both classes for an AUC")):
        ShadowTable(good.assign(label=1)).delong_test("a", "b")
    with pytest.raises(ValueError, match=re.escape("`values` must be one of")):
        ShadowTable(good).paired_t_test("a", "b", values="mse")
    with pytest.raises(ValueError, match=re.escape("The log has no latency column")):
        ShadowTable(good).latency_ratio_test("a", "b")
    with pytest.raises(ValueError, match=re.escape("holds ['csv', 'parquet']")):
        good.to_csv(tmp_path / "x.csv")
        good.to_parquet(tmp_path / "x.parquet")
        ShadowTable(tmp_path)
    with pytest.raises(FileNotFoundError, match=re.escape("`table` names no readable file")):
        ShadowTable(tmp_path / "missing.parquet")


def test_cli_compare_runs_in_duckdb_without_loading_the_log(
    shadow_table: pd.DataFrame, tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from abkit import cli
    from abkit.frame import shadow_engine

    path = tmp_path / "log.parquet"
    shadow_table.to_parquet(path)

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the engine path loaded the log")

    monkeypatch.setattr(shadow_engine, "load_shadow_log", refuse)
    argv = ["compare", str(path), "--champion", "v1", "--challenger", "v2", "--challenger", "v3",
            "--metric", "auc", "--metric", "accuracy", "--metric", "latency", "--output", "json"]
    assert cli.main(argv) == 0
    expected = compare_in_memory(load_shadow_log(shadow_table), champion="v1", challengers=["v2", "v3"],
                                 metrics=["auc", "accuracy", "latency"])
    got = json.loads(capsys.readouterr().out)
    assert got["verdicts"] == json.loads(json.dumps(expected.to_dict()))["verdicts"]
    for row, want in zip(got["rows"], expected.rows, strict=True):
        np.testing.assert_allclose(row["pvalue_noninferiority"], want.pvalue_noninferiority, rtol=RTOL)

    assert cli.main(["compare", str(path), "--champion", "v1", "--challenger", "v9"]) == 2
    assert capsys.readouterr().err == (
        "abkit compare: error: Unknown model 'v9'; 'log.parquet' has models ['v1', 'v2', 'v3'].\n")
    (tmp_path / "bad.parquet").write_text("not parquet")
    assert cli.main(["compare", str(tmp_path / "bad.parquet"), "--champion", "v1", "--challenger", "v2"]) == 1
    assert capsys.readouterr().err.startswith("abkit compare: error: cannot read 'bad.parquet': ")
    assert cli.main(["compare", str(tmp_path / "none.csv"), "--champion", "v1", "--challenger", "v2"]) == 2
