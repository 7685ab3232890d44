"""Routers with a log sink: analysis read back from the log directory equals the analysis in memory.

Each test routes and records N requests through a :class:`LoggedRouter` writing to segment files
(or to a real Redis Stream, drained to segment files), then analyses the directory with
:mod:`abkit.frame` and compares with the same analysis of the data kept in memory. Equality is
exact: the log keeps every number as Python's shortest round-trip repr, DuckDB parses it back to
the same double, and the rows come back in the order they were written.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from abkit.adapters import BanditRouter, CanaryRouter, FixedSplitRouter, ShadowRouter
from abkit.adapters.logged import LoggedRouter
from abkit.adapters.logs import LOG_COLUMNS, SegmentLog
from abkit.adapters.redis_log import RedisStreamLog
from abkit.bandits import EpsilonGreedy, ThompsonBernoulli
from abkit.bandits.offpolicy import ips, snips
from abkit.frame import (
    Experiment,
    Mean,
    Proportion,
    load_decision_log,
    load_outcomes,
    load_shadow_log,
    read_log,
)

pytest.importorskip("duckdb")

SINKS = ["segments", "redis-stream"]  # durability="sync" (an fdatasync a line) is tested in test_logs.py


@pytest.fixture(params=SINKS)
def sink(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Any, Callable[[], Path]]]:
    """A log sink and a function that makes its records readable in a directory, and returns it."""
    folder = tmp_path / "log"
    if request.param.startswith("segments"):
        log: Any = SegmentLog(folder, durability="batch", flush_interval=0.05,
                              segment_bytes=50_000)  # several segments

        def ready() -> Path:
            log.flush()
            return folder
    else:
        log = RedisStreamLog(request.getfixturevalue("redis_url"), stream=request.node.name,
                             prefix="test-logged")
        log._client.delete(log.key)

        def ready() -> Path:
            log.drain(folder, batch=700)  # several drained files
            return folder
    yield log, ready
    log.close()


def _lines(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for p in sorted(folder.glob("*.jsonl")) for line in p.read_text().splitlines()]


def test_split_analysis_from_the_log_equals_the_analysis_in_memory(sink: Any) -> None:
    log, ready = sink
    router = LoggedRouter(FixedSplitRouter("checkout", variants=["control", "treatment"], weights=[0.5, 0.5],
                                           coverage=0.9), log)
    rng = np.random.default_rng(7)
    kept = []
    for i in range(1500):
        unit = f"user-{i}"
        route = router.route(unit, request_id=f"req-{i}")
        if rng.random() < 0.8:  # some units never convert or come back
            outcome = int(rng.random() < (0.12 if route.variant == "treatment" else 0.10))
            router.record(unit, outcome)
            if route.in_experiment:
                kept.append({"variant": route.variant, "outcome": outcome})
    folder = ready()
    rows = _lines(folder)
    assert all(list(row) == list(LOG_COLUMNS) for row in rows)
    assert sum(r["event"] == "route" for r in rows) == 1500
    assert all(r["experiment"] == "checkout" and r["timestamp"] > 0 for r in rows)
    records = [r for r in rows if r["event"] == "record"]
    assert all(r["variant"] is not None and r["propensity"] == 0.5 for r in records if r["variant"])
    assert sum(r["variant"] is None for r in records) == router.excluded > 0  # outside the coverage

    experiment = Experiment(conversion=Proportion("outcome"))
    from_log = experiment.analyze(load_outcomes(folder, "checkout"), control="control")
    in_memory = experiment.analyze(pd.DataFrame(kept), control="control")
    assert from_log.to_dict() == in_memory.to_dict()
    summary = router.summary()  # the router's own counts agree too
    assert from_log.n == (summary["control"].n, summary["treatment"].n)
    assert from_log.rows[0].treatment_value == summary["treatment"].successes / summary["treatment"].n


def test_mean_metric_from_the_log_equals_the_same_engine_in_memory(tmp_path: Path) -> None:
    import duckdb

    router = LoggedRouter(FixedSplitRouter("basket", weights=[0.5, 0.5], metric="mean"),
                          SegmentLog(tmp_path, durability="batch"))
    rng = np.random.default_rng(3)
    kept = []
    for i in range(600):
        route = router.route(f"u{i}")
        value = float(rng.lognormal(3.0, 1.0))
        router.record(f"u{i}", value)
        kept.append({"variant": route.variant, "outcome": value})
    router.log.close()
    experiment = Experiment(revenue=Mean("outcome"))
    from_log = experiment.analyze(load_outcomes(tmp_path, "basket"))
    memory = pd.DataFrame(kept)
    # exact against the same engine (DuckDB) on the in-memory rows
    same_engine = experiment.analyze(duckdb.sql("SELECT * FROM memory"))
    assert from_log.to_dict() == same_engine.to_dict()
    # against pandas: its variance algorithm differs from DuckDB's in the last bits
    pandas = experiment.analyze(memory)
    assert from_log.rows[0].pvalue == pytest.approx(pandas.rows[0].pvalue, rel=1e-9)
    assert from_log.rows[0].effect == pytest.approx(pandas.rows[0].effect, rel=1e-12)


@pytest.mark.parametrize("policy", [EpsilonGreedy(3, epsilon=0.2), ThompsonBernoulli(3)],
                         ids=["epsilon-greedy", "thompson"])
def test_offpolicy_evaluation_from_the_log_equals_the_routers_decision_log(sink: Any, policy: Any) -> None:
    log, ready = sink
    router = LoggedRouter(BanditRouter("ranker", policy, ["a", "b", "c"], rng=11), log)
    rng = np.random.default_rng(5)
    means = {"a": 0.2, "b": 0.5, "c": 0.35}
    for i in range(1200):
        request = f"req-{i}"
        route = router.route(request, request_id=request)
        if rng.random() < 0.9:
            router.record(request, float(rng.random() < means[route.variant]))
    folder = ready()
    in_memory = router.decision_log()
    from_log = load_decision_log(folder, "ranker", variants=["a", "b", "c"])
    for key in ("rewards", "actions", "propensities"):
        np.testing.assert_array_equal(from_log[key], in_memory[key])
        assert from_log[key].dtype == in_memory[key].dtype
    target = np.tile([0.1, 0.8, 0.1], (len(from_log["rewards"]), 1))
    assert ips(**from_log, target=target) == ips(**in_memory, target=target)
    assert snips(**from_log, target=target) == snips(**in_memory, target=target)


def test_a_reward_recorded_elsewhere_finds_its_route_when_read(tmp_path: Path) -> None:
    """Worker A routes, worker B records (it never saw the decision): the reader joins them."""
    shared = {"policy": EpsilonGreedy(2, epsilon=0.5)}
    with SegmentLog(tmp_path) as log:
        worker_a = LoggedRouter(BanditRouter("ranker", shared["policy"], ["x", "y"], rng=1), log)
        worker_b = LoggedRouter(worker_a.router, log)  # same decisions, but B remembers none
        routes = [worker_a.route(f"r{i}", request_id=f"r{i}") for i in range(40)]
        for i in range(40):
            worker_b.record(f"r{i}", float(i % 3 == 0))
    records = [r for r in _lines(tmp_path) if r["event"] == "record"]
    assert all(r["variant"] is None for r in records)  # B did not know them
    read = load_decision_log(tmp_path, "ranker", variants=["x", "y"])
    np.testing.assert_array_equal(read["actions"], [r.variant_index for r in routes])
    np.testing.assert_array_equal(read["propensities"], [r.propensity for r in routes])
    np.testing.assert_array_equal(read["actions"], worker_a.decision_log()["actions"])


def test_shadow_answers_are_logged_per_model_and_read_back(sink: Any) -> None:
    log, ready = sink
    router = LoggedRouter(ShadowRouter("v1", ["v2", "v3"], experiment="ranker-shadow"), log)
    rng = np.random.default_rng(2)
    for i in range(300):
        request = f"q{i}"
        assert router.route(request).shadows == ("v2", "v3")
        answered = {"v1": float(rng.random()), "v2": float(rng.random())}
        if i % 4:
            answered["v3"] = float(rng.random())
        router.record(request, {"predictions": answered, "label": int(rng.random() < 0.3),
                                "latencies": {m: float(rng.gamma(2.0, 0.01)) for m in answered}})
    folder = ready()
    from_log = load_shadow_log(folder)
    in_memory = router.to_shadow_log()
    order = [from_log.model_index(m) for m in in_memory.models]
    assert list(from_log.request_id) == list(in_memory.request_id)
    np.testing.assert_array_equal(from_log.score[:, order], in_memory.score)
    np.testing.assert_array_equal(from_log.latency[:, order], in_memory.latency)
    np.testing.assert_array_equal(from_log.label, in_memory.label)


def test_canary_records_carry_the_arm_the_router_credits(tmp_path: Path) -> None:
    from abkit.rollout import CanaryJudge, CanaryRollout

    rollout = CanaryRollout(CanaryJudge([CanaryJudge.error_rate("errors")]), steps=(50, 100))
    with SegmentLog(tmp_path) as log:
        router = LoggedRouter(CanaryRouter(rollout, experiment="api-v2"), log)
        arms = [router.route(f"u{i}").variant for i in range(50)]
        for i in range(50):
            router.record(f"u{i}", {"errors": 0})
    records = read_log(tmp_path, experiment="api-v2", event="record").fetchall()
    variant = LOG_COLUMNS.index("variant")
    assert [row[variant] for row in records] == arms
    assert {row[LOG_COLUMNS.index("outcome")] for row in records} == {None}
    assert router.counts()["canary"]["errors"] == arms.count("canary")


def test_a_refused_call_changes_nothing_and_logs_nothing(tmp_path: Path) -> None:
    with SegmentLog(tmp_path) as log:
        split = LoggedRouter(FixedSplitRouter("e", weights=[0.5, 0.5]), log)
        with pytest.raises(ValueError, match="`outcome` must be 0, 1"):
            split.record("u1", 7)
        with pytest.raises(ValueError, match="`unit_id` must be encodable as UTF-8"):
            split.route("\udcff")
        shadow = LoggedRouter(ShadowRouter("v1", ["v2"]), log)
        with pytest.raises(TypeError, match="predictions must be numbers to be logged"):
            shadow.record("r1", {"predictions": {"v1": "cat", "v2": 0.5}})
        with pytest.raises(ValueError, match="unknown model"):
            shadow.record("r1", {"predictions": {"v9": 0.5}})
        bandit = LoggedRouter(BanditRouter("b", EpsilonGreedy(2, epsilon=0.1), rng=1), log)
        with pytest.raises(ValueError, match="no pending decision"):
            bandit.record("never-routed", 1.0)
    assert _lines(tmp_path) == []
    assert split.summary()["control"].n == 0 and len(shadow.router) == 0 and bandit.policy.n_updates == 0


def test_an_idempotency_key_is_counted_and_logged_once(tmp_path: Path) -> None:
    from abkit.adapters.stores import MemoryStore

    with SegmentLog(tmp_path) as log:
        router = LoggedRouter(FixedSplitRouter("e", weights=[0.5, 0.5], store=MemoryStore()), log)
        for _ in range(3):
            router.record("u1", 1, idempotency_key="k1")
    assert sum(r["event"] == "record" for r in _lines(tmp_path)) == 1
    assert sum(s.n for s in router.summary().values()) == 1


@pytest.mark.parametrize(("arguments", "error", "message"), [
    ({"router": object()}, TypeError, "`router` must be an abkit router"),
    ({"log": []}, TypeError, "`log` must be an abkit log sink"),
    ({"max_remembered": 0}, ValueError, "`max_remembered` must be"),
])
def test_bad_arguments_are_named(tmp_path: Path, arguments: dict[str, Any], error: type, message: str) -> None:
    with SegmentLog(tmp_path) as log:
        options = {"router": FixedSplitRouter("e"), "log": log, **arguments}
        with pytest.raises(error, match=message):
            LoggedRouter(**options)
