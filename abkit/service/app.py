"""The ASGI app behind ``abkit serve``: routers over HTTP (Starlette), mountable in any ASGI app.

Endpoints (every body is JSON; every error is ``{"error": message}`` with 400, 404, 413 or 422,
never a dropped connection or a 500 for bad input):

``POST /v1/experiments/{name}/route``
    ``{"unit_id": str, "request_id"?: str, "context"?: object}`` -> the route: ``variant``,
    ``variant_index``, ``propensity``, ``in_experiment``, ``experiment``, ``unit_id`` and the
    ``request_id`` (a bandit's decision waits under the request id, else the unit id).
``POST /v1/experiments/{name}/record``
    ``{"unit_id" or "request_id": str, "outcome": number | bool, "idempotency_key"?: str}`` ->
    204 once stored (``"counted": false`` is never sent: a repeated key is acknowledged and
    counted once).
``GET /v1/experiments/{name}/summary``
    Per-variant statistics, and for a split the test of the second variant against the first.
    Every type reads the service's store, so every worker answers the same totals (a bandit's
    worker first exchanges its rewards with the store: the counts of every worker's synced
    rewards and its own).
``GET /v1/experiments``, ``GET /healthz``, ``GET /metrics`` (Prometheus text format).
``GET /v1/canary/{name}/argo``
    Argo Rollouts' Web metric provider. Each measurement is one look of the canary's judge
    (it moves the rollout: next step, promotion or rollback; a look without data in both arms
    is inconclusive and not spent; a finished rollout keeps answering its final decision). The
    answer: ``{"decision", "status", "traffic_share", "look", "counts", "reasons"}``. An
    AnalysisTemplate in which an inconclusive look neither passes nor fails::

        apiVersion: argoproj.io/v1alpha1
        kind: AnalysisTemplate
        metadata: {name: abkit-canary}
        spec:
          metrics:
          - name: abkit
            interval: 5m
            successCondition: result.decision == "pass"
            failureCondition: result.decision == "rollback"
            provider:
              web:
                url: http://abkit.default.svc:8000/v1/canary/checkout-v2/argo
                jsonPath: "{$}"

``POST /v1/canary/{name}/flagger/{hook}``
    Flagger's webhooks, with Flagger's payload (``name``, ``namespace``, ``phase``, ...):
    ``rollout`` takes a look and answers 409 only when the judge says rollback (200 otherwise,
    so an inconclusive look does not count as a failed check); ``confirm-promotion`` answers 200
    only once the judge passed the canary (409 holds the promotion).

Bodies over 64 KiB get 413 (from ``Content-Length`` before reading, or while reading a chunked
body); a ``Content-Length`` that is not a non-negative integer gets 400; JSON nested deeper than
64 levels, non-UTF-8 bytes, lone surrogates in ids and non-finite numbers get 400.

Examples
--------
>>> app = create_app({"experiments": [{"name": "checkout", "type": "split"}]})
>>> [route.path for route in app.routes][:2]
['/v1/experiments/{name}/route', '/v1/experiments/{name}/record']
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import functools
import json
import math
import os
import threading
import time
import warnings
from collections.abc import AsyncIterator, Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from abkit._state import parse_json
from abkit.adapters import BanditRouter, CanaryRouter, FixedSplitRouter, ShadowRouter
from abkit.adapters._base import RECORDS_GROUP
from abkit.adapters.logs import SegmentLog
from abkit.adapters.redis_log import RedisStreamLog
from abkit.adapters.stores import MemoryStore, RedisStore, Store, open_store_as
from abkit.bandits import BanditState
from abkit.errors import DegenerateDataWarning, StateError
from abkit.service.config import Experiment, build_experiments

__all__ = ["MAX_BODY_BYTES", "create_app"]

MAX_BODY_BYTES = 64 * 1024
_THREADS = 40  # as many as Starlette's default thread pool: records in flight per worker
_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class _HTTPError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _Metrics:
    """Request counters and latency histograms of this process, in Prometheus text format."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, str, int], int] = {}
        self.records: dict[str, int] = {}
        self.latency: dict[str, list[float]] = {}  # endpoint -> bucket counts, then sum, count

    def observe(self, endpoint: str, experiment: str, status: int, seconds: float) -> None:
        with self._lock:
            key = (endpoint, experiment, status)
            self.requests[key] = self.requests.get(key, 0) + 1
            row = self.latency.setdefault(endpoint, [0.0] * (len(_BUCKETS) + 2))
            for i, bound in enumerate(_BUCKETS):
                if seconds <= bound:
                    row[i] += 1
            row[-2] += seconds
            row[-1] += 1

    def recorded(self, experiment: str) -> None:
        with self._lock:
            self.records[experiment] = self.records.get(experiment, 0) + 1

    def text(self, shared: Mapping[str, int] | None = None) -> str:
        """The metrics; ``shared`` replaces this process's record counts where given (read from
        the store, so every worker and host answers the same totals)."""
        with self._lock:
            lines = [
                "# HELP abkit_requests_total HTTP requests by endpoint, experiment and status.",
                "# TYPE abkit_requests_total counter",
            ]
            for (endpoint, experiment, status), count in sorted(self.requests.items()):
                lines.append(
                    f'abkit_requests_total{{endpoint="{endpoint}",experiment="{_label(experiment)}",'
                    f'status="{status}"}} {count}'
                )
            lines += [
                "# HELP abkit_errors_total HTTP requests answered with an error status.",
                "# TYPE abkit_errors_total counter",
            ]
            errors: dict[str, int] = {}
            for (endpoint, _, status), count in self.requests.items():
                if status >= 400:
                    errors[endpoint] = errors.get(endpoint, 0) + count
            for endpoint, count in sorted(errors.items()):
                lines.append(f'abkit_errors_total{{endpoint="{endpoint}"}} {count}')
            lines += [
                "# HELP abkit_records_total Outcomes counted (repeated idempotency keys excluded) by "
                "every worker on the store (a bandit: every worker's rewards synced to it, and this one's).",
                "# TYPE abkit_records_total counter",
            ]
            for experiment, count in sorted({**self.records, **(shared or {})}.items()):
                lines.append(f'abkit_records_total{{experiment="{_label(experiment)}"}} {count}')
            lines += [
                "# HELP abkit_request_seconds Time to answer a request, by endpoint.",
                "# TYPE abkit_request_seconds histogram",
            ]
            for endpoint, row in sorted(self.latency.items()):
                for bound, hits in zip(_BUCKETS, row, strict=False):
                    lines.append(
                        f'abkit_request_seconds_bucket{{endpoint="{endpoint}",le="{bound}"}} {hits:g}'
                    )
                lines.append(f'abkit_request_seconds_bucket{{endpoint="{endpoint}",le="+Inf"}} {row[-1]:g}')
                lines.append(f'abkit_request_seconds_sum{{endpoint="{endpoint}"}} {row[-2]!r}')
                lines.append(f'abkit_request_seconds_count{{endpoint="{endpoint}"}} {row[-1]:g}')
        return "\n".join(lines) + "\n"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


async def _body(request: Request) -> dict[str, Any]:
    """The request's JSON object, read at most ``MAX_BODY_BYTES`` (``_HTTPError`` otherwise)."""
    length = request.headers.get("content-length")
    if length is not None:
        if not length.isdigit():
            raise _HTTPError(400, f"Content-Length must be a non-negative integer; got {length[:40]!r}.")
        if int(length) > MAX_BODY_BYTES:
            raise _HTTPError(413, f"The body is {int(length)} bytes; at most {MAX_BODY_BYTES} are accepted.")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _HTTPError(413, f"The body is over {MAX_BODY_BYTES} bytes; at most that is accepted.")
        chunks.append(chunk)
    try:
        document = parse_json(b"".join(chunks))
    except StateError as exc:
        raise _HTTPError(
            400, "The body must be a JSON object: " + str(exc).replace("The state", "it")
        ) from None
    if not isinstance(document, dict):
        raise _HTTPError(400, f"The body must be a JSON object; got {type(document).__name__}.")
    return document


def _text(body: Mapping[str, Any], name: str, *, required: bool) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise _HTTPError(400, f"`{name}` is required.")
        return None
    if not isinstance(value, str) or not value:
        raise _HTTPError(400, f"`{name}` must be a non-empty string; got {json.dumps(value)[:60]}.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _HTTPError(
            400, f"`{name}` must be encodable as UTF-8 (no lone surrogates); got {value!r}."
        ) from None
    if len(value) > 1024:
        raise _HTTPError(400, f"`{name}` must be at most 1024 characters; got {len(value)}.")
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, bool | int) or (isinstance(value, float) and math.isfinite(value))


FLAGGER_HOOKS = ("rollout", "confirm-promotion")
_FINAL_DECISION = {"promoted": "pass", "rolled_back": "rollback"}


def _canary_state(router: CanaryRouter) -> dict[str, Any]:
    """The rollout now: its status, traffic share, looks and the decision of its latest look."""
    router.sync_rollout()  # with a store: the step another worker may have decided
    rollout = router.rollout
    looks = [e for e in rollout.events if e["event"] == "look"]
    decision = _FINAL_DECISION.get(rollout.status, looks[-1]["decision"] if looks else "inconclusive")
    return {
        "decision": decision,
        "status": rollout.status,
        "traffic_share": rollout.traffic_share,
        "look": rollout.look,
        "counts": router.counts(),
        "reasons": looks[-1]["reasons"] if looks else [],
    }


def _look(router: CanaryRouter) -> dict[str, Any]:
    """Take one look (judge the data so far and move the rollout); a finished rollout keeps its
    final decision (``"pass"`` once promoted, ``"rollback"`` once rolled back)."""
    if router.rollout.finished:
        return _canary_state(router)
    counts = router.counts()
    missing = [
        c.name
        for c in router.rollout.judge.checks
        if not (counts["baseline"].get(c.name) and counts["canary"].get(c.name))
    ]
    if missing:  # nothing to judge yet: inconclusive, and no look is spent
        return {
            **_canary_state(router),
            "decision": "inconclusive",
            "reasons": [f"no data yet in both arms for {missing}"],
        }
    with warnings.catch_warnings():  # degenerate data gives an inconclusive look, reported as such
        warnings.simplefilter("ignore", DegenerateDataWarning)
        router.evaluate(at=time.time())
    return _canary_state(router)


def _check_shadow_outcome(outcome: Any) -> None:
    """400 unless ``outcome`` is ``{"predictions": {model: value}, "latencies"?: {...}, "label"?: ...}``."""
    if not isinstance(outcome, dict) or not isinstance(outcome.get("predictions"), dict):
        raise _HTTPError(400, '`outcome` of a shadow must be an object {"predictions": {model: score}, '
                              '"latencies"?: {model: seconds}, "label"?: value}; got '
                              f"{json.dumps(outcome)[:60]}.")
    values = [*outcome["predictions"].values(), outcome.get("label")]
    latencies = outcome.get("latencies") or {}
    if not isinstance(latencies, dict):
        raise _HTTPError(400, "`outcome.latencies` must be an object {model: seconds}.")
    values += list(latencies.values())
    if not all(v is None or isinstance(v, str) or _is_number(v) for v in values):
        raise _HTTPError(400, "`outcome` predictions, latencies and label must be numbers (or class names).")


def _shadow_lines(outcome: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One log line per model of a shadow outcome (numbers only: class names are not logged as scores)."""
    latencies = outcome.get("latencies") or {}
    label = outcome.get("label")

    def number(value: Any) -> float | None:
        return float(value) if value is not None and not isinstance(value, str) else None

    return [{"variant": model, "model": model, "prediction": number(prediction), "label": number(label),
             "latency": number(latencies.get(model))} for model, prediction in outcome["predictions"].items()]


def _no_extra(body: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    extra = sorted(set(body) - set(allowed))
    if extra:
        raise _HTTPError(400, f"Unknown fields {extra}; allowed: {list(allowed)}.")


class _Service:
    def __init__(
        self, experiments: dict[str, Experiment], store: Store, log: SegmentLog | RedisStreamLog | None
    ) -> None:
        self.experiments = experiments
        self.store = store
        self.log = log
        self.metrics = _Metrics()
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._pool_pid = -1
        self._pool_lock = threading.Lock()

    async def call(self, function: Any, *args: Any, **kwargs: Any) -> Any:
        """``function(*args, **kwargs)`` on one of this service's threads (it may wait for the store,
        the disk or the network), awaited without blocking the event loop.

        On asyncio, a plain thread pool through ``loop.run_in_executor``: about a quarter of the
        event loop's time per call that Starlette's ``run_in_threadpool`` (anyio's capacity
        limiter, cancel scopes, its worker queue) costs, which was most of a record's overhead
        over a bare endpoint. On another event loop (trio, through anyio): Starlette's pool.
        """
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not asyncio
            return await run_in_threadpool(function, *args, **kwargs)
        context = contextvars.copy_context()  # as run_in_threadpool: the caller's context variables
        return await loop.run_in_executor(self._threads(), functools.partial(context.run, function, *args,
                                                                             **kwargs))

    def _threads(self) -> concurrent.futures.ThreadPoolExecutor:
        """This process's pool (a forked worker makes its own: its parent's threads are not in it)."""
        pool = self._pool
        if pool is None or self._pool_pid != os.getpid():
            with self._pool_lock:
                if self._pool is None or self._pool_pid != os.getpid():
                    self._pool = concurrent.futures.ThreadPoolExecutor(_THREADS, thread_name_prefix="abkit")
                    self._pool_pid = os.getpid()
                pool = self._pool
        return pool

    def close(self) -> None:
        """Wait for the calls under way and stop the threads."""
        if self._pool is not None and self._pool_pid == os.getpid():
            self._pool.shutdown(wait=True)
        self._pool = None

    def experiment(self, request: Request) -> Experiment:
        name = request.path_params["name"]
        found = self.experiments.get(name)
        if found is None:
            raise _HTTPError(404, f"No experiment {name!r}; this service has {sorted(self.experiments)}.")
        return found

    async def route(self, request: Request) -> Response:
        experiment = self.experiment(request)
        body = await _body(request)
        _no_extra(body, ("unit_id", "request_id", "context"))
        unit_id = _text(body, "unit_id", required=True)
        request_id = _text(body, "request_id", required=False)
        context = body.get("context")
        if context is not None and not isinstance(context, dict):
            raise _HTTPError(400, "`context` must be an object.")
        assert unit_id is not None
        key = (request_id or unit_id) if experiment.kind in ("bandit", "shadow") else unit_id
        route = experiment.router.route(key, context)  # a hash or a draw: microseconds, no I/O
        answer = {**route.to_dict(), "unit_id": unit_id, "request_id": request_id}
        if self.log is not None:
            await self._log(
                "route",
                experiment=experiment.name,
                unit_id=unit_id,
                request_id=request_id,
                variant=route.variant if route.in_experiment else None,  # outside: served, not counted
                propensity=route.propensity if route.in_experiment else None,
            )
        return JSONResponse(answer)

    async def _log(self, event: str, **fields: Any) -> None:
        """Write one log line: inline when batched (a buffer append), else off the event loop (it
        waits for the disk)."""
        assert self.log is not None
        if getattr(self.log, "durability", None) == "batch":  # a segment log's buffer; Redis: the network
            self.log.write(event, **fields)
        else:
            await self.call(self.log.write, event, **fields)

    async def record(self, request: Request) -> Response:
        experiment = self.experiment(request)
        body = await _body(request)
        _no_extra(body, ("unit_id", "request_id", "outcome", "idempotency_key"))
        unit_id = _text(body, "unit_id", required=False)
        request_id = _text(body, "request_id", required=False)
        idempotency_key = _text(body, "idempotency_key", required=False)
        if unit_id is None and request_id is None:
            raise _HTTPError(400, "`unit_id` or `request_id` is required.")
        if "outcome" not in body:
            raise _HTTPError(400, "`outcome` is required.")
        outcome = body["outcome"]
        if experiment.kind == "shadow":
            _check_shadow_outcome(outcome)
        elif experiment.kind == "canary":
            if not isinstance(outcome, dict) or not all(_is_number(v) for v in outcome.values()):
                raise _HTTPError(
                    400,
                    "`outcome` of a canary must be an object {metric name: number}; "
                    f"got {json.dumps(outcome)[:60]}.",
                )
        elif not _is_number(outcome):
            raise _HTTPError(400, f"`outcome` must be a number or a boolean; got {json.dumps(outcome)[:60]}.")
        key: str | None = unit_id
        if experiment.kind in ("split", "canary"):  # the unit is re-hashed to find its arm
            if unit_id is None:
                what = "a canary" if experiment.kind == "canary" else "a split experiment"
                raise _HTTPError(400, f"`unit_id` is required for {what} (the unit is re-hashed).")
        else:  # bandit or shadow: the request's own key (a bandit's decision is in the store)
            key = request_id or unit_id
        assert key is not None
        await self.call(self._record, experiment, key, outcome, idempotency_key, unit_id, request_id)
        return Response(status_code=204)

    def _record(self, experiment: Experiment, key: str, outcome: Any, idempotency_key: str | None,
                unit_id: str | None, request_id: str | None) -> None:
        """Count one outcome and log it: store and log in one trip off the event loop (in ``"sync"``
        durability the log waits for the disk too). Returns once both are done."""
        router = experiment.router
        credited = None
        if isinstance(router, FixedSplitRouter):  # hashed once: the variant credited is the one logged
            credited = router.route(key)
            counted = router.record_once(key, outcome, idempotency_key=idempotency_key,
                                         variant=credited.variant if credited.in_experiment else None)
        else:
            counted = router.record_once(key, outcome, idempotency_key=idempotency_key)
        if not counted:
            return
        self.metrics.recorded(experiment.name)
        if self.log is None:
            return
        if experiment.kind == "shadow":
            self.log.write_many([("shadow", {"experiment": experiment.name, "unit_id": unit_id,
                                             "request_id": request_id or unit_id, **fields})
                                 for fields in _shadow_lines(outcome)])
            return
        assigned: dict[str, Any] = {}
        if credited is not None and credited.in_experiment:
            assigned = {"variant": credited.variant, "propensity": credited.propensity}
        self.log.write(
            "record",
            experiment=experiment.name,
            unit_id=unit_id,
            request_id=request_id,
            outcome=None if isinstance(outcome, dict) else float(outcome),
            **assigned,
        )

    async def summary(self, request: Request) -> Response:
        experiment = self.experiment(request)
        return JSONResponse(await self.call(self._summary, experiment))

    @staticmethod
    def _summary(experiment: Experiment) -> dict[str, Any]:
        router = experiment.router
        if isinstance(router, FixedSplitRouter):
            summary = router.summary()
            stats = {name: s.to_dict() for name, s in summary.items()}
            with warnings.catch_warnings():  # degenerate data gives NaN fields, reported as they are
                warnings.simplefilter("ignore", DegenerateDataWarning)
                test = router.test().to_dict() if all(s.n >= 2 for s in summary.values()) else None
            return {
                "experiment": experiment.name,
                "type": "split",
                "stats": stats,
                "excluded": router.excluded,
                "test": test,
            }
        if isinstance(router, CanaryRouter):
            return {"experiment": experiment.name, "type": "canary", **_canary_state(router)}
        if isinstance(router, ShadowRouter):
            return {
                "experiment": experiment.name,
                "type": "shadow",
                "live": router.live,
                "shadows": list(router.shadows),
                "stats": {model: {moment: s.to_dict() for moment, s in stats.items()}
                          for model, stats in router.model_stats().items()},
            }
        router.sync()  # push this worker's rewards, take everyone's: the shared counts now
        state = router.policy.state
        assert isinstance(state, BanditState)  # the service builds context-free policies only
        return {
            "experiment": experiment.name,
            "type": "bandit",
            "policy": type(router.policy).__name__,
            "n_updates": router.policy.n_updates,
            "stats": {
                name: {"n": float(state.counts[i]), "mean": float(state.means[i])}
                for i, name in enumerate(router.variants)
            },
            "allocation": dict(zip(router.variants, router.allocation(), strict=True)),
        }

    def canary(self, request: Request) -> CanaryRouter:
        experiment = self.experiment(request)
        if not isinstance(experiment.router, CanaryRouter):
            raise _HTTPError(404, f"Experiment {experiment.name!r} is a {experiment.kind}, not a canary.")
        return experiment.router

    async def argo(self, request: Request) -> Response:
        """Argo Rollouts' Web metric provider: one look per measurement (see the module docstring)."""
        router = self.canary(request)
        return JSONResponse(await self.call(_look, router))

    async def flagger(self, request: Request) -> Response:
        """Flagger's webhooks: ``rollout`` (a look; non-200 only on rollback) and
        ``confirm-promotion`` (200 only once the judge passed the canary)."""
        router = self.canary(request)
        hook = request.path_params["hook"]
        if hook not in FLAGGER_HOOKS:
            raise _HTTPError(404, f"Flagger hook {hook!r} is not served; abkit serves {list(FLAGGER_HOOKS)}.")
        body = await _body(request)
        for field in ("name", "namespace", "phase"):
            if not isinstance(body.get(field), str):
                raise _HTTPError(400, f"A Flagger webhook payload needs `{field}` (a string).")
        if hook == "rollout":
            answer = await self.call(_look, router)
            status = 409 if answer["decision"] == "rollback" else 200
        else:
            answer = _canary_state(router)
            status = 200 if answer["decision"] == "pass" else 409
        if status != 200:
            answer = {"error": f"The canary's decision is {answer['decision']!r}.", **answer}
        return JSONResponse(answer, status_code=status)

    async def experiments_list(self, request: Request) -> Response:
        return JSONResponse(
            {"experiments": [{"name": e.name, "type": e.kind} for e in self.experiments.values()]}
        )

    async def healthz(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def metrics_text(self, request: Request) -> Response:
        shared = await self.call(self._stored_records)
        return PlainTextResponse(self.metrics.text(shared), media_type="text/plain; version=0.0.4")

    def _stored_records(self) -> dict[str, int]:
        """Records counted by every worker (and host) on the store, per experiment.

        A split's groups (variants, and units outside it) count every record; canaries and
        shadows count theirs in the group ``RECORDS_GROUP``; a bandit's worker first exchanges
        its rewards with the store (as for its summary): everyone's synced rewards and its own.
        """
        counts: dict[str, int] = {}
        for name, experiment in self.experiments.items():
            router = experiment.router
            if isinstance(router, BanditRouter):
                router.sync()
                counts[name] = int(router.policy.n_updates)
                continue
            totals = self.store.totals(name)
            if isinstance(router, FixedSplitRouter):
                counts[name] = round(sum(fields.get("n", 0.0) for fields in totals.values()))
            else:
                counts[name] = round(totals.get(RECORDS_GROUP, {}).get("n", 0.0))
        return counts


def _endpoint(service: _Service, handler: Any, label: str) -> Any:
    async def endpoint(request: Request) -> Response:
        started = time.perf_counter()
        name = request.path_params.get("name", "")
        try:
            response = await handler(request)
        except _HTTPError as exc:
            response = JSONResponse({"error": exc.message}, status_code=exc.status)
        except (ValueError, TypeError) as exc:  # the routers' checks: a well-formed but invalid request
            response = JSONResponse({"error": str(exc)}, status_code=422)
        known = name if name in service.experiments else ""
        service.metrics.observe(label, known, response.status_code, time.perf_counter() - started)
        return response

    return endpoint


def create_app(
    config: Mapping[str, Any],
    *,
    store: Store | str | None = None,
    log_dir: str | None = None,
    durability: str = "batch",
    flush_interval: float = 1.0,
) -> Starlette:
    """The ASGI app serving the experiments of ``config`` (see :mod:`abkit.service.config`).

    Parameters
    ----------
    config
        ``{"experiments": [...]}``.
    store
        Where every experiment's counts, a bandit's policy and pending decisions and the
        idempotency keys live, shared by every worker and host on it: a :class:`Store` or a URL
        (``memory://``, ``sqlite://PATH``, ``redis://HOST:PORT/DB``); default in memory.
    log_dir
        Where every route and record is logged (none by default): a directory of segment files
        (:class:`abkit.adapters.logs.SegmentLog`), or a Redis URL (``redis://HOST:PORT/DB``): the
        stream ``abkit:log:{log}`` of a :class:`abkit.adapters.redis_log.RedisStreamLog`, which
        every host appends to and ``RedisStreamLog(URL).drain(DIR)`` moves to segment files.
    durability, flush_interval
        The log's durability (``"sync"`` or ``"batch"``, see :class:`abkit.adapters.logs.SegmentLog`).

    Mount it in an existing app with ``Mount("/experiments", app=create_app(...))``.
    """
    store_object = (MemoryStore() if store is None
                    else open_store_as(store, "store") if isinstance(store, str) else store)
    experiments = build_experiments(config, store_object)
    log: SegmentLog | RedisStreamLog | None = None
    if log_dir is not None and log_dir.startswith(_REDIS_SCHEMES):
        log = RedisStreamLog(
            store_object if isinstance(store_object, RedisStore) and store_object.url == log_dir else log_dir
        )
    elif log_dir is not None:
        log = SegmentLog(log_dir, durability=durability, flush_interval=flush_interval)
    service = _Service(experiments, store_object, log)
    routes = [
        Route("/v1/experiments/{name}/route", _endpoint(service, service.route, "route"), methods=["POST"]),
        Route(
            "/v1/experiments/{name}/record", _endpoint(service, service.record, "record"), methods=["POST"]
        ),
        Route(
            "/v1/experiments/{name}/summary", _endpoint(service, service.summary, "summary"), methods=["GET"]
        ),
        Route(
            "/v1/experiments", _endpoint(service, service.experiments_list, "experiments"), methods=["GET"]
        ),
        Route("/v1/canary/{name}/argo", _endpoint(service, service.argo, "argo"), methods=["GET", "POST"]),
        Route(
            "/v1/canary/{name}/flagger/{hook}",
            _endpoint(service, service.flagger, "flagger"),
            methods=["POST"],
        ),
        Route("/healthz", _endpoint(service, service.healthz, "healthz"), methods=["GET"]),
        Route("/metrics", service.metrics_text, methods=["GET"]),
    ]

    async def not_found(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 404)
        detail = getattr(exc, "detail", "Not found")
        return JSONResponse({"error": str(detail)}, status_code=status)

    async def server_error(request: Request, exc: Exception) -> Response:  # pragma: no cover - a bug
        return JSONResponse({"error": f"Internal error: {type(exc).__name__}."}, status_code=500)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        for experiment in experiments.values():  # a worker stopping pushes its last bandit rewards
            if isinstance(experiment.router, BanditRouter):
                with contextlib.suppress(Exception):  # the store is gone: nothing more to save
                    experiment.router.sync()
        service.close()
        if log is not None:
            log.close()
        store_object.close()

    app = Starlette(
        routes=routes,
        exception_handlers={404: not_found, 405: not_found, 500: server_error},
        lifespan=lifespan,
    )
    app.state.abkit = service
    return app
