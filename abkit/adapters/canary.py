"""A canary router adapter: routes live traffic by the rollout's share and feeds the judge.

:class:`CanaryRouter` implements the :class:`abkit.adapters.Router` protocol. A unit's arm
is an :class:`abkit.assignment.Split` (what :func:`abkit.assignment.assign` uses) with weights
``[1 - share, share]`` for the rollout's current canary ``share``: GrowthBook's hash (version 2)
of the unit id seeded with ``seed`` (default: the ``experiment`` name), so the split is the one
a GrowthBook experiment, or abkit's :class:`~abkit.adapters.FixedSplitRouter`, with those
weights gives. The canary holds the top of
the hash range, ``[1 - share, 1)``, which only grows with the share: a unit on the canary at 5%
is still on it at 25%, until a rollback.

What ``record`` keeps is bounded, whatever the traffic: for error-rate and mean checks the
sufficient statistics (count, mean and sum of squared deviations, merged exactly), for latency
and rank checks a uniform random sample (a reservoir, Vitter's algorithm R) of at most
``max_samples`` values per arm and metric. Those checks then run on the sample: valid, with the
power of ``max_samples`` values. ``evaluate`` hands everything to :meth:`CanaryRollout.observe`.
The state is the JSON envelope of :mod:`abkit._state`; two routers of one rollout ``merge``.

With ``store=`` (a :class:`abkit.adapters.stores.Store`: ``SQLiteStore`` for the workers of one
host, ``RedisStore`` across hosts) the error-rate and mean checks' statistics live in the store
as count, sum and sum of squares per arm and metric (and the count of outcomes, group
``"\x00records"``), added atomically by every worker (``record``
then takes an ``idempotency_key``), and the rollout's state (step, phase, looks, events) is a
versioned value in the store: ``evaluate`` judges the data, moves a copy of the rollout and
writes it only if no other worker moved it meanwhile (compare-and-set; else it reads the new
state and judges again), and every router reads it back at least every ``refresh`` seconds, so
a step decided on one worker reaches the others. **Latency and rank reservoirs stay per
process**: a look on one worker judges those checks on the values that worker received (still
a valid sample of the traffic when a load balancer spreads requests evenly, with the power of
that worker's share of the data).

Examples
--------
>>> from abkit.rollout import CanaryJudge, CanaryRollout
>>> rollout = CanaryRollout(CanaryJudge([CanaryJudge.error_rate("errors")], planned_looks=4),
...                         steps=(10, 100))
>>> router = CanaryRouter(rollout, experiment="checkout-v2")
>>> routes = [router.route(f"user-{i}") for i in range(10_000)]
>>> round(sum(r.variant == "canary" for r in routes) / 10_000, 2)
0.1
>>> router.record("user-1", {"errors": 0})
>>> router.counts()
{'baseline': {'errors': 1}, 'canary': {}}
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from abkit._state import dump_state, envelope_from_document, parse_json, read_state_file, write_state_file
from abkit._validation import check_int, check_real, check_rng, check_string
from abkit.adapters._base import RECORDS_GROUP, Route
from abkit.adapters.stores import Store
from abkit.assignment import Split, gb_hash
from abkit.errors import StateError
from abkit.rollout.controllers import CanaryRollout
from abkit.rollout.judge import CanaryVerdict
from abkit.stats import MeanStats, ProportionStats

__all__ = ["CanaryRouter", "unit_bucket"]

ARMS = ("baseline", "canary")
MOMENT_KINDS = ("error_rate", "mean")
"""Check kinds kept as sufficient statistics; the others (latency, rank) keep a reservoir."""
STATE_VERSION = 1
ROLLOUT_VALUE = "rollout"
"""The name of the rollout's versioned value in the store (namespace: the experiment)."""
_LARGEST = 1e150  # squares (and sums of squares) stay far from float overflow


def unit_bucket(unit_id: str, seed: str = "") -> float:
    """A unit's fixed, uniformly spread position in [0, 1): GrowthBook's hash (version 2) seeded
    with ``seed``; the unit is on the canary when it is at least ``1 - share``.

    >>> unit_bucket("user-1", "exp")
    0.3004
    """
    unit_id = check_string("unit_id", unit_id)
    bucket = gb_hash(seed, unit_id, 2)
    assert bucket is not None  # version 2 exists
    return bucket


class CanaryRouter:
    """Route units between baseline and canary by the rollout's share; record outcomes.

    Parameters
    ----------
    rollout
        The :class:`CanaryRollout` whose ``traffic_share`` sets the split; its judge's checks
        name the metrics ``record`` accepts.
    experiment
        Name put on every :class:`~abkit.adapters.Route`.
    seed
        The hash seed (GrowthBook's experiment seed), so different rollouts split units
        independently; empty (the default) means ``experiment``.
    max_samples
        Reservoir size per arm and metric for latency and rank checks (memory bound).
    rng
        Seeds the reservoirs' sampling (``int``, ``Generator`` or ``None``); not saved.
    store
        ``None`` (default): everything lives in this object. A store shares the moment checks'
        statistics and the rollout's state between workers (see the module notes); the store's
        rollout, when one was written, replaces ``rollout``'s state at once.
    refresh
        With a store: seconds between reads of the rollout's state on ``route`` (default 1).
    """

    def __init__(self, rollout: CanaryRollout, *, experiment: str = "canary", seed: str = "",
                 max_samples: int = 10_000, rng: Any = None, store: Store | None = None,
                 refresh: float = 1.0) -> None:
        if not isinstance(rollout, CanaryRollout):
            raise TypeError(f"`rollout` must be a CanaryRollout; got {type(rollout).__name__}.")
        if store is not None and not isinstance(store, Store):
            raise TypeError(f"`store` must be an abkit store or None; got {type(store).__name__}.")
        self.refresh = check_real("refresh", refresh)
        if self.refresh < 0:
            raise ValueError(f"`refresh` must be at least 0 seconds; got {refresh!r}.")
        self.store = store
        self.rollout = rollout
        self.experiment = check_string("experiment", experiment)
        self.seed = check_string("seed", seed) or experiment
        self.max_samples = check_int("max_samples", max_samples, minimum=1)
        self._rng = check_rng(rng)
        self._kinds = {check.name: check.kind for check in rollout.judge.checks}
        # Per arm and metric: [n, mean, m2] (moment kinds) or [seen, values] (reservoir kinds).
        self._moments: dict[str, dict[str, list[float]]] = {arm: {} for arm in ARMS}
        self._samples: dict[str, dict[str, tuple[int, list[float]]]] = {arm: {} for arm in ARMS}
        self._lock = threading.Lock()
        share = rollout.traffic_share
        self._split = Split(self.seed, [1.0 - share, share])  # rebuilt when the share moves
        self._rollout_version = 0
        self._read_at = -math.inf
        if store is not None:
            self.sync_rollout()

    def sync_rollout(self) -> None:
        """Read the rollout's state from the store now (routers with a store; else nothing)."""
        if self.store is None:
            return
        version, text = self.store.get_value(self.experiment, ROLLOUT_VALUE)
        self._read_at = time.monotonic()
        if text is not None and version != self._rollout_version:
            self._adopt(CanaryRollout.from_json(text, self.rollout.judge), version)

    def _adopt(self, source: CanaryRollout, version: int) -> None:
        """Give ``self.rollout`` (the caller's object) the state of ``source``."""
        if source.steps != self.rollout.steps:
            raise StateError(f"The store's rollout of {self.experiment!r} has steps {list(source.steps)}, "
                             f"this router's {list(self.rollout.steps)}.")
        with self.rollout._lock:
            self.rollout.phase, self.rollout.look = source.phase, source.look
            self.rollout.step_index, self.rollout.events = source.step_index, source.events
        self._rollout_version = version

    def bucket(self, unit_id: str) -> float:
        """The unit's fixed position in [0, 1) (GrowthBook's hash of the unit, seeded with ``seed``)."""
        return unit_bucket(unit_id, self.seed)

    def _arm(self, unit_id: str) -> tuple[str, float]:
        if self.store is not None and time.monotonic() - self._read_at >= self.refresh:
            self.sync_rollout()
        share = self.rollout.traffic_share
        split = self._split
        if split.weights[1] != share:  # a new step: validate and lay out the ranges once
            split = self._split = Split(self.seed, [1.0 - share, share])
        canary = split.index(unit_id) == 1
        return ("canary" if canary else "baseline"), share

    def route(self, unit_id: str, context: dict[str, Any] | None = None) -> Route:
        """The arm serving ``unit_id`` now; ``propensity`` is that arm's traffic share."""
        arm, share = self._arm(unit_id)
        canary = arm == "canary"
        return Route(unit_id=unit_id, experiment=self.experiment, variant=arm,
                     variant_index=int(canary), propensity=share if canary else 1.0 - share)

    def record(self, unit_id: str, outcome: Any, *, idempotency_key: str | None = None) -> None:
        """Record ``outcome`` (a mapping of metric name to a number) under the unit's current arm.

        Every name must be one of the judge's metrics, and an error-rate outcome 0 or 1; a bad
        outcome raises and records nothing. ``idempotency_key`` (routers with a store): an
        outcome sent again with the same key is counted once.
        """
        self.record_once(unit_id, outcome, idempotency_key=idempotency_key)

    def record_once(self, unit_id: str, outcome: Any, *, idempotency_key: str | None = None) -> bool:
        """:meth:`record`, returning whether it counted (False for a repeated idempotency key)."""
        if not isinstance(outcome, Mapping):
            raise TypeError(
                f"`outcome` must be a mapping of metric name to value; got {type(outcome).__name__}.")
        values: dict[str, float] = {}
        for name, value in outcome.items():
            if name not in self._kinds:
                raise ValueError(f"`outcome` names metric {name!r}, which the judge does not check; "
                                 f"expected some of {sorted(self._kinds)}.")
            number = check_real(f"outcome[{name!r}]", value)
            if self._kinds[name] == "error_rate" and number not in (0.0, 1.0):
                raise ValueError(f"`outcome[{name!r}]` must be 0 or 1 (an error rate); got {value!r}.")
            if self.store is not None and abs(number) > _LARGEST:
                raise ValueError(f"`outcome[{name!r}]` must be at most {_LARGEST:g} in absolute value with "
                                 f"a store (its square must not overflow); got {value!r}.")
            values[name] = number
        check_string("unit_id", unit_id)
        if idempotency_key is not None and self.store is None:
            raise ValueError("`idempotency_key` needs a router with a `store`; this one keeps its counts "
                             "in memory.")
        arm = self.route(unit_id).variant
        if self.store is not None:
            moments = {f"{name}:{suffix}": term for name, x in values.items()
                       if self._kinds[name] in MOMENT_KINDS
                       for suffix, term in (("n", 1.0), ("sum", x), ("sumsq", x * x))}
            deltas = {arm: moments, RECORDS_GROUP: {"n": 1.0}}  # the count: every worker's records
            if not self.store.add(self.experiment, deltas, idempotency_key=idempotency_key):
                return False
        with self._lock:
            for name, number in values.items():
                if self._kinds[name] not in MOMENT_KINDS:
                    self._add_sample(arm, name, number)
                elif self.store is None:
                    self._add_moment(arm, name, number)
        return True

    def _store_moments(self) -> dict[str, dict[str, list[float]]]:
        """The moment checks' ``[n, mean, m2]`` per arm and metric from the store's totals."""
        assert self.store is not None
        totals = self.store.totals(self.experiment)
        moments: dict[str, dict[str, list[float]]] = {arm: {} for arm in ARMS}
        for arm in ARMS:
            fields = totals.get(arm, {})
            for name, kind in self._kinds.items():
                n = round(fields.get(f"{name}:n", 0.0))
                if kind in MOMENT_KINDS and n > 0:
                    s = MeanStats.from_aggregates(n=n, total=fields[f"{name}:sum"],
                                                  total_sq=fields[f"{name}:sumsq"])
                    moments[arm][name] = [float(n), s.mean, s.var * (n - 1)]
        return moments

    def _add_moment(self, arm: str, name: str, value: float) -> None:
        moment = self._moments[arm].setdefault(name, [0.0, 0.0, 0.0])
        moment[0] += 1.0
        delta = value - moment[1]
        moment[1] += delta / moment[0]
        moment[2] += delta * (value - moment[1])

    def _add_sample(self, arm: str, name: str, value: float) -> None:
        seen, values = self._samples[arm].get(name, (0, []))
        seen += 1
        if len(values) < self.max_samples:
            values.append(value)
        else:
            slot = int(self._rng.integers(seen))
            if slot < self.max_samples:
                values[slot] = value
        self._samples[arm][name] = (seen, values)

    def counts(self) -> dict[str, dict[str, int]]:
        """How many outcomes were recorded per arm and metric (all of them, not the reservoir's;
        with a store: every worker's for moment checks, this process's for reservoirs)."""
        shared = None if self.store is None else self._store_moments()
        with self._lock:
            moments = self._moments if shared is None else shared
            return {arm: {**{k: int(m[0]) for k, m in moments[arm].items()},
                          **{k: s[0] for k, s in self._samples[arm].items()}} for arm in ARMS}

    def _arm_data(self, arm: str, moments: dict[str, dict[str, list[float]]] | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for name, (n, mean, m2) in (self._moments if moments is None else moments)[arm].items():
            count = int(n)
            if self._kinds[name] == "error_rate":
                data[name] = ProportionStats(successes=round(mean * n), n=count)
            else:
                data[name] = MeanStats(n=count, mean=mean, var=m2 / (n - 1) if count > 1 else 0.0)
        for name, (_, values) in self._samples[arm].items():
            data[name] = np.asarray(values, dtype=float)
        return data

    def evaluate(self, *, at: float | None = None) -> CanaryVerdict:
        """Judge everything recorded so far and move the rollout (see ``CanaryRollout.observe``).

        With a store: on every worker's moment statistics and this process's reservoirs, and the
        move is written to the store only if no other worker moved the rollout meanwhile (if one
        did, its state is read and the look taken again on it).
        """
        if self.store is None:
            with self._lock:
                baseline, canary = self._arm_data("baseline"), self._arm_data("canary")
            return self.rollout.observe(baseline, canary, at=at)
        while True:
            self.sync_rollout()
            version = self._rollout_version
            moments = self._store_moments()
            with self._lock:
                baseline, canary = self._arm_data("baseline", moments), self._arm_data("canary", moments)
            moved = CanaryRollout.from_json(self.rollout.to_json(), self.rollout.judge)
            verdict = moved.observe(baseline, canary, at=at)  # validates ``at`` before anything moves
            if self.store.set_value(self.experiment, ROLLOUT_VALUE, moved.to_json(), version=version):
                self._adopt(moved, version + 1)
                return verdict

    # --- state ----------------------------------------------------------------------------------

    def _config(self) -> dict[str, Any]:
        return {"experiment": self.experiment, "seed": self.seed, "max_samples": self.max_samples}

    def _state(self, moments: dict[str, dict[str, list[float]]] | None = None) -> dict[str, Any]:
        moments = self._moments if moments is None else moments
        return {"moments": {arm: {k: list(m) for k, m in moments[arm].items()} for arm in ARMS},
                "samples": {arm: {k: {"seen": s[0], "values": list(s[1])}
                                  for k, s in self._samples[arm].items()} for arm in ARMS}}

    def to_json(self) -> str:
        """Configuration and everything recorded, as a state envelope (:mod:`abkit._state`).

        The rollout is not included: it has its own state (``CanaryRollout.to_json``). With a
        store, the moments are the store's totals (every worker's) and the reservoirs this
        process's.
        """
        shared = None if self.store is None else self._store_moments()
        with self._lock:
            state = self._state(shared)
        return dump_state("CanaryRouter", STATE_VERSION, self._config(), state)

    @classmethod
    def from_json(cls, text: str | bytes, rollout: CanaryRollout, *, rng: Any = None) -> CanaryRouter:
        """A router rebuilt from :meth:`to_json` for ``rollout``; anything corrupt raises ``StateError``."""
        envelope = envelope_from_document(parse_json(text), "CanaryRouter", versions=(STATE_VERSION,))
        try:
            router = cls(rollout, **envelope.config, rng=rng)
            router._set_state(envelope.state)
        except StateError:
            raise
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise StateError(f"Corrupt CanaryRouter state: {exc}") from exc
        return router

    def _set_state(self, state: Any) -> None:
        """Replace what was recorded by ``state``, every value checked first."""
        if not isinstance(state, dict) or set(state) != {"moments", "samples"}:
            raise ValueError("the state must hold moments and samples")
        moments: dict[str, dict[str, list[float]]] = {arm: {} for arm in ARMS}
        samples: dict[str, dict[str, tuple[int, list[float]]]] = {arm: {} for arm in ARMS}
        for arm in ARMS:
            for name, moment in state["moments"][arm].items():
                if self._kinds.get(name) not in MOMENT_KINDS:
                    raise ValueError(f"metric {name!r} is not an error-rate or mean check of the judge")
                n, mean, m2 = (check_real(f"moments[{name!r}]", v) for v in moment)
                if n < 0 or n != math.floor(n) or m2 < 0:
                    raise ValueError(f"moments of {name!r} must have a whole count and m2 >= 0")
                moments[arm][name] = [n, mean, m2]
            for name, sample in state["samples"][arm].items():
                if name not in self._kinds or self._kinds[name] in MOMENT_KINDS:
                    raise ValueError(f"metric {name!r} is not a latency or rank check of the judge")
                seen = check_int(f"samples[{name!r}].seen", sample["seen"])
                values = [check_real(f"samples[{name!r}]", v) for v in sample["values"]]
                if len(values) != min(seen, self.max_samples):
                    raise ValueError(f"the sample of {name!r} must hold min(seen, max_samples) values")
                samples[arm][name] = (seen, values)
        with self._lock:
            self._moments, self._samples = moments, samples

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`to_json` to ``path`` atomically and durably."""
        write_state_file(path, self.to_json())

    @classmethod
    def load(cls, path: str | os.PathLike[str], rollout: CanaryRollout, *, rng: Any = None) -> CanaryRouter:
        """A router read from a file written by :meth:`save` (``StateError`` when corrupt)."""
        return cls.from_json(read_state_file(path), rollout, rng=rng)

    def merge(self, other: CanaryRouter) -> CanaryRouter:
        """A new router (same rollout and configuration) holding what both recorded.

        Moments merge exactly (Chan et al.); reservoirs merge into a uniform sample of both
        streams (a hypergeometric split of ``max_samples`` draws between the two).
        """
        if not isinstance(other, CanaryRouter):
            raise TypeError(f"`other` must be a CanaryRouter; got {type(other).__name__}.")
        if self.store is not None or other.store is not None:
            raise StateError("CanaryRouters with a store share their statistics through it; merge routers "
                             "without one.")
        if other._config() != self._config() or other.rollout is not self.rollout:
            raise StateError(f"`other` has another configuration or rollout: {other._config()} "
                             f"instead of {self._config()}.")
        with self._lock:
            mine = json.loads(json.dumps(self._state()))
        with other._lock:
            theirs = other._state()
        merged = CanaryRouter(self.rollout, **self._config(), rng=self._rng.integers(2**63))
        for arm in ARMS:
            for name, (n2, mean2, m22) in theirs["moments"][arm].items():
                n1, mean1, m21 = mine["moments"][arm].get(name, [0.0, 0.0, 0.0])
                n = n1 + n2
                delta = mean2 - mean1
                mine["moments"][arm][name] = [n, mean1 + delta * n2 / n if n else 0.0,
                                              m21 + m22 + delta * delta * n1 * n2 / n if n else 0.0]
            for name, sample in theirs["samples"][arm].items():
                first = mine["samples"][arm].get(name, {"seen": 0, "values": []})
                mine["samples"][arm][name] = self._merge_samples(first, sample)
        merged._set_state(mine)
        return merged

    def _merge_samples(self, first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
        seen = first["seen"] + second["seen"]
        draws = min(seen, self.max_samples)
        from_first = int(self._rng.hypergeometric(first["seen"], second["seen"], draws)) if draws else 0
        values = [*self._rng.choice(np.asarray(first["values"], dtype=float), from_first, replace=False),
                  *self._rng.choice(np.asarray(second["values"], dtype=float), draws - from_first,
                                    replace=False)]
        return {"seen": seen, "values": [float(v) for v in values]}

    def __repr__(self) -> str:
        recorded = {arm: max(self.counts()[arm].values(), default=0) for arm in ARMS}
        return (f"CanaryRouter(experiment={self.experiment!r}, seed={self.seed!r}, "
                f"share={self.rollout.traffic_share}, phase={self.rollout.phase!r}, recorded={recorded})")
