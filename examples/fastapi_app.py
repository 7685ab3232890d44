"""abkit inside an existing FastAPI app: routers called from your own endpoints, and the
``abkit serve`` app mounted beside them.

1. **Call a router in your own handler** (``POST /checkout`` below). A ``LoggedRouter`` writes
   every route and outcome to a durable log directory that ``abkit.frame`` analyses later
   (``load_outcomes``, ``load_decision_log``); the counts live in a store shared by the worker
   processes (``SQLiteStore`` on one host, ``RedisStore`` across hosts).
2. **Mount the service** (``abkit.service.create_app``) under a prefix (``/ab`` below): the
   experiments of ``examples/experiments.json`` get ``POST /ab/v1/experiments/{name}/route`` and
   ``/record``, ``GET .../summary``, ``/ab/metrics`` and the Argo/Flagger hooks of canaries.

Without FastAPI the same works in Starlette: ``Starlette(routes=[Mount("/ab", app=...)])``.
Without an app of your own, ``abkit serve examples/experiments.json --workers 4 --store
sqlite:///tmp/abkit.db --log /tmp/abkit-log`` serves the configuration with uvicorn.

Run with ``uvicorn examples.fastapi_app:app`` (``pip install "abkit[serve]" fastapi``), then::

    curl -X POST localhost:8000/checkout -H 'content-type: application/json' \\
         -d '{"user_id": "user-1", "purchased": true}'
    curl localhost:8000/ab/v1/experiments/checkout-button/summary
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel

from abkit.adapters import FixedSplitRouter, LoggedRouter
from abkit.adapters.logs import SegmentLog
from abkit.adapters.stores import SQLiteStore
from abkit.service import create_app, load_config

CONFIG = Path(__file__).resolve().parent / "experiments.json"


class Checkout(BaseModel):
    user_id: str
    purchased: bool


def build(data: Path) -> FastAPI:
    """The app: one endpoint of its own that calls a router, and abkit's service under ``/ab``."""
    data.mkdir(parents=True, exist_ok=True)
    store = SQLiteStore(data / "abkit.db")  # shared by every worker process of this host
    log = SegmentLog(data / "log", durability="batch", flush_interval=1.0)
    router = LoggedRouter(FixedSplitRouter("new-checkout", weights=[0.5, 0.5], store=store), log)
    service = create_app(load_config(CONFIG), store=f"sqlite://{data / 'service.db'}",
                         log_dir=str(data / "service-log"))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with service.router.lifespan_context(service):  # a mounted app's own start and stop
            yield
        log.close()
        store.close()

    app = FastAPI(title="shop", lifespan=lifespan)

    @app.post("/checkout")
    def checkout(body: Checkout) -> dict[str, Any]:  # runs in a thread: routers are thread-safe
        try:
            route = router.route(body.user_id)
            router.record(body.user_id, body.purchased)
        except (TypeError, ValueError) as error:
            raise HTTPException(status_code=422, detail=str(error)) from None
        return {"variant": route.variant}

    @app.get("/checkout/summary")
    def summary() -> dict[str, Any]:
        return {name: stats.to_dict() for name, stats in router.summary().items()}

    app.mount("/ab", service)
    return app


app = build(Path(os.environ.get("ABKIT_EXAMPLE_DATA", "abkit-example-data")))
