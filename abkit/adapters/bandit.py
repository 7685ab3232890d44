"""A router whose variant is chosen per request by a bandit policy (:mod:`abkit.bandits`).

:class:`BanditRouter` follows the :class:`abkit.adapters.Router` protocol and reuses the adapters'
JSON state, file persistence, merging and lock (:mod:`abkit.adapters._base`).

How a request is routed
-----------------------
* **Per request.** Every ``route(unit_id)`` is a new decision (the usual choice for a bandit:
  the policy learns from every reward). ``unit_id`` is best a request id. With ``sticky=s`` a
  unit routed again while its decision is pending and less than ``s`` seconds old gets the same
  route back (no new decision).
* **Exact propensities.** The router draws the arm from the policy's allocation, the probability
  with which ``select()`` would choose each arm in the current state
  (:meth:`abkit.bandits.BasePolicy.allocation`), and logs that probability. The logged
  propensity is therefore the exact probability of the decision that was made, which is what
  :mod:`abkit.bandits.offpolicy` needs (a Monte Carlo estimate of it would bias IPS).
  Epsilon-greedy, UCB1 and KL-UCB have closed forms (about 10 microseconds), recomputed after
  every reward, so the router behaves exactly like the policy. For Thompson sampling the
  allocation is each arm's posterior probability of being best, by quadrature (accurate to about
  1e-10, about 1 ms for three arms, taken under the router's lock); it is recomputed once the policy
  has received ``max(1, refresh * n)`` new rewards since the last computation, ``n`` being the
  policy's data then (its effective count, warm start included): every reward at first, every
  1% of the data later (``refresh=0.01``), so about ``100 (1 + ln(N / 100))`` quadratures for
  ``N`` rewards from an empty start. With ``discount < 1`` the effective count levels off near
  ``1 / (1 - discount)`` and so does the gap between refreshes. Between two refreshes the router
  serves Thompson sampling from a posterior a few rewards old (batched Thompson sampling), with
  exactly known propensities. When the allocation is undefined (Gaussian Thompson sampling with
  the reference prior and an arm whose rewards are all equal: ``DegenerateDataWarning``) the
  router explores the active arms uniformly until the next refresh.
* **Contexts.** With a contextual policy (:class:`~abkit.bandits.LinUCB`,
  :class:`~abkit.bandits.LinTS`, :class:`~abkit.bandits.LogisticTS`) every ``route`` takes the
  request's context, a vector of the policy's ``n_features`` numbers or a mapping of the
  router's ``features`` names to numbers (checked: a wrong length, a non-finite value, an unknown
  or missing name raises and changes nothing). The router computes the probability of every arm
  in that context in the policy's state now (:mod:`abkit.adapters._context`: exact for LinUCB,
  ties shared; by quadrature to about 1e-10 for the Thompson policies, whose scores are
  independent normals, about 0.7 ms for three arms), draws the arm from them and logs the chosen
  arm's probability with the context; ``record`` updates the policy with that context.
  ``decision_log()`` then also holds ``contexts``, what
  :func:`abkit.bandits.offpolicy.evaluate_contextual` takes.
* **Delayed feedback.** A pending map ``unit_id -> decision`` (insertion ordered, at most
  ``max_pending`` entries) lets ``record(unit_id, reward)`` update the arm that served the unit,
  however late. A decision leaves the map when its reward is recorded, when the map is full and
  it is the oldest (evicted), when it is older than ``ttl`` seconds (expired, checked on every
  ``route``) or when the same id is routed again without stickiness (replaced); the last three
  are counted in :attr:`BanditRouter.expired`. Recording an id with no pending decision raises
  ``ValueError`` and changes nothing.
* **Decision log.** Every recorded reward appends ``(unit_id, variant_index, propensity,
  reward, routed_at)`` (:data:`DECISION_LOG_COLUMNS`); :meth:`BanditRouter.decision_log` returns
  the arrays :func:`abkit.bandits.offpolicy.ips` and friends take.

Update the policy only through the router (``record``): the router reads its state under the
router's lock.

Examples
--------
>>> from abkit.bandits import ThompsonBernoulli
>>> router = BanditRouter("headline", ThompsonBernoulli(2, rng=0), ["short", "long"], rng=1)
>>> route = router.route("request-1")
>>> route.propensity                                  # no data yet: each arm half the time
0.5
>>> router.record("request-1", 1.0)
>>> router.policy.n_updates, len(router.decision_log()["rewards"])
(1, 1)
"""

from __future__ import annotations

import bisect
import itertools
import json
import math
import os
import threading
import time
import uuid
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from abkit._state import dump_state
from abkit._validation import check_bool, check_id, check_int, check_nonnegative, check_positive, check_rng
from abkit.adapters._base import Route, _check_names, _JsonStateRouter
from abkit.adapters._context import check_features, choice_probabilities, context_vector
from abkit.adapters._sync import check_shareable, difference, is_empty, policy_from_totals
from abkit.adapters.stores import Store
from abkit.bandits.contextual import STATE_VERSION as CONTEXTUAL_STATE_VERSION
from abkit.bandits.contextual import ContextualPolicy, LinTS, LinUCB, LogisticTS
from abkit.bandits.policies import (
    STATE_VERSION as POLICY_STATE_VERSION,
)
from abkit.bandits.policies import (
    BasePolicy,
    ThompsonBernoulli,
    ThompsonGaussian,
)
from abkit.errors import StateError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DECISION_LOG_COLUMNS", "BanditRouter"]

DECISION_LOG_COLUMNS = ("unit_id", "variant_index", "propensity", "reward", "routed_at")
_PENDING_COLUMNS = ("unit_id", "variant_index", "propensity", "routed_at")
_SPEC_KEYS = ("policy", "n_arms", "options", "prior")
_CONTEXTUAL: dict[str, type[ContextualPolicy]] = {"LinUCB": LinUCB, "LinTS": LinTS, "LogisticTS": LogisticTS}
Policy = BasePolicy | ContextualPolicy
_LIVE_ROUTERS: weakref.WeakSet[BanditRouter] = weakref.WeakSet()  # each is split at os.fork


def _policy_spec(policy: Policy) -> dict[str, Any]:
    """What a policy is, apart from its data: class, arms, options, prior (JSON-safe)."""
    document = json.loads(policy.to_json())
    return {"policy": document["kind"], **document["config"]}


def _policy_from_json(text: str) -> Policy:
    """Whichever policy, context-free or contextual, the JSON holds (``StateError`` when corrupt)."""
    document = json.loads(text) if isinstance(text, str) else None
    kind = document.get("kind") if isinstance(document, dict) else None
    if isinstance(kind, str) and kind in _CONTEXTUAL:
        return _CONTEXTUAL[kind].from_json(text)
    return BasePolicy.from_json(text)


def _empty_policy(spec: Any) -> Policy:
    """A policy without data from :func:`_policy_spec` output (``StateError`` when corrupt)."""
    if isinstance(spec, dict) and spec.get("policy") in _CONTEXTUAL:
        config = {key: value for key, value in spec.items() if key != "policy"}
        n_arms, d = config.get("n_arms"), config.get("n_features")
        if type(n_arms) is not int or type(d) is not int or n_arms < 1 or d < 1:
            raise StateError(f"Corrupt BanditRouter state: a contextual policy needs positive integers "
                             f"`n_arms` and `n_features`; got {spec!r}.")
        state = {"n_updates": 0, "counts": [0.0] * n_arms,
                 "gram": [[[0.0] * d] * d] * n_arms,
                 "moment": [[0.0] * d] * n_arms}
        text = dump_state(str(spec["policy"]), CONTEXTUAL_STATE_VERSION, config, state)
        return _CONTEXTUAL[str(spec["policy"])].from_json(text)
    if not isinstance(spec, dict) or set(spec) != set(_SPEC_KEYS):
        raise StateError(f"Corrupt BanditRouter state: `policy` must have the keys {list(_SPEC_KEYS)}; "
                         f"got {spec!r}.")
    n_arms = spec["n_arms"]
    if type(n_arms) is not int or n_arms < 1:
        raise StateError(f"Corrupt BanditRouter state: `n_arms` must be a positive integer; got {n_arms!r}.")
    zeros = [0.0] * n_arms
    config = {key: spec[key] for key in ("n_arms", "options", "prior")}
    state = {"n_updates": 0, "counts": zeros, "means": zeros, "m2": zeros, "active": [True] * n_arms}
    return BasePolicy.from_json(dump_state(str(spec["policy"]), POLICY_STATE_VERSION, config, state))


def _column(name: str, values: Any, kind: str, n_arms: int, n_features: int = 0) -> list[Any]:
    """One column of a saved pending map or log, every value checked (``ValueError``)."""
    if not isinstance(values, list):
        raise ValueError(f"`{name}` must be a list; got {values!r}")
    for value in values:
        if kind == "id":
            ok = type(value) is str and value != ""
        elif kind == "context":
            ok = (isinstance(value, list) and len(value) == n_features
                  and all(type(v) in (int, float) and math.isfinite(v) for v in value))
        elif kind == "arm":
            ok = type(value) is int and 0 <= value < n_arms
        else:
            ok = type(value) in (int, float) and math.isfinite(value)
            ok = ok and (0.0 < value <= 1.0 if kind == "probability" else True)
        if not ok:
            raise ValueError(f"`{name}` has an invalid value {value!r}")
    return values


class BanditRouter(_JsonStateRouter):
    """Route each request to the arm a bandit policy chooses; record rewards as they arrive.

    Parameters
    ----------
    experiment
        A name for the experiment, reported in routes.
    policy
        An :mod:`abkit.bandits` policy (its data, if any, is a warm start), context-free or
        contextual (:class:`~abkit.bandits.LinUCB`, :class:`~abkit.bandits.LinTS`,
        :class:`~abkit.bandits.LogisticTS`: every ``route`` then needs a ``context``). The router
        owns it: update it only through :meth:`record`.
    variants
        One name per arm (default ``arm-0``, ``arm-1``, ...).
    features
        Contextual policies only: one name per feature, so that a context may be a mapping
        ``{name: number}`` (with exactly these names) as well as a vector in this order.
    max_pending
        Most decisions awaiting a reward; when full, routing evicts the oldest.
    ttl
        Seconds after which a pending decision expires (default: never).
    sticky
        Seconds during which a unit routed again, its decision still pending, gets the same route
        (default: every route is a new decision).
    refresh
        Thompson policies only: recompute the allocation after ``max(1, refresh * n)`` new rewards
        (see the module notes; 0 recomputes after every reward).
    rng
        Seed or ``numpy.random.Generator`` for the router's draws.
    store
        Share the policy and the pending decisions with every router of this ``experiment`` on
        a :class:`~abkit.adapters.stores.Store` (other worker processes, other hosts). The
        policy must then have no data (the store's totals are its data), must not discount, and
        ``sticky`` is not available. See "Sharing through a store" below.
    sync_interval
        With a ``store``: seconds between two exchanges of the policy's data with the store
        (checked on every ``route`` and ``record``; :meth:`sync` forces one).
    sync_updates
        With a ``store``: also exchange after this many local rewards (default: no such cap).
    sync_fraction
        With a ``store``: also exchange once the rewards recorded here since the last exchange
        reach ``max(1, sync_fraction * n)``, ``n`` the rewards the policy held after it (every
        process's): with ``0.02`` (recommended for Thompson sampling served by several
        processes), after every reward at first, then every 2% of the data. Default: time (and
        ``sync_updates``) only. See "Sharing through a store".

    Notes
    -----
    Unlike :class:`abkit.adapters.FixedSplitRouter`, whose ``record`` re-hashes the unit, a
    bandit's decision is random: its reward must reach the instance that routed it (pending
    decisions travel in the JSON state and in ``merge``). ``router.policy`` is replaced when a
    state is loaded.

    **Sharing through a store.** Each router keeps a local copy of the policy and routes from it;
    every ``sync_interval`` seconds (or ``sync_updates`` rewards) it pushes the rewards it
    recorded since the last exchange to the store as increments and takes everyone's totals
    back, through ``policy.merge(totals, base=snapshot)`` (:mod:`abkit.adapters._sync`). With
    ``sync_fraction=f`` it also exchanges once its unshared rewards reach ``max(1, f n)``. A
    process learns the others' rewards late, and a fixed lag costs most while the posterior is
    wide: ``k`` processes each exchanging every ``B`` of their own rewards serve Thompson
    sampling in batches of about ``k B`` rewards, and the regret added grows about linearly in
    ``B`` (3-arm Bernoulli, 4 processes, 4,000 pulls: +12% at ``B = 30``, +26% at ``B = 60``,
    benchmarks/README.md). A lag proportional to the data keeps the early, costly rewards nearly
    unbatched at a cost of ``O(log n)`` exchanges (batches growing geometrically, as in Perchet
    et al. 2016 and, for Thompson sampling, Kalkanli and Ozgur 2021), while ``sync_interval``
    bounds the lag later. A
    decision is kept in the store (``put_pending``, expiring after the store's ``ttl``, or the
    router's ``ttl`` if shorter), so its reward may be recorded by any router of the experiment,
    once. What a process that dies loses is the rewards it recorded since its last exchange
    (at most ``sync_interval`` seconds' or ``sync_updates`` rewards); call :meth:`sync` before a
    worker exits. A router built before ``os.fork`` (a pre-forking server) is split at the fork:
    the child draws from its own random stream (not a copy of the parent's, which would make
    every worker route alike), names its pushes afresh (a copy of the parent's name would make
    the store take the child's pushes for retries of the parent's and drop them) and starts from
    the store's totals as of the last exchange (the rewards the parent recorded but had not pushed
    stay the parent's to push). ``pending`` and ``expired`` count only this router's own map (0 with a
    store), and the decision log holds the rewards recorded by this router. A router with a
    store cannot ``load_json`` or ``merge`` (the store is the shared state).

    Examples
    --------
    >>> from abkit.bandits import EpsilonGreedy
    >>> policy = EpsilonGreedy(3, epsilon=0.3)
    >>> policy.update_batch([0, 1, 2], [0.2, 0.9, 0.4])   # a warm start
    >>> router = BanditRouter("ranker", policy, ["a", "b", "c"], rng=2)
    >>> [round(p, 3) for p in router.allocation()]        # greedy arm 0.7 + 0.1, others 0.1
    [0.1, 0.8, 0.1]
    >>> route = router.route("request-7")
    >>> route.propensity == router.allocation()[route.variant_index]
    True
    """

    _kind = "BanditRouter"

    def __init__(
        self,
        experiment: str,
        policy: Policy,
        variants: Sequence[str] | None = None,
        *,
        features: Sequence[str] | None = None,
        max_pending: int = 100_000,
        ttl: float | None = None,
        sticky: float | None = None,
        refresh: float = 0.01,
        rng: Any = None,
        store: Store | None = None,
        sync_interval: float = 1.0,
        sync_updates: int | None = None,
        sync_fraction: float | None = None,
    ) -> None:
        super().__init__()
        self.experiment = check_id("experiment", experiment)
        if not isinstance(policy, BasePolicy | ContextualPolicy):
            raise TypeError(f"`policy` must be an abkit.bandits policy; got {type(policy).__name__}.")
        self.features: tuple[str, ...] | None = None
        if isinstance(policy, ContextualPolicy):
            self.features = check_features(features, policy.n_features)
            clash = set(self.features or ()) & {*DECISION_LOG_COLUMNS, "variant"}
            if clash:
                raise ValueError(f"`features` must not reuse the decision log's column names; "
                                 f"got {sorted(clash)}.")
        elif features is not None:
            raise ValueError(f"`features` names a contextual policy's features; {type(policy).__name__} "
                             "takes no context.")
        names = [f"arm-{i}" for i in range(policy.n_arms)] if variants is None else variants
        self.variants = _check_names("variants", names, 1)
        if len(self.variants) != policy.n_arms:
            raise ValueError(
                f"`variants` must name the policy's {policy.n_arms} arms; got {len(self.variants)}."
            )
        self.max_pending = check_int("max_pending", max_pending, minimum=1)
        self.ttl = None if ttl is None else check_positive("ttl", ttl)
        self.sticky = None if sticky is None else check_positive("sticky", sticky)
        self.refresh = check_nonnegative("refresh", refresh)
        self._rng = check_rng(rng)
        self._spec = _policy_spec(policy)
        self._use(policy)
        self._pending: OrderedDict[str, tuple[Route, float, Any]] = OrderedDict()
        self._log: list[tuple[Any, ...]] = []  # DECISION_LOG_COLUMNS (+ the context, contextual)
        self._expired = 0
        self.sync_interval = check_positive("sync_interval", sync_interval)
        self.sync_updates = (None if sync_updates is None
                             else check_int("sync_updates", sync_updates, minimum=1))
        self.sync_fraction = (None if sync_fraction is None
                              else check_nonnegative("sync_fraction", sync_fraction))
        if store is not None and not isinstance(store, Store):
            raise TypeError(f"`store` must be an abkit store or None; got {type(store).__name__}.")
        self.store = store
        if store is not None:
            if self.sticky is not None:
                raise ValueError("`sticky` is not available with a `store` (a pending decision is popped "
                                 "once).")
            check_shareable(policy)
            self._sync_lock = threading.Lock()
            self._instance = uuid.uuid4().hex  # names this router's pushes (idempotency keys)
            self._pushes = 0
            self._unacked: tuple[Any, str, Policy] | None = None
            self._since_sync = 0
            shared = policy_from_totals(policy, store.totals(self.experiment))
            self._use(shared)
            self._pushed: Policy = _policy_from_json(shared.to_json())
            self._sync_after = self._next_sync_after()
            self._last_sync = time.monotonic()
        _LIVE_ROUTERS.add(self)

    def _use(self, policy: Policy) -> None:
        # The policy to serve from; its state now is the base that merges subtract once.
        self.policy = policy
        self._base = policy.to_json()
        self._contextual = isinstance(policy, ContextualPolicy)
        self._thompson = isinstance(policy, ThompsonBernoulli | ThompsonGaussian)
        self._cumulative: list[float] = []  # empty: the allocation was never computed
        self._shares: list[float] = []
        self._refresh_after = 0  # n_updates from which the allocation is stale

    @classmethod
    def _from_config(cls, config: Any) -> BanditRouter:
        options = dict(config)
        return cls(policy=_empty_policy(options.pop("policy")), **options)

    def _config(self) -> dict[str, Any]:
        config = {"experiment": self.experiment, "policy": self._spec, "variants": list(self.variants),
                  "max_pending": self.max_pending, "ttl": self.ttl, "sticky": self.sticky,
                  "refresh": self.refresh}
        if self.features is not None:
            config["features"] = list(self.features)
        return config

    def _repr_items(self) -> list[tuple[str, Any]]:
        config = [(k, v) for k, v in self._config().items() if k != "policy" and v is not None]
        with self._lock:
            pending, logged = len(self._pending), len(self._log)
        return [*config, ("policy", type(self.policy).__name__), ("n_updates", self.policy.n_updates),
                ("pending", pending), ("rewards", logged)]

    # --- the hot path ---------------------------------------------------------------------------

    def _compute(self, policy: Any) -> tuple[BasePolicy, list[float], list[float], int]:
        """The allocation of ``policy`` now: slow for Thompson sampling over many arms, so
        :meth:`route` calls it outside the router lock (the policy copies its state under its own)."""
        n = policy.n_updates
        gap = max(1.0, self.refresh * float(policy.state.counts.sum())) if self._thompson else 1.0
        values = policy.allocation().tolist()  # a few arms: plain floats are fastest
        if not all(math.isfinite(v) for v in values):  # improper posterior (warned): explore uniformly
            values = [float(a) for a in policy.state.active]
        total = sum(values)
        shares = [v / total for v in values]
        cumulative = list(itertools.accumulate(shares))
        last = max(i for i, v in enumerate(shares) if v > 0)
        cumulative[last:] = [1.0] * (len(shares) - last)  # rounding never picks a 0-share arm
        return policy, shares, cumulative, n + math.ceil(gap)

    def _install(self, computed: tuple[BasePolicy, list[float], list[float], int]) -> None:
        # Under the lock: keep an allocation computed outside it unless the policy was replaced
        # or a newer one is installed.
        policy, shares, cumulative, refresh_after = computed
        if policy is self.policy and (not self._cumulative or refresh_after > self._refresh_after):
            self._shares, self._cumulative, self._refresh_after = shares, cumulative, refresh_after

    def _refresh(self) -> None:
        # Called under the lock when the allocation is still stale (see the module notes).
        self._install(self._compute(self.policy))

    def _stale(self) -> bool:
        return not self._cumulative or self.policy.n_updates >= self._refresh_after

    def route(self, unit_id: str, context: Any = None) -> Route:
        """A new decision for ``unit_id`` (or its pending one, when sticky).

        ``context`` is required by a contextual policy (a vector of its ``n_features`` numbers,
        or a mapping of the router's ``features`` to numbers; anything else raises and changes
        nothing) and unused by the others. The route's ``propensity`` is the exact probability
        of the arm chosen (see the module notes).
        """
        if type(unit_id) is not str or not unit_id:
            check_id("unit_id", unit_id)
        if self._contextual:
            return self._route_in_context(unit_id, context)
        now = time.time()
        computed = self._compute(self.policy) if self._stale() else None  # outside the lock
        with self._lock:
            pending = self._pending
            if self.ttl is not None:
                self._expire(now - self.ttl)
            if self.sticky is not None:
                held = pending.get(unit_id)
                if held is not None and now - held[1] < self.sticky:
                    return held[0]
            if computed is not None:
                self._install(computed)
            if self._stale():  # rewards arrived meanwhile (or the policy was replaced)
                self._refresh()
            arm = bisect.bisect_right(self._cumulative, self._rng.random())
            route = Route(unit_id=unit_id, experiment=self.experiment, variant=self.variants[arm],
                          variant_index=arm, propensity=self._shares[arm])
            if self.store is None:
                self._hold(unit_id, route, now, None)
        if self.store is not None:
            self._hold_shared(unit_id, route, now, None)
        return route

    def _hold_shared(self, unit_id: str, route: Route, now: float, x: Any) -> None:
        # The decision waits in the store for its reward (any router of the experiment may take it).
        payload = {"arm": route.variant_index, "propensity": route.propensity, "routed_at": now,
                   "context": None if x is None else x.tolist()}
        self.store.put_pending(self.experiment, unit_id, json.dumps(payload))  # type: ignore[union-attr]
        self._maybe_sync()

    def _hold(self, unit_id: str, route: Route, now: float, x: Any) -> None:
        # Under the lock: keep the decision until its reward arrives.
        pending = self._pending
        if pending.pop(unit_id, None) is not None:
            self._expired += 1
        elif len(pending) >= self.max_pending:
            del pending[next(iter(pending))]
            self._expired += 1
        pending[unit_id] = (route, now, x)

    def _route_in_context(self, unit_id: str, context: Any) -> Route:
        x = context_vector(context, self.policy.n_features, self.features)  # type: ignore[union-attr]
        now = time.time()
        with self._lock:
            if self.ttl is not None:
                self._expire(now - self.ttl)
            if self.sticky is not None:
                held = self._pending.get(unit_id)
                if held is not None and now - held[1] < self.sticky:
                    return held[0]
            policy = self.policy
        shares = choice_probabilities(policy, x)  # type: ignore[arg-type]  # outside the lock
        with self._lock:
            arm = min(int(np.searchsorted(np.cumsum(shares), self._rng.random(), side="right")),
                      int(np.flatnonzero(shares > 0)[-1]))  # rounding never picks a 0-share arm
            route = Route(unit_id=unit_id, experiment=self.experiment, variant=self.variants[arm],
                          variant_index=arm, propensity=float(shares[arm]))
            if self.store is None:
                self._hold(unit_id, route, now, x)
        if self.store is not None:
            self._hold_shared(unit_id, route, now, x)
        return route

    def _expire(self, cutoff: float) -> None:
        pending = self._pending
        while pending:
            oldest = next(iter(pending))
            if pending[oldest][1] >= cutoff:
                return
            del pending[oldest]
            self._expired += 1

    def record(self, unit_id: str, outcome: Any, *, idempotency_key: str | None = None) -> None:
        """Give the reward ``outcome`` to the arm that served ``unit_id`` (atomic; thread-safe).

        ``ValueError`` (nothing changed) when ``unit_id`` has no pending decision, or when the
        reward is outside the policy's range (``[0, 1]`` for all but epsilon-greedy and
        Gaussian Thompson sampling). ``idempotency_key``: see :meth:`record_once`.
        """
        self.record_once(unit_id, outcome, idempotency_key=idempotency_key)

    def record_once(self, unit_id: str, outcome: Any, *, idempotency_key: str | None = None) -> bool:
        """:meth:`record`, returning whether the reward counted (False for a repeated key).

        ``idempotency_key`` (routers with a ``store`` only): a reward sent again with the same
        key after it was counted (a client's retry, possibly to another worker) is acknowledged
        with False instead of raising "no pending decision". The key is remembered for the
        store's ``ttl`` once the reward counts; a call that raises does not spend it.
        """
        if type(unit_id) is not str or not unit_id:
            check_id("unit_id", unit_id)
        if idempotency_key is not None:
            if self.store is None:
                raise ValueError("`idempotency_key` needs a router with a `store`; this one keeps its "
                                 "pending decisions in memory.")
            check_id("idempotency_key", idempotency_key)
        if isinstance(outcome, bool | np.bool_):
            outcome = float(outcome)
        if self.store is not None:
            return self._record_shared(unit_id, outcome, idempotency_key)
        with self._lock:
            held = self._pending.get(unit_id)
            if held is None or (self.ttl is not None and held[1] < time.time() - self.ttl):
                raise ValueError(f"`unit_id` has no pending decision (never routed, already recorded or "
                                 f"expired); got {unit_id!r}.")
            route, routed_at, x = held
            try:  # the policy validates first: it raises and changes nothing
                if x is None:
                    self.policy.update(route.variant_index, outcome)  # type: ignore[call-arg]
                else:
                    self.policy.update(route.variant_index, outcome, x)  # type: ignore[call-arg]
            except TypeError as exc:
                raise TypeError(f"`outcome` must be a reward the policy takes: {exc}") from exc
            except ValueError as exc:
                raise ValueError(f"`outcome` must be a reward the policy takes: {exc}") from exc
            del self._pending[unit_id]
            row = (unit_id, route.variant_index, route.propensity, float(outcome), routed_at)
            self._log.append(row if x is None else (*row, x))
        return True

    def _record_shared(self, unit_id: str, outcome: Any, idempotency_key: str | None) -> bool:
        store = self.store
        assert store is not None
        try:  # checked before the decision leaves the store: a bad reward changes nothing
            reward = self.policy._check_reward(outcome)
        except TypeError as exc:
            raise TypeError(f"`outcome` must be a reward the policy takes: {exc}") from exc
        except ValueError as exc:
            raise ValueError(f"`outcome` must be a reward the policy takes: {exc}") from exc
        text = store.pop_pending(self.experiment, unit_id)
        held = None if text is None else json.loads(text)
        if held is None or (self.ttl is not None and held["routed_at"] < time.time() - self.ttl):
            if idempotency_key is not None and store.seen(self._keys_namespace, idempotency_key):
                return False  # a retry of a reward that counted (here or on another worker)
            raise ValueError(f"`unit_id` has no pending decision (never routed, already recorded or "
                             f"expired); got {unit_id!r}.")
        arm, x = held["arm"], held["context"]
        x = None if x is None else np.array(x, dtype=np.float64)
        with self._lock:
            try:
                if x is None:
                    self.policy.update(arm, reward)  # type: ignore[call-arg]
                else:
                    self.policy.update(arm, reward, x)  # type: ignore[call-arg]
            except (TypeError, ValueError):  # (an overflowing reward): the decision goes back
                store.put_pending(self.experiment, unit_id, text)  # type: ignore[arg-type]
                raise
            row = (unit_id, arm, float(held["propensity"]), reward, float(held["routed_at"]))
            self._log.append(row if x is None else (*row, x))
            self._since_sync += 1
        if idempotency_key is not None:  # after the reward counted: a key is never spent on a failure
            store.add(self._keys_namespace, {}, idempotency_key=idempotency_key)
        self._maybe_sync()
        return True

    @property
    def _keys_namespace(self) -> str:
        return f"{self.experiment}\x00rewarded"  # no experiment name holds a NUL

    # --- sharing through a store ----------------------------------------------------------------

    def _next_sync_after(self) -> float:
        # Local rewards after which the next exchange is due by `sync_fraction` (see the notes).
        if self.sync_fraction is None:
            return math.inf
        held = float(np.asarray(self.policy.state.counts).sum())
        return max(1, math.ceil(self.sync_fraction * held))

    def _maybe_sync(self) -> None:
        since = self._since_sync
        due = (since >= self._sync_after or time.monotonic() - self._last_sync >= self.sync_interval
               or (self.sync_updates is not None and since >= self.sync_updates))
        if due and self._sync_lock.acquire(blocking=False):  # another thread is syncing: skip
            try:
                self._sync()
            finally:
                self._sync_lock.release()

    def sync(self) -> None:
        """Exchange the policy's data with the store now (no-op without a store).

        Pushes the rewards recorded here since the last exchange (one atomic add, under an
        idempotency key: a push that failed ambiguously is retried first and counted once),
        then takes every router's totals back. Raises what the store raises; nothing is lost.
        """
        if self.store is None:
            return
        with self._sync_lock:
            self._sync()

    def _sync(self) -> None:
        store = self.store
        assert store is not None
        if self._unacked is not None:  # a push whose outcome is unknown: the same key counts once
            delta, key, snapshot = self._unacked
            store.add(self.experiment, delta, idempotency_key=key)
            self._pushed, self._unacked = snapshot, None
        with self._lock:
            snapshot = _policy_from_json(self.policy.to_json())
            self._since_sync = 0
        delta = difference(snapshot, self._pushed)
        if not is_empty(delta):
            key = f"sync:{self._instance}:{self._pushes}"
            self._pushes += 1
            self._unacked = (delta, key, snapshot)
            store.add(self.experiment, delta, idempotency_key=key)
            self._unacked = None
        self._pushed = snapshot
        shared = policy_from_totals(snapshot, store.totals(self.experiment))
        with self._lock:
            try:
                merged = self.policy.merge(shared, base=snapshot)  # type: ignore[arg-type]
            except ValueError as exc:
                raise StateError(f"The store's totals of {self.experiment!r} lost data this router pushed "
                                 f"(was the store reset?): {exc}") from exc
            self.policy = merged
            self._cumulative, self._shares, self._refresh_after = [], [], 0
            self._sync_after = self._next_sync_after()
        self._pushed = shared
        self._last_sync = time.monotonic()

    def _split_after_fork(self) -> None:
        # In a child process just forked (see "Sharing through a store"): only this thread runs,
        # so locks another thread held at the fork are replaced, never waited for.
        self._lock = threading.Lock()
        self._rng = np.random.default_rng([int(self._rng.integers(2**63)), os.getpid()])
        if self.store is None:
            return
        self._sync_lock = threading.Lock()
        self._instance, self._pushes, self._unacked = uuid.uuid4().hex, 0, None
        self._use(_policy_from_json(self._pushed.to_json()))
        self._log, self._since_sync = [], 0
        self._sync_after = self._next_sync_after()

    # --- what was recorded ----------------------------------------------------------------------

    def allocation(self, context: Any = None) -> list[float]:
        """The probabilities the next route draws from (refreshed first if stale).

        A contextual router needs the ``context`` (checked as in :meth:`route`): the
        probabilities are then those of a route in that context now.
        """
        if self._contextual:
            x = context_vector(context, self.policy.n_features, self.features)  # type: ignore[union-attr]
            return choice_probabilities(self.policy, x).tolist()  # type: ignore[arg-type]
        with self._lock:
            if self._stale():
                self._refresh()
            return list(self._shares)

    @property
    def pending(self) -> int:
        """Number of decisions awaiting a reward."""
        return len(self._pending)

    @property
    def expired(self) -> int:
        """Decisions that left the pending map without a reward (evicted, expired or replaced)."""
        return self._expired

    def decision_log(self, *, clear: bool = False) -> dict[str, npt.NDArray[Any]]:
        """The logged decisions as ``rewards``, ``actions`` and ``propensities`` arrays.

        They are the first three arguments of :func:`abkit.bandits.offpolicy.ips`, ``snips`` and
        ``doubly_robust``: ``ips(**router.decision_log(), target=...)``. A contextual router
        adds ``contexts`` (rows x features), so that
        ``offpolicy.evaluate_contextual(target_policy, **router.decision_log())`` evaluates
        another contextual policy on the log. The log grows with every reward (and is part of
        the JSON state); ``clear=True`` empties it in the same atomic step, for periodic export
        without losing or repeating a row.
        """
        clear = check_bool("clear", clear)
        with self._lock:
            log = list(self._log)
            if clear:
                self._log.clear()
        arrays = {"rewards": np.array([row[3] for row in log], dtype=np.float64),
                  "actions": np.array([row[1] for row in log], dtype=np.int64),
                  "propensities": np.array([row[2] for row in log], dtype=np.float64)}
        if self._contextual:
            d = self.policy.n_features  # type: ignore[union-attr]
            arrays["contexts"] = np.array([row[5] for row in log], dtype=np.float64).reshape(len(log), d)
        return arrays

    def to_frame(self) -> pd.DataFrame:
        """The decision log as a pandas DataFrame, columns :data:`DECISION_LOG_COLUMNS` and ``variant``.

        A contextual router adds one column per feature (its ``features`` names, else
        ``x0``, ``x1``, ...).
        """
        import pandas as pd

        with self._lock:
            log = list(self._log)
        frame = pd.DataFrame([row[:5] for row in log], columns=list(DECISION_LOG_COLUMNS))
        frame["variant"] = [self.variants[i] for i in frame["variant_index"]]
        if self._contextual:
            d = self.policy.n_features  # type: ignore[union-attr]
            names = self.features or tuple(f"x{j}" for j in range(d))
            values = np.array([row[5] for row in log], dtype=np.float64).reshape(len(log), d)
            for j, name in enumerate(names):
                frame[name] = values[:, j]
        return frame

    # --- state ----------------------------------------------------------------------------------

    def _state(self) -> dict[str, Any]:
        held = list(self._pending.items())
        pending = {"unit_id": [u for u, _ in held],
                   "variant_index": [r.variant_index for _, (r, _, _) in held],
                   "propensity": [r.propensity for _, (r, _, _) in held],
                   "routed_at": [t for _, (_, t, _) in held]}
        log = {c: [row[j] for row in self._log] for j, c in enumerate(DECISION_LOG_COLUMNS)}
        if self._contextual:
            pending["context"] = [x.tolist() for _, (_, _, x) in held]
            log["context"] = [row[5].tolist() for row in self._log]
        return {"policy": json.loads(self.policy.to_json()), "pending": pending, "log": log,
                "expired": self._expired}

    def _set_state(self, state: Any) -> None:
        if getattr(self, "store", None) is not None:
            raise StateError(f"This {self._kind} shares its policy through {self.store!r}; the store is its "
                             "state, so it cannot load another.")
        if not isinstance(state, dict) or set(state) != {"policy", "pending", "log", "expired"}:
            raise StateError(f"Corrupt {self._kind} state: expected policy, pending, log and expired.")
        policy = _policy_from_json(json.dumps(state["policy"]))
        if _policy_spec(policy) != self._spec:
            raise StateError(f"Corrupt {self._kind} state: the policy is not the configured one "
                             f"({_policy_spec(policy)} instead of {self._spec}).")
        n_arms = policy.n_arms
        extra = ("context",) if self._contextual else ()
        try:
            pending = self._columns(state["pending"], _PENDING_COLUMNS + extra, n_arms)
            log = self._columns(state["log"], DECISION_LOG_COLUMNS + extra, n_arms)
        except ValueError as exc:
            raise StateError(f"Corrupt {self._kind} state: {exc}.") from exc
        expired = state["expired"]
        if type(expired) is not int or expired < 0:
            raise StateError(f"Corrupt {self._kind} state: expired must be a count; got {expired!r}.")
        if len(set(pending[0])) != len(pending[0]) or len(pending[0]) > self.max_pending:
            raise StateError(f"Corrupt {self._kind} state: pending ids must be distinct and at most "
                             f"{self.max_pending}.")
        self._use(policy)
        contexts: list[Any] = [None] * len(pending[0])
        logged: list[Any] = [None] * len(log[0])
        if self._contextual:
            contexts, logged = ([np.array(x, dtype=np.float64) for x in c] for c in (pending[4], log[5]))
        self._pending = OrderedDict(
            (u, (Route(unit_id=u, experiment=self.experiment, variant=self.variants[i], variant_index=i,
                       propensity=float(p)), float(t), x))
            for u, i, p, t, x in zip(*pending[:4], contexts, strict=True))
        rows = [(u, i, float(p), float(r), float(t)) for u, i, p, r, t in zip(*log[:5], strict=True)]
        self._log = rows if not self._contextual else [(*row, x) for row, x in zip(rows, logged, strict=True)]
        self._expired = expired

    def _columns(self, block: Any, names: tuple[str, ...], n_arms: int) -> list[list[Any]]:
        if not isinstance(block, dict) or set(block) != set(names):
            raise ValueError(f"expected the columns {list(names)}; got {block!r}")
        kinds = {"unit_id": "id", "variant_index": "arm", "propensity": "probability", "context": "context"}
        d = self.policy.n_features if self._contextual else 0  # type: ignore[union-attr]
        columns = [_column(name, block[name], kinds.get(name, "real"), n_arms, d) for name in names]
        if len({len(c) for c in columns}) > 1:
            raise ValueError(f"the columns {list(names)} must have one length")
        return columns

    def merge(self, other: BanditRouter) -> BanditRouter:
        """A new router with both routers' rewards, pending decisions and logs.

        Both must have the same configuration and have started from the same policy state (built
        alike, or loaded from the same JSON): that common state is counted once
        (``policy.merge(other, base=...)``). A pending id held by both keeps this router's
        decision; pending decisions beyond ``max_pending`` drop the oldest (counted as expired).
        """
        self._check_same_config(other, "other")
        if self.store is not None or other.store is not None:
            raise StateError("Routers with a `store` share their data through it; there is nothing to merge.")
        if other._base != self._base:
            raise StateError("`other` started from another policy state; merge routers built alike or "
                             "loaded from the same JSON.")
        merged = super().merge(other)
        merged._base = self._base
        return merged

    def _merge_states(self, mine: dict[str, Any], theirs: dict[str, Any]) -> dict[str, Any]:
        first, second = (_policy_from_json(json.dumps(s["policy"])) for s in (mine, theirs))
        try:
            policy = first.merge(second, base=_policy_from_json(self._base))  # type: ignore[arg-type]
        except ValueError as exc:
            raise StateError(f"Cannot merge the routers' policies: {exc}") from exc
        columns = _PENDING_COLUMNS + (("context",) if self._contextual else ())
        rows = {u: row for u, *row in zip(*(theirs["pending"][c] for c in columns), strict=True)}
        rows.update({u: row for u, *row in zip(*(mine["pending"][c] for c in columns), strict=True)})
        kept = sorted(rows.items(), key=lambda item: item[1][2])[-self.max_pending :]
        dropped = len(rows) - len(kept)
        pending = {"unit_id": [u for u, _ in kept], **{c: [row[j] for _, row in kept]
                                                       for j, c in enumerate(columns[1:])}}
        return {"policy": json.loads(policy.to_json()), "pending": pending,
                "log": {c: mine["log"][c] + theirs["log"][c] for c in mine["log"]},
                "expired": mine["expired"] + theirs["expired"] + dropped}


def _split_routers_after_fork() -> None:
    for router in list(_LIVE_ROUTERS):
        router._split_after_fork()


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_split_routers_after_fork)
