"""Run the service with uvicorn: ``abkit serve CONFIG --host --port --workers --store --log``.

With ``--workers N`` uvicorn starts ``N`` processes, each building the app from the environment
(:func:`app_from_env`); they share counts only through the store, so several workers need
``--store sqlite://PATH`` (one host) or ``--store redis://HOST:PORT/DB`` (several hosts). Each
worker writes its own log segments in ``--log DIR``. A bandit's pending decisions are in the
store too, so its reward may reach any worker; each worker routes from its own copy of the
policy and exchanges rewards with the store every ``sync_interval`` seconds (the experiment's
``router`` options; a worker stopped with SIGINT or SIGTERM pushes its last rewards, one killed
with SIGKILL loses at most that window's).
"""

from __future__ import annotations

import json
import os
from typing import Any

from abkit.adapters.stores import MemoryStore
from abkit.service.app import MAX_BODY_BYTES, create_app
from abkit.service.config import build_experiments, load_config

__all__ = ["app_from_env", "serve"]

_ENV = "ABKIT_SERVE"


def serve(
    config_path: str,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    store: str = "memory://",
    log_dir: str | None = None,
    durability: str = "batch",
) -> None:
    """Check the configuration, then serve it with uvicorn until interrupted."""
    import uvicorn

    config = load_config(config_path)
    build_experiments(config, MemoryStore())  # every error is reported before a worker starts
    if workers < 1:
        raise ValueError(f"`workers` must be at least 1; got {workers}.")
    if workers > 1 and store == "memory://":
        raise ValueError(
            "Several workers need a shared store: --store sqlite://PATH or redis://HOST:PORT/DB "
            "(memory:// would give each worker its own counts)."
        )
    if store.startswith("sqlite://"):  # every worker must open the same file, wherever it starts
        store = "sqlite://" + os.path.abspath(store[len("sqlite://") :])
    os.environ[_ENV] = json.dumps(
        {"config": config, "store": store, "log_dir": log_dir, "durability": durability}
    )
    uvicorn.run(
        "abkit.service.server:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        backlog=2048,
        h11_max_incomplete_event_size=MAX_BODY_BYTES,
        timeout_keep_alive=5,
        timeout_worker_healthcheck=120,  # a worker importing numba and scipy may take many seconds
    )


def app_from_env() -> Any:
    """The app of one worker process, from the settings :func:`serve` put in the environment."""
    settings = json.loads(os.environ[_ENV])
    return create_app(
        settings["config"],
        store=settings["store"],
        log_dir=settings["log_dir"],
        durability=settings["durability"],
    )
