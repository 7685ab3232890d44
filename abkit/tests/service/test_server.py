"""One real ``abkit serve`` (uvicorn, 2 worker processes, one SQLite store) on 127.0.0.1."""

from __future__ import annotations

import concurrent.futures
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

httpx = pytest.importorskip("httpx", reason="abkit[dev] installs httpx")
pytest.importorskip("uvicorn", reason="abkit[serve] is not installed")

import abkit  # noqa: E402

CONFIG = {"experiments": [{"name": "checkout", "type": "split"},
                          {"name": "ranker", "type": "bandit", "arms": ["a", "b"], "router": {"sync_interval": 0.1}}]}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("serve")
    config = folder / "config.json"
    config.write_text(json.dumps(CONFIG))
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(Path(abkit.__file__).resolve().parents[1])}
    errors = (folder / "stderr.txt").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "abkit.cli", "serve", str(config), "--host", "127.0.0.1", "--port", str(port),
         "--workers", "2", "--store", f"sqlite://{folder / 'store.db'}", "--log", str(folder / "log")],
        env=env, stdout=subprocess.DEVNULL, stderr=errors)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait()
            errors.close()
            pytest.fail(f"abkit serve did not start: {(folder / 'stderr.txt').read_text()[-2000:]}")
        time.sleep(0.2)
    try:
        yield {"url": url, "port": port, "folder": folder}
    finally:
        _stop(process)
        errors.close()


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGINT)  # the server this fixture started: uvicorn stops its workers
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:  # pragma: no cover
        process.kill()
        process.wait()


def test_two_workers_count_every_acknowledged_record_once(server: dict[str, Any]) -> None:
    url = server["url"]
    client = httpx.Client(base_url=url, timeout=10, limits=httpx.Limits(max_connections=16))

    def one(i: int) -> str:
        variant: str = client.post("/v1/experiments/checkout/route", json={"unit_id": f"u{i}"}).json()["variant"]
        body = {"unit_id": f"u{i}", "outcome": i % 2, "idempotency_key": f"k{i}"}
        for _ in range(2):  # a client retrying: counted once
            assert client.post("/v1/experiments/checkout/record", json=body).status_code == 204
        return variant

    with concurrent.futures.ThreadPoolExecutor(16) as pool, client:
        variants = list(pool.map(one, range(80)))
    stats = httpx.get(f"{url}/v1/experiments/checkout/summary").json()["stats"]
    for name in ("control", "treatment"):
        units = [i for i, v in enumerate(variants) if v == name]
        assert stats[name] == {"successes": sum(i % 2 for i in units), "n": len(units)}


def test_a_bandit_reward_reaches_its_decision_on_the_other_worker(server: dict[str, Any]) -> None:
    """Each request on a new connection: the kernel hands them to either worker, and the logs
    (one segment file per worker process) say which worker routed and which recorded each one."""
    url = server["url"]

    def one(i: int) -> tuple[str, int]:
        route = httpx.post(f"{url}/v1/experiments/ranker/route", json={"unit_id": f"u{i}", "request_id": f"b{i}"})
        variant: str = route.json()["variant"]
        reward = int(variant == "b" or i % 3 == 0)
        answer = httpx.post(f"{url}/v1/experiments/ranker/record", json={"request_id": f"b{i}", "outcome": reward})
        assert answer.status_code == 204, answer.text  # found in the store, whichever worker routed it
        return variant, reward

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        served = list(pool.map(one, range(120)))
    time.sleep(1.5)  # batch durability: the logs are written within flush_interval (1 s)
    worker_of: dict[tuple[str, str], str] = {}
    for path in (server["folder"] / "log").glob("*.jsonl"):
        pid = path.name.split("-")[1]
        for line in path.read_text().splitlines():
            row = json.loads(line)
            if row.get("experiment") == "ranker":
                worker_of[(row["event"], row["request_id"])] = pid
    crossed = sum(worker_of[("route", f"b{i}")] != worker_of[("record", f"b{i}")] for i in range(120))
    assert crossed > 0  # some rewards were recorded by the worker that did not route them
    deadline = time.monotonic() + 10  # every worker pushes within sync_interval of its next request
    while True:
        summary = httpx.get(f"{url}/v1/experiments/ranker/summary").json()
        if summary["n_updates"] == 120 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    for arm in ("a", "b"):
        rewards = [r for v, r in served if v == arm]
        assert summary["stats"][arm]["n"] == len(rewards)
        assert summary["stats"][arm]["mean"] == pytest.approx(sum(rewards) / max(len(rewards), 1), abs=1e-12)


def test_malformed_http_gets_an_answer_not_a_dropped_connection(server: dict[str, Any]) -> None:
    requests = [
        b"POST /v1/experiments/checkout/route HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        b"POST /v1/experiments/checkout/route HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n{",
    ]
    for raw in requests:
        with socket.create_connection(("127.0.0.1", server["port"]), timeout=10) as connection:
            connection.sendall(raw)
            answer = connection.recv(4096)
        status = int(answer.split(b" ", 2)[1])
        assert status in (400, 413), answer[:200]


def test_the_log_holds_every_route_and_record(server: dict[str, Any]) -> None:
    url = server["url"]
    httpx.post(f"{url}/v1/experiments/checkout/route", json={"unit_id": "logged", "request_id": "req-9"})
    time.sleep(1.5)  # batch durability: written within flush_interval (1 s)
    rows = [json.loads(line) for path in (server["folder"] / "log").glob("*.jsonl")
            for line in path.read_text().splitlines()]
    assert any(r["event"] == "route" and r["request_id"] == "req-9" for r in rows)


def test_the_cli_refuses_a_bad_configuration_before_serving(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from abkit.cli import main

    config = tmp_path / "config.json"
    config.write_text('{"experiments": [{"name": "a", "type": "ab"}]}')
    assert main(["serve", str(config)]) == 2
    assert "abkit serve: error: `experiments[0].type` must be one of 'split', 'bandit', 'shadow', 'canary'" in \
        capsys.readouterr().err
    config.write_text(json.dumps(CONFIG))
    assert main(["serve", str(config), "--workers", "2"]) == 2
    assert "Several workers need a shared store" in capsys.readouterr().err
    config.write_text("[" * 1000)
    assert main(["serve", str(config)]) == 2
    assert "is not valid JSON" in capsys.readouterr().err
