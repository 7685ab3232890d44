"""Durable decision and outcome logs: what is acknowledged survives kill -9; engines read the segments."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from abkit.adapters.logs import LOG_COLUMNS, SegmentLog


def _lines(folder: Path) -> list[dict[str, Any]]:
    rows = []
    for path in sorted(folder.glob("*.jsonl")):
        text = path.read_text(encoding="utf-8")
        assert text == "" or text.endswith("\n"), f"{path.name} ends with a torn line"
        rows += [json.loads(line) for line in text.splitlines()]
    return rows


def test_every_line_has_every_column_and_nan_is_null(tmp_path: Path) -> None:
    with SegmentLog(tmp_path) as log:
        log.write("route", experiment="e", unit_id="ü,\"1\"\n", request_id="r1", variant="b", propensity=0.25)
        log.write("record", experiment="e", unit_id="u", outcome=True)
        log.write("shadow", experiment="e", request_id="r1", model="m2", prediction=0.7,
                  label=float("nan"), latency=0.012)
    rows = _lines(tmp_path)
    assert [list(r) for r in rows] == [list(LOG_COLUMNS)] * 3
    assert rows[0]["unit_id"] == "ü,\"1\"\n" and rows[0]["propensity"] == 0.25
    assert rows[1]["outcome"] == 1.0 and rows[1]["variant"] is None
    assert rows[2]["label"] is None and rows[2]["latency"] == 0.012


@pytest.mark.parametrize(
    ("event", "fields", "error", "message"),
    [
        ("routed", {}, ValueError, "`event` must be one of 'route', 'record', 'shadow'; got 'routed'."),
        ("route", {"unit": "u"}, TypeError, "A log record has no field 'unit'"),
        ("route", {"unit_id": 5}, TypeError, "`unit_id` must be a string; got int 5."),
        ("route", {"unit_id": "\udcff"}, ValueError, "`unit_id` must be encodable as UTF-8"),
        ("record", {"outcome": float("inf")}, ValueError, "`outcome` must be finite or NaN; got inf."),
        ("record", {"outcome": "1"}, TypeError, "`outcome` must be a number or None; got '1'."),
    ],
)
def test_a_bad_record_writes_nothing(tmp_path: Path, event: str, fields: dict[str, Any], error: type,
                                     message: str) -> None:
    with SegmentLog(tmp_path) as log:
        with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
            log.write(event, **fields)
        with pytest.raises(error):
            log.write_many([("route", {"unit_id": "fine"}), (event, fields)])
    assert _lines(tmp_path) == []


def test_segments_rotate_and_duckdb_reads_the_directory(tmp_path: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    with SegmentLog(tmp_path, segment_bytes=2_000) as log:
        for i in range(60):
            log.write("record", experiment="e", unit_id=f"u{i}", variant="a" if i % 3 else "b", outcome=i)
    assert len(list(tmp_path.glob("*.jsonl"))) > 5
    totals = duckdb.sql(
        f"SELECT variant, count(*), sum(outcome) FROM read_json('{tmp_path}/*.jsonl', "
        "format='newline_delimited') GROUP BY variant ORDER BY variant").fetchall()
    assert totals == [("a", 40, sum(i for i in range(60) if i % 3)), ("b", 20, sum(range(0, 60, 3)))]


def _writer(folder: str, durability: str, acknowledged: Any, started: Any) -> None:
    log = SegmentLog(folder, durability=durability, flush_interval=0.05)
    started.set()
    for i in range(1_000_000):
        log.write("record", experiment="e", unit_id=f"u{i}", outcome=1.0)
        acknowledged.value = i + 1  # the record was acknowledged to the caller


@pytest.mark.parametrize("durability", ["sync", "batch"])
def test_acknowledged_records_survive_kill_9(tmp_path: Path, durability: str) -> None:
    context = multiprocessing.get_context("fork")
    acknowledged, started = context.Value("q", 0, lock=False), context.Event()
    writer = context.Process(target=_writer, args=(str(tmp_path), durability, acknowledged, started))
    writer.start()
    assert started.wait(10)
    time.sleep(0.4)
    # in batch mode the records acknowledged more than flush_interval before the kill are safe
    safe = acknowledged.value if durability == "batch" else None
    time.sleep(0.2)
    os.kill(writer.pid, signal.SIGKILL)  # the process this test started
    writer.join(10)
    assert writer.exitcode == -signal.SIGKILL
    done = acknowledged.value
    rows = _lines(tmp_path)  # no torn line either
    ids = [int(r["unit_id"][1:]) for r in rows]
    assert ids == list(range(len(ids)))  # in order, nothing twice
    if durability == "sync":
        assert done > 10 and len(ids) >= done
    else:
        assert safe is not None and safe > 10 and len(ids) >= safe


def test_batch_mode_writes_in_the_background_and_on_close(tmp_path: Path) -> None:
    log = SegmentLog(tmp_path, durability="batch", flush_interval=0.05)
    log.write("route", unit_id="u1")
    time.sleep(0.3)
    assert len(_lines(tmp_path)) == 1
    log.write("route", unit_id="u2")
    log.close()
    assert [r["unit_id"] for r in _lines(tmp_path)] == ["u1", "u2"]
    with pytest.raises(ValueError, match="The log is closed"):
        log.write("route", unit_id="u3")


def test_threads_writing_in_sync_mode_lose_nothing(tmp_path: Path) -> None:
    import threading

    with SegmentLog(tmp_path, segment_bytes=4_000) as log:
        def work(t: int) -> None:
            for i in range(40):
                log.write("record", unit_id=f"{t}-{i}", outcome=1.0)

        threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(r["unit_id"] for r in _lines(tmp_path)) == sorted(f"{t}-{i}" for t in range(8) for i in range(40))


def test_load_shadow_log_reads_a_log_directory(tmp_path: Path) -> None:
    pytest.importorskip("duckdb")
    import numpy as np

    from abkit.frame import load_shadow_log

    scores = {"r1": (0.9, 0.8, 1.0), "r2": (0.2, 0.4, 0.0), "r3": (0.7, float("nan"), float("nan"))}
    with SegmentLog(tmp_path, durability="batch") as log:
        log.write("route", experiment="e", unit_id="u", request_id="r1", variant="champion", propensity=1.0)
        for request, (champion, challenger, label) in scores.items():
            log.write("shadow", experiment="e", request_id=request, model="champion", prediction=champion,
                      label=label, latency=0.01)
            if not np.isnan(challenger):
                log.write("shadow", experiment="e", request_id=request, model="challenger",
                          prediction=challenger, label=label, latency=0.02)
    shadow = load_shadow_log(tmp_path)
    assert sorted(shadow.models) == ["challenger", "champion"]
    assert shadow.request_id.tolist() == ["r1", "r2", "r3"]
    assert shadow.report.unlabeled == 1 and shadow.report.missing[shadow.model_index("challenger")] == 1
    champion = shadow.score[:, shadow.model_index("champion")]
    np.testing.assert_array_equal(champion, [0.9, 0.2, 0.7])
    with pytest.raises(ValueError, match=r"segments of one kind; .* holds none"):
        load_shadow_log(tmp_path / "empty" if (tmp_path / "empty").mkdir() is None else tmp_path)
