"""End to end: the example service on 127.0.0.1 under concurrent clients."""

from __future__ import annotations

import http.client
import importlib.util
import json
import threading
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from abkit.adapters import FixedSplitRouter

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "routing_service.py"


def _load_example():
    spec = importlib.util.spec_from_file_location("routing_service", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture()
def service():
    router = FixedSplitRouter("e2e-checkout", ["control", "treatment", "treatment-b"], [0.5, 0.3, 0.2])
    server, thread = _load_example().serve_in_thread(router)
    yield router, server.server_address[1]
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _client(port, units, outcomes, seen, errors):
    # One keep-alive connection per client thread: route each request, then post its outcome.
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        for unit, outcome in zip(units, outcomes, strict=True):
            conn.request("GET", f"/route?unit_id={unit}")
            response = conn.getresponse()
            route = json.loads(response.read())
            if response.status != 200:
                errors.append(route)
                continue
            body = json.dumps({"unit_id": unit, "outcome": int(outcome)})
            conn.request("POST", "/record", body, {"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            if response.status != 204:
                errors.append(response.status)
            seen.append((unit, route["variant"], int(outcome)))
    finally:
        conn.close()


def test_concurrent_requests_are_recorded_once_sticky_and_split_by_weight(service):
    router, port = service
    rng = np.random.default_rng(20240601)
    n_requests, n_units, n_threads = 10_000, 4_000, 8
    units = [f"user-{i}" for i in rng.integers(0, n_units, n_requests)]
    outcomes = rng.random(n_requests) < 0.3
    seen: list[tuple[str, str, int]] = []  # list.append is atomic under the GIL
    errors: list[object] = []
    threads = [
        threading.Thread(target=_client,
                         args=(port, units[k::n_threads], outcomes[k::n_threads], seen, errors))
        for k in range(n_threads)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    assert len(seen) == n_requests

    # Every outcome recorded exactly once, in the variant the service routed it to.
    summary = router.summary()
    expected = Counter()
    successes = Counter()
    for _, variant, outcome in seen:
        expected[variant] += 1
        successes[variant] += outcome
    assert {v: s.n for v, s in summary.items()} == {v: expected[v] for v in router.variants}
    assert {v: s.successes for v, s in summary.items()} == {v: successes[v] for v in router.variants}

    # Sticky: one variant per unit, the one the (stateless) hash gives in this process.
    by_unit: dict[str, set[str]] = {}
    for unit, variant, _ in seen:
        by_unit.setdefault(unit, set()).add(variant)
    assert all(len(v) == 1 for v in by_unit.values())
    assert all(router.route(u).variant == next(iter(v)) for u, v in by_unit.items())

    # Distinct units per variant inside a 99.9% binomial band around the design weights.
    counts = Counter(next(iter(v)) for v in by_unit.values())
    n = len(by_unit)
    for variant, weight in zip(router.variants, router.weights, strict=True):
        low, high = stats.binom.ppf([0.0005, 0.9995], n, weight)
        assert low <= counts[variant] <= high, (variant, counts[variant], low, high)


def test_bad_requests_get_400_and_change_nothing(service):
    router, port = service
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    before = router.to_json()
    for path, body in [("/route?unit_id=", None), ("/record", {"unit_id": "u1", "outcome": 3}),
                       ("/record", {"unit_id": "u1", "outcome": 1, "variant": "nope"}),
                       ("/record", {"unit_id": "", "outcome": 1}), ("/record", [1, 2])]:
        if body is None:
            conn.request("GET", path)
        else:
            conn.request("POST", path, json.dumps(body))
        response = conn.getresponse()
        payload = json.loads(response.read())
        assert response.status == 400
        assert "must" in payload["error"]
    conn.request("GET", "/state")
    response = conn.getresponse()
    assert json.loads(response.read()) == json.loads(before)
    conn.close()
