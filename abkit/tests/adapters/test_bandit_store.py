"""BanditRouter(store=...): a policy shared by worker processes (real SQLite files) and hosts (real Redis)."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from abkit.adapters import BanditRouter
from abkit.adapters.stores import MemoryStore, RedisStore, SQLiteStore, Store
from abkit.bandits import EpsilonGreedy, LinUCB, ThompsonBernoulli, ThompsonGaussian
from abkit.errors import StateError

FORK = multiprocessing.get_context("fork")  # a fresh interpreter would spend seconds importing
MEANS = (0.2, 0.5, 0.7)


def _open(url: str) -> Store:
    return SQLiteStore(url[len("sqlite://"):]) if url.startswith("sqlite://") else RedisStore(url, prefix="bandit")


def _serve(router: BanditRouter, n: int, seed: int, prefix: str) -> None:
    rng = np.random.default_rng(seed + 1000)  # not the router's seed: its draws would be the rewards' draws
    for i in range(n):
        route = router.route(f"{prefix}-{i}")
        router.record(route.unit_id, float(rng.random() < MEANS[route.variant_index]))


def _counting_worker(url: str, worker: int, n: int, barrier: Any, results: Any) -> None:
    store = _open(url)
    router = BanditRouter("shared", EpsilonGreedy(3, epsilon=0.2), store=store, rng=worker, sync_interval=0.05)
    _serve(router, n, worker, f"w{worker}")
    router.sync()  # push the last window
    barrier.wait(30)  # every worker has pushed
    router.sync()  # take everyone's
    state = router.policy.state
    results.put((worker, router.policy.n_updates, state.counts.tolist(), (state.counts * state.means).tolist()))
    store.close()


def _run_counting(url: str, workers: int, n: int) -> list[Any]:
    barrier, results = FORK.Barrier(workers), FORK.Queue()
    processes = [FORK.Process(target=_counting_worker, args=(url, w, n, barrier, results)) for w in range(workers)]
    for p in processes:
        p.start()
    out = [results.get(timeout=60) for _ in processes]
    for p in processes:
        p.join(30)
        assert p.exitcode == 0
    return out


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_four_processes_each_recording_2000_rewards_all_see_the_total(backend, tmp_path, request):
    url = f"sqlite://{tmp_path / 'bandit.db'}" if backend == "sqlite" else request.getfixturevalue("redis_url")
    n = 2000 if backend == "sqlite" else 1000
    out = _run_counting(url, 4, n)
    first = out[0]
    assert first[1] == 4 * n and sum(first[2]) == 4 * n
    for _, n_updates, counts, successes in out:
        assert n_updates == 4 * n and counts == first[2]
        assert successes == pytest.approx(first[3], abs=1e-9)  # sums of 0/1 rewards: exact
    # a router started now begins from the store's totals
    store = _open(url)
    late = BanditRouter("shared", EpsilonGreedy(3, epsilon=0.2), store=store, rng=9)
    assert late.policy.n_updates == 4 * n and late.policy.state.counts.tolist() == first[2]
    # the exploitation did its job: the best arm got most of the traffic in every process's view
    assert int(np.argmax(first[2])) == 2
    store.close()


def _router_a(url: str, ids: Any) -> None:
    store = _open(url)
    router = BanditRouter("cross", ThompsonBernoulli(3), store=store, rng=1)
    for i in range(50):
        route = router.route(f"req-{i}")
        ids.put((route.unit_id, route.variant_index, route.propensity))
    ids.put(None)
    store.close()


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_a_decision_made_in_process_a_is_rewarded_in_process_b(backend, tmp_path, request):
    url = f"sqlite://{tmp_path / 'bandit.db'}" if backend == "sqlite" else request.getfixturevalue("redis_url")
    ids = FORK.Queue()
    maker = FORK.Process(target=_router_a, args=(url, ids))
    maker.start()
    store = _open(url)
    router = BanditRouter("cross", ThompsonBernoulli(3), store=store, rng=2)  # process B
    decisions = []
    while (item := ids.get(timeout=30)) is not None:
        decisions.append(item)
        router.record(item[0], 1.0)
    maker.join(30)
    assert maker.exitcode == 0
    log = router.decision_log()
    assert log["actions"].tolist() == [d[1] for d in decisions]
    assert log["propensities"].tolist() == [d[2] for d in decisions]  # A's exact propensities, not B's
    router.sync()
    assert router.policy.state.counts.tolist() == np.bincount(log["actions"], minlength=3).tolist()
    with pytest.raises(ValueError, match="no pending decision"):  # each decision is rewarded once
        router.record(decisions[0][0], 1.0)
    store.close()


def _contextual_worker(url: str, worker: int, n: int, barrier: Any, results: Any) -> None:
    store = _open(url)
    router = BanditRouter("ctx", LinUCB(3, n_features=2, alpha=0.5), store=store, rng=worker, sync_updates=25)
    rng = np.random.default_rng(worker + 1000)
    rows = []
    for i in range(n):
        x = [1.0, float(rng.normal())]
        route = router.route(f"w{worker}-{i}", x)
        reward = float(rng.normal(0.3 * route.variant_index * x[1], 0.1))
        router.record(route.unit_id, reward)
        rows.append((route.variant_index, reward, x))
    router.sync()
    barrier.wait(30)
    router.sync()
    results.put((worker, router.policy.to_json(), rows))
    store.close()


def test_contextual_policies_share_their_sums_across_processes(tmp_path):
    url = f"sqlite://{tmp_path / 'ctx.db'}"
    barrier, results = FORK.Barrier(3), FORK.Queue()
    processes = [FORK.Process(target=_contextual_worker, args=(url, w, 300, barrier, results)) for w in range(3)]
    for p in processes:
        p.start()
    out = [results.get(timeout=60) for _ in processes]
    for p in processes:
        p.join(30)
        assert p.exitcode == 0
    # every process ends with the policy one process fed all 900 rewards would have (sums: to rounding)
    reference = LinUCB(3, n_features=2, alpha=0.5)
    rows = [row for _, _, worker_rows in out for row in worker_rows]
    reference.update_batch([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])
    for _, text, _ in out:
        state = LinUCB.from_json(text).state
        assert LinUCB.from_json(text).n_updates == 900
        assert np.array_equal(state.counts, reference.state.counts)
        assert np.allclose(state.gram, reference.state.gram, rtol=1e-12, atol=1e-9)
        assert np.allclose(state.moment, reference.state.moment, rtol=1e-12, atol=1e-9)


def test_two_routers_on_one_redis_agree(redis_url):
    # two "hosts": two clients, two routers, one experiment
    first, second = RedisStore(redis_url, prefix="agree"), RedisStore(redis_url, prefix="agree")
    a = BanditRouter("agree", ThompsonGaussian(2, prior=(0.0, 1.0, 1.0, 1.0)), store=first, rng=0)
    b = BanditRouter("agree", ThompsonGaussian(2, prior=(0.0, 1.0, 1.0, 1.0)), store=second, rng=1)
    rng = np.random.default_rng(0)
    rewards = []
    for i in range(300):
        route = (a if i % 2 else b).route(f"r{i}")
        reward = float(rng.normal(route.variant_index, 1.0))
        (b if i % 3 else a).record(route.unit_id, reward)  # rewarded on either host
        rewards.append((route.variant_index, reward))
    for router in (a, b, a):
        router.sync()
    direct = ThompsonGaussian(2, prior=(0.0, 1.0, 1.0, 1.0))
    direct.update_batch([r[0] for r in rewards], [r[1] for r in rewards])
    for router in (a, b):
        state = router.policy.state
        assert router.policy.n_updates == 300
        assert np.array_equal(state.counts, direct.state.counts)
        # means and squared deviations from sums and sums of squares: rewards ~N(arm, 1), 300 of them
        assert np.allclose(state.means, direct.state.means, rtol=1e-12, atol=1e-12)
        assert np.allclose(state.m2, direct.state.m2, rtol=1e-10)
    assert a.allocation() == pytest.approx(b.allocation(), abs=1e-12)
    first.close()
    second.close()


class _AmbiguousStore(MemoryStore):
    """A real MemoryStore whose next add commits and then reports a failure (a lost reply)."""

    fail_next = False

    def _add(self, namespace, rows, key):
        added = super()._add(namespace, rows, key)
        if self.fail_next:
            self.fail_next = False
            raise ConnectionError("the reply was lost")
        return added


def test_a_push_whose_reply_was_lost_is_counted_once():
    store = _AmbiguousStore()
    router = BanditRouter("lost", EpsilonGreedy(2, epsilon=0.5), store=store, rng=0, sync_interval=3600)
    _serve(router, 40, 0, "a")
    store.fail_next = True
    with pytest.raises(ConnectionError):
        router.sync()
    _serve(router, 10, 1, "b")
    router.sync()  # retries the lost push under its key (refused: already there), then pushes the rest
    assert store.totals("lost")["\x00policy"]["n_updates"] == 50.0
    assert router.policy.n_updates == 50 and router.policy.state.counts.sum() == 50


def test_a_bad_reward_leaves_the_decision_in_the_store_and_checks_are_clear():
    store = MemoryStore()
    router = BanditRouter("bad", ThompsonBernoulli(2), store=store, rng=0)
    router.route("u1")
    before = store.totals("bad")
    with pytest.raises(ValueError, match="`outcome` must be a reward the policy takes"):
        router.record("u1", 2.0)  # outside [0, 1]
    assert store.totals("bad") == before
    router.record("u1", 1.0)  # the decision was still there
    assert router.policy.n_updates == 1
    with pytest.raises(ValueError, match="no pending decision"):
        router.record("never-routed", 1.0)
    warm = ThompsonBernoulli(2)
    warm.update(0, 1.0)
    with pytest.raises(ValueError, match="`policy` must have no data"):
        BanditRouter("bad", warm, store=store)
    with pytest.raises(ValueError, match="must not discount"):
        BanditRouter("bad", ThompsonBernoulli(2, discount=0.99), store=store)
    with pytest.raises(ValueError, match="`sticky` is not available"):
        BanditRouter("bad", ThompsonBernoulli(2), store=store, sticky=1.0)
    with pytest.raises(TypeError, match="`store` must be an abkit store"):
        BanditRouter("bad", ThompsonBernoulli(2), store="sqlite://x")
    with pytest.raises(StateError, match="share their data"):
        router.merge(BanditRouter("bad", ThompsonBernoulli(2), store=store))
    with pytest.raises(StateError, match="cannot load another"):
        router.load_json(BanditRouter("bad", ThompsonBernoulli(2)).to_json())


def test_record_once_counts_a_key_once_on_any_router_and_a_failure_spends_nothing():
    store = MemoryStore()
    first = BanditRouter("keys", ThompsonBernoulli(2), store=store, rng=0, sync_interval=3600)
    second = BanditRouter("keys", ThompsonBernoulli(2), store=store, rng=1, sync_interval=3600)
    first.route("r1")
    with pytest.raises(ValueError, match="`outcome` must be a reward"):  # a bad reward: key not spent
        second.record_once("r1", 2.0, idempotency_key="k1")
    assert second.record_once("r1", 1.0, idempotency_key="k1") is True  # routed by first, rewarded here
    assert first.record_once("r1", 1.0, idempotency_key="k1") is False  # the retry, to the other router
    assert second.record_once("r1", 0.0, idempotency_key="k1") is False
    with pytest.raises(ValueError, match="no pending decision"):  # a new key: not a retry
        first.record_once("r1", 1.0, idempotency_key="k2")
    with pytest.raises(ValueError, match="no pending decision"):  # k2 was not spent by that failure
        first.record_once("r1", 1.0, idempotency_key="k2")
    first.sync()
    second.sync()
    first.sync()
    for router in (first, second):
        assert router.policy.n_updates == 1 and router.policy.state.counts.sum() == 1
    with pytest.raises(ValueError, match="`idempotency_key` needs a router with a `store`"):
        BanditRouter("keys", ThompsonBernoulli(2)).record_once("r1", 1.0, idempotency_key="k1")
    second.route("r2")
    with pytest.raises(ValueError, match="idempotency_key"):
        second.record_once("r2", 1.0, idempotency_key="")
    assert second.record_once("r2", 1.0) is True  # the failed call left the decision in place


def test_a_router_ttl_shorter_than_the_stores_expires_decisions():
    router = BanditRouter("ttl", ThompsonBernoulli(2), store=MemoryStore(), ttl=0.05, rng=0)
    router.route("u1")
    time.sleep(0.1)
    with pytest.raises(ValueError, match="no pending decision"):
        router.record("u1", 1.0)


# --- faults (issue 14 item 6) ----------------------------------------------------------------------


def _killable_worker(url: str, worker: int, n: int, acked: Any) -> None:
    store = _open(url)
    router = BanditRouter("kill", EpsilonGreedy(3, epsilon=0.2), store=store, rng=worker, sync_updates=50,
                          sync_interval=3600)
    rng = np.random.default_rng(worker + 1000)
    for i in range(n):
        route = router.route(f"w{worker}-{i}")
        router.record(route.unit_id, float(rng.random() < MEANS[route.variant_index]))
        acked[worker] = i + 1  # this reward was acknowledged to the caller
    router.sync()
    store.close()


def test_sigkill_of_a_worker_loses_at_most_its_unsynced_window(tmp_path):
    # 4 workers on one SQLite file, sync every 50 rewards; worker 0 is killed mid-run. The store
    # then holds every reward of the survivors, and of the killed worker all but at most the 49
    # it acknowledged since its last push (the window a sync_updates=50 router may lose).
    url = f"sqlite://{tmp_path / 'kill.db'}"
    n = 1500
    acked = FORK.Array("q", 4)
    processes = [FORK.Process(target=_killable_worker, args=(url, w, n, acked)) for w in range(4)]
    for p in processes:
        p.start()
    deadline = time.monotonic() + 30
    while acked[0] < 300 and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(processes[0].pid, signal.SIGKILL)
    processes[0].join(10)
    killed_at = acked[0]
    assert processes[0].exitcode == -signal.SIGKILL and 300 <= killed_at < n
    for p in processes[1:]:
        p.join(60)
        assert p.exitcode == 0
    store = _open(url)
    total = round(store.totals("kill")["\x00policy"]["n_updates"])
    counts = sum(store.totals("kill")[f"arm{a}"]["n"] for a in range(3))
    assert total == counts
    survivors = 3 * n
    assert survivors + killed_at - 49 <= total <= survivors + killed_at
    assert (total - survivors) % 50 == 0  # the killed worker's pushes were whole windows
    store.close()


def test_pending_payloads_are_json_with_the_exact_propensity(tmp_path):
    store = SQLiteStore(tmp_path / "p.db")
    router = BanditRouter("p", LinUCB(2, n_features=2), store=store, rng=0)
    route = router.route("u", [1.0, 2.0])
    payload = json.loads(store.pop_pending("p", "u"))
    assert payload["arm"] == route.variant_index and payload["propensity"] == route.propensity
    assert payload["context"] == [1.0, 2.0]
    store.close()


@pytest.fixture(autouse=True)
def _no_stray_processes():
    yield
    for child in multiprocessing.active_children():  # only processes these tests started
        child.join(5)


def test_sqlite_paths_are_shared_files(tmp_path: Path):
    # the router's store is the file: a second store object on the same path sees the same totals
    first, second = SQLiteStore(tmp_path / "s.db"), SQLiteStore(tmp_path / "s.db")
    router = BanditRouter("s", ThompsonBernoulli(2), store=first, rng=0, sync_updates=1)
    _serve(router, 5, 0, "x")
    assert second.totals("s")["\x00policy"]["n_updates"] == 5.0
    first.close()
    second.close()


# --- the exchange schedule: sync_fraction --------------------------------------------------------


def _expected_pushes(n_rewards: int, held: int, quarter: bool) -> list[int]:
    # An independent statement of the schedule with integers: the k-th exchange comes after
    # max(1, ceil(n / 4)) local rewards, n the rewards held after the previous exchange.
    pushed, since, out = held, 0, []
    for _ in range(n_rewards):
        since += 1
        if quarter and since >= max(1, -(-pushed // 4)):
            pushed, since = pushed + since, 0
        out.append(pushed)
    return out


def test_sync_fraction_exchanges_after_every_reward_at_first_then_after_a_share_of_the_data():
    store = MemoryStore()
    router = BanditRouter("f", ThompsonBernoulli(3), store=store, rng=0, sync_interval=3600, sync_fraction=0.25)
    rng = np.random.default_rng(1)
    in_store = []
    for i in range(200):
        route = router.route(f"u{i}")
        router.record(route.unit_id, float(rng.random() < MEANS[route.variant_index]))
        in_store.append(round(store.totals("f")["\x00policy"]["n_updates"]))
    assert in_store == _expected_pushes(200, 0, quarter=True)
    assert sorted(set(in_store))[:10] == [1, 2, 3, 4, 5, 7, 9, 12, 15, 19]  # then every quarter of the data
    # without it only time (and sync_updates) trigger an exchange: nothing before the hour
    lazy = BanditRouter("g", ThompsonBernoulli(3), store=store, rng=0, sync_interval=3600)
    _serve(lazy, 50, 0, "g")
    assert store.totals("g") == {}


def test_sync_fraction_counts_every_process_s_rewards_in_the_data():
    # the other routers' rewards, taken at an exchange, raise the threshold too (n is the total)
    store = MemoryStore()
    other = BanditRouter("h", ThompsonBernoulli(3), store=store, rng=1, sync_interval=3600)
    _serve(other, 100, 1, "o")
    other.sync()
    router = BanditRouter("h", ThompsonBernoulli(3), store=store, rng=0, sync_interval=3600, sync_fraction=0.25)
    assert router.policy.n_updates == 100  # started from the store's totals
    in_store = []
    for i in range(60):
        route = router.route(f"u{i}")
        router.record(route.unit_id, 1.0)
        in_store.append(round(store.totals("h")["\x00policy"]["n_updates"]))
    assert in_store == _expected_pushes(60, 100, quarter=True)
    assert in_store[:25] == [100] * 24 + [125]  # the first push after 25 = ceil(100 / 4) rewards


@pytest.mark.parametrize(("value", "error"), [(-0.1, ValueError), (float("nan"), ValueError),
                                              (float("inf"), ValueError), ("0.1", TypeError)])
def test_sync_fraction_is_checked(value, error):
    with pytest.raises(error, match="`sync_fraction`"):
        BanditRouter("x", ThompsonBernoulli(2), store=MemoryStore(), sync_fraction=value)


# --- a router built before os.fork (pre-forking servers) ------------------------------------------


def _forked_child(router: BanditRouter, worker: int, results: Any) -> None:
    arms = []
    rng = np.random.default_rng(5)  # the same rewards in every child: only the router's draws differ
    for i in range(60):
        route = router.route(f"c{worker}-{i}")
        arms.append(route.variant_index)
        router.record(route.unit_id, float(rng.random() < MEANS[route.variant_index]))
    logged = len(router.decision_log()["rewards"])
    if router.store is not None:
        router.sync()
        router.store.close()
    results.put((worker, arms, logged))


def _fork_children(router: BanditRouter, n: int) -> list[Any]:
    results = FORK.Queue()
    children = [FORK.Process(target=_forked_child, args=(router, w, results)) for w in range(n)]
    for child in children:
        child.start()
    out = sorted(results.get(timeout=60) for _ in children)
    for child in children:
        child.join(30)
        assert child.exitcode == 0
    return out


def test_routers_forked_from_one_parent_push_under_their_own_names_and_draw_their_own_streams(redis_url):
    # Before the fix every child named its pushes as the parent did: the store took the second
    # child's first push for a retry of the first child's and dropped it (100 of 200 rewards
    # counted), and every child routed exactly alike.
    store = RedisStore(redis_url, prefix=f"fork{os.getpid()}-{time.monotonic_ns()}")
    router = BanditRouter("forked", ThompsonBernoulli(3), store=store, rng=7, sync_interval=3600)
    _serve(router, 10, 0, "parent")  # recorded, not pushed: stays the parent's to push
    out = _fork_children(router, 3)
    assert all(logged == 60 for *_, logged in out)  # each child's log holds its own rewards only
    assert len({tuple(arms) for _, arms, _ in out}) == 3  # three streams, not one copied three times
    assert store.totals("forked")["\x00policy"]["n_updates"] == 180.0  # every child's, none of the parent's
    router.sync()
    totals = store.totals("forked")
    assert totals["\x00policy"]["n_updates"] == 190.0 == sum(totals[f"arm{a}"]["n"] for a in range(3))
    assert router.policy.n_updates == 190 and len(router.decision_log()["rewards"]) == 10
    store.close()


def test_a_forked_router_without_a_store_draws_its_own_stream_and_the_parent_keeps_its_own():
    router = BanditRouter("alone", EpsilonGreedy(3, epsilon=0.9), rng=7)
    twin = BanditRouter("alone", EpsilonGreedy(3, epsilon=0.9), rng=7)  # never forked
    out = _fork_children(router, 3)
    assert len({tuple(arms) for _, arms, _ in out}) == 3
    mine = [router.route(f"p{i}").variant_index for i in range(60)]
    assert mine == [twin.route(f"p{i}").variant_index for i in range(60)]  # the parent's draws are unchanged
