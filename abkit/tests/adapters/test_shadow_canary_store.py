"""ShadowRouter and CanaryRouter with ``store=``: statistics shared by worker processes (real
SQLite files) and hosts (a real Redis server), the canary's rollout state carried between workers."""

from __future__ import annotations

import json
import multiprocessing
from typing import Any

import numpy as np
import pytest

from abkit.adapters import CanaryRouter, ShadowRouter
from abkit.adapters.stores import MemoryStore, RedisStore, SQLiteStore, Store
from abkit.errors import StateError
from abkit.rollout import CanaryJudge, CanaryRollout

FORK = multiprocessing.get_context("fork")  # a fresh interpreter would spend seconds importing


def _open(url: str, prefix: str = "t") -> Store:
    return SQLiteStore(url[len("sqlite://"):]) if url.startswith("sqlite://") else RedisStore(url, prefix=prefix)


def _url(backend: str, tmp_path: Any, request: Any) -> str:
    return f"sqlite://{tmp_path / 'store.db'}" if backend == "sqlite" else request.getfixturevalue("redis_url")


@pytest.fixture(autouse=True)
def _no_stray_processes():
    yield
    for child in multiprocessing.active_children():  # only processes these tests started
        child.join(5)


# --- ShadowRouter -----------------------------------------------------------------------------


def _shadow_rows(worker: int, n: int) -> list[tuple[str, float, float, float, float, int]]:
    rng = np.random.default_rng(worker)
    rows = []
    for i in range(n):
        label = int(rng.random() < 0.3)
        live, shadow = float(rng.beta(2, 5)), float(rng.beta(3, 4))
        rows.append((f"w{worker}-{i}", live, shadow, float(rng.gamma(2, 0.01)), float(rng.gamma(3, 0.01)), label))
    return rows


def _shadow_worker(url: str, worker: int, n: int, prefix: str) -> None:
    store = _open(url, prefix)
    router = ShadowRouter("v1", ["v2"], experiment="ranker", store=store)
    for request_id, live, shadow, t_live, t_shadow, label in _shadow_rows(worker, n):
        outcome = {"predictions": {"v1": live, "v2": shadow}, "latencies": {"v1": t_live, "v2": t_shadow},
                   "label": label}
        router.record(request_id, outcome, idempotency_key=request_id)
        router.record(request_id, outcome, idempotency_key=request_id)  # a retry: counted once
    assert len(router) == 2 * n  # the raw log is this process's, once per request
    store.close()


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_shadow_statistics_of_four_processes_add_up(backend, tmp_path, request):
    url = _url(backend, tmp_path, request)
    n = 400
    processes = [FORK.Process(target=_shadow_worker, args=(url, w, n, f"shadow{backend}")) for w in range(4)]
    for p in processes:
        p.start()
    for p in processes:
        p.join(60)
        assert p.exitcode == 0
    store = _open(url, f"shadow{backend}")
    router = ShadowRouter("v1", ["v2"], experiment="ranker", store=store)
    assert len(router) == 0  # a new process: no raw rows, every worker's statistics
    rows = [r for w in range(4) for r in _shadow_rows(w, n)]
    got = router.model_stats()
    for model, score, latency in (("v1", 1, 3), ("v2", 2, 4)):
        scores = np.array([r[score] for r in rows])
        latencies = np.array([r[latency] for r in rows])
        losses = (scores - np.array([r[5] for r in rows])) ** 2  # the Brier score's terms
        for moment, values in (("prediction", scores), ("latency", latencies), ("loss", losses)):
            stats = got[model][moment]
            assert stats.n == 4 * n  # every record once, despite the retries
            # sums of 1,600 values in [0, 1] (or small latencies): rounding only
            assert stats.mean == pytest.approx(values.mean(), rel=1e-12)
            assert stats.var == pytest.approx(values.var(ddof=1), rel=1e-9)
        assert router.summary()[model] == got[model]["latency"]
    store.close()


def test_shadow_store_late_labels_replace_losses_and_checks_are_clear(tmp_path):
    store = SQLiteStore(tmp_path / "s.db")
    router = ShadowRouter("v1", ["v2"], store=store)
    router.record("r1", {"predictions": {"v1": 0.2, "v2": 0.6}})
    assert router.model_stats()["v1"]["loss"].n == 0
    router.record_label("r1", 1)
    router.record_label("r1", 0)  # a corrected label: the old loss is taken off
    other = ShadowRouter("v1", ["v2"], store=SQLiteStore(tmp_path / "s.db"))  # another worker
    stats = other.model_stats()
    assert stats["v1"]["loss"].n == 1 and stats["v1"]["loss"].mean == pytest.approx(0.04, abs=1e-15)
    assert stats["v2"]["loss"].mean == pytest.approx(0.36, abs=1e-15)
    with pytest.raises(ValueError, match="in this process"):
        other.record_label("r1", 1)  # the raw log is per process
    with pytest.raises(ValueError, match="must be at most 1e"):
        router.record("r2", {"predictions": {"v1": 1e200}})
    assert router.model_stats()["v1"]["prediction"].n == 1  # the refused record added nothing
    with pytest.raises(ValueError, match="`idempotency_key` needs a router with a `store`"):
        ShadowRouter("v1", ["v2"]).record("r1", {"predictions": {"v1": 1.0}}, idempotency_key="k")
    with pytest.raises(TypeError, match="`store` must be an abkit store"):
        ShadowRouter("v1", ["v2"], store="sqlite://x")  # type: ignore[arg-type]
    with pytest.raises(StateError, match="share their statistics"):
        router.merge(ShadowRouter("v1", ["v2"]))
    # classes: 0/1 loss; a router without a store computes the same statistics from its log
    plain, shared = ShadowRouter("a", ["b"]), ShadowRouter("a", ["b"], store=MemoryStore())
    for r in (plain, shared):
        r.record("q1", {"predictions": {"a": "cat", "b": "dog"}, "label": "cat"})
        r.record("q2", {"predictions": {"a": "cat", "b": "cat"}, "label": "cat"})
    assert plain.model_stats() == shared.model_stats()
    assert plain.model_stats()["b"]["loss"].mean == 0.5 and plain.model_stats()["b"]["prediction"].n == 0


# --- CanaryRouter -----------------------------------------------------------------------------


def _judge() -> CanaryJudge:
    return CanaryJudge([CanaryJudge.error_rate("e", margin=0.03), CanaryJudge.mean("cost", margin=1.0),
                        CanaryJudge.latency("t")], planned_looks=6)


def _canary_outcomes(worker: int, n: int) -> list[tuple[str, dict[str, float]]]:
    rng = np.random.default_rng(worker + 50)
    return [(f"w{worker}-u{i}", {"e": float(rng.random() < 0.01), "cost": float(rng.normal(10, 2)),
                                 "t": float(rng.gamma(2, 0.05))}) for i in range(n)]


def _canary_worker(url: str, worker: int, n: int, prefix: str, out: Any) -> None:
    store = _open(url, prefix)
    router = CanaryRouter(CanaryRollout(_judge(), steps=(50, 100)), experiment="c", store=store)
    arms = []
    for unit, outcome in _canary_outcomes(worker, n):
        arms.append(router.route(unit).variant)
        router.record(unit, outcome, idempotency_key=unit)
        router.record(unit, outcome, idempotency_key=unit)  # a retry: counted once
    out.put((worker, arms, router.counts()))
    store.close()


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_canary_moments_of_three_processes_add_up_and_reservoirs_stay_local(backend, tmp_path, request):
    url = _url(backend, tmp_path, request)
    n, out = 300, FORK.Queue()
    processes = [FORK.Process(target=_canary_worker, args=(url, w, n, f"canary{backend}", out)) for w in range(3)]
    for p in processes:
        p.start()
    results = sorted(out.get(timeout=60) for _ in processes)
    for p in processes:
        p.join(30)
        assert p.exitcode == 0
    store = _open(url, f"canary{backend}")
    router = CanaryRouter(CanaryRollout(_judge(), steps=(50, 100)), experiment="c", store=store)
    counts = router.counts()
    for arm in ("baseline", "canary"):
        values = [o for w, arms, _ in results for (_, o), a in zip(_canary_outcomes(w, n), arms, strict=True)
                  if a == arm]
        assert counts[arm] == {"e": len(values), "cost": len(values)}  # no latency: reservoirs are per process
        data = router._arm_data(arm, router._store_moments())
        assert data["e"].n == len(values) and data["e"].successes == sum(v["e"] for v in values)
        costs = np.array([v["cost"] for v in values])
        assert data["cost"].mean == pytest.approx(costs.mean(), rel=1e-12)  # sums of ~450 values near 10
        assert data["cost"].var == pytest.approx(costs.var(ddof=1), rel=1e-9)  # cancellation: (10/2)^2 -> ~1.4 digits
    for _, arms, worker_counts in results:
        assert worker_counts["canary"]["t"] == arms.count("canary")  # each worker's own reservoir
    store.close()


def _fill(router: CanaryRouter, n: int, prefix: str) -> None:
    for i in range(n):
        router.record(f"{prefix}{i}", {"e": 0.0})


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_a_step_decided_on_one_worker_reaches_the_others(backend, tmp_path, request):
    url = _url(backend, tmp_path, request)
    judge = CanaryJudge([CanaryJudge.error_rate("e", margin=0.03)], planned_looks=6)
    a = CanaryRouter(CanaryRollout(judge, steps=(5, 50, 100)), experiment="ramp", store=_open(url, f"r{backend}"))
    b = CanaryRouter(CanaryRollout(judge, steps=(5, 50, 100)), experiment="ramp", store=_open(url, f"r{backend}"),
                     refresh=3600)  # reads the rollout only when it must
    _fill(a, 8000, "u")
    assert a.evaluate(at=1.0).decision == "pass" and a.rollout.traffic_share == 0.5
    assert b.rollout.traffic_share == 0.05  # b has not read the store since
    b.sync_rollout()
    assert b.rollout.traffic_share == 0.5 and b.rollout.look == 1
    # b looks next: at the rollout's second look, not a stale first one
    _fill(b, 4000, "v")
    verdict = b.evaluate(at=2.0)
    assert verdict.look == 2 and b.rollout.status == "promoted"
    a.sync_rollout()
    assert a.rollout.status == "promoted" and [e["event"] for e in a.rollout.events] == ["start", "look", "look"]
    # a router started now begins where the rollout is
    c = CanaryRouter(CanaryRollout(judge, steps=(5, 50, 100)), experiment="ramp", store=_open(url, f"r{backend}"))
    assert c.rollout.traffic_share == 1.0 and c.route("x").variant == "canary"
    with pytest.raises(StateError, match="has steps"):
        CanaryRouter(CanaryRollout(judge, steps=(10, 100)), experiment="ramp", store=_open(url, f"r{backend}"))
    for router in (a, b, c):
        assert router.store is not None
        router.store.close()


def test_a_stale_worker_retakes_its_look_on_the_stored_rollout(tmp_path):
    # compare-and-set: b read version 0, a wrote version 1; b's write is refused, it re-reads
    judge = CanaryJudge([CanaryJudge.error_rate("e", margin=0.03)], planned_looks=6)
    path = tmp_path / "cas.db"
    a = CanaryRouter(CanaryRollout(judge, steps=(5, 25, 50, 100)), experiment="x", store=SQLiteStore(path))
    b = CanaryRouter(CanaryRollout(judge, steps=(5, 25, 50, 100)), experiment="x", store=SQLiteStore(path),
                     refresh=3600)
    _fill(a, 8000, "u")
    a.evaluate()
    b.evaluate()  # not synced since construction: its look must land on version 1, as look 2
    version, text = SQLiteStore(path).get_value("x", "rollout")
    assert version == 2 and json.loads(text)["state"]["look"] == 2
    stored = CanaryRollout.from_json(text, judge)
    assert b.rollout.look == 2 and b.rollout.traffic_share == stored.traffic_share
    assert b.rollout.events == stored.events
    with pytest.raises(ValueError, match="`at`"):
        b.evaluate(at=float("nan"))  # refused before anything moved
    assert SQLiteStore(path).get_value("x", "rollout")[0] == 2
    with pytest.raises(ValueError, match="`idempotency_key` needs a router with a `store`"):
        CanaryRouter(CanaryRollout(judge)).record("u", {"e": 0.0}, idempotency_key="k")
    with pytest.raises(ValueError, match="must be at most 1e"):
        CanaryRouter(CanaryRollout(_judge()), store=MemoryStore()).record("u", {"cost": 1e200})
    with pytest.raises(StateError, match="share their statistics"):
        a.merge(b)


@pytest.mark.parametrize("backend", ["memory", "sqlite", "redis"])
def test_store_values_are_compare_and_set(backend, tmp_path, request):
    store = MemoryStore() if backend == "memory" else _open(_url(backend, tmp_path, request), "cas")
    assert store.get_value("ns", "v") == (0, None)
    assert store.set_value("ns", "v", "one", version=0)
    assert not store.set_value("ns", "v", "other", version=0)  # someone wrote first
    assert store.set_value("ns", "v", "two", version=1)
    assert store.get_value("ns", "v") == (2, "two")
    with pytest.raises(ValueError, match="`version`"):
        store.set_value("ns", "v", "x", version=-1)
    store.close()
