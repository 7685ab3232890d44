"""Where routers keep their counts: stores of additive sufficient statistics.

A router's statistics add (counts, sums, sums of squares), so a store keeps them as
**increments**, never read-modify-write: any number of threads, worker processes or hosts may
add to the same totals at once and nothing is lost. Three stores share one small interface:

- :class:`MemoryStore`: one process (the default; dictionaries under a lock).
- :class:`SQLiteStore`: the worker processes of one host. One SQLite file in WAL mode; adds are
  ``INSERT ... ON CONFLICT DO UPDATE SET value = value + excluded.value`` in ``BEGIN IMMEDIATE``
  transactions, so concurrent adds serialise inside SQLite. Adds that threads of one process
  make at the same moment share one transaction (group commit, each add in its own savepoint).
- :class:`RedisStore`: several hosts. One Redis hash per namespace, added to with
  ``HINCRBYFLOAT`` inside one Lua script (atomic on the server, no read-modify-write).

Besides totals a store keeps two kinds of short-lived keys, both with a time to live:

- **idempotency keys**: ``add(..., idempotency_key=k)`` adds only if ``k`` was not seen in the
  namespace within ``ttl`` seconds, atomically with the increments (a client that retries a
  request it is unsure about is counted once);
- **pending decisions**: ``put_pending``/``pop_pending`` hand a decision made on one worker to
  the worker that receives its reward (each pending decision is popped at most once).

and **versioned values** (no time to live): ``get_value``/``set_value`` keep one text per name
with a version number, written only if the version is still the one read (compare-and-set), so
a decision one worker takes from a state (a canary's rollout) cannot overwrite another's.

Numerical note
--------------
Means are kept as ``n``, ``sum`` and ``sum of squares`` (additive, so increments work). The
variance ``(sumsq - sum^2 / n) / (n - 1)`` loses about ``log10((mean / sd)^2)`` significant
digits to cancellation: fine for metrics whose mean is within a few orders of magnitude of their
spread (revenue, latency, counts), poor for, say, timestamps. Subtract a known offset from such
outcomes before recording them. (Chan's pairwise merge of ``(n, mean, m2)``, which
:meth:`abkit.MeanStats.merge` uses, avoids the cancellation but is not an increment: it needs a
read-modify-write of the stored triple.) Counts are exact up to ``2**53``.

Examples
--------
>>> store = MemoryStore()
>>> store.add("exp", {"control": {"n": 1.0, "sum": 1.0}}, idempotency_key="r1")
True
>>> store.add("exp", {"control": {"n": 1.0, "sum": 1.0}}, idempotency_key="r1")
False
>>> store.totals("exp")
{'control': {'n': 1.0, 'sum': 1.0}}
"""

from __future__ import annotations

import abc
import json
import math
import os
import sqlite3
import threading
import time
from collections.abc import Mapping
from typing import Any

from abkit._validation import check_choice, check_id, check_path, check_positive, check_string

__all__ = ["MemoryStore", "RedisStore", "SQLiteStore", "Store", "open_store"]

Deltas = Mapping[str, Mapping[str, float]]
Totals = dict[str, dict[str, float]]

DEFAULT_TTL = 86_400.0
"""Seconds an idempotency key or a pending decision is kept (one day)."""


def _check_deltas(deltas: Any) -> list[tuple[str, str, float]]:
    """``{group: {field: delta}}`` as checked ``(group, field, delta)`` rows (finite deltas)."""
    if not isinstance(deltas, Mapping):
        raise TypeError(f"`deltas` must be a mapping {{group: {{field: number}}}}; got {deltas!r}.")
    rows = []
    for group, fields in deltas.items():
        check_string("group", group)
        if not isinstance(fields, Mapping):
            raise TypeError(f"`deltas[{group!r}]` must be a mapping {{field: number}}; got {fields!r}.")
        for field, value in fields.items():
            check_string("field", field)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(f"`deltas[{group!r}][{field!r}]` must be a number; got {value!r}.")
            if not math.isfinite(value):
                raise ValueError(f"`deltas[{group!r}][{field!r}]` must be finite; got {value}.")
            rows.append((group, field, float(value)))
    return rows


def _check_key(name: str, value: Any) -> str:
    key = check_id(name, value)
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"`{name}` must be encodable as UTF-8; got {key!r}.") from None
    return key


class Store(abc.ABC):
    """The interface every store implements (see the module docstring)."""

    def __init__(self, *, ttl: float = DEFAULT_TTL) -> None:
        self.ttl = check_positive("ttl", ttl)

    def add(self, namespace: str, deltas: Deltas, *, idempotency_key: str | None = None) -> bool:
        """Add ``deltas`` (``{group: {field: delta}}``) to the totals of ``namespace``, atomically.

        With ``idempotency_key``, adds only the first time the key is seen in ``namespace``
        (within ``ttl`` seconds) and returns whether it added. Everything is checked first; a
        failed call adds nothing.
        """
        _check_key("namespace", namespace)
        rows = _check_deltas(deltas)
        key = None if idempotency_key is None else _check_key("idempotency_key", idempotency_key)
        return self._add(namespace, rows, key)

    def seen(self, namespace: str, idempotency_key: str) -> bool:
        """Whether ``add`` took ``idempotency_key`` in ``namespace`` within ``ttl`` (reads only)."""
        return self._seen(_check_key("namespace", namespace), _check_key("idempotency_key", idempotency_key))

    def totals(self, namespace: str) -> Totals:
        """Every group's totals in ``namespace``: ``{group: {field: total}}`` (empty if none)."""
        return self._totals(_check_key("namespace", namespace))

    def put_pending(self, namespace: str, request_id: str, payload: str) -> None:
        """Keep ``payload`` (text) for ``request_id`` for ``ttl`` seconds (replacing any earlier)."""
        self._put_pending(_check_key("namespace", namespace), _check_key("request_id", request_id),
                          check_string("payload", payload))

    def pop_pending(self, namespace: str, request_id: str) -> str | None:
        """The payload kept for ``request_id``, removed (``None`` if absent or expired)."""
        return self._pop_pending(_check_key("namespace", namespace), _check_key("request_id", request_id))

    def get_value(self, namespace: str, name: str) -> tuple[int, str | None]:
        """The versioned value ``name``: ``(version, text)``, ``(0, None)`` if never set."""
        return self._get_value(_check_key("namespace", namespace), _check_key("name", name))

    def set_value(self, namespace: str, name: str, text: str, *, version: int) -> bool:
        """Write ``text`` as version ``version + 1`` of ``name`` if its version is still ``version``.

        Returns whether it wrote (False: another writer got there first; read it again). Atomic
        across threads, processes and hosts (compare-and-set).
        """
        if isinstance(version, bool) or not isinstance(version, int) or version < 0:
            raise ValueError(f"`version` must be a non-negative integer; got {version!r}.")
        return self._set_value(_check_key("namespace", namespace), _check_key("name", name),
                               check_string("text", text), version)

    def close(self) -> None:  # noqa: B027 - a store without resources has nothing to close
        """Release connections (the store may not be used afterwards)."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @abc.abstractmethod
    def _add(self, namespace: str, rows: list[tuple[str, str, float]], key: str | None) -> bool: ...

    @abc.abstractmethod
    def _totals(self, namespace: str) -> Totals: ...

    @abc.abstractmethod
    def _put_pending(self, namespace: str, request_id: str, payload: str) -> None: ...

    @abc.abstractmethod
    def _pop_pending(self, namespace: str, request_id: str) -> str | None: ...

    @abc.abstractmethod
    def _seen(self, namespace: str, key: str) -> bool: ...

    @abc.abstractmethod
    def _get_value(self, namespace: str, name: str) -> tuple[int, str | None]: ...

    @abc.abstractmethod
    def _set_value(self, namespace: str, name: str, text: str, version: int) -> bool: ...


class MemoryStore(Store):
    """Totals in this process's memory, under one lock (the default store).

    Examples
    --------
    >>> store = MemoryStore()
    >>> store.put_pending("exp", "req-1", '{"arm": 2}')
    >>> store.pop_pending("exp", "req-1"), store.pop_pending("exp", "req-1")
    ('{"arm": 2}', None)
    """

    def __init__(self, *, ttl: float = DEFAULT_TTL) -> None:
        super().__init__(ttl=ttl)
        self._lock = threading.Lock()
        self._totals_by_ns: dict[str, Totals] = {}
        self._keys: dict[tuple[str, str], float] = {}
        self._pending: dict[tuple[str, str], tuple[str, float]] = {}
        self._values: dict[tuple[str, str], tuple[int, str]] = {}

    def _expire(self, now: float) -> None:
        for table in (self._keys, self._pending):
            if len(table) > 1024:  # amortised: a sweep only when the tables have grown
                for k in [k for k, v in table.items() if (v if isinstance(v, float) else v[1]) <= now]:
                    del table[k]

    def _add(self, namespace: str, rows: list[tuple[str, str, float]], key: str | None) -> bool:
        now = time.time()
        with self._lock:
            if key is not None:
                expires = self._keys.get((namespace, key))
                if expires is not None and expires > now:
                    return False
                self._expire(now)
                self._keys[(namespace, key)] = now + self.ttl
            totals = self._totals_by_ns.setdefault(namespace, {})
            for group, field, value in rows:
                fields = totals.setdefault(group, {})
                fields[field] = fields.get(field, 0.0) + value
        return True

    def _seen(self, namespace: str, key: str) -> bool:
        with self._lock:
            expires = self._keys.get((namespace, key))
        return expires is not None and expires > time.time()

    def _totals(self, namespace: str) -> Totals:
        with self._lock:
            return {g: dict(f) for g, f in self._totals_by_ns.get(namespace, {}).items()}

    def _put_pending(self, namespace: str, request_id: str, payload: str) -> None:
        now = time.time()
        with self._lock:
            self._expire(now)
            self._pending[(namespace, request_id)] = (payload, now + self.ttl)

    def _pop_pending(self, namespace: str, request_id: str) -> str | None:
        with self._lock:
            entry = self._pending.pop((namespace, request_id), None)
        if entry is None or entry[1] <= time.time():
            return None
        return entry[0]

    def _get_value(self, namespace: str, name: str) -> tuple[int, str | None]:
        with self._lock:
            return self._values.get((namespace, name), (0, None))

    def _set_value(self, namespace: str, name: str, text: str, version: int) -> bool:
        with self._lock:
            if self._values.get((namespace, name), (0, None))[0] != version:
                return False
            self._values[(namespace, name)] = (version + 1, text)
            return True

    def __repr__(self) -> str:
        return f"MemoryStore(ttl={self.ttl:g})"


_SCHEMA = """
CREATE TABLE IF NOT EXISTS abkit_totals (
    namespace TEXT NOT NULL, grp TEXT NOT NULL, field TEXT NOT NULL, value REAL NOT NULL,
    PRIMARY KEY (namespace, grp, field)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS abkit_keys (
    namespace TEXT NOT NULL, key TEXT NOT NULL, expires REAL NOT NULL,
    PRIMARY KEY (namespace, key)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS abkit_keys_expires ON abkit_keys (expires);
CREATE TABLE IF NOT EXISTS abkit_pending (
    namespace TEXT NOT NULL, request_id TEXT NOT NULL, payload TEXT NOT NULL, expires REAL NOT NULL,
    PRIMARY KEY (namespace, request_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS abkit_pending_expires ON abkit_pending (expires);
CREATE TABLE IF NOT EXISTS abkit_values (
    namespace TEXT NOT NULL, name TEXT NOT NULL, version INTEGER NOT NULL, payload TEXT NOT NULL,
    PRIMARY KEY (namespace, name)) WITHOUT ROWID;
"""


class _PendingAdd:
    """One add waiting in a group commit: its arguments, then its answer (or error)."""

    __slots__ = ("added", "done", "error", "key", "namespace", "now", "rows", "shared_error")

    def __init__(self, namespace: str, rows: list[tuple[str, str, float]], key: str | None,
                 now: float) -> None:
        self.namespace, self.rows, self.key, self.now = namespace, rows, key, now
        self.added = False
        self.done = False
        self.error: BaseException | None = None
        self.shared_error = False


class _GroupCommit:
    """A process's queue of adds to one SQLite file and whether a thread is committing a batch."""

    def __init__(self) -> None:
        self.changed = threading.Condition(threading.Lock())
        self.queue: list[_PendingAdd] = []
        self.leading = False


def _copy_error(exc: BaseException) -> BaseException:
    """A copy of ``exc`` to raise in another thread (one exception object raised in several
    threads would share, and garble, its traceback)."""
    try:
        return type(exc)(*exc.args)
    except Exception:  # an exception type whose constructor takes other arguments
        return exc


class SQLiteStore(Store):
    """Totals in one SQLite file, shared by the worker processes (and threads) of one host.

    Parameters
    ----------
    path
        The database file (created if missing, with its tables).
    ttl
        Seconds idempotency keys and pending decisions are kept.
    synchronous
        SQLite's ``synchronous`` setting: ``"NORMAL"`` (default; in WAL mode a committed add
        survives the crash of any process, ``kill -9`` included, but not a power loss) or
        ``"FULL"`` (fsync at every commit: survives a power loss too, slower).
    timeout
        Seconds a writer waits for another process's transaction before failing.

    Each thread of each process opens its own connection (a forked worker opens new ones).
    Adds that threads of one process make while a transaction is under way wait and then go in
    one transaction together (group commit): each keeps its own idempotency check, answer and
    failure, and returns once that transaction has committed.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> store = SQLiteStore(pathlib.Path(tempfile.mkdtemp()) / "abkit.db")
    >>> store.add("exp", {"control": {"n": 2.0}})
    True
    >>> store.add("exp", {"control": {"n": 3.0}})
    True
    >>> store.totals("exp")
    {'control': {'n': 5.0}}
    >>> store.close()
    """

    def __init__(self, path: str | os.PathLike[str], *, ttl: float = DEFAULT_TTL,
                 synchronous: str = "NORMAL", timeout: float = 30.0) -> None:
        super().__init__(ttl=ttl)
        check_choice("synchronous", synchronous, ("NORMAL", "FULL"))
        self.path = check_path("path", path)
        self.synchronous = synchronous
        self.timeout = check_positive("timeout", timeout)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        # Threads of one process queue here for the write lock: SQLite's own busy handler would
        # make them sleep (1 ms, 2 ms, 5 ms, ...) and retry instead. Adds queue in the group
        # commit's queue (see `_add`). Both are remade in a forked child.
        self._lock_pid = -1
        self._process_locks()
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                connection = self._connection()
                with connection:
                    connection.executescript(_SCHEMA)
                break
            except sqlite3.OperationalError as exc:
                # Processes opening one new file at once: switching it to WAL (or creating the
                # tables) may answer "locked" without waiting in SQLite's busy handler. Wait here.
                self.close()
                if ("locked" not in str(exc) and "busy" not in str(exc)) or time.monotonic() > deadline:
                    raise ValueError(f"`path` must be an SQLite database or a new file that this process "
                                     f"can open; {str(self.path)!r}: {exc}.") from None
                time.sleep(0.01)
            except sqlite3.DatabaseError as exc:  # an existing file that is not an SQLite database
                self.close()
                raise ValueError(f"`path` must be an SQLite database or a new file; "
                                 f"{str(self.path)!r}: {exc}.") from None

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is not None and self._local.pid == os.getpid():
            return connection
        connection = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None,
                                     check_same_thread=False)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute(f"PRAGMA synchronous={self.synchronous}")
        self._local.connection, self._local.pid = connection, os.getpid()
        with self._all_lock:
            self._all.append(connection)
        return connection

    def _process_locks(self) -> _GroupCommit:
        """This process's write lock and group-commit queue (a forked child's parent may have held
        them, with other threads' adds queued: the child starts afresh)."""
        if self._lock_pid != os.getpid():
            self._write_lock, self._group = threading.Lock(), _GroupCommit()
            self._lock_pid = os.getpid()
        return self._group

    def _transaction(self, work: Any) -> Any:
        connection = self._connection()
        self._process_locks()
        with self._write_lock:
            connection.execute("BEGIN IMMEDIATE")
            try:
                result = work(connection)
            except BaseException:
                if connection.in_transaction:  # (SQLite may have rolled it back already)
                    connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
        return result

    def _add(self, namespace: str, rows: list[tuple[str, str, float]], key: str | None) -> bool:
        """Group commit: the add joins this process's queue; the first thread to find no
        transaction under way leads, taking every queued add into ONE transaction, each add in
        its own savepoint (its own idempotency check and return value; an add that fails is
        rolled back alone and raises in its own caller). Each caller returns once the transaction
        holding its add has committed, so an acknowledged add is as durable as a lone one."""
        pending = _PendingAdd(namespace, rows, key, time.time())
        group = self._process_locks()
        with group.changed:
            group.queue.append(pending)
            while group.leading and not pending.done:
                group.changed.wait()
            lead = not pending.done
            if lead:
                group.leading = True
                batch, group.queue = group.queue, []
        if lead:
            try:
                self._commit_adds(batch)
            finally:
                with group.changed:
                    group.leading = False
                    for item in batch:
                        item.done = True
                    group.changed.notify_all()
        if pending.error is not None:
            if pending.shared_error and not lead:  # the batch's error: a copy of the leader's
                raise _copy_error(pending.error) from pending.error
            raise pending.error
        return pending.added

    def _commit_adds(self, batch: list[_PendingAdd]) -> None:
        """Apply ``batch`` in one transaction; on return every add has its answer or error."""

        def work(connection: sqlite3.Connection) -> None:
            if any(item.key is not None and hash(item.key) % 256 == 0 for item in batch):
                # now and then, forget expired keys
                connection.execute("DELETE FROM abkit_keys WHERE expires <= ?", (batch[0].now,))
            if len(batch) == 1:  # alone: no savepoint needed, its failure is the transaction's
                batch[0].added = self._apply_add(connection, batch[0])
                return
            for item in batch:
                connection.execute("SAVEPOINT abkit_add")
                try:
                    item.added = self._apply_add(connection, item)
                except Exception as exc:
                    if not connection.in_transaction:  # SQLite gave up the whole transaction
                        raise
                    connection.execute("ROLLBACK TO abkit_add")
                    item.error = exc
                connection.execute("RELEASE abkit_add")

        try:
            self._transaction(work)
        except BaseException as exc:  # nothing of the batch was committed: every add fails with it
            for item in batch:
                item.added, item.error, item.shared_error = False, exc, True
            if not isinstance(exc, Exception):  # KeyboardInterrupt, SystemExit: stop the leader now
                raise

    def _apply_add(self, connection: sqlite3.Connection, item: _PendingAdd) -> bool:
        namespace, key, now = item.namespace, item.key, item.now
        if key is not None:
            connection.execute("DELETE FROM abkit_keys WHERE namespace = ? AND key = ? AND expires <= ?",
                               (namespace, key, now))
            claimed = connection.execute(
                "INSERT OR IGNORE INTO abkit_keys (namespace, key, expires) VALUES (?, ?, ?)",
                (namespace, key, now + self.ttl)).rowcount
            if claimed == 0:
                return False
        connection.executemany(
            "INSERT INTO abkit_totals (namespace, grp, field, value) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (namespace, grp, field) DO UPDATE SET value = value + excluded.value",
            [(namespace, group, field, value) for group, field, value in item.rows])
        return True

    def _seen(self, namespace: str, key: str) -> bool:
        row = self._connection().execute(
            "SELECT 1 FROM abkit_keys WHERE namespace = ? AND key = ? AND expires > ?",
            (namespace, key, time.time())).fetchone()
        return row is not None

    def _totals(self, namespace: str) -> Totals:
        result: Totals = {}
        rows = self._connection().execute(
            "SELECT grp, field, value FROM abkit_totals WHERE namespace = ? ORDER BY grp, field",
            (namespace,)).fetchall()
        for group, field, value in rows:
            result.setdefault(group, {})[field] = float(value)
        return result

    def _put_pending(self, namespace: str, request_id: str, payload: str) -> None:
        now = time.time()

        def work(connection: sqlite3.Connection) -> None:
            connection.execute(
                "INSERT OR REPLACE INTO abkit_pending (namespace, request_id, payload, expires) "
                "VALUES (?, ?, ?, ?)", (namespace, request_id, payload, now + self.ttl))
            if hash(request_id) % 256 == 0:
                connection.execute("DELETE FROM abkit_pending WHERE expires <= ?", (now,))

        self._transaction(work)

    def _pop_pending(self, namespace: str, request_id: str) -> str | None:
        def work(connection: sqlite3.Connection) -> str | None:
            rows = connection.execute(
                "DELETE FROM abkit_pending WHERE namespace = ? AND request_id = ? RETURNING payload, expires",
                (namespace, request_id)).fetchall()
            row = rows[0] if rows else None
            return None if row is None or row[1] <= time.time() else str(row[0])

        result: str | None = self._transaction(work)
        return result

    def _get_value(self, namespace: str, name: str) -> tuple[int, str | None]:
        row = self._connection().execute(
            "SELECT version, payload FROM abkit_values WHERE namespace = ? AND name = ?", (namespace, name)
        ).fetchone()
        return (0, None) if row is None else (int(row[0]), str(row[1]))

    def _set_value(self, namespace: str, name: str, text: str, version: int) -> bool:
        def work(connection: sqlite3.Connection) -> bool:
            if version == 0:
                return bool(connection.execute(
                    "INSERT OR IGNORE INTO abkit_values (namespace, name, version, payload) "
                    "VALUES (?, ?, 1, ?)", (namespace, name, text)).rowcount)
            return bool(connection.execute(
                "UPDATE abkit_values SET version = version + 1, payload = ? "
                "WHERE namespace = ? AND name = ? AND version = ?",
                (text, namespace, name, version)).rowcount)

        written: bool = self._transaction(work)
        return written

    def close(self) -> None:
        """Close every connection this store opened (in this process)."""
        with self._all_lock:
            connections, self._all = self._all, []
        for connection in connections:
            connection.close()
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"SQLiteStore({os.fspath(self.path)!r}, ttl={self.ttl:g}, synchronous={self.synchronous!r})"


_ADD_SCRIPT = """
if KEYS[2] ~= '' then
    if not redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[1]) then return 0 end
end
for i = 2, #ARGV, 2 do redis.call('HINCRBYFLOAT', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 1
"""

_SET_VALUE_SCRIPT = """
local current = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if current ~= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'version', current + 1, 'payload', ARGV[2])
return 1
"""


class RedisStore(Store):
    """Totals in Redis, shared by every process on every host that can reach the server.

    Parameters
    ----------
    url
        A redis-py URL: ``redis://HOST:PORT/DB``, ``rediss://...`` (TLS) or
        ``unix:///PATH/redis.sock?db=N``.
    ttl
        Seconds idempotency keys and pending decisions are kept (Redis expires them itself).
    prefix
        Prefix of every key this store writes. Keys of one namespace share a hash tag
        (``{namespace}``), so a Redis Cluster keeps them on one shard and the script stays atomic.

    Adds run one Lua script (``SET NX PX`` of the idempotency key, then ``HINCRBYFLOAT`` per
    field), atomic on the server: no read-modify-write, nothing lost between hosts. Needs the
    ``redis`` package (``pip install abkit[serve]``).
    """

    def __init__(self, url: str, *, ttl: float = DEFAULT_TTL, prefix: str = "abkit") -> None:
        super().__init__(ttl=ttl)
        try:
            import redis
        except ImportError as exc:  # pragma: no cover - the serve extra installs it
            raise ImportError("RedisStore needs the `redis` package: pip install 'abkit[serve]'.") from exc
        self.url = check_id("url", url)
        self.prefix = check_id("prefix", prefix)
        self._client = redis.Redis.from_url(url)
        self._script = self._client.register_script(_ADD_SCRIPT)
        self._set_script = self._client.register_script(_SET_VALUE_SCRIPT)

    def _key(self, namespace: str, kind: str, tail: str = "") -> str:
        return f"{self.prefix}:{{{namespace}}}:{kind}{':' + tail if tail else ''}"

    def _add(self, namespace: str, rows: list[tuple[str, str, float]], key: str | None) -> bool:
        args: list[Any] = [int(self.ttl * 1000)]
        for group, field, value in rows:
            args += [json.dumps([group, field]), repr(value)]
        keys = [self._key(namespace, "totals"), "" if key is None else self._key(namespace, "key", key)]
        return bool(self._script(keys=keys, args=args))

    def _seen(self, namespace: str, key: str) -> bool:
        return bool(self._client.exists(self._key(namespace, "key", key)))

    def _totals(self, namespace: str) -> Totals:
        result: Totals = {}
        raw: dict[bytes, bytes] = self._client.hgetall(self._key(namespace, "totals"))  # type: ignore[assignment]
        for name, value in sorted(raw.items()):
            group, field = json.loads(name)
            result.setdefault(group, {})[field] = float(value)
        return result

    def _put_pending(self, namespace: str, request_id: str, payload: str) -> None:
        self._client.set(self._key(namespace, "pending", request_id), payload.encode("utf-8"),
                         px=int(self.ttl * 1000))

    def _pop_pending(self, namespace: str, request_id: str) -> str | None:
        value: bytes | None = self._client.getdel(self._key(namespace, "pending", request_id))  # type: ignore[assignment]
        return None if value is None else value.decode("utf-8")

    def _get_value(self, namespace: str, name: str) -> tuple[int, str | None]:
        reply: list[bytes | None] = self._client.hmget(  # type: ignore[assignment]
            self._key(namespace, "value", name), ["version", "payload"])
        version, payload = reply
        return (0, None) if version is None or payload is None else (int(version), payload.decode("utf-8"))

    def _set_value(self, namespace: str, name: str, text: str, version: int) -> bool:
        return bool(self._set_script(keys=[self._key(namespace, "value", name)], args=[version, text]))

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def __repr__(self) -> str:
        return f"RedisStore({self.url!r}, ttl={self.ttl:g}, prefix={self.prefix!r})"


def open_store(url: str) -> Store:
    """A store from a URL: ``memory://``, ``sqlite://PATH`` or ``redis://HOST:PORT/DB``.

    ``sqlite:///var/lib/abkit.db`` is the absolute path ``/var/lib/abkit.db``;
    ``sqlite://abkit.db`` is relative to the working directory. ``rediss://`` and ``unix://``
    URLs also open a :class:`RedisStore`.

    Examples
    --------
    >>> open_store("memory://")
    MemoryStore(ttl=86400)
    >>> open_store("ftp://x")
    Traceback (most recent call last):
    ...
    ValueError: `url` must be memory://, sqlite://PATH or redis://HOST:PORT/DB; got 'ftp://x'.
    """
    return open_store_as(url, "url")


def open_store_as(url: str, name: str) -> Store:
    """:func:`open_store`, its errors naming the caller's argument ``name`` (the service's
    ``store``)."""
    url = check_string(name, url)
    if url == "memory://":
        return MemoryStore()
    if url.startswith("sqlite://") and len(url) > len("sqlite://"):
        return SQLiteStore(url[len("sqlite://"):])
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisStore(url)
    raise ValueError(f"`{name}` must be memory://, sqlite://PATH or redis://HOST:PORT/DB; got {url!r}.")
