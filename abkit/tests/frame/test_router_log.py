"""Reading the routers' decision and outcome logs: completion of bare records, order, bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from abkit.frame import load_decision_log, load_outcomes, read_log

pytest.importorskip("duckdb")


def _write(path: Path, lines: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


def route(t: float, unit: str, variant: str, p: float, request: str | None = None, experiment: str = "e") -> dict:
    return {"timestamp": t, "event": "route", "experiment": experiment, "unit_id": unit, "request_id": request,
            "variant": variant, "propensity": p}


def record(t: float, outcome: float, unit: str | None = None, request: str | None = None,
           experiment: str = "e") -> dict:
    return {"timestamp": t, "event": "record", "experiment": experiment, "unit_id": unit,
            "request_id": request, "outcome": outcome}


def test_bare_records_take_the_latest_route_at_or_before_them(tmp_path: Path) -> None:
    # two workers' segments: routes in one file, records in another, one unit routed twice
    _write(tmp_path / "a.jsonl", [route(1.0, "u1", "x", 0.3), route(2.0, "u2", "y", 0.7, request="q2"),
                                  route(5.0, "u1", "y", 0.6), route(6.0, "u9", "x", 0.5, experiment="other")])
    _write(tmp_path / "b.jsonl", [record(3.0, 1.0, unit="u1"), record(4.0, 0.0, request="q2"),
                                  record(7.0, 1.0, unit="u1"), record(8.0, 1.0, unit="u9", experiment="other"),
                                  record(0.5, 1.0, unit="u3")])
    rows = read_log(tmp_path, experiment="e", event="record").fetchall()
    # log order (by timestamp); u1's first record takes the route at t=1, its second the route at t=5;
    # u9 belongs to another experiment; u3 was recorded before any route: no variant
    assert [(r[0], r[3], r[5], r[6], r[7]) for r in rows] == [
        (0.5, "u3", None, None, 1.0), (3.0, "u1", "x", 0.3, 1.0), (4.0, None, "y", 0.7, 0.0),
        (7.0, "u1", "y", 0.6, 1.0)]
    assert len(read_log(tmp_path).fetchall()) == 9
    assert [r[1] for r in read_log(tmp_path, event="route").fetchall()] == ["route"] * 4
    outcomes = load_outcomes(tmp_path, "e")
    assert outcomes.columns == ["timestamp", "unit_id", "request_id", "variant", "propensity", "outcome"]
    assert [r[3] for r in outcomes.fetchall()] == ["x", "y", "y"]  # u3 has no variant: left out
    with pytest.raises(ValueError, match=r"of 4: 1 with no variant .*; 1 with no propensity"):
        load_decision_log(tmp_path, "e", variants=["x", "y"])
    (tmp_path / "b.jsonl").write_text("\n".join((tmp_path / "b.jsonl").read_text().splitlines()[:3]) + "\n")
    log = load_decision_log(tmp_path, "e", variants=["y", "x"])
    np.testing.assert_array_equal(log["actions"], [1, 0, 0])
    np.testing.assert_array_equal(log["propensities"], [0.3, 0.7, 0.6])
    np.testing.assert_array_equal(log["rewards"], [1.0, 0.0, 1.0])
    with pytest.raises(ValueError, match=r"2 with a variant not in `variants` \['x'\]"):
        load_decision_log(tmp_path, "e", variants=["x"])


def test_a_file_or_a_list_of_files_is_a_source(tmp_path: Path) -> None:
    _write(tmp_path / "a.jsonl", [route(1.0, "u1", "x", 0.5)])
    _write(tmp_path / "b.jsonl", [route(2.0, "u2", "y", 0.5)])
    assert len(read_log(tmp_path / "a.jsonl").fetchall()) == 1
    assert len(read_log([tmp_path / "a.jsonl", str(tmp_path / "b.jsonl")]).fetchall()) == 2
    empty = load_decision_log(tmp_path, "e", variants=["x", "y"])
    assert {k: v.size for k, v in empty.items()} == {"rewards": 0, "actions": 0, "propensities": 0}


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda d: read_log(d / "missing"), ValueError, "`source` names no log directory or file"),
    (lambda d: read_log(d / "empty"), ValueError, "`source` must be a log directory with segments"),
    (lambda d: read_log(5), TypeError, "`source` must be a log directory, a segment file or a non-empty list"),
    (lambda d: read_log([]), TypeError, "`source` must be"),
    (lambda d: read_log([d / "nope.jsonl"]), ValueError, "`source` names files that do not exist"),
    (lambda d: read_log(d / "log", event="routed"), ValueError, "`event` must be one of"),
    (lambda d: read_log(d / "log", experiment=""), ValueError, "`experiment` must be a non-empty string"),
    (lambda d: load_outcomes(d / "log", 3), TypeError, "`experiment` must be"),
    (lambda d: load_decision_log(d / "log", "e", variants="xy"), TypeError, "`variants` must be a non-empty list"),
    (lambda d: load_decision_log(d / "log", "e", variants=["x", "x"]), ValueError, "`variants` must be distinct"),
])
def test_bad_arguments_are_named(tmp_path: Path, call: Any, error: type, message: str) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "log").mkdir()
    _write(tmp_path / "log" / "a.jsonl", [route(1.0, "u1", "x", 0.5)])
    with pytest.raises(error, match=message.replace("(", r"\(").replace("[", r"\[")):
        call(tmp_path)
