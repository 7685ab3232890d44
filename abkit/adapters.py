"""Router-facing objects: which variant serves a unit, and a place to record what happened.

Every adapter follows one small protocol, :class:`Router`: ``route(unit_id, context=None)``
returns a :class:`Route` (the variant, the experiment, and the propensity of that choice for
off-policy evaluation later) and ``record(unit_id, outcome)`` stores an outcome. Adapters keep
their state as JSON, merge states from several router instances, and are safe under threads.

Examples
--------
>>> route = Route(unit_id="u1", experiment="exp", variant="treatment", variant_index=1,
...               propensity=0.5)
>>> route.variant
'treatment'
"""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol, runtime_checkable

from abkit._results import Result

__all__ = ["Route", "Router"]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class Route(Result):
    """The answer to ``route()``: who serves this unit.

    ``propensity`` is the probability with which this variant was chosen for this unit (1.0 for
    a deterministic hash split once the unit's bucket is fixed is *not* used: it is the design
    share of the variant, which is what off-policy estimators need). ``shadows`` names models
    to call in shadow mode whose answers are logged but not served.
    """

    unit_id: str
    experiment: str
    variant: str
    variant_index: int
    propensity: float
    shadows: tuple[str, ...] = ()


@runtime_checkable
class Router(Protocol):
    """What a request router calls on every request."""

    def route(self, unit_id: str, context: dict[str, Any] | None = None) -> Route:
        """Assign ``unit_id`` (deterministically where the adapter allows) and return the route."""
        ...

    def record(self, unit_id: str, outcome: Any) -> None:
        """Record an outcome for a unit that was routed; atomic and thread-safe."""
        ...
