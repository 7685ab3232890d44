"""`abkit serve` against a bare Starlette endpoint: route and record latency and throughput.

Both servers run under uvicorn with one worker process on 127.0.0.1 in the same run; one client
process drives each in turn with ``--connections`` keep-alive HTTP/1.1 connections (a minimal
asyncio client, so the client's own cost stays small and is the same for both). The bare
endpoint parses the JSON body and returns a constant JSON answer: the floor any Python ASGI
service pays. abkit's ``route`` hashes the unit into a split and logs the decision; ``record``
adds the outcome to the store and the log.

    python benchmarks/bench_service.py --requests 20000 --connections 16 --repeats 3

Figures: benchmarks/README.md. Medians over repeats; latencies are per request as the client sees
them (p50, p99), throughput is requests per second over the whole run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]

BARE_APP = textwrap.dedent('''
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    ANSWER = {"experiment": "checkout", "unit_id": "u", "variant": "treatment", "propensity": 0.5}

    async def answer(request):
        await request.json()
        return JSONResponse(ANSWER)

    app = Starlette(routes=[Route("/v1/experiments/{name}/{action}", answer, methods=["POST"]),
                            Route("/healthz", lambda request: JSONResponse({"ok": True}))])
''')

CONFIG = {"experiments": [{"name": "checkout", "type": "split", "variants": ["control", "treatment"],
                           "weights": [0.5, 0.5], "metric": "proportion"}]}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(command: list[str], port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.2)
        if process.poll() is not None:
            break
    process.kill()
    raise RuntimeError(f"server did not start: {process.communicate()[1].decode()[-2000:]}")


async def one_connection(port: int, requests: list[tuple[str, bytes]], latencies: list[float]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for path, body in requests:
        head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        start = time.perf_counter()
        writer.write(head + body)
        await writer.drain()
        status_line = await reader.readline()
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await reader.readexactly(length)
        latencies.append(time.perf_counter() - start)
        if not status_line.split()[1].startswith(b"2"):
            raise RuntimeError(f"{path} answered {status_line!r}")
    writer.close()


def drive(port: int, action: str, n: int, connections: int, offset: int) -> dict[str, float]:
    """``n`` requests of ``action`` over ``connections`` connections; latency quantiles and rate."""
    def body(i: int) -> bytes:
        payload: dict[str, Any] = {"unit_id": f"user-{offset + i}"}
        if action == "record":
            payload.update(outcome=i % 2, idempotency_key=f"k-{offset + i}")
        return json.dumps(payload).encode()

    per = [[(f"/v1/experiments/checkout/{action}", body(i)) for i in range(c, n, connections)]
           for c in range(connections)]
    latencies: list[float] = []

    async def run() -> None:
        await asyncio.gather(*(one_connection(port, chunk, latencies) for chunk in per))

    start = time.perf_counter()
    asyncio.run(run())
    elapsed = time.perf_counter() - start
    values = np.array(latencies) * 1e3
    return {"p50_ms": float(np.quantile(values, 0.5)), "p99_ms": float(np.quantile(values, 0.99)),
            "rps": n / elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench_service_"))
    (folder / "bare_app.py").write_text(BARE_APP)
    (folder / "config.json").write_text(json.dumps(CONFIG))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(folder)])}
    bare_port, abkit_port = free_port(), free_port()
    bare = start([sys.executable, "-m", "uvicorn", "bare_app:app", "--port", str(bare_port),
                  "--log-level", "warning", "--no-access-log"], bare_port, env)
    served = start([sys.executable, "-m", "abkit.cli", "serve", str(folder / "config.json"), "--port",
                    str(abkit_port), "--store", f"sqlite://{folder / 'store.db'}", "--log",
                    str(folder / "log"), "--durability", "batch"], abkit_port, env)
    try:
        drive(bare_port, "route", 2000, args.connections, 0)  # warm both up
        drive(abkit_port, "route", 2000, args.connections, 0)
        results: dict[str, list[dict[str, float]]] = {}
        for repeat in range(args.repeats):
            offset = (repeat + 1) * args.requests
            for name, port, action in [("bare", bare_port, "route"), ("route", abkit_port, "route"),
                                       ("record", abkit_port, "record")]:
                results.setdefault(name, []).append(drive(port, action, args.requests, args.connections,
                                                          offset))
    finally:
        for process in (bare, served):
            process.terminate()
            process.wait(timeout=30)
    median = {name: {k: statistics.median(r[k] for r in runs) for k in runs[0]}
              for name, runs in results.items()}
    print(f"{args.requests} requests x {args.repeats} repeats, {args.connections} connections, "
          f"1 uvicorn worker each; medians")
    print(f"{'endpoint':<22}{'p50 ms':>9}{'p99 ms':>9}{'req/s':>9}{'p50 / bare':>12}{'rps bare / it':>15}")
    for name, label in [("bare", "bare Starlette"), ("route", "abkit route"),
                        ("record", "abkit record (batch)")]:
        m = median[name]
        print(f"{label:<22}{m['p50_ms']:>9.2f}{m['p99_ms']:>9.2f}{m['rps']:>9.0f}"
              f"{m['p50_ms'] / median['bare']['p50_ms']:>12.2f}{median['bare']['rps'] / m['rps']:>15.2f}")


if __name__ == "__main__":
    main()
