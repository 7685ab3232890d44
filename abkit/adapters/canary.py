"""A canary router adapter: routes live traffic by the rollout's share and feeds the judge.

:class:`CanaryRouter` implements the :class:`abkit.adapters.Router` protocol. A unit's arm
is :func:`abkit.assignment.assign` with weights ``[1 - share, share]`` for the rollout's current
canary ``share``: GrowthBook's hash (version 2) of the unit id seeded with ``salt`` (default: the
``experiment`` name), so the split is the one a GrowthBook experiment, or abkit's
:class:`~abkit.adapters.FixedSplitRouter`, with those weights gives. The canary holds the top of
the hash range, ``[1 - share, 1)``, which only grows with the share: a unit on the canary at 5%
is still on it at 25%, until a rollback.

``record`` stores each metric's outcome per arm; ``evaluate`` hands everything recorded so far
to :meth:`CanaryRollout.observe`.

Examples
--------
>>> from abkit.rollout import CanaryJudge, CanaryRollout
>>> rollout = CanaryRollout(CanaryJudge([CanaryJudge.error_rate("errors")], planned_looks=4),
...                         steps=(10, 100))
>>> router = CanaryRouter(rollout, experiment="checkout-v2")
>>> routes = [router.route(f"user-{i}") for i in range(10_000)]
>>> round(sum(r.variant == "canary" for r in routes) / 10_000, 2)
0.1
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import numpy as np

from abkit._validation import check_real, check_string
from abkit.adapters._base import Route
from abkit.assignment import assign, gb_hash
from abkit.rollout.controllers import CanaryRollout
from abkit.rollout.judge import CanaryVerdict

__all__ = ["CanaryRouter", "unit_bucket"]

def unit_bucket(unit_id: str, salt: str = "") -> float:
    """A unit's fixed, uniformly spread position in [0, 1): GrowthBook's hash (version 2) seeded
    with ``salt``; the unit is on the canary when it is at least ``1 - share``.

    >>> unit_bucket("user-1", "exp")
    0.3004
    """
    bucket = gb_hash(salt, unit_id, 2)
    assert bucket is not None  # version 2 exists
    return bucket


class CanaryRouter:
    """Route units between baseline and canary by the rollout's share; record outcomes.

    Parameters
    ----------
    rollout
        The :class:`CanaryRollout` whose ``traffic_share`` sets the split.
    experiment
        Name put on every :class:`~abkit.adapters.Route`.
    salt
        The hash seed (GrowthBook's experiment seed), so different rollouts split units
        independently; empty (the default) means ``experiment``.
    """

    def __init__(self, rollout: CanaryRollout, *, experiment: str = "canary", salt: str = "") -> None:
        if not isinstance(rollout, CanaryRollout):
            raise TypeError(f"`rollout` must be a CanaryRollout; got {type(rollout).__name__}.")
        self.rollout = rollout
        self.experiment = check_string("experiment", experiment)
        self.salt = check_string("salt", salt) or experiment
        self._data: dict[str, dict[str, list[float]]] = {"baseline": {}, "canary": {}}
        self._lock = threading.Lock()

    def bucket(self, unit_id: str) -> float:
        """The unit's fixed position in [0, 1) (GrowthBook's hash of the unit, seeded with ``salt``)."""
        return unit_bucket(unit_id, self.salt)

    def _arm(self, unit_id: str) -> tuple[str, float]:
        share = self.rollout.traffic_share
        canary = assign(unit_id, self.salt, [1.0 - share, share]) == 1
        return ("canary" if canary else "baseline"), share

    def route(self, unit_id: str, context: dict[str, Any] | None = None) -> Route:
        """The arm serving ``unit_id`` now; ``propensity`` is that arm's traffic share."""
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
