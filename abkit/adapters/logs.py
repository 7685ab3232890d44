"""Durable decision and outcome logs: append-only JSON Lines segment files in a directory.

Every ``route`` and ``record`` of a router (and every model's answer in a shadow) becomes one
line with the same flat keys, :data:`LOG_COLUMNS` (null where a field does not apply):

``timestamp``
    Seconds since the epoch (UTC) when the line was written.
``event``
    ``"route"`` (a decision), ``"record"`` (an outcome or reward) or ``"shadow"`` (one model's
    answer to a request).
``experiment``, ``unit_id``, ``request_id``, ``variant``, ``propensity``
    Who was served what, and the probability of that choice (off-policy evaluation needs it).
``outcome``
    The outcome or reward recorded.
``model``, ``prediction``, ``label``, ``latency``
    A shadow model's answer, the ground truth once known, and the model's latency.

That is what off-policy evaluation, shadow comparison and A/B analysis read later, in the
engine: DuckDB reads a directory with ``read_json('DIR/*.jsonl')`` and Spark with
``spark.read.json('DIR')``, both without any extension download.

Each process writes its own segment files (``<start>-<pid>-<n>.jsonl``, a new one every
``segment_bytes``), so the worker processes of a service never interleave. Each record is one
``write`` system call, so a crashed writer never leaves a torn line behind.

Durability is stated, not implied:

- ``durability="sync"``: :meth:`SegmentLog.write` returns only after the line is written and
  ``fdatasync``'d: an acknowledged record survives ``kill -9`` (and a power loss). Threads
  writing at once share one ``fdatasync`` (group commit); one thread alone writes about as
  many records a second as the disk completes syncs.
- ``durability="batch"``: lines are buffered and written (and synced) every ``flush_interval``
  seconds by a background thread, and at :meth:`~SegmentLog.flush`/:meth:`~SegmentLog.close`:
  a crash loses at most the last ``flush_interval`` seconds of records.

Examples
--------
>>> import tempfile, json, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> with SegmentLog(folder) as log:
...     log.write("route", experiment="exp", unit_id="u1", variant="treatment", propensity=0.5)
>>> [line] = next(folder.glob("*.jsonl")).read_text().splitlines()
>>> json.loads(line)["variant"]
'treatment'
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from abkit._validation import check_choice, check_path, check_positive

__all__ = ["DURABILITIES", "EVENTS", "LOG_COLUMNS", "SegmentLog"]

LOG_COLUMNS = ("timestamp", "event", "experiment", "unit_id", "request_id", "variant", "propensity",
               "outcome", "model", "prediction", "label", "latency")
EVENTS = ("route", "record", "shadow")
DURABILITIES = ("sync", "batch")
_TEXT = frozenset({"experiment", "unit_id", "request_id", "variant", "model"})
_NUMBERS = frozenset({"propensity", "outcome", "prediction", "label", "latency"})


def _line(event: str, fields: Mapping[str, Any]) -> bytes:
    """One checked JSON line (every key of :data:`LOG_COLUMNS`; NaN becomes null)."""
    row: dict[str, Any] = dict.fromkeys(LOG_COLUMNS)
    row["timestamp"], row["event"] = time.time(), event
    for name, value in fields.items():
        if name in _TEXT:
            if value is not None:
                if not isinstance(value, str):
                    raise TypeError(f"`{name}` must be a string; got {type(value).__name__} {value!r}.")
                try:
                    value.encode("utf-8")
                except UnicodeEncodeError:
                    raise ValueError(f"`{name}` must be encodable as UTF-8; got {value!r}.") from None
        elif name in _NUMBERS:
            if value is not None:
                if isinstance(value, bool):
                    value = float(value)
                if not isinstance(value, int | float):
                    raise TypeError(f"`{name}` must be a number or None; got {value!r}.")
                try:
                    value = float(value)
                except OverflowError:  # an int beyond a double's range
                    raise ValueError(f"`{name}` must be finite or NaN; got an integer of "
                                     f"{len(str(abs(value)))} digits.") from None
                if math.isnan(value):
                    value = None
                elif math.isinf(value):
                    raise ValueError(f"`{name}` must be finite or NaN; got {value}.")
        else:
            raise TypeError(f"A log record has no field {name!r}; the fields are {list(LOG_COLUMNS[2:])}.")
        row[name] = value
    return (json.dumps(row, allow_nan=False, ensure_ascii=False) + "\n").encode("utf-8")


class SegmentLog:
    """An append-only log of JSON Lines segment files in ``directory`` (see the module docstring).

    Parameters
    ----------
    directory
        Where segments are written (created if missing).
    durability
        ``"sync"`` (every acknowledged record survives ``kill -9``) or ``"batch"`` (at most
        ``flush_interval`` seconds of records are lost in a crash).
    flush_interval
        Seconds between background writes in ``"batch"`` mode.
    segment_bytes
        Size after which a new segment file is started.

    Safe under threads (one lock); each process, forked workers included, writes its own files.
    """

    def __init__(self, directory: str | os.PathLike[str], *, durability: str = "sync",
                 flush_interval: float = 1.0, segment_bytes: int = 64 * 2**20) -> None:
        self.directory = check_path("directory", directory)
        self.durability = check_choice("durability", durability, DURABILITIES)
        self.flush_interval = check_positive("flush_interval", flush_interval)
        self.segment_bytes = int(check_positive("segment_bytes", segment_bytes))
        if self.directory.exists() and not self.directory.is_dir():
            raise ValueError(f"`directory` must be a directory; {str(self.directory)!r} is a file.")
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._sync_lock = threading.Lock()  # taken after _lock, never before it
        # Serialises flushes (so batches reach the file in order), taken before _lock: a flush
        # holds _lock only to take the buffer, so writers never wait for the disk.
        self._flush_lock = threading.Lock()
        self._written = self._synced = 0  # lines written / known synced (group commit)
        self._buffer: list[bytes] = []
        self._fd = -1
        self._pid = -1
        self._size = 0
        self._count = 0
        self._closed = False
        self._wake = threading.Event()
        self._flusher: threading.Thread | None = None

    # -- writing ---------------------------------------------------------------------------------
    def write(self, event: str, **fields: Any) -> None:
        """Append one record of ``event`` with ``fields`` (keys of :data:`LOG_COLUMNS`).

        Everything is checked first (a bad record writes nothing). In ``"sync"`` mode the record
        is on disk when this returns.
        """
        check_choice("event", event, EVENTS)
        self._append([_line(event, fields)])

    def write_many(self, records: list[tuple[str, Mapping[str, Any]]]) -> None:
        """Append ``(event, fields)`` records together (all checked first; one sync in ``"sync"`` mode)."""
        try:
            pairs = list(records)
            if not all(isinstance(r, tuple | list) and len(r) == 2 for r in pairs):
                raise TypeError
        except TypeError:
            raise TypeError(f"`records` must be a list of (event, fields) pairs; got {records!r}.") from None
        lines = [_line(check_choice("event", event, EVENTS), fields) for event, fields in pairs]
        self._append(lines)

    def _append(self, lines: list[bytes]) -> None:
        with self._lock:
            if self._closed:
                raise ValueError("The log is closed.")
            self._ensure_process()
            if self.durability == "batch":
                self._buffer.extend(lines)
                return
            self._write_out(lines, sync=False)
            mine = self._written
        self._sync_through(mine)

    def _sync_through(self, mine: int) -> None:
        """Return once line ``mine`` is synced, syncing (for every thread waiting) if needed."""
        with self._sync_lock:
            if self._synced >= mine:
                return  # another thread's sync (or a segment switch) covered this line
            target = self._written
            os.fdatasync(self._fd)
            self._synced = target

    def _ensure_process(self) -> None:
        """Open this process's segment (a forked child must not share its parent's file)."""
        pid = os.getpid()
        if pid != self._pid:
            self._fd, self._pid, self._size, self._buffer = -1, pid, 0, []
            self._written = self._synced = 0
            if self.durability == "batch":
                self._flusher = threading.Thread(target=self._flush_loop, name="abkit-log-flush", daemon=True)
                self._flusher.start()

    def _open_segment(self) -> None:
        if self._fd >= 0:
            with self._sync_lock:
                os.fdatasync(self._fd)
                self._synced = self._written
                os.close(self._fd)
        self._count += 1
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        path = self.directory / f"{stamp}-{self._pid}-{self._count:06d}.jsonl"
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o666)
        self._size = 0
        _fsync_directory(self.directory)  # the new file's name is durable too

    def _write_out(self, lines: list[bytes], *, sync: bool = True) -> None:
        """Write ``lines`` (one system call per segment), and sync them."""
        if not lines:
            return
        start = 0
        while start < len(lines):  # one system call per segment's share of the lines
            if self._fd < 0 or self._size >= self.segment_bytes:
                self._open_segment()
            end, size = start, self._size
            while end < len(lines) and (end == start or size < self.segment_bytes):
                size += len(lines[end])
                end += 1
            view = memoryview(b"".join(lines[start:end]))
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
            self._size, self._written, start = size, self._written + end - start, end
        if sync:
            with self._sync_lock:
                os.fdatasync(self._fd)
                self._synced = self._written

    def _flush_loop(self) -> None:
        while not self._closed:
            self._wake.wait(self.flush_interval)
            self.flush()

    def flush(self) -> None:
        """Write and sync every buffered record now."""
        with self._flush_lock:
            with self._lock:
                if self._pid != os.getpid():
                    return
                lines, self._buffer = self._buffer, []
            self._write_out(lines)

    def close(self) -> None:
        """Flush, stop the background writer and close the segment (idempotent)."""
        with self._flush_lock:
            with self._lock:
                self._closed = True  # from here on writes are refused: none can slip past the flush
                mine = self._pid == os.getpid()
                lines, self._buffer = (self._buffer, []) if mine else ([], [])
            if mine:
                self._write_out(lines)
            with self._lock:
                if self._fd >= 0 and mine:
                    os.close(self._fd)
                self._fd = -1
        self._wake.set()
        if self._flusher is not None and self._flusher is not threading.current_thread():
            self._flusher.join(timeout=5.0)

    def __enter__(self) -> SegmentLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"SegmentLog({os.fspath(self.directory)!r}, durability={self.durability!r}, "
                f"flush_interval={self.flush_interval:g})")


def _fsync_directory(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    except OSError:  # pragma: no cover - file systems that refuse directory fsync
        pass
    finally:
        os.close(descriptor)
