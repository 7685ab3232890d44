"""The examples run: the ``abkit serve`` configuration, and the FastAPI app that calls a router and
mounts the service (FastAPI is a dev dependency; the example is skipped without it)."""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette", reason="abkit[serve] is not installed")

from abkit.service import build_experiments, load_config

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")


def test_the_serve_configuration_builds_every_experiment() -> None:
    from abkit.adapters.stores import MemoryStore

    experiments = build_experiments(load_config(EXAMPLES / "experiments.json"), MemoryStore())
    assert {name: e.kind for name, e in experiments.items()} == {
        "checkout-button": "split", "headline": "bandit", "api-v2": "canary"}


def test_the_fastapi_example_routes_records_and_serves_the_mounted_service(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("fastapi", reason="the example needs FastAPI (a dev dependency)")
    pytest.importorskip("duckdb")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
    from abkit.frame import Experiment, Proportion, load_outcomes

    monkeypatch.setenv("ABKIT_EXAMPLE_DATA", str(tmp_path))
    spec = importlib.util.spec_from_file_location("fastapi_app", EXAMPLES / "fastapi_app.py")
    assert spec is not None and spec.loader is not None
    module: Any = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with TestClient(module.app) as client:
        for i in range(60):
            answer = client.post("/checkout", json={"user_id": f"user-{i}", "purchased": i % 4 == 0})
            assert answer.status_code == 200 and answer.json()["variant"] in ("control", "treatment")
        assert client.post("/checkout", json={"user_id": "", "purchased": True}).status_code == 422
        summary = client.get("/checkout/summary").json()
        assert summary["control"]["n"] + summary["treatment"]["n"] == 60
        routed = client.post("/ab/v1/experiments/headline/route", json={"unit_id": "u1", "request_id": "r1"})
        assert routed.json()["variant"] in ("plain", "question", "number")
        assert client.post("/ab/v1/experiments/headline/record",
                           json={"request_id": "r1", "outcome": 1}).status_code == 204
        assert client.get("/ab/healthz").json() == {"status": "ok"}
    result = Experiment(conversion=Proportion("outcome")).analyze(load_outcomes(tmp_path / "log", "new-checkout"))
    assert result.n == (summary["control"]["n"], summary["treatment"]["n"])  # the log closed on shutdown
