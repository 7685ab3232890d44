"""SQLiteStore's group commit: concurrent adds of one process share one transaction, each add keeping
its own idempotency check, return value and failure.

To be sure batches form, each test first holds SQLite's write lock from a connection of its own (as
another worker process would): the first add's thread waits for it, and the adds made meanwhile
queue behind it and go in together. A subclass records the batches (their sizes) so the tests can
check they formed; everything else is the real store on a real file.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from abkit.adapters.stores import SQLiteStore, _PendingAdd


class RecordingStore(SQLiteStore):
    """The real store, noting the keys of each batch it commits."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.batches: list[list[str | None]] = []

    def _commit_adds(self, batch: list[_PendingAdd]) -> None:
        self.batches.append([item.key for item in batch])
        super()._commit_adds(batch)


def _hold_write_lock(path: Path) -> sqlite3.Connection:
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    return holder


def _run_threads(target: Any, count: int, path: Path, hold: float = 0.3) -> list[BaseException]:
    """Run ``target(t)`` in ``count`` threads started together while another connection holds the
    write lock for ``hold`` seconds; the errors the threads raised."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(count + 1)

    def run(t: int) -> None:
        barrier.wait()
        try:
            target(t)
        except BaseException as exc:  # reported to the test
            errors.append(exc)

    holder = _hold_write_lock(path)
    threads = [threading.Thread(target=run, args=(t,)) for t in range(count)]
    for thread in threads:
        thread.start()
    barrier.wait()
    time.sleep(hold)
    holder.execute("COMMIT")
    holder.close()
    for thread in threads:
        thread.join(60)
    return errors


def test_many_threads_with_repeated_keys_count_each_key_once(tmp_path: Path) -> None:
    path = tmp_path / "g.db"
    store = RecordingStore(path)
    reader = SQLiteStore(path)  # other connections: they see only committed data
    answers: dict[str, list[bool]] = {}
    answers_lock = threading.Lock()
    threads, per_thread = 16, 40

    def work(t: int) -> None:
        for i in range(per_thread):
            key = f"{t % 4}-{i}"  # every key is sent by 4 threads
            group = "control" if i % 3 else "treatment"
            added = store.add("exp", {group: {"n": 1, "sum": 0.5}}, idempotency_key=key)
            store.add("plain", {"a": {"n": 1}})
            # acknowledged, so committed: a reader on its own connection sees the key already
            assert reader.seen("exp", key)
            with answers_lock:
                answers.setdefault(key, []).append(added)

    assert _run_threads(work, threads, path) == []
    # every key answered True exactly once, False to the 3 others
    assert len(answers) == 4 * per_thread
    assert all(sorted(found) == [False, False, False, True] for found in answers.values())
    n_treatment = sum(1 for i in range(per_thread) if i % 3 == 0) * 4
    n_control = 4 * per_thread - n_treatment
    assert store.totals("exp") == {"control": {"n": float(n_control), "sum": n_control * 0.5},
                                   "treatment": {"n": float(n_treatment), "sum": n_treatment * 0.5}}
    assert store.totals("plain") == {"a": {"n": float(threads * per_thread)}}
    # the adds did share transactions (the lock held at the start guarantees one large batch)
    sizes = [len(batch) for batch in store.batches]
    assert sum(sizes) == 2 * threads * per_thread
    assert max(sizes) >= threads // 2 and len(sizes) < 2 * threads * per_thread
    # the large batch held one key several times (each thread's first add is one of 4 keys), and
    # the answers above show each key taken once
    assert any(max(Counter(k for k in batch if k is not None).values(), default=0) > 1
               for batch in store.batches)
    store.close()
    reader.close()


def test_a_failing_add_fails_alone_and_spends_no_key(tmp_path: Path) -> None:
    """An add that SQLite refuses (a trigger here, as a full disk or a constraint would) raises in its
    own caller; the other adds of its batch count, and its key stays free for a retry."""
    path = tmp_path / "g.db"
    store = RecordingStore(path)
    with sqlite3.connect(path) as setup:
        setup.execute("CREATE TRIGGER poison BEFORE INSERT ON abkit_totals WHEN NEW.grp = 'poison' "
                      "BEGIN SELECT RAISE(ABORT, 'poisoned group'); END")
    answers: dict[int, bool] = {}

    def work(t: int) -> None:
        group = "poison" if t % 4 == 0 else "good"
        answers[t] = store.add("exp", {group: {"n": 1}}, idempotency_key=f"k{t}")

    errors = _run_threads(work, 16, path)
    assert len(errors) == 4 and all(isinstance(e, sqlite3.IntegrityError) for e in errors)
    assert all("poisoned group" in str(e) for e in errors)
    assert sorted(answers) == [t for t in range(16) if t % 4]
    assert all(answers.values())
    assert store.totals("exp") == {"good": {"n": 12.0}}
    poisoned_with_others = [b for b in store.batches
                            if len(b) > 1 and any(k in b for k in ("k0", "k4", "k8", "k12"))]
    assert poisoned_with_others  # a failing add did share its transaction with good ones
    # the failed adds spent no key: their retries (the group fixed) count once
    for t in (0, 4, 8, 12):
        assert not store.seen("exp", f"k{t}")
        assert store.add("exp", {"good": {"n": 1}}, idempotency_key=f"k{t}") is True
        assert store.add("exp", {"good": {"n": 1}}, idempotency_key=f"k{t}") is False
    assert store.totals("exp") == {"good": {"n": 16.0}}
    store.close()


def test_a_batch_that_sqlite_rolls_back_whole_fails_every_add_in_it(tmp_path: Path) -> None:
    """A trigger's RAISE(ROLLBACK) ends the whole transaction: every add of that batch raises (none
    was committed), the other batches count, and every retry then counts exactly once."""
    path = tmp_path / "g.db"
    store = RecordingStore(path)
    with sqlite3.connect(path) as setup:
        setup.execute("CREATE TRIGGER doom BEFORE INSERT ON abkit_totals WHEN NEW.grp = 'doom' "
                      "BEGIN SELECT RAISE(ROLLBACK, 'whole transaction rolled back'); END")
    answers: dict[int, bool] = {}

    def work(t: int) -> None:
        answers[t] = store.add("exp", {"doom" if t == 5 else "good": {"n": 1}}, idempotency_key=f"k{t}")

    errors = _run_threads(work, 12, path)
    doomed = next(batch for batch in store.batches if "k5" in batch)
    failed = {int(k[1:]) for k in doomed if k is not None}
    assert len(errors) == len(failed) and all(isinstance(e, sqlite3.IntegrityError) for e in errors)
    assert sorted(answers) == sorted(set(range(12)) - failed)
    assert store.totals("exp") == {"good": {"n": float(12 - len(failed))}}
    for t in sorted(failed - {5}):  # nothing of the failed batch was kept: each retry counts once
        assert store.add("exp", {"good": {"n": 1}}, idempotency_key=f"k{t}") is True
    assert store.totals("exp") == {"good": {"n": 11.0}}
    store.close()


def test_a_lone_add_still_fails_with_its_own_error(tmp_path: Path) -> None:
    path = tmp_path / "g.db"
    store = SQLiteStore(path)
    with sqlite3.connect(path) as setup:
        setup.execute("CREATE TRIGGER poison BEFORE INSERT ON abkit_totals WHEN NEW.grp = 'poison' "
                      "BEGIN SELECT RAISE(ABORT, 'poisoned group'); END")
    with pytest.raises(sqlite3.IntegrityError, match="poisoned group"):
        store.add("exp", {"ok": {"n": 1}, "poison": {"n": 1}}, idempotency_key="k")
    assert store.totals("exp") == {} and not store.seen("exp", "k")  # atomic: nothing, not even the key
    assert store.add("exp", {"ok": {"n": 1}}, idempotency_key="k") is True
    store.close()
