"""A canary router adapter: routes live traffic by the rollout's share and feeds the judge.

:class:`CanaryRouter` implements the :class:`abkit.adapters.Router` protocol. A unit goes to
the canary when its hash bucket in [0, 1) is below the rollout's current traffic share. The
bucket is the first 8 bytes of the SHA-256 of ``"{salt}:{unit_id}"`` over 2**64; since the ramp
only grows, a unit once on the canary stays there until a rollback. (abkit's shared assignment
module will provide the hashing; this adapter uses its own until then.)

``record`` stores each metric's outcome per arm; ``evaluate`` hands everything recorded so far
to :meth:`CanaryRollout.observe`.

Examples
--------
>>> from abkit.rollout import CanaryJudge, CanaryRollout
>>> rollout = CanaryRollout(CanaryJudge([CanaryJudge.error_rate("errors")], planned_looks=4),
...                         steps=(10, 100))
>>> router = CanaryRouter(rollout, salt="checkout-v2")
>>> routes = [router.route(f"user-{i}") for i in range(10_000)]
>>> round(sum(r.variant == "canary" for r in routes) / 10_000, 2)
0.1
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from typing import Any

import numpy as np

from abkit._validation import check_real
from abkit.adapters import Route
from abkit.rollout.controllers import CanaryRollout
from abkit.rollout.judge import CanaryVerdict

__all__ = ["CanaryRouter", "unit_bucket"]

def unit_bucket(unit_id: str, salt: str = "") -> float:
    """A unit's fixed, uniformly spread position in [0, 1) (SHA-256 of ``"{salt}:{unit_id}"``).

    >>> 0.0 <= unit_bucket("user-1", "exp") < 1.0
    True
    """
    digest = hashlib.sha256(f"{salt}:{unit_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


class CanaryRouter:
    """Route units between baseline and canary by the rollout's share; record outcomes.

    Parameters
    ----------
    rollout
        The :class:`CanaryRollout` whose ``traffic_share`` sets the split.
    experiment
        Name put on every :class:`~abkit.adapters.Route`.
    salt
        Mixed into the hash so different rollouts split users independently.
    """

    def __init__(self, rollout: CanaryRollout, *, experiment: str = "canary", salt: str = "") -> None:
        if not isinstance(rollout, CanaryRollout):
            raise TypeError(f"`rollout` must be a CanaryRollout; got {type(rollout).__name__}.")
        if not isinstance(experiment, str) or not isinstance(salt, str):
            raise TypeError("`experiment` and `salt` must be strings.")
        self.rollout = rollout
        self.experiment = experiment
        self.salt = salt
        self._data: dict[str, dict[str, list[float]]] = {"baseline": {}, "canary": {}}
        self._lock = threading.Lock()

    def bucket(self, unit_id: str) -> float:
        """The unit's fixed position in [0, 1)."""
        return unit_bucket(unit_id, self.salt)

    def _arm(self, unit_id: str) -> tuple[str, float]:
        share = self.rollout.traffic_share
        return ("canary" if self.bucket(unit_id) < share else "baseline"), share

    def route(self, unit_id: str, context: dict[str, Any] | None = None) -> Route:
        """The arm serving ``unit_id`` now; ``propensity`` is that arm's traffic share."""
        if not isinstance(unit_id, str):
            raise TypeError(f"`unit_id` must be a string; got {type(unit_id).__name__}.")
        arm, share = self._arm(unit_id)
        canary = arm == "canary"
        return Route(unit_id=unit_id, experiment=self.experiment, variant=arm,
                     variant_index=int(canary), propensity=share if canary else 1.0 - share)

    def record(self, unit_id: str, outcome: Any) -> None:
        """Store ``outcome`` (a mapping of metric name to a number) under the unit's current arm."""
        if not isinstance(outcome, Mapping):
            raise TypeError(
                f"`outcome` must be a mapping of metric name to value; got {type(outcome).__name__}.")
        values = {str(k): check_real(f"outcome[{k!r}]", v) for k, v in outcome.items()}
        arm = self.route(unit_id).variant
        with self._lock:
            store = self._data[arm]
            for name, value in values.items():
                store.setdefault(name, []).append(value)

    def counts(self) -> dict[str, dict[str, int]]:
        """How many outcomes were recorded per arm and metric."""
        with self._lock:
            return {arm: {k: len(v) for k, v in d.items()} for arm, d in self._data.items()}

    def evaluate(self, *, at: float | None = None) -> CanaryVerdict:
        """Judge everything recorded so far and move the rollout (see ``CanaryRollout.observe``)."""
        with self._lock:
            baseline = {k: np.asarray(v) for k, v in self._data["baseline"].items()}
            canary = {k: np.asarray(v) for k, v in self._data["canary"].items()}
        return self.rollout.observe(baseline, canary, at=at)
