"""The "shadow" experiment type of the service, and canaries shared by two app instances on one store."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("starlette", reason="abkit[serve] is not installed")

with warnings.catch_warnings():  # Starlette 1.x asks for `httpx2`; plain httpx works the same
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from abkit.adapters import ShadowRouter
from abkit.service import create_app
from abkit.service.config import build_experiments

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")

CONFIG = {"experiments": [
    {"name": "ranker", "type": "shadow", "live": "v1", "shadows": ["v2", "v3"]},
    {"name": "ramp", "type": "canary", "checks": [{"kind": "error_rate", "name": "e", "margin": 0.05}],
     "steps": [25, 50, 100], "judge": {"planned_looks": 4}},
]}


def test_shadow_routes_to_the_live_model_and_counts_each_models_statistics(tmp_path: Path) -> None:
    store = f"sqlite://{tmp_path}/s.db"
    rng = np.random.default_rng(3)
    reference = ShadowRouter("v1", ["v2", "v3"])  # the router itself, fed the same outcomes
    # two app instances (two workers) on one store
    with TestClient(create_app(CONFIG, store=store, log_dir=str(tmp_path / "log"))) as a, \
            TestClient(create_app(CONFIG, store=store)) as b:
        for i in range(60):
            route = a.post("/v1/experiments/ranker/route", json={"unit_id": f"u{i}", "request_id": f"r{i}"}).json()
            assert route["variant"] == "v1" and route["shadows"] == ["v2", "v3"] and route["propensity"] == 1.0
            assert route["request_id"] == f"r{i}"
            outcome = {"predictions": {"v1": float(rng.random()), "v2": float(rng.random())},
                       "latencies": {"v1": float(rng.gamma(2, 0.01)), "v2": float(rng.gamma(2, 0.02))},
                       "label": int(rng.random() < 0.4)}
            if i % 3 == 0:
                outcome["predictions"]["v3"] = 0.5  # v3 answers a third of the requests
            body = {"request_id": f"r{i}", "outcome": outcome, "idempotency_key": f"k{i}"}
            for client in (a, b):  # the same record sent to both workers: counted once
                assert client.post("/v1/experiments/ranker/record", json=body).status_code == 204
            reference.record(f"r{i}", outcome)
        summary = b.get("/v1/experiments/ranker/summary").json()
    assert summary["type"] == "shadow" and summary["live"] == "v1" and summary["shadows"] == ["v2", "v3"]
    expected = reference.model_stats()
    for model in ("v1", "v2", "v3"):
        for moment in ("prediction", "latency", "loss"):
            got, want = summary["stats"][model][moment], expected[model][moment]
            assert got["n"] == want.n  # 60 (v1, v2) or 20 (v3) requests, latencies only for v1, v2
            # the same numbers, as sums and sums of squares instead of one pass: rounding only
            assert got["mean"] == pytest.approx(want.mean, rel=1e-12, abs=1e-15)
            assert got["var"] == pytest.approx(want.var, rel=1e-9, abs=1e-15)
    assert summary["stats"]["v3"]["prediction"]["n"] == 20 and summary["stats"]["v3"]["latency"]["n"] == 0
    rows = [json.loads(line) for path in (tmp_path / "log").glob("*.jsonl") for line in path.read_text().splitlines()]
    shadow_rows = [r for r in rows if r["event"] == "shadow"]
    assert len(shadow_rows) == 60 * 2 + 20  # one line per model's answer, a repeated key not logged again
    first = next(r for r in shadow_rows if r["request_id"] == "r0" and r["model"] == "v2")
    assert first["prediction"] == reference.to_records()[1]["prediction"] and first["label"] in (0, 1)


@pytest.mark.parametrize("body, status, message", [
    ({"request_id": "r", "outcome": 1.0}, 400, "must be an object {\"predictions\""),
    ({"request_id": "r", "outcome": {"predictions": {"v1": [1]}}}, 400, "must be numbers"),
    ({"request_id": "r", "outcome": {"predictions": {"v1": 1}, "latencies": [1]}}, 400, "latencies"),
    ({"request_id": "r", "outcome": {"predictions": {"v9": 1.0}}}, 422, "unknown model 'v9'"),
    ({"request_id": "r", "outcome": {"predictions": {"v1": 1.0}, "latencies": {"v1": -1.0}}}, 422, "latency"),
    ({"request_id": "r", "outcome": {"predictions": {"v1": 1e200}}}, 422, "must be at most 1e"),
    ({"outcome": {"predictions": {"v1": 1.0}}}, 400, "`unit_id` or `request_id` is required"),
])
def test_bad_shadow_records_get_a_clear_4xx_and_count_nothing(tmp_path: Path, body: Any, status: int,
                                                              message: str) -> None:
    with TestClient(create_app(CONFIG, store=f"sqlite://{tmp_path}/s.db")) as client:
        response = client.post("/v1/experiments/ranker/record", json=body)
        assert response.status_code == status and message in response.json()["error"]
        stats = client.get("/v1/experiments/ranker/summary").json()["stats"]
        assert all(s["prediction"]["n"] == 0 for s in stats.values())


def test_shadow_configuration_errors_name_the_option() -> None:
    from abkit.adapters.stores import MemoryStore

    for entry, message in (({"live": "v1"}, "needs `live`"),
                           ({"live": "v1", "shadows": ["v1"]}, "must not include the live model"),
                           ({"live": "v1", "shadows": ["v2"], "weights": [1]}, "unknown options ['weights']")):
        with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
            build_experiments({"experiments": [{"name": "s", "type": "shadow", **entry}]}, MemoryStore())


def test_a_canary_step_decided_by_one_worker_reaches_the_other(tmp_path: Path) -> None:
    store = f"sqlite://{tmp_path}/s.db"
    flagger = {"name": "ramp", "namespace": "default", "phase": "Progressing"}
    with TestClient(create_app(CONFIG, store=store)) as a, TestClient(create_app(CONFIG, store=store)) as b:
        for i in range(1200):  # a healthy canary; outcomes posted to either worker, retried once
            body = {"unit_id": f"u{i}", "outcome": {"e": 0}, "idempotency_key": f"k{i}"}
            assert (a if i % 2 else b).post("/v1/experiments/ramp/record", json=body).status_code == 204
            if i % 100 == 0:
                assert (b if i % 2 else a).post("/v1/experiments/ramp/record", json=body).status_code == 204
        look = a.get("/v1/canary/ramp/argo").json()  # Argo's look lands on worker a
        assert look["decision"] == "pass" and look["traffic_share"] == 0.5 and look["look"] == 1
        counts = look["counts"]
        assert counts["baseline"]["e"] + counts["canary"]["e"] == 1200  # every worker's, each once
        state = b.get("/v1/experiments/ramp/summary").json()  # worker b knows the step
        assert state["traffic_share"] == 0.5 and state["look"] == 1
        answer = b.post("/v1/canary/ramp/flagger/rollout", json=flagger)  # the next look, on b
        assert answer.status_code == 200 and answer.json()["look"] == 2
        assert a.get("/v1/experiments/ramp/summary").json()["look"] == 2
