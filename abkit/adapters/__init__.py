"""Router-facing objects: which variant serves a unit, and a place to record what happened.

Every adapter follows one small protocol, :class:`Router`: ``route(unit_id, context=None)``
returns a :class:`Route` (the variant, the experiment, and the propensity of that choice for
off-policy evaluation later) and ``record(unit_id, outcome)`` stores an outcome. Adapters keep
their state as JSON, merge states from several router instances, and are safe under threads.

- :class:`FixedSplitRouter` (:mod:`abkit.adapters.fixed_split`): a fixed A/B/n split by
  deterministic hash (:mod:`abkit.assignment`, GrowthBook- or Optimizely-compatible); ``record``
  updates per-variant sufficient statistics, so ``summary()`` feeds :func:`abkit.proportions_test`
  or :func:`abkit.means_test` at any time.
- :class:`BanditRouter` (:mod:`abkit.adapters.bandit`): a bandit policy chooses per request;
  ``record`` updates the policy and a decision log that feeds :mod:`abkit.bandits.offpolicy`.
- :class:`ShadowRouter` (:mod:`abkit.adapters.shadow`): the live model serves, shadows are called
  too; ``record`` appends every model's prediction to an in-memory shadow log, which
  ``to_shadow_log()`` hands to :mod:`abkit.shadow`.
- :class:`CanaryRouter` (:mod:`abkit.adapters.canary`): routes by a
  :class:`abkit.rollout.CanaryRollout`'s traffic share and feeds its judge.

Every router takes ``store=``: :class:`MemoryStore` (the default behaviour, one process),
:class:`SQLiteStore` (the worker processes of one host) or :class:`RedisStore` (several hosts),
from :mod:`abkit.adapters.stores`; :func:`open_store` opens one from a URL (``memory://``,
``sqlite:///PATH``, ``redis://HOST:PORT/DB``).

:class:`LoggedRouter` (:mod:`abkit.adapters.logged`) wraps any of them so that every ``route``
and ``record`` also goes to a durable log: segment files (:mod:`abkit.adapters.logs`) or a Redis
Stream drained to segment files (:mod:`abkit.adapters.redis_log`), which :mod:`abkit.frame` reads
for A/B analysis, off-policy evaluation and shadow comparison.

State is JSON (``to_json``/``from_json``, ``save``/``load``; never pickle). A corrupt or
mismatched state raises :class:`abkit.errors.StateError` and changes nothing. ``merge`` combines
two routers with the same configuration into a new one (:mod:`abkit.adapters._base`).

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

from abkit.adapters._base import Route, Router
from abkit.adapters.bandit import DECISION_LOG_COLUMNS, BanditRouter
from abkit.adapters.canary import CanaryRouter, unit_bucket
from abkit.adapters.fixed_split import FixedSplitRouter
from abkit.adapters.logged import LoggedRouter
from abkit.adapters.logs import SegmentLog
from abkit.adapters.redis_log import RedisStreamLog
from abkit.adapters.shadow import SHADOW_LOG_COLUMNS, ShadowRouter
from abkit.adapters.stores import MemoryStore, RedisStore, SQLiteStore, Store, open_store

__all__ = [
    "DECISION_LOG_COLUMNS",
    "SHADOW_LOG_COLUMNS",
    "BanditRouter",
    "CanaryRouter",
    "FixedSplitRouter",
    "LoggedRouter",
    "MemoryStore",
    "RedisStore",
    "RedisStreamLog",
    "Route",
    "Router",
    "SQLiteStore",
    "SegmentLog",
    "ShadowRouter",
    "Store",
    "open_store",
    "unit_bucket",
]
