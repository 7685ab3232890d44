"""Canary experiments driven by Argo Rollouts (Web metric provider) and Flagger (webhooks).

Payloads follow the projects' documentation: Argo's ``web`` provider GETs the URL and reads the
JSON through ``jsonPath`` (here ``{$}``), judging ``successCondition: result.decision == "pass"``
and ``failureCondition: result.decision == "rollback"``; Flagger POSTs
``{"name", "namespace", "phase", "checksum", "metadata"}`` and only reads the status code.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

pytest.importorskip("starlette", reason="abkit[serve] is not installed")

with warnings.catch_warnings():  # Starlette 1.x asks for `httpx2`; plain httpx works the same
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from abkit.service import create_app

CONFIG = {"experiments": [
    {"name": "checkout-v2", "type": "canary", "steps": [50, 100],
     "checks": [{"kind": "error_rate", "name": "errors", "margin": 0.05}], "judge": {"planned_looks": 4}},
    {"name": "split", "type": "split"},
]}
FLAGGER_PAYLOAD = {"name": "podinfo", "namespace": "test", "phase": "Progressing", "checksum": "85d557f47b",
                   "metadata": {"test": "all", "token": "16688eb5e9f289f1991c"}}


def _argo_phase(result: dict[str, Any]) -> str:
    """What Argo makes of one measurement with the documented AnalysisTemplate."""
    if result["decision"] == "pass":  # successCondition
        return "Successful"
    if result["decision"] == "rollback":  # failureCondition
        return "Failed"
    return "Inconclusive"


def _traffic(client: Any, error_rate: dict[str, float], n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    router = client.app.state.abkit.experiments["checkout-v2"].router
    for i in range(n):
        unit = f"s{seed}-u{i}"
        if i < 20:  # the HTTP route agrees with the router the service holds
            assert client.post("/v1/experiments/checkout-v2/route", json={"unit_id": unit}).json()["variant"] == \
                router.route(unit).variant
        arm = router.route(unit).variant
        error = int(rng.random() < error_rate[arm])
        assert client.post("/v1/experiments/checkout-v2/record",
                           json={"unit_id": unit, "outcome": {"errors": error}}).status_code == 204


@pytest.fixture
def client() -> Any:
    with TestClient(create_app(CONFIG)) as c:
        yield c


def test_argo_sees_inconclusive_then_pass_and_flagger_may_promote(client: Any) -> None:
    assert _argo_phase(client.get("/v1/canary/checkout-v2/argo").json()) == "Inconclusive"  # no data yet
    assert client.post("/v1/canary/checkout-v2/flagger/confirm-promotion", json=FLAGGER_PAYLOAD).status_code == 409
    _traffic(client, {"baseline": 0.01, "canary": 0.01}, 1000, seed=1)
    result = client.get("/v1/canary/checkout-v2/argo").json()
    assert _argo_phase(result) == "Successful" and result["status"] == "promoted" and result["traffic_share"] == 1.0
    assert result["look"] == 1  # the look without data was not spent
    assert client.post("/v1/canary/checkout-v2/flagger/confirm-promotion", json=FLAGGER_PAYLOAD).status_code == 200
    assert client.get("/v1/canary/checkout-v2/argo").json()["look"] == 1  # a finished rollout takes no look


def test_a_harmful_canary_fails_argo_and_flagger_rollout_hook(client: Any) -> None:
    _traffic(client, {"baseline": 0.01, "canary": 0.2}, 500, seed=2)
    response = client.post("/v1/canary/checkout-v2/flagger/rollout", json=FLAGGER_PAYLOAD)
    assert response.status_code == 409 and response.json()["decision"] == "rollback"
    assert "'rollback'" in response.json()["error"]
    assert _argo_phase(client.get("/v1/canary/checkout-v2/argo").json()) == "Failed"
    assert client.post("/v1/canary/checkout-v2/flagger/confirm-promotion", json=FLAGGER_PAYLOAD).status_code == 409
    summary = client.get("/v1/experiments/checkout-v2/summary").json()
    assert summary["status"] == "rolled_back" and summary["traffic_share"] == 0.0


def test_an_inconclusive_look_answers_200_to_the_rollout_hook(client: Any) -> None:
    _traffic(client, {"baseline": 0.01, "canary": 0.01}, 40, seed=3)  # too few units to decide
    response = client.post("/v1/canary/checkout-v2/flagger/rollout", json=FLAGGER_PAYLOAD)
    assert response.status_code == 200 and response.json()["decision"] == "inconclusive"


@pytest.mark.parametrize(("method", "path", "body", "status", "message"), [
    ("post", "/v1/canary/checkout-v2/flagger/rollout", {"namespace": "test", "phase": "Progressing"}, 400,
     "needs `name`"),
    ("post", "/v1/canary/checkout-v2/flagger/pre-rollout", FLAGGER_PAYLOAD, 404, "hook 'pre-rollout' is not served"),
    ("get", "/v1/canary/split/argo", None, 404, "is a split, not a canary"),
    ("get", "/v1/canary/nope/argo", None, 404, "No experiment 'nope'"),
    ("post", "/v1/experiments/checkout-v2/record", {"unit_id": "u", "outcome": 1}, 400,
     "`outcome` of a canary must be an object"),
    ("post", "/v1/experiments/checkout-v2/record", {"unit_id": "u", "outcome": {"errors": "x"}}, 400,
     "`outcome` of a canary must be an object"),
])
def test_bad_hook_calls_get_4xx(client: Any, method: str, path: str, body: Any, status: int, message: str) -> None:
    response = client.post(path, json=body) if method == "post" else client.get(path)
    assert response.status_code == status and message in response.json()["error"]
    assert client.get("/v1/experiments/checkout-v2/summary").json()["look"] == 0
