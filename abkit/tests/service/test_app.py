"""The ASGI service: endpoints, exact counting, idempotency, 4xx for every bad request, mounting."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("starlette", reason="abkit[serve] is not installed")

from starlette.applications import Starlette
from starlette.routing import Mount

with warnings.catch_warnings():  # Starlette 1.x asks for `httpx2`; plain httpx works the same
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from abkit import ProportionStats, proportions_test
from abkit.adapters import FixedSplitRouter
from abkit.service import MAX_BODY_BYTES, create_app

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")

CONFIG = {"experiments": [
    {"name": "checkout", "type": "split", "variants": ["control", "treatment"]},
    {"name": "revenue", "type": "split", "metric": "mean"},
    {"name": "ranker", "type": "bandit", "arms": ["a", "b", "c"], "policy": "ThompsonBernoulli"},
]}


@pytest.fixture
def client(tmp_path: Path) -> Any:
    with TestClient(create_app(CONFIG, store=f"sqlite://{tmp_path}/s.db", log_dir=str(tmp_path / "log"))) as c:
        yield c


def test_split_routes_like_the_router_and_counts_exactly(client: Any) -> None:
    router = FixedSplitRouter("checkout")
    outcomes: dict[str, list[int]] = {"control": [], "treatment": []}
    for i in range(100):
        unit = f"user-{i}"
        route = client.post("/v1/experiments/checkout/route", json={"unit_id": unit}).json()
        assert route["variant"] == router.route(unit).variant and route["propensity"] == 0.5
        outcome = int(i % 3 == 0 or (route["variant"] == "treatment" and i % 5 == 0))
        outcomes[route["variant"]].append(outcome)
        response = client.post("/v1/experiments/checkout/record", json={"unit_id": unit, "outcome": outcome})
        assert response.status_code == 204 and response.content == b""
    summary = client.get("/v1/experiments/checkout/summary").json()
    expected = {v: ProportionStats(sum(o), len(o)) for v, o in outcomes.items()}
    assert summary["stats"] == {v: s.to_dict() for v, s in expected.items()}
    reference = proportions_test(expected["control"], expected["treatment"])
    assert summary["test"]["pvalue"] == pytest.approx(reference.pvalue, rel=1e-12)


def test_the_same_idempotency_key_counts_once(client: Any) -> None:
    for _ in range(5):
        body = {"unit_id": "u1", "outcome": 12.5, "idempotency_key": "order-77"}
        assert client.post("/v1/experiments/revenue/record", json=body).status_code == 204
    client.post("/v1/experiments/revenue/record", json={"unit_id": "u2", "outcome": 2.5})
    stats = client.get("/v1/experiments/revenue/summary").json()["stats"]
    assert sum(s["n"] for s in stats.values()) == 2
    assert 'abkit_records_total{experiment="revenue"} 2' in client.get("/metrics").text


def test_a_bandit_reward_finds_its_decision_by_request_id(client: Any) -> None:
    route = client.post("/v1/experiments/ranker/route", json={"unit_id": "u1", "request_id": "r-1"}).json()
    assert route["request_id"] == "r-1" and route["variant"] in ("a", "b", "c")
    assert client.post("/v1/experiments/ranker/record", json={"request_id": "r-1", "outcome": 1}).status_code == 204
    again = client.post("/v1/experiments/ranker/record", json={"request_id": "r-1", "outcome": 1})
    assert again.status_code == 422 and "no pending decision" in again.json()["error"]
    summary = client.get("/v1/experiments/ranker/summary").json()
    assert summary["stats"][route["variant"]] == {"n": 1.0, "mean": 1.0}


def test_routes_and_records_are_logged(client: Any, tmp_path: Path) -> None:
    client.post("/v1/experiments/checkout/route", json={"unit_id": "u1", "request_id": "r1"})
    client.post("/v1/experiments/checkout/record", json={"unit_id": "u1", "outcome": True})
    client.app.state.abkit.log.flush()
    rows = [json.loads(line) for path in (tmp_path / "log").glob("*.jsonl") for line in path.read_text().splitlines()]
    assert [(r["event"], r["unit_id"], r["request_id"]) for r in rows] == [("route", "u1", "r1"), ("record", "u1", None)]
    assert rows[0]["propensity"] == 0.5 and rows[1]["outcome"] == 1.0


BAD = [
    ("post", "/v1/experiments/nope/route", {"json": {"unit_id": "u"}}, 404, "No experiment 'nope'"),
    ("get", "/v2/anything", {}, 404, "Not Found"),
    ("get", "/v1/experiments/checkout/route", {}, 405, "Method Not Allowed"),
    ("post", "/v1/experiments/checkout/route", {"content": b"{not json"}, 400, "must be a JSON object"),
    ("post", "/v1/experiments/checkout/route", {"content": b"[" * 5000 + b"]" * 5000}, 400, "nested deeper"),
    ("post", "/v1/experiments/checkout/route", {"content": b"\xff\xfe"}, 400, "not UTF-8"),
    ("post", "/v1/experiments/checkout/route", {"json": [1]}, 400, "must be a JSON object; got list"),
    ("post", "/v1/experiments/checkout/route", {"json": {}}, 400, "`unit_id` is required"),
    ("post", "/v1/experiments/checkout/route", {"json": {"unit_id": 5}}, 400, "`unit_id` must be a non-empty string"),
    ("post", "/v1/experiments/checkout/route", {"content": b'{"unit_id": "\\udcff"}'}, 400, "encodable as UTF-8"),
    ("post", "/v1/experiments/checkout/route", {"json": {"unit_id": "u", "x": 1}}, 400, "Unknown fields ['x']"),
    ("post", "/v1/experiments/checkout/record", {"json": {"unit_id": "u"}}, 400, "`outcome` is required"),
    ("post", "/v1/experiments/checkout/record", {"json": {"unit_id": "u", "outcome": "1"}}, 400, "must be a number"),
    ("post", "/v1/experiments/checkout/record", {"content": b'{"unit_id": "u", "outcome": NaN}'}, 400, "holds NaN"),
    ("post", "/v1/experiments/checkout/record", {"json": {"unit_id": "u", "outcome": 2}}, 422,
     "`outcome` must be 0, 1, True or False"),
    ("post", "/v1/experiments/revenue/record", {"json": {"unit_id": "u", "outcome": 1e300}}, 422,
     "must be at most 1e+150 in absolute value"),
    ("post", "/v1/experiments/checkout/record", {"json": {"request_id": "r", "outcome": 1}}, 400,
     "`unit_id` is required for a split"),
    ("post", "/v1/experiments/checkout/route", {"content": b" " * (MAX_BODY_BYTES + 1)}, 413, "at most 65536"),
]


@pytest.mark.parametrize(("method", "path", "options", "status", "message"), BAD,
                         ids=[f"{status}-{message[:24]}" for *_, status, message in BAD])
def test_bad_requests_get_4xx_with_an_error_and_change_nothing(client: Any, method: str, path: str,
                                                               options: dict[str, Any], status: int,
                                                               message: str) -> None:
    response = getattr(client, method)(path, **options)
    assert response.status_code == status
    assert message in response.json()["error"]
    stats = client.get("/v1/experiments/checkout/summary").json()["stats"]
    assert all(s["n"] == 0 for s in stats.values())


def test_a_chunked_body_over_the_limit_gets_413(client: Any) -> None:
    def chunks() -> Any:
        for _ in range(20):
            yield b" " * 8192

    response = client.post("/v1/experiments/checkout/route", content=chunks())
    assert response.status_code == 413 and "over 65536 bytes" in response.json()["error"]


@pytest.fixture(scope="module")
def fuzz_client() -> Any:
    with TestClient(create_app(CONFIG)) as client:
        yield client


@settings(max_examples=100, deadline=None)
@given(body=st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
                         | st.text(max_size=5), lambda inner: st.lists(inner, max_size=3)
                         | st.dictionaries(st.sampled_from(["unit_id", "request_id", "outcome", "context",
                                                            "idempotency_key", "x"]), inner, max_size=4),
                         max_leaves=8),
       experiment=st.sampled_from(["checkout", "revenue", "ranker", "missing"]),
       endpoint=st.sampled_from(["route", "record"]))
def test_any_json_body_gets_an_answer_never_a_500(fuzz_client: Any, body: Any, experiment: str,
                                                  endpoint: str) -> None:
    response = fuzz_client.post(f"/v1/experiments/{experiment}/{endpoint}", json=body)
    assert response.status_code in (200, 204, 400, 404, 422)
    if response.status_code >= 400:
        assert isinstance(response.json()["error"], str)


def test_mountable_inside_an_existing_app() -> None:
    parent = Starlette(routes=[Mount("/ab", app=create_app(CONFIG))])
    with TestClient(parent) as client:
        assert client.get("/ab/healthz").json() == {"status": "ok"}
        assert client.get("/ab/v1/experiments").json()["experiments"][0] == {"name": "checkout", "type": "split"}
        assert client.post("/ab/v1/experiments/checkout/route", json={"unit_id": "u"}).status_code == 200


def test_metrics_are_prometheus_text(client: Any) -> None:
    client.post("/v1/experiments/checkout/route", json={"unit_id": "u"})
    client.post("/v1/experiments/checkout/route", json={})
    text = client.get("/metrics").text
    assert 'abkit_requests_total{endpoint="route",experiment="checkout",status="200"} 1' in text
    assert 'abkit_errors_total{endpoint="route"} 1' in text
    assert 'abkit_request_seconds_count{endpoint="route"} 2' in text
    assert "# TYPE abkit_request_seconds histogram" in text


@pytest.mark.parametrize(("config", "message"), [
    ({"experiments": []}, "`experiments` must be a non-empty list"),
    ({"experiments": [{"name": "a", "type": "ab"}]}, "`experiments[0].type` must be one of 'split', 'bandit'"),
    ({"experiments": [{"name": "a", "type": "split"}] * 2}, "'a' is used twice"),
    ({"experiments": [{"name": "a", "type": "split", "weights": [0.2]}]}, "`experiments[0]` ('a'):"),
    ({"experiments": [{"name": "a", "type": "split", "colour": 1}]}, "unknown options ['colour']"),
    ({"experiments": [{"name": "a", "type": "bandit", "arms": ["x"], "policy": "Greedy"}]}, "`policy` must be one of"),
    ({"other": 1}, 'one key "experiments"'),
])
def test_a_bad_configuration_is_refused_with_its_place(config: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]").replace("(", r"\(")
                       .replace(")", r"\)").replace(".", r"\.").replace("'", "'")):
        create_app(config)


def test_metrics_count_every_workers_records_from_the_store(tmp_path: Path) -> None:
    """Two workers (two apps) on one SQLite store: each /metrics answers the records of both."""
    store = f"sqlite://{tmp_path}/shared.db"
    with TestClient(create_app(CONFIG, store=store)) as first, TestClient(create_app(CONFIG, store=store)) as second:
        for i, worker in enumerate([first, second, second]):
            assert worker.post("/v1/experiments/checkout/record",
                               json={"unit_id": f"u{i}", "outcome": 1}).status_code == 204
        assert second.post("/v1/experiments/checkout/record",
                           json={"unit_id": "u0", "outcome": 1, "idempotency_key": "k"}).status_code == 204
        assert first.post("/v1/experiments/checkout/record",
                          json={"unit_id": "u0", "outcome": 1, "idempotency_key": "k"}).status_code == 204
        for worker in (first, second):
            assert 'abkit_records_total{experiment="checkout"} 4' in worker.get("/metrics").text


def test_analysis_from_the_service_log_equals_its_counts(tmp_path: Path) -> None:
    pytest.importorskip("duckdb")
    from abkit.frame import Experiment, Proportion, load_outcomes

    config = {"experiments": [{"name": "checkout", "type": "split", "variants": ["control", "treatment"],
                               "coverage": 0.8}]}
    with TestClient(create_app(config, log_dir=str(tmp_path / "log"))) as client:
        for i in range(300):
            client.post("/v1/experiments/checkout/route", json={"unit_id": f"u{i}"})
            client.post("/v1/experiments/checkout/record", json={"unit_id": f"u{i}", "outcome": int(i % 7 == 0)})
        summary = client.get("/v1/experiments/checkout/summary").json()
    result = Experiment(conversion=Proportion("outcome")).analyze(load_outcomes(tmp_path / "log", "checkout"))
    assert result.n == (summary["stats"]["control"]["n"], summary["stats"]["treatment"]["n"])
    assert summary["excluded"] > 0  # units outside the coverage: logged without a variant, not analysed
    assert result.rows[0].treatment_value == (summary["stats"]["treatment"]["successes"]
                                              / summary["stats"]["treatment"]["n"])


def test_the_log_can_be_a_redis_stream(tmp_path: Path, redis_url: str) -> None:
    pytest.importorskip("duckdb")
    from abkit.adapters.redis_log import RedisStreamLog
    from abkit.frame import load_decision_log

    stream = RedisStreamLog(redis_url)
    stream._client.delete(stream.key)
    with TestClient(create_app(CONFIG, store=redis_url, log_dir=redis_url)) as client:
        assert isinstance(client.app.state.abkit.log, RedisStreamLog)
        for i in range(40):
            arm = client.post("/v1/experiments/ranker/route", json={"unit_id": f"u{i}", "request_id": f"r{i}"})
            assert arm.status_code == 200
            client.post("/v1/experiments/ranker/record", json={"request_id": f"r{i}", "outcome": i % 2})
    assert stream.drain(tmp_path / "log") == 80
    log = load_decision_log(tmp_path / "log", "ranker", variants=["a", "b", "c"])  # records joined to routes
    assert len(log["actions"]) == 40 and set(log["rewards"]) == {0.0, 1.0}
    stream.close()


def test_a_bandit_takes_its_exchange_options_from_the_config() -> None:
    from abkit.adapters import MemoryStore
    from abkit.service.config import build_experiments

    config = {"experiments": [{"name": "b", "type": "bandit", "arms": ["x", "y"],
                               "router": {"sync_interval": 0.5, "sync_fraction": 0.02}}]}
    router = build_experiments(config, MemoryStore())["b"].router
    assert (router.sync_interval, router.sync_fraction) == (0.5, 0.02)
    config["experiments"][0]["router"] = {"sync_fraction": -0.5}
    with pytest.raises(ValueError, match="sync_fraction"):
        build_experiments(config, MemoryStore())
