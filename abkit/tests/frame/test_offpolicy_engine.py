"""abkit.frame.offpolicy: engine aggregates equal the in-memory estimators (1e-9 relative).

The reference inputs are Open Bandit Pipeline's case (abkit/tests/bandits/data/obp_reference.json,
whose values the in-memory estimators match in abkit/tests/bandits/test_offpolicy.py), plus
seeded random logs. Tolerance 1e-9 relative: the engines sum in another order than NumPy.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from abkit.bandits import offpolicy
from abkit.errors import DegenerateDataWarning
from abkit.frame import OffPolicyTable, evaluate_policy

RTOL = 1e-9
ENGINES = ("pandas", "polars", "pyarrow", "duckdb")
REFERENCE = json.loads(
    (Path(__file__).parents[1] / "bandits" / "data" / "obp_reference.json").read_text())


def _engine(frame: pd.DataFrame, engine: str) -> Any:
    if engine == "duckdb":
        return duckdb.from_df(frame)
    if engine == "polars":
        return pl.from_pandas(frame).lazy()
    if engine == "pyarrow":
        return pa.Table.from_pandas(frame, preserve_index=False)
    return frame


def _columns(n_arms: int) -> dict[str, list[str]]:
    return {"target": [f"p{k}" for k in range(n_arms)], "q_hat": [f"q{k}" for k in range(n_arms)]}


def _frame(log: dict[str, Any]) -> pd.DataFrame:
    """A decision log table: one row per round, the target and the reward model per arm."""
    target, q_hat = np.asarray(log["target"], float), np.asarray(log["q_hat"], float)
    frame = pd.DataFrame({"action": np.asarray(log["actions"], np.int64),
                          "propensity": np.asarray(log["propensities"], float),
                          "reward": np.asarray(log["rewards"], float),
                          "best": np.asarray(log["target_actions"], np.int64)})
    for k in range(target.shape[1]):
        frame[f"p{k}"], frame[f"q{k}"] = target[:, k], q_hat[:, k]
    return frame


def _in_memory(log: dict[str, Any], clip: float | None = None) -> dict[str, offpolicy.OffPolicyResult]:
    logged = (log["rewards"], log["actions"], log["propensities"], log["target"])
    return {
        "ips": offpolicy.ips(*logged, clip=clip),
        "snips": offpolicy.snips(*logged),
        "direct_method": offpolicy.direct_method(log["target"], log["q_hat"]),
        "doubly_robust": offpolicy.doubly_robust(*logged, log["q_hat"], clip=clip),
        "replay": offpolicy.replay(log["rewards"], log["actions"], log["target_actions"]),
    }


def _assert_same(engine_result: offpolicy.OffPolicyResult, memory_result: offpolicy.OffPolicyResult) -> None:
    for field in dataclasses.fields(memory_result):
        expected, actual = getattr(memory_result, field.name), getattr(engine_result, field.name)
        if field.name == "ci":
            assert actual.low == pytest.approx(expected.low, rel=RTOL, nan_ok=True)
            assert actual.high == pytest.approx(expected.high, rel=RTOL, nan_ok=True)
        elif isinstance(expected, float):
            assert actual == pytest.approx(expected, rel=RTOL, nan_ok=True), field.name
        else:
            assert actual == expected, field.name


def _random_log(seed: int, n: int = 500, n_arms: int = 3) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    logging = rng.dirichlet(np.ones(n_arms), size=n)
    actions = (rng.random(n)[:, None] > logging.cumsum(axis=1)).sum(axis=1).clip(0, n_arms - 1)
    target = rng.dirichlet(np.full(n_arms, 0.5), size=n)
    return {"rewards": rng.gamma(2.0, 1.0, n), "actions": actions,
            "propensities": logging[np.arange(n), actions], "target": target,
            "q_hat": rng.random((n, n_arms)) * 3, "target_actions": target.argmax(axis=1)}


@pytest.mark.parametrize("engine", ENGINES)
def test_open_bandit_pipeline_case_in_every_engine(engine: str) -> None:
    inputs = REFERENCE["inputs"]
    expected = _in_memory(inputs)
    results = evaluate_policy(_engine(_frame(inputs), engine), target_action="best",
                              **_columns(np.shape(inputs["target"])[1]))
    assert list(results) == list(expected)
    for name, result in results.items():
        _assert_same(result, expected[name])
        # obp 0.5.7's estimate_policy_value (source in the JSON file)
        assert result.value == pytest.approx(REFERENCE["expected"][name]["value"], rel=RTOL)
    clipped = evaluate_policy(_engine(_frame(inputs), engine), methods=["ips", "doubly_robust"], clip=2.0,
                              **_columns(np.shape(inputs["target"])[1]))
    _assert_same(clipped["ips"], _in_memory(inputs, clip=2.0)["ips"])
    assert clipped["ips"].value == pytest.approx(REFERENCE["expected"]["ips_clip_2"]["value"], rel=RTOL)
    _assert_same(clipped["doubly_robust"], _in_memory(inputs, clip=2.0)["doubly_robust"])


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_seeded_random_logs(engine: str, seed: int) -> None:
    log = _random_log(seed, n_arms=2 + seed)
    table = OffPolicyTable(_engine(_frame(log), engine), target_action="best", **_columns(2 + seed))
    clip = 3.0 if seed == 2 else None
    expected = _in_memory(log, clip=clip)
    for name, result in table.evaluate(clip=clip, confidence_level=0.9).items():
        _assert_same(result, _in_memory_at(log, name, clip, 0.9))
    # one estimator at a time gives the same numbers as all at once
    _assert_same(table.snips(), expected["snips"])
    _assert_same(table.replay(), expected["replay"])
    _assert_same(table.direct_method(), expected["direct_method"])
    _assert_same(table.ips(clip=clip), expected["ips"])
    _assert_same(table.doubly_robust(clip=clip), expected["doubly_robust"])


def _in_memory_at(log: dict[str, Any], name: str, clip: float | None, level: float) -> Any:
    logged = (log["rewards"], log["actions"], log["propensities"], log["target"])
    if name == "ips":
        return offpolicy.ips(*logged, clip=clip, confidence_level=level)
    if name == "snips":
        return offpolicy.snips(*logged, confidence_level=level)
    if name == "direct_method":
        return offpolicy.direct_method(log["target"], log["q_hat"], confidence_level=level)
    if name == "doubly_robust":
        return offpolicy.doubly_robust(*logged, log["q_hat"], clip=clip, confidence_level=level)
    return offpolicy.replay(log["rewards"], log["actions"], log["target_actions"], confidence_level=level)


def test_files_and_segment_directories(tmp_path: Path) -> None:
    log = _random_log(9, n=300)
    frame = _frame(log)
    frame.to_parquet(tmp_path / "log.parquet")
    segments = tmp_path / "segments"
    segments.mkdir()
    for i in range(3):
        frame.iloc[100 * i:100 * (i + 1)].to_csv(segments / f"part-{i}.csv", index=False)
    expected = _in_memory(log)
    for source in (tmp_path / "log.parquet", str(segments)):
        results = evaluate_policy(source, target_action="best", **_columns(3))
        for name, result in results.items():
            _assert_same(result, expected[name])


def test_target_probability_of_the_logged_action_alone() -> None:
    # One column with target[i, a_i] is all IPS and SNIPS need; no action column at all.
    log = _random_log(4)
    frame = pd.DataFrame({"reward": log["rewards"], "propensity": log["propensities"],
                          "pi": log["target"][np.arange(500), log["actions"]]})
    table = OffPolicyTable(frame, target="pi")
    assert table.methods == ("ips", "snips")
    expected = _in_memory(log)
    _assert_same(table.ips(), expected["ips"])
    _assert_same(table.snips(), expected["snips"])


def test_router_decision_log_columns() -> None:
    # BanditRouter.to_frame names the action `variant_index`: the default falls back to it.
    log = _random_log(5, n=50, n_arms=2)
    frame = _frame(log).rename(columns={"action": "variant_index"})
    result = OffPolicyTable(frame, target=["p0", "p1"]).ips()
    _assert_same(result, _in_memory(log)["ips"])


def test_no_match_in_replay_is_degenerate_as_in_memory() -> None:
    frame = pd.DataFrame({"action": [0, 0, 0], "best": [1, 1, 1], "reward": [1.0, 0.0, 1.0]})
    with pytest.warns(DegenerateDataWarning):
        expected = offpolicy.replay([1.0, 0.0, 1.0], [0, 0, 0], [1, 1, 1])
    with pytest.warns(DegenerateDataWarning):
        result = OffPolicyTable(frame, target_action="best").replay()
    assert math.isnan(result.value) and math.isnan(expected.value)
    assert math.isnan(result.se) and result.effective_sample_size == expected.effective_sample_size == 0.0


def _bad_table(**changes: Any) -> pd.DataFrame:
    frame = _frame(_random_log(6, n=20, n_arms=2))
    for column, (row, value) in changes.items():
        frame[column] = frame[column].astype(float) if isinstance(value, float) else frame[column]
        frame.loc[row, column] = value
    return frame


@pytest.mark.parametrize(("table", "options", "error", "message"), [
    (_bad_table(propensity=(3, 0.0)), {}, ValueError,
     "`propensity` column 'propensity' must be in (0, 1]; got 1 value(s) outside (or missing)."),
    (_bad_table(reward=(0, math.nan)), {}, ValueError,
     "`reward` column 'reward' must be finite; got 1 missing or non-finite value(s)."),
    (_bad_table(p0=(2, 0.9)), {}, ValueError, "`target` rows must sum to 1; 1 row(s) do not (tolerance 1e-06)."),
    (_bad_table(p1=(2, -0.5)), {}, ValueError,
     "`target` column 'p1' must hold probabilities in [0, 1]; got 1 value(s) outside (or missing)."),
    (_bad_table(q1=(2, math.inf)), {}, ValueError,
     "`q_hat` column 'q1' must be finite; got 1 missing or non-finite value(s)."),
    (_bad_table(action=(5, 2)), {}, ValueError,
     "`action` column 'action' must be in [0, 1]; got 1 value(s) outside (or missing)."),
    (_bad_table(action=(5, 1.0)), {}, TypeError,
     "`action` column 'action' must hold integer arm indices; got Float64."),
    (_bad_table(best=(1, -1)), {"methods": ["replay"]}, ValueError,
     "`target_action` column 'best' must be at least 0; got 1 value(s) below (or missing)."),
    (_bad_table(), {"q_hat": ["q0"]}, ValueError, "`q_hat` must name one column per arm (2, as `target`); got 1."),
    (_bad_table(), {"target": ["p0", "nope"]}, ValueError,
     "`target` must name a column of the table; got 'nope'; its columns are"),
    (_bad_table(), {"reward": "gain"}, ValueError, "`reward` must name a column of the table; got 'gain'"),
    (_bad_table(), {"target": 3}, TypeError, "`target` must be a column name or a non-empty list"),
    (_bad_table(), {"methods": ["ipw"]}, ValueError, "`methods` must be one of"),
    (_bad_table(), {"methods": []}, ValueError, "`methods` must be a non-empty list of"),
    (_bad_table(), {"target": "p0", "methods": ["direct_method"]}, ValueError,
     "direct_method needs `target` (one column per arm) and `q_hat`"),
    (_bad_table(), {"clip": 0.0}, ValueError, "`clip` must be"),
    (_bad_table().iloc[:0], {}, ValueError, "`table` must hold at least one logged round; got none."),
    (pd.DataFrame({"x": [1]}), {"target": None, "q_hat": None, "target_action": None}, ValueError,
     "`methods` must be a non-empty list of"),
])
def test_bad_input(table: pd.DataFrame, options: dict[str, Any], error: type, message: str) -> None:
    arguments = {"target": ["p0", "p1"], "q_hat": ["q0", "q1"], "target_action": "best", **options}
    for engine in ("pandas", "duckdb"):
        with pytest.raises(error) as info:
            evaluate_policy(_engine(table, engine), **arguments)
        assert str(info.value).startswith(message)
