"""A router whose every ``route`` and ``record`` also goes to a decision and outcome log.

:class:`LoggedRouter` wraps any router of :mod:`abkit.adapters` and a log sink
(:class:`abkit.adapters.logs.SegmentLog` or :class:`abkit.adapters.redis_log.RedisStreamLog`).
Each line carries the flat keys of :data:`abkit.adapters.logs.LOG_COLUMNS`:

- ``route``: ``timestamp``, ``experiment``, ``unit_id``, ``request_id``, ``variant`` and its
  ``propensity``;
- ``record``: the same, with the ``outcome`` (or reward). The variant is the one the router
  credits: re-hashed for a split and a canary, the remembered decision for a bandit (a record
  whose decision was made by another process is logged without a variant, and
  :mod:`abkit.frame` joins it to its route when the log is read);
- a :class:`~abkit.adapters.ShadowRouter`'s record writes one ``shadow`` line per model
  (``model``, ``prediction``, ``label``, ``latency``), what :func:`abkit.frame.load_shadow_log`
  reads.

A unit outside a split's coverage or namespace is logged with a null variant and propensity:
it is served the first variant but not counted, in the router as in the log. A canary's
outcome (an object of metrics) is logged with a null ``outcome``.

Every line is built and checked before the router changes: a call the router or the log would
refuse changes nothing. The line is written after the router counted the outcome (a crash
between the two loses that line; the router's own counts stay right).

Examples
--------
>>> import tempfile
>>> from abkit.adapters import FixedSplitRouter
>>> from abkit.adapters.logs import SegmentLog
>>> folder = tempfile.mkdtemp()
>>> with SegmentLog(folder) as log:
...     router = LoggedRouter(FixedSplitRouter("checkout", weights=[0.5, 0.5]), log)
...     route = router.route("user-1", request_id="req-1")
...     router.record("user-1", 1)
>>> route.variant, router.summary()["treatment"]
('treatment', ProportionStats(successes=1, n=1))
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, Protocol

from abkit._validation import check_int
from abkit.adapters._base import Route, Router
from abkit.adapters.canary import CanaryRouter
from abkit.adapters.fixed_split import FixedSplitRouter
from abkit.adapters.logs import _line
from abkit.adapters.shadow import ShadowRouter

__all__ = ["LogSink", "LoggedRouter"]


class LogSink(Protocol):
    """What a log sink offers (:class:`~abkit.adapters.logs.SegmentLog`, ``RedisStreamLog``)."""

    def write(self, event: str, **fields: Any) -> None:
        """Append one checked record."""
        ...

    def write_many(self, records: list[tuple[str, Mapping[str, Any]]]) -> None:
        """Append checked records together."""
        ...

    def flush(self) -> None:
        """Make every accepted record durable now."""
        ...

    def close(self) -> None:
        """Flush and release resources."""
        ...


class LoggedRouter:
    """``router`` with every ``route`` and ``record`` also written to ``log`` (see the module docstring).

    Parameters
    ----------
    router
        A router of :mod:`abkit.adapters` (split, bandit, shadow, canary).
    log
        A :class:`LogSink`: :class:`~abkit.adapters.logs.SegmentLog` or
        :class:`~abkit.adapters.redis_log.RedisStreamLog`.
    max_remembered
        Decisions remembered to fill in a bandit's record line (the oldest are forgotten; their
        records are logged without a variant and joined to their route when read).

    Every other attribute (``summary``, ``test``, ``decision_log``, ``to_json``, ...) is the
    router's. Safe under threads when the router and the log are.
    """

    def __init__(self, router: Router, log: LogSink, *, max_remembered: int = 100_000) -> None:
        if not isinstance(router, Router):
            raise TypeError(f"`router` must be an abkit router (route, record); got {type(router).__name__}.")
        if not all(callable(getattr(log, name, None)) for name in ("write", "write_many", "_append")):
            raise TypeError(f"`log` must be an abkit log sink (SegmentLog, RedisStreamLog); got "
                            f"{type(log).__name__}.")
        self.router = router
        self.log = log
        self.max_remembered = check_int("max_remembered", max_remembered, minimum=1)
        self._rehash = isinstance(router, FixedSplitRouter | CanaryRouter)
        self._shadow = isinstance(router, ShadowRouter)
        self._lock = threading.Lock()
        self._routes: OrderedDict[str, tuple[Route, str | None]] = OrderedDict()

    def __getattr__(self, name: str) -> Any:
        if name == "router":  # not set yet (a failed __init__): no recursion
            raise AttributeError(name)
        return getattr(self.router, name)

    def __repr__(self) -> str:
        return f"LoggedRouter({self.router!r}, {self.log!r})"

    @staticmethod
    def _assigned(route: Route) -> dict[str, Any]:
        if not route.in_experiment:
            return {"variant": None, "propensity": None}
        return {"variant": route.variant, "propensity": route.propensity}

    def route(self, unit_id: str, context: dict[str, Any] | None = None, *,
              request_id: str | None = None) -> Route:
        """The router's route for ``unit_id``, logged with ``request_id`` (an id of this request)."""
        route = self.router.route(unit_id, context)
        line = _line("route", {"experiment": route.experiment, "unit_id": unit_id, "request_id": request_id,
                               **self._assigned(route)})
        if not self._rehash and not self._shadow:
            with self._lock:
                self._routes.pop(unit_id, None)
                self._routes[unit_id] = (route, request_id)
                while len(self._routes) > self.max_remembered:
                    self._routes.popitem(last=False)
        self.log._append([line])  # type: ignore[attr-defined]
        return route

    def record(self, unit_id: str, outcome: Any, *, request_id: str | None = None,
               **options: Any) -> None:
        """The router's ``record`` (``options`` such as a split's ``idempotency_key`` passed on),
        then its line(s) in the log; an outcome a split does not count again (a repeated
        ``idempotency_key``) is not logged again either."""
        if self._shadow:
            lines = self._shadow_lines(unit_id, outcome, request_id)
        else:
            lines = [self._record_line(unit_id, outcome, request_id)]
        if options and isinstance(self.router, FixedSplitRouter):
            counted = self.router.record_once(unit_id, outcome, **options)
        else:
            self.router.record(unit_id, outcome, **options)
            counted = True
        if not self._rehash and not self._shadow:
            with self._lock:
                self._routes.pop(unit_id, None)
        if counted:
            self.log._append(lines)  # type: ignore[attr-defined]

    def _record_line(self, unit_id: str, outcome: Any, request_id: str | None) -> bytes:
        experiment = getattr(self.router, "experiment", None)
        assigned: dict[str, Any] = {}
        if self._rehash:
            assigned = self._assigned(self.router.route(unit_id))
        else:
            with self._lock:
                held = self._routes.get(unit_id) if isinstance(unit_id, str) else None
            if held is not None:
                assigned = self._assigned(held[0])
                request_id = held[1] if request_id is None else request_id
        value = None if isinstance(outcome, Mapping) else outcome
        return _line("record", {"experiment": experiment, "unit_id": unit_id, "request_id": request_id,
                                "outcome": value, **assigned})

    def _shadow_lines(self, unit_id: str, outcome: Any, request_id: str | None) -> list[bytes]:
        router = self.router
        assert isinstance(router, ShadowRouter)
        if not isinstance(outcome, Mapping) or not isinstance(outcome.get("predictions"), Mapping):
            return []  # the router refuses it, naming what is wrong
        latencies = outcome.get("latencies") or {}
        label = outcome.get("label")
        lines = []
        for model, prediction in outcome["predictions"].items():
            if isinstance(prediction, str):
                raise TypeError(f"`outcome` predictions must be numbers to be logged; got {prediction!r} "
                                f"for model {model!r}.")
            lines.append(_line("shadow", {
                "experiment": router.experiment, "unit_id": unit_id,
                "request_id": unit_id if request_id is None else request_id,
                "variant": router.live, "propensity": 1.0, "model": model, "prediction": prediction,
                "label": label, "latency": latencies.get(model) if isinstance(latencies, Mapping) else None}))
        return lines
