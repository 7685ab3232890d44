"""Router-facing objects: which variant serves a unit, and a place to record what happened.

Every adapter follows one small protocol, :class:`Router`: ``route(unit_id, context=None)``
returns a :class:`Route` (the variant, the experiment, and the propensity of that choice for
off-policy evaluation later) and ``record(unit_id, outcome)`` stores an outcome. Adapters keep
their state as JSON, merge states from several router instances, and are safe under threads.

- :class:`FixedSplitRouter`: a fixed A/B/n split by deterministic hash (:mod:`abkit.assignment`,
  GrowthBook- or Optimizely-compatible); ``record`` updates per-variant sufficient statistics, so
  ``summary()`` feeds :func:`abkit.proportions_test` or :func:`abkit.means_test` at any time.
- :class:`BanditRouter` (in :mod:`abkit.adapters_bandit`): a bandit policy chooses per request;
  ``record`` updates the policy and a decision log that feeds :mod:`abkit.bandits.offpolicy`.
- :class:`ShadowRouter`: the live model serves, shadows are called too; ``record`` appends every
  model's prediction to an in-memory shadow log in the long layout ``abkit.shadow`` reads.

State is JSON (``to_json``/``from_json``, ``save``/``load``; never pickle). A corrupt or
mismatched state raises :class:`abkit.errors.StateError` and changes nothing. ``merge`` combines
two routers with the same configuration into a new one.

Examples
--------
>>> router = FixedSplitRouter("checkout-button", weights=[0.5, 0.5])
>>> route = router.route("user-1")
>>> route.variant, route.propensity
('treatment', 0.5)
>>> router.record("user-1", 1)
>>> router.summary()["treatment"]
ProportionStats(successes=1, n=1)
"""

from __future__ import annotations

import abc
import dataclasses
import json
import math
import numbers
import os
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar, runtime_checkable

import mmh3
import numpy as np

from abkit._results import Result
from abkit._stores import Store
from abkit._validation import check_choice, check_id, check_nonnegative, check_real, check_share
from abkit.assignment import (
    HASH_VERSIONS,
    HASHINGS,
    OPTIMIZELY_BUCKETS,
    _gb_hash,
    bucket_ranges,
    check_namespace,
    check_weights,
    in_namespace,
    optimizely_ranges,
)
from abkit.errors import StateError
from abkit.stats import MeanStats, ProportionStats

if TYPE_CHECKING:
    import pandas as pd

    from abkit.means import MeansTestResult
    from abkit.proportions import ProportionsTestResult

__all__ = ["DECISION_LOG_COLUMNS", "SHADOW_LOG_COLUMNS", "BanditRouter", "FixedSplitRouter", "Route",
           "Router", "ShadowRouter"]

METRICS = ("proportion", "mean")
SHADOW_LOG_COLUMNS = ("request_id", "model", "prediction", "label", "latency", "timestamp")
_STATE_FORMAT = 1

R = TypeVar("R", bound="_JsonStateRouter")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class Route(Result):
    """The answer to ``route()``: who serves this unit.

    ``propensity`` is the probability that the assignment mechanism gives a unit this variant:
    the variant's design share for a hash split (fixed per unit, random across units), the
    policy's choice probability for a bandit. Off-policy estimators need it. ``shadows`` names models
    to call in shadow mode whose answers are logged but not served. ``in_experiment`` is False
    for a unit outside the experiment's coverage or namespace: it is served the first variant
    and its outcomes are not counted.
    """

    unit_id: str
    experiment: str
    variant: str
    variant_index: int
    propensity: float
    shadows: tuple[str, ...] = ()
    in_experiment: bool = True


@runtime_checkable
class Router(Protocol):
    """What a request router calls on every request."""

    def route(self, unit_id: str, context: dict[str, Any] | None = None) -> Route:
        """Assign ``unit_id`` (deterministically where the adapter allows) and return the route."""
        ...

    def record(self, unit_id: str, outcome: Any) -> None:
        """Record an outcome for a unit that was routed; atomic and thread-safe."""
        ...


def _check_names(name: str, values: Any, minimum: int) -> tuple[str, ...]:
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise TypeError(f"`{name}` must be a sequence of strings; got {values!r}.")
    names = tuple(check_id(name, v) for v in values)
    if len(names) < minimum:
        raise ValueError(f"`{name}` must have at least {minimum} entries; got {len(names)}.")
    if len(set(names)) != len(names):
        raise ValueError(f"`{name}` must be distinct; got {list(names)}.")
    return names


class _JsonStateRouter(abc.ABC):
    """JSON state, file persistence and merging shared by the adapters (under one lock)."""

    _kind: ClassVar[str]

    def __init__(self) -> None:
        self._lock = threading.Lock()

    @abc.abstractmethod
    def _config(self) -> dict[str, Any]:
        """The constructor's keyword arguments, JSON-safe."""

    @abc.abstractmethod
    def _state(self) -> dict[str, Any]:
        """Everything recorded, JSON-safe (called under the lock)."""

    @abc.abstractmethod
    def _set_state(self, state: Any) -> None:
        """Replace what was recorded by ``state``, validated first (``StateError``, nothing changed)."""

    @abc.abstractmethod
    def _merge_states(self, mine: dict[str, Any], theirs: dict[str, Any]) -> dict[str, Any]:
        """The state holding both ``mine`` and ``theirs``."""

    @classmethod
    def _from_config(cls: type[R], config: Any) -> R:
        """A router with nothing recorded, from :meth:`_config` output."""
        return cls(**config)

    def _snapshot(self) -> dict[str, Any]:
        with self._lock:
            return self._state()

    def to_json(self) -> str:
        """The configuration and everything recorded, as a JSON document."""
        state = self._snapshot()
        return json.dumps({"kind": self._kind, "format": _STATE_FORMAT, "config": self._config(),
                           "state": state})

    @classmethod
    def from_json(cls: type[R], text: str | bytes) -> R:
        """A router rebuilt from :meth:`to_json`; anything corrupt raises ``StateError``."""
        try:
            document = json.loads(text)
            if not isinstance(document, dict):
                raise TypeError("the document is not a JSON object")
            if document.get("kind") != cls._kind or document.get("format") != _STATE_FORMAT:
                raise ValueError(f"expected kind {cls._kind!r} format {_STATE_FORMAT}; got kind "
                                 f"{document.get('kind')!r} format {document.get('format')!r}")
            router = cls._from_config(document["config"])
            router._set_state(document["state"])
        except StateError:
            raise
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise StateError(f"Corrupt {cls._kind} state: {exc}.") from exc
        return router

    def load_json(self, text: str | bytes) -> None:
        """Replace what was recorded by a saved state of the same configuration (or change nothing)."""
        loaded = type(self).from_json(text)
        self._check_same_config(loaded, "state")
        state = loaded._snapshot()
        with self._lock:
            self._set_state(state)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`to_json` to ``path`` atomically (a temporary file, then a rename)."""
        target = Path(path)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        try:
            with os.fdopen(handle, "w") as out:
                out.write(self.to_json())
            os.replace(temporary, target)
        except BaseException:
            os.unlink(temporary)
            raise

    @classmethod
    def load(cls: type[R], path: str | os.PathLike[str]) -> R:
        """A router read from a file written by :meth:`save` (``StateError`` when corrupt)."""
        return cls.from_json(Path(path).read_bytes())

    def _check_same_config(self, other: Any, what: str) -> None:
        if type(other) is not type(self):
            raise TypeError(f"`{what}` must be a {type(self).__name__}; got {type(other).__name__}.")
        if other._config() != self._config():
            raise StateError(f"`{what}` has another configuration: {other._config()} "
                             f"instead of {self._config()}.")

    def merge(self: R, other: R) -> R:
        """A new router holding what both recorded (same configuration required)."""
        self._check_same_config(other, "other")
        merged = type(self)._from_config(self._config())
        # One lock at a time: two routers merging each other concurrently cannot deadlock.
        merged._set_state(self._merge_states(self._snapshot(), other._snapshot()))
        return merged


class FixedSplitRouter(_JsonStateRouter):
    """A fixed split of units between variants by deterministic hash, with per-variant stats.

    Parameters
    ----------
    experiment
        Experiment key: the hash seed (GrowthBook) or experiment id (Optimizely).
    variants
        Variant names; the first is the control, served to units outside the experiment.
    weights
        Design shares summing to 1 (default: equal).
    coverage
        Share of units in the experiment, in [0, 1].
    metric
        ``"proportion"`` (outcomes are 0/1 or bool; stats are ``ProportionStats``) or ``"mean"``
        (real outcomes; ``MeanStats``).
    hashing
        ``"growthbook"`` or ``"optimizely"`` (see :mod:`abkit.assignment`).
    hash_version
        GrowthBook hash version (2, GrowthBook's choice for new experiments, or 1).
    seed
        GrowthBook hash seed instead of the experiment key.
    namespace
        GrowthBook namespace slice ``(name, start, end)`` for mutually exclusive experiments.
    store
        Where the counts live: ``None`` (default) keeps them in this object (JSON state,
        ``merge``); a :class:`abkit.adapters.stores.Store` (``SQLiteStore``, ``RedisStore``)
        keeps them as increments shared by every router of this experiment on that store
        (other workers, other hosts), and ``record`` accepts an ``idempotency_key``. Means are
        then kept as count, sum and sum of squares (see the stores' numerical note).

    Notes
    -----
    ``record(unit_id, outcome)`` re-hashes the unit, so an outcome may be recorded by any router
    instance, not only the one that routed the unit; pass ``variant=`` when it is known to skip
    the hash. Outcomes of units outside the experiment are counted in ``excluded`` only. Route
    propensities are the variant's share among units in the experiment.

    Examples
    --------
    >>> router = FixedSplitRouter("exp", metric="mean")
    >>> for i, value in enumerate([3.0, 5.0, 4.0, 6.0, 2.0, 7.0]):
    ...     router.record(f"u{i}", value)
    >>> {name: s.n for name, s in router.summary().items()}
    {'control': 3, 'treatment': 3}
    """

    _kind = "FixedSplitRouter"

    def __init__(
        self,
        experiment: str,
        variants: Sequence[str] = ("control", "treatment"),
        weights: Sequence[float] | None = None,
        *,
        coverage: float = 1.0,
        metric: str = "proportion",
        hashing: str = "growthbook",
        hash_version: int = 2,
        seed: str | None = None,
        namespace: Sequence[Any] | None = None,
        store: Store | None = None,
    ) -> None:
        super().__init__()
        if store is not None and not isinstance(store, Store):
            raise TypeError(f"`store` must be an abkit store or None; got {type(store).__name__}.")
        self.store = store
        self.experiment = check_id("experiment", experiment)
        self.variants = _check_names("variants", variants, 2)
        self.weights = check_weights(weights, len(self.variants))
        self.coverage = check_share("coverage", coverage)
        self.metric = check_choice("metric", metric, METRICS)
        self.hashing = check_choice("hashing", hashing, HASHINGS)
        if hash_version not in HASH_VERSIONS:
            raise ValueError(f"`hash_version` must be 1 or 2; got {hash_version!r}.")
        self.hash_version = hash_version
        self.seed = None if seed is None else check_id("seed", seed)
        self.namespace = check_namespace(namespace)
        if self.hashing == "optimizely" and (seed is not None or namespace is not None):
            raise ValueError("`seed` and `namespace` are GrowthBook options; got one with "
                             "hashing='optimizely'.")
        self._index_of = {name: i for i, name in enumerate(self.variants)}
        self._hash_seed = self.experiment if self.seed is None else self.seed
        self._ends = optimizely_ranges(self.weights, self.coverage)
        self._ranges = bucket_ranges(len(self.weights), self.coverage, self.weights)
        # Sufficient statistics per variant: counts, then successes (proportion) or the running
        # mean and sum of squared deviations (mean, Welford).
        k = len(self.variants)
        self._n = [0] * k
        self._total = [0.0] * k
        self._m2 = [0.0] * k
        self._excluded = 0

    def _config(self) -> dict[str, Any]:
        return {"experiment": self.experiment, "variants": list(self.variants),
                "weights": list(self.weights), "coverage": self.coverage, "metric": self.metric,
                "hashing": self.hashing, "hash_version": self.hash_version, "seed": self.seed,
                "namespace": None if self.namespace is None else list(self.namespace)}

    def index(self, unit_id: str) -> int:
        """The unit's variant index, or -1 outside the experiment (no validation; hot path)."""
        if self.hashing == "optimizely":
            bucket = mmh3.hash(unit_id + self.experiment, 1, signed=False) * OPTIMIZELY_BUCKETS >> 32
            for i, last in enumerate(self._ends):
                if bucket < last:
                    return i
            return -1
        if self.namespace is not None and not in_namespace(unit_id, self.namespace):
            return -1
        position = _gb_hash(self._hash_seed, unit_id, self.hash_version)
        for i, (start, end) in enumerate(self._ranges):
            if start <= position < end:
                return i
        return -1

    def route(self, unit_id: str, context: dict[str, Any] | None = None) -> Route:
        """The variant serving ``unit_id`` (``context`` is accepted for the protocol and unused)."""
        if type(unit_id) is not str or not unit_id:
            check_id("unit_id", unit_id)
        i = self.index(unit_id)
        if i < 0:
            return Route(unit_id=unit_id, experiment=self.experiment, variant=self.variants[0],
                         variant_index=0, propensity=1.0, in_experiment=False)
        return Route(unit_id=unit_id, experiment=self.experiment, variant=self.variants[i],
                     variant_index=i, propensity=self.weights[i])

    def record(self, unit_id: str, outcome: Any, *, variant: str | None = None,
               idempotency_key: str | None = None) -> bool:
        """Add one outcome of ``unit_id`` to its variant's statistics (atomic; thread-safe).

        ``variant`` names the variant that served the unit when the caller knows it (it must be
        one of ``variants``); otherwise the unit is re-hashed. ``idempotency_key`` (routers with a
        ``store`` only): an outcome sent again with the same key is counted once. Returns whether
        the outcome was counted (False for a repeated key).
        """
        if type(unit_id) is not str or not unit_id:
            check_id("unit_id", unit_id)
        if variant is None:
            i = self.index(unit_id)
        else:
            i = self._index_of.get(variant, -2)
            if i == -2:
                raise ValueError(f"`variant` must be one of {list(self.variants)}; got {variant!r}.")
        x = self._check_outcome(outcome)
        if idempotency_key is not None and self.store is None:
            raise ValueError("`idempotency_key` needs a router with a `store`; this one keeps its counts "
                             "in memory.")
        if self.store is not None:
            group = _EXCLUDED if i < 0 else self.variants[i]
            fields = {"n": 1.0} if i < 0 else (
                {"n": 1.0, "sum": x} if self.metric == "proportion" else {"n": 1.0, "sum": x, "sumsq": x * x})
            return self.store.add(self.experiment, {group: fields}, idempotency_key=idempotency_key)
        with self._lock:
            if i < 0:
                self._excluded += 1
                return True
            n = self._n[i] + 1
            if self.metric == "proportion":
                self._total[i] += x
            else:  # Welford's update of the mean and the sum of squared deviations
                delta = x - self._total[i]
                mean = self._total[i] + delta / n
                m2 = self._m2[i] + delta * (x - mean)
                if not math.isfinite(m2):
                    raise ValueError(_overflow_message(x, self.variants[i]))
                self._total[i], self._m2[i] = mean, m2
            self._n[i] = n
        return True

    def _check_outcome(self, outcome: Any) -> float:
        if self.metric == "proportion":
            if isinstance(outcome, bool | np.bool_):
                return float(outcome)
            if isinstance(outcome, numbers.Real) and (outcome == 0 or outcome == 1):
                return float(outcome)
            raise ValueError(
                f"`outcome` must be 0, 1, True or False for metric='proportion'; got {outcome!r}."
            )
        if type(outcome) is float and abs(outcome) <= _LARGEST_OUTCOME:
            return outcome
        value = check_real("outcome", outcome)
        if abs(value) > _LARGEST_OUTCOME:
            raise ValueError(_overflow_message(value, None))
        return value

    @property
    def excluded(self) -> int:
        """Outcomes recorded for units outside the experiment (not in the statistics)."""
        if self.store is not None:
            return round(self.store.totals(self.experiment).get(_EXCLUDED, {}).get("n", 0.0))
        return self._excluded

    def summary(self) -> dict[str, ProportionStats | MeanStats]:
        """Per-variant sufficient statistics recorded so far (a consistent snapshot)."""
        state = self._snapshot()
        return {name: _stats_from_dict(self.metric, d) for name, d in state["stats"].items()}

    def test(
        self, treatment: str | None = None, *, control: str | None = None, **options: Any
    ) -> ProportionsTestResult | MeansTestResult:
        """``proportions_test`` or ``means_test`` of ``treatment`` against ``control``.

        Defaults: the first variant is the control, the second the treatment; ``options`` go to
        the test (``alternative``, ``confidence_level``, ...).
        """
        from abkit.means import means_test
        from abkit.proportions import proportions_test

        control = self.variants[0] if control is None else control
        treatment = self.variants[1] if treatment is None else treatment
        for name, value in (("control", control), ("treatment", treatment)):
            if value not in self._index_of:
                raise ValueError(f"`{name}` must be one of {list(self.variants)}; got {value!r}.")
        stats = self.summary()
        if self.metric == "proportion":
            return proportions_test(stats[control], stats[treatment], **options)
        return means_test(stats[control], stats[treatment], **options)

    def _state(self) -> dict[str, Any]:
        if self.store is not None:
            return self._state_from_store()
        stats: dict[str, dict[str, float]] = {}
        for i, name in enumerate(self.variants):
            n = self._n[i]
            if self.metric == "proportion":
                stats[name] = {"successes": round(self._total[i]), "n": n}
            else:
                var = self._m2[i] / (n - 1) if n > 1 else 0.0
                stats[name] = {"n": n, "mean": self._total[i] if n else 0.0, "var": max(var, 0.0)}
        return {"stats": stats, "excluded": self._excluded}

    def _state_from_store(self) -> dict[str, Any]:
        totals = self.store.totals(self.experiment) if self.store is not None else {}
        stats: dict[str, Any] = {}
        for name in self.variants:
            t = totals.get(name, {})
            n = round(t.get("n", 0.0))
            if self.metric == "proportion":
                stats[name] = {"successes": round(t.get("sum", 0.0)), "n": n}
            else:
                s = MeanStats.from_aggregates(n=n, total=t.get("sum", 0.0), total_sq=t.get("sumsq", 0.0))
                stats[name] = s.to_dict()
        return {"stats": stats, "excluded": round(totals.get(_EXCLUDED, {}).get("n", 0.0))}

    def _set_state(self, state: Any) -> None:
        if self.store is not None:
            raise StateError(f"This {self._kind} keeps its counts in {self.store!r}; the store is its state, "
                             "so it cannot load another.")
        stats, excluded = state["stats"], state["excluded"]
        if not isinstance(stats, dict) or set(stats) != set(self.variants):
            raise StateError(f"Corrupt {self._kind} state: stats must have one entry per variant "
                             f"{list(self.variants)}; got {stats!r}.")
        if isinstance(excluded, bool) or not isinstance(excluded, int) or excluded < 0:
            raise StateError(f"Corrupt {self._kind} state: excluded must be a count; got {excluded!r}.")
        try:
            parsed = [_stats_from_dict(self.metric, stats[name]) for name in self.variants]
        except (TypeError, ValueError) as exc:
            raise StateError(f"Corrupt {self._kind} state: {exc}") from exc
        for i, s in enumerate(parsed):
            self._n[i] = s.n
            if isinstance(s, ProportionStats):
                self._total[i] = float(s.successes)
            else:
                self._total[i], self._m2[i] = s.mean, s.var * (s.n - 1) if s.n > 1 else 0.0
        self._excluded = excluded

    def _merge_states(self, mine: dict[str, Any], theirs: dict[str, Any]) -> dict[str, Any]:
        stats = {name: _stats_from_dict(self.metric, mine["stats"][name])
                 .merge(_stats_from_dict(self.metric, theirs["stats"][name]))  # type: ignore[arg-type]
                 .to_dict() for name in self.variants}
        return {"stats": stats, "excluded": mine["excluded"] + theirs["excluded"]}


_EXCLUDED = "\x00excluded"  # the store group of units outside the experiment (no variant name has a NUL)
_LARGEST_OUTCOME = 1e150  # squares (and sums of squares) of outcomes stay far from float overflow


def _overflow_message(value: float, variant: str | None) -> str:
    where = "" if variant is None else f" for variant {variant!r}"
    return (f"`outcome` must be at most {_LARGEST_OUTCOME:g} in absolute value (its square must not "
            f"overflow the variance){where}; got {value!r}.")


def _stats_from_dict(metric: str, d: Any) -> ProportionStats | MeanStats:
    if not isinstance(d, dict):
        raise TypeError(f"per-variant stats must be an object; got {d!r}")
    if metric == "proportion":
        return ProportionStats(**d)
    return MeanStats(**d)


def _check_value(name: str, value: Any, *, optional: bool) -> Any:
    if value is None and optional:
        return None
    if isinstance(value, str | bool):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    return check_real(name, value)


class ShadowRouter(_JsonStateRouter):
    """Shadow mode: the live model serves every request; shadows are called and logged.

    The shadow log is long, one row per (request, model), with the columns
    :data:`SHADOW_LOG_COLUMNS`:

    ============  ==============================================================
    request_id    the id passed to ``route``/``record`` (a string)
    model         a model name: ``live`` or one of ``shadows``
    prediction    that model's answer: a number (score, forecast) or a string (class)
    label         the ground truth when known (``record`` or later ``record_label``), else None
    latency       that model's latency in seconds, or None
    timestamp     when the row was recorded (seconds since the epoch, float)
    ============  ==============================================================

    ``to_frame()`` returns it as a pandas DataFrame (missing values as NaN/None); the champion is
    ``live``, the challengers are ``shadows``.

    Parameters
    ----------
    live
        The model whose answer is served (the champion).
    shadows
        Models called in the shadow of the live one (challengers).
    experiment
        A name for the comparison, reported in routes.

    Examples
    --------
    >>> router = ShadowRouter("ranker-v1", ["ranker-v2"])
    >>> router.route("req-1").shadows
    ('ranker-v2',)
    >>> router.record("req-1", {"predictions": {"ranker-v1": 0.2, "ranker-v2": 0.7},
    ...                         "latencies": {"ranker-v1": 0.011, "ranker-v2": 0.019}})
    >>> router.record_label("req-1", 1)
    >>> [(row["model"], row["prediction"], row["label"]) for row in router.to_records()]
    [('ranker-v1', 0.2, 1), ('ranker-v2', 0.7, 1)]
    """

    _kind = "ShadowRouter"

    def __init__(self, live: str, shadows: Sequence[str], *, experiment: str = "shadow") -> None:
        super().__init__()
        self.live = check_id("live", live)
        self.shadows = _check_names("shadows", shadows, 1)
        if self.live in self.shadows:
            raise ValueError(f"`shadows` must not include the live model; got {self.live!r}.")
        self.experiment = check_id("experiment", experiment)
        self.models = (self.live, *self.shadows)
        self._rows: list[list[Any]] = []
        self._rows_of: dict[str, list[int]] = {}

    def _config(self) -> dict[str, Any]:
        return {"live": self.live, "shadows": list(self.shadows), "experiment": self.experiment}

    def route(self, unit_id: str, context: dict[str, Any] | None = None) -> Route:
        """Serve the live model and name the shadows to call (``context`` is unused)."""
        check_id("unit_id", unit_id)
        return Route(unit_id=unit_id, experiment=self.experiment, variant=self.live, variant_index=0,
                     propensity=1.0, shadows=self.shadows)

    def record(self, unit_id: str, outcome: Any) -> None:
        """Log the models' answers to request ``unit_id`` (one row per model; atomic).

        ``outcome`` is a mapping with ``"predictions"`` (model name to prediction; any subset of
        the models, at least one) and optionally ``"latencies"`` (model name to seconds),
        ``"label"`` and ``"timestamp"`` (default: now).
        """
        rows = self._rows_for(check_id("unit_id", unit_id), outcome)
        with self._lock:
            for row in rows:
                self._rows_of.setdefault(row[0], []).append(len(self._rows))
                self._rows.append(row)

    def _rows_for(self, request_id: str, outcome: Any) -> list[list[Any]]:
        if not isinstance(outcome, Mapping):
            raise TypeError(f"`outcome` must be a mapping with 'predictions'; got {outcome!r}.")
        unknown_keys = set(outcome) - {"predictions", "latencies", "label", "timestamp"}
        if unknown_keys:
            raise ValueError(f"`outcome` has unknown keys {sorted(unknown_keys)}; known: "
                             "predictions, latencies, label, timestamp.")
        predictions = outcome.get("predictions")
        latencies = outcome.get("latencies") or {}
        if not isinstance(predictions, Mapping) or not predictions or not isinstance(latencies, Mapping):
            raise TypeError("`outcome` must map 'predictions' (and 'latencies') from model names; got "
                            f"{outcome!r}.")
        for model in (*predictions, *latencies):
            if model not in self.models:
                raise ValueError(f"`outcome` names an unknown model {model!r}; models: {list(self.models)}.")
        label = _check_value("label", outcome.get("label"), optional=True)
        stamp = outcome.get("timestamp")
        stamp = time.time() if stamp is None else check_real("timestamp", stamp)
        rows = []
        for model, prediction in predictions.items():
            latency = latencies.get(model)
            rows.append([request_id, model, _check_value("prediction", prediction, optional=False), label,
                         None if latency is None else check_nonnegative("latency", latency), stamp])
        return rows

    def record_label(self, request_id: str, label: Any) -> None:
        """Set the ground truth of an already logged request (labels that arrive late)."""
        value = _check_value("label", label, optional=False)
        with self._lock:
            rows = self._rows_of.get(request_id)
            if rows is None:
                raise ValueError(f"`request_id` was never recorded; got {request_id!r}.")
            for i in rows:
                self._rows[i][3] = value

    def to_records(self) -> list[dict[str, Any]]:
        """The shadow log as a list of row dicts (a snapshot)."""
        with self._lock:
            return [dict(zip(SHADOW_LOG_COLUMNS, row, strict=True)) for row in self._rows]

    def to_frame(self) -> pd.DataFrame:
        """The shadow log as a pandas DataFrame with the columns :data:`SHADOW_LOG_COLUMNS`."""
        import pandas as pd

        with self._lock:
            rows = [list(row) for row in self._rows]
        return pd.DataFrame(rows, columns=list(SHADOW_LOG_COLUMNS))

    def summary(self) -> dict[str, MeanStats]:
        """Per-model latency statistics (seconds) over the rows that have one."""
        with self._lock:
            latencies = {m: [r[4] for r in self._rows if r[1] == m and r[4] is not None] for m in self.models}
        return {m: MeanStats.from_samples(v) for m, v in latencies.items()}

    def __len__(self) -> int:
        return len(self._rows)

    def _state(self) -> dict[str, Any]:
        return {"log": {c: [row[j] for row in self._rows] for j, c in enumerate(SHADOW_LOG_COLUMNS)}}

    def _set_state(self, state: Any) -> None:
        log = state["log"]
        if not isinstance(log, dict) or set(log) != set(SHADOW_LOG_COLUMNS):
            raise StateError(
                f"Corrupt {self._kind} state: log must have the columns {list(SHADOW_LOG_COLUMNS)}."
            )
        columns = [log[c] for c in SHADOW_LOG_COLUMNS]
        if not all(isinstance(c, list) and len(c) == len(columns[0]) for c in columns):
            raise StateError(f"Corrupt {self._kind} state: log columns must be lists of one length.")
        if any(stamp is None for stamp in log["timestamp"]):
            raise StateError(f"Corrupt {self._kind} state: every row needs a timestamp.")
        rows: list[list[Any]] = []
        try:
            for request_id, model, prediction, label, latency, stamp in zip(*columns, strict=True):
                outcome = {"predictions": {model: prediction}, "latencies": {model: latency},
                           "label": label, "timestamp": stamp}
                rows.extend(self._rows_for(check_id("request_id", request_id), outcome))
        except (TypeError, ValueError) as exc:
            raise StateError(f"Corrupt {self._kind} state: {exc}") from exc
        self._rows = rows
        self._rows_of = {}
        for i, row in enumerate(rows):
            self._rows_of.setdefault(row[0], []).append(i)

    def _merge_states(self, mine: dict[str, Any], theirs: dict[str, Any]) -> dict[str, Any]:
        return {"log": {c: mine["log"][c] + theirs["log"][c] for c in SHADOW_LOG_COLUMNS}}


# The bandit adapter lives in its own module (it builds on the machinery above).
from abkit.adapters_bandit import DECISION_LOG_COLUMNS, BanditRouter  # noqa: E402
