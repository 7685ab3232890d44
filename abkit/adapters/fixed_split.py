"""A fixed A/B/n split by deterministic hash, with per-variant sufficient statistics.

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

import math
import numbers
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from abkit._validation import check_choice, check_id, check_real, check_share
from abkit.adapters._base import Route, _check_names, _JsonStateRouter
from abkit.adapters.stores import Store
from abkit.assignment import (
    HASHINGS,
    Split,
    check_namespace,
    check_weights,
    known_hash_version,
)
from abkit.errors import StateError
from abkit.stats import MeanStats, ProportionStats

if TYPE_CHECKING:
    from abkit.means import MeansTestResult
    from abkit.proportions import ProportionsTestResult

__all__ = ["FixedSplitRouter"]

METRICS = ("proportion", "mean")


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
        if not known_hash_version(hash_version):
            raise ValueError(f"`hash_version` must be 1 or 2; got {hash_version!r}.")
        self.hash_version = hash_version
        self.seed = None if seed is None else check_id("seed", seed)
        self.namespace = check_namespace(namespace)
        if self.hashing == "optimizely" and (seed is not None or namespace is not None):
            raise ValueError("`seed` and `namespace` are GrowthBook options; got one with "
                             "hashing='optimizely'.")
        self._index_of = {name: i for i, name in enumerate(self.variants)}
        self._split = Split(self.experiment, self.weights, coverage=self.coverage, namespace=self.namespace,
                            seed=self.seed, hash_version=self.hash_version, hashing=self.hashing)
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
        """The unit's variant index, or -1 outside the experiment (hot path: only a non-string
        ``unit_id`` is refused, by the error it raises on the way)."""
        try:
            return self._split._index(unit_id)
        except TypeError:
            if isinstance(unit_id, str):
                raise
            raise TypeError(f"`unit_id` must be a string; got {type(unit_id).__name__}.") from None

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
               idempotency_key: str | None = None) -> None:
        """Add one outcome of ``unit_id`` to its variant's statistics (atomic; thread-safe).

        ``variant`` names the variant that served the unit when the caller knows it (it must be
        one of ``variants``); otherwise the unit is re-hashed. ``idempotency_key`` (routers with a
        ``store`` only): an outcome sent again with the same key is counted once (see
        :meth:`record_once`, which says whether it was).
        """
        self.record_once(unit_id, outcome, variant=variant, idempotency_key=idempotency_key)

    def record_once(self, unit_id: str, outcome: Any, *, variant: str | None = None,
                    idempotency_key: str | None = None) -> bool:
        """:meth:`record`, returning whether the outcome was counted (False for a repeated key)."""
        if type(unit_id) is not str or not unit_id:
            check_id("unit_id", unit_id)
        if variant is None:
            i = self.index(unit_id)
        else:
            i = self._index_of.get(variant, -2) if isinstance(variant, str) else -2
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

    def _repr_items(self) -> list[tuple[str, Any]]:
        config = [(k, v) for k, v in self._config().items() if v is not None]
        return [*config, ("n", {name: s.n for name, s in self.summary().items()}),
                ("excluded", self.excluded)]

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
            if not isinstance(value, str) or value not in self._index_of:
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

