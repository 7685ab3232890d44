"""Routers with a store, and the faults of issue 14: deep JSON, overflow, file modes."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from abkit import MeanStats, means_test
from abkit.adapters import BanditRouter, FixedSplitRouter, ShadowRouter
from abkit.adapters.stores import MemoryStore, SQLiteStore
from abkit.bandits import EpsilonGreedy
from abkit.errors import StateError


def test_a_store_backed_split_counts_like_the_in_memory_one(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    values = rng.normal(100.0, 15.0, size=400)
    store = SQLiteStore(tmp_path / "s.db")
    first = FixedSplitRouter("exp", metric="mean", store=store)
    second = FixedSplitRouter("exp", metric="mean", store=SQLiteStore(tmp_path / "s.db"))  # another worker
    plain = FixedSplitRouter("exp", metric="mean")
    for i, value in enumerate(values):
        (first if i % 2 else second).record(f"u{i}", float(value))
        plain.record(f"u{i}", float(value))
    for name, stats in plain.summary().items():
        shared = first.summary()[name]
        assert isinstance(shared, MeanStats) and isinstance(stats, MeanStats)
        assert shared.n == stats.n
        # sums of squares vs Welford: about log10((mean/sd)^2) ~ 1.6 digits lost, so 1e-12 relative
        assert shared.mean == pytest.approx(stats.mean, rel=1e-12)
        assert shared.var == pytest.approx(stats.var, rel=1e-12)
    assert second.test().pvalue == pytest.approx(means_test(*plain.summary().values()).pvalue, rel=1e-10)
    restored = FixedSplitRouter.from_json(first.to_json())  # a snapshot of the store's counts
    assert restored.summary() == first.summary()


def test_idempotency_keys_need_a_store_and_count_once() -> None:
    with pytest.raises(ValueError, match="`idempotency_key` needs a router with a `store`"):
        FixedSplitRouter("exp").record("u1", 1, idempotency_key="k")
    router = FixedSplitRouter("exp", store=MemoryStore())
    assert router.record_once("u1", 1, idempotency_key="k") is True
    assert router.record_once("u1", 1, idempotency_key="k") is False
    assert sum(s.n for s in router.summary().values()) == 1
    with pytest.raises(StateError, match="the store is its state"):
        router.load_json(FixedSplitRouter("exp").to_json())


@pytest.mark.parametrize("store", [None, "memory"])
def test_outcomes_whose_squares_overflow_are_refused_and_change_nothing(store: Any) -> None:
    router = FixedSplitRouter("exp", metric="mean", store=None if store is None else MemoryStore())
    router.record("u1", 1.0)
    before = router.to_json()
    for bad in (1.9e154, -1e300, 1e151):
        with pytest.raises(ValueError, match=r"`outcome` must be at most 1e\+150 in absolute value"):
            router.record("u2", bad)
    assert router.to_json() == before
    router.record("u2", 1e150)
    router.record("u3", -1e150)
    assert FixedSplitRouter.from_json(router.to_json()).to_json() == router.to_json()


def _routers() -> list[Any]:
    return [FixedSplitRouter("e"), BanditRouter("b", EpsilonGreedy(2, epsilon=0.1)), ShadowRouter("live", ["s"])]


@pytest.mark.parametrize("router", _routers(), ids=lambda r: type(r).__name__)
@pytest.mark.parametrize(("text", "message"), [
    ("[" * 100_000 + "]" * 100_000, "nested deeper than"),
    ('{"kind": NaN}', "holds NaN"),
    (b"\xff", "not UTF-8"),
    (42, "must be JSON text"),
])
def test_deep_or_malformed_router_json_is_a_state_error(router: Any, text: Any, message: str) -> None:
    with pytest.raises(StateError, match=message):
        type(router).from_json(text)


def test_saved_state_files_get_the_umask_mode(tmp_path: Path) -> None:
    router = FixedSplitRouter("e")
    old = os.umask(0o022)
    try:
        router.save(tmp_path / "state.json")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "state.json").stat().st_mode) == 0o644
    assert FixedSplitRouter.load(tmp_path / "state.json").to_json() == router.to_json()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file left


def test_a_slow_allocation_is_computed_outside_the_router_lock() -> None:
    import threading
    import time

    from abkit.bandits import ThompsonBernoulli

    policy = ThompsonBernoulli(50, rng=1)
    router = BanditRouter("many", policy, rng=2)
    original = policy.allocation

    def slow_allocation() -> Any:
        time.sleep(0.5)  # as Thompson sampling over 1,000 arms takes (seconds, measured in issue 14)
        return original()

    policy.allocation = slow_allocation  # type: ignore[method-assign]
    first = threading.Thread(target=router.route, args=("u1",))
    first.start()
    time.sleep(0.1)  # the first route is now computing the allocation
    started = time.perf_counter()
    with router._lock:  # what every other route, record and merge needs
        waited = time.perf_counter() - started
    first.join()
    assert waited < 0.2
    assert router.pending == 1 and abs(sum(router.allocation()) - 1.0) < 1e-12
