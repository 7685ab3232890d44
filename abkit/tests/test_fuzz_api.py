"""Every public callable answers bad and extreme input clearly (issue 15, item 1).

The table ``CASES`` holds one valid call per public callable (every name in every public
module's ``__all__``) and per public method of the classes whose instances are easy to build.
For each case, every parameter of the signature (passed or defaulted) is replaced, one at a
time, by each value of ``BATTERY``: NaN, +-inf, 0, -1, 1e+-300, 2**63, 10**400, a bool, a
string, None, an empty and a 0-d array, the valid value one element short (mismatched lengths),
a ragged nested list, and a pandas Series holding a NaN.

The only outcomes allowed are:

- a result (possibly with one of abkit's own warnings, ``AbkitWarning`` subclasses);
- ``AbkitError``, ``ValueError`` or ``TypeError`` whose message names the replaced argument in
  backticks, as ``_validation`` words it (`` `alpha` must be in (0, 1); got 1.5. ``);

and every call returns within ``CALL_LIMIT`` CPU seconds (CPU, not wall-clock, time so a
busy machine does not make it flaky; a call still running after ``WALL_LIMIT`` wall-clock
seconds is stopped as hung). Any other exception class, a message
that names a different argument or none, or a foreign warning (numpy's overflow
``RuntimeWarning``, say) fails. A method call that raises must leave its instance unchanged
(compared through ``to_json``/``to_dict`` where the class has one).

Every case runs the full product (about 13,700 calls, some 15 s on one core with a warm numba cache), no sampling.
The first cases are issue 15's reproducers (``check_real(10**400)``, ``power_means(sd=None)``,
``power_means(n_control=1e300)``, ``GroupSequentialDesign(2**63)``, ``compare_models`` on an
empty or missing table, negative latencies); ``test_issue_15_reproducers`` pins them exactly.

``KNOWN_FAILURES`` lists the (callable, argument) pairs that still fail, each with the reason; a
strict xfail runs each, so fixing one fails the suite until its entry is deleted.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import json
import math
import os
import pkgutil
import signal
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pytest

import abkit
from abkit import bandits, frame, power, rollout, sequential, shadow, stats
from abkit.adapters import BanditRouter, CanaryRouter, FixedSplitRouter, ShadowRouter
from abkit.adapters.logged import LoggedRouter
from abkit.adapters.logs import SegmentLog
from abkit.adapters.redis_log import RedisStreamLog
from abkit.adapters.stores import MemoryStore, SQLiteStore, open_store
from abkit.bandits import offpolicy
from abkit.errors import AbkitError, AbkitWarning, ConvergenceError, StateError
from abkit.shadow import ShadowLog


def _shadow_log_module() -> Any:
    """abkit/frame/shadow_log.py after the layout move (issue 14), abkit/shadow_log.py before."""
    for name in ("abkit.frame.shadow_log", "abkit.shadow_log"):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise ImportError("no shadow_log module")


shadow_log_module = _shadow_log_module()

CALL_LIMIT = 10.0  # CPU seconds: every call answers in this time (a cold numba cache on a fresh
# clone compiles a new kernel signature on first use: up to ~3 s seen; a hang runs far longer)
WALL_LIMIT = 30.0  # wall-clock seconds before a call counts as hung (room for a busy machine)


# ---------------------------------------------------------------------------------------------
# The battery: (label, maker); a maker turns the valid value into the bad one, or returns SKIP.

SKIP = object()


def _shorter(valid: Any) -> Any:
    """The valid value one element short: mismatched lengths against its partner."""
    if isinstance(valid, str | bytes | Mapping) or not hasattr(valid, "__len__") or len(valid) < 2:
        return SKIP
    return valid[:-1] if not isinstance(valid, pd.Series) else valid.iloc[:-1]


def _nan_series(valid: Any) -> Any:
    """A pandas Series with a NaN: the valid values (when numeric) with the first made NaN."""
    try:
        values = np.asarray(valid, dtype=np.float64)
    except (TypeError, ValueError):
        values = np.array([])
    if values.ndim != 1 or values.size < 2:
        return pd.Series([0.5, math.nan])
    values = values.copy()
    values[0] = math.nan
    return pd.Series(values)


BATTERY: tuple[tuple[str, Callable[[Any], Any]], ...] = (
    ("nan", lambda v: math.nan),
    ("inf", lambda v: math.inf),
    ("-inf", lambda v: -math.inf),
    ("zero", lambda v: 0),
    ("minus-one", lambda v: -1),
    ("1e300", lambda v: 1e300),
    ("1e-300", lambda v: 1e-300),
    ("-1e300", lambda v: -1e300),
    ("2**63", lambda v: 2**63),
    ("10**400", lambda v: 10**400),
    ("true", lambda v: True),
    ("str", lambda v: "x"),
    ("none", lambda v: None),
    ("empty-array", lambda v: np.array([])),
    ("0d-array", lambda v: np.array(0.5)),
    ("shorter", _shorter),
    ("nested-list", lambda v: [[0.5, 1.0], [0.5]]),
    ("nan-series", _nan_series),
)
BATTERY_LABELS = tuple(label for label, _ in BATTERY)


# ---------------------------------------------------------------------------------------------
# Small valid inputs, built once.

X = np.array([0.3, 1.2, 0.7, 2.5, 1.9, 0.4, 1.1, 3.0, 0.9, 1.6])
Y = np.array([0.5, 1.0, 0.2, 2.9, 1.4, 0.8, 1.7, 2.2, 1.3, 2.0])
LABELS = np.array([0, 1, 0, 1, 1, 0, 1, 0, 1, 0])
SCORE_A = np.array([0.2, 0.8, 0.3, 0.6, 0.9, 0.1, 0.7, 0.4, 0.65, 0.35])
SCORE_B = np.array([0.3, 0.7, 0.1, 0.8, 0.6, 0.2, 0.9, 0.5, 0.55, 0.45])
BINARY = np.array([1, 0, 1, 1, 0, 1, 1, 0, 1, 1])
BINARY_B = np.array([1, 1, 0, 1, 0, 1, 1, 1, 1, 0])
PROPENSITY = np.full(10, 0.5)
TARGET = np.full((10, 2), 0.5)
Q_HAT = np.tile([0.4, 0.6], (10, 1))
EXPERIMENT_TABLE = pd.DataFrame({
    "variant": ["a"] * 6 + ["b"] * 6,
    "converted": [0, 1, 0, 0, 1, 0, 1, 1, 0, 1, 1, 0],
    "revenue": [0.0, 9.5, 0.0, 0.0, 7.0, 1.0, 11.0, 0.0, 8.5, 3.0, 2.0, 0.0],
})
SHADOW_TABLE = pd.DataFrame({
    "request_id": np.repeat(np.arange(40), 2),
    "model": ["v1", "v2"] * 40,
    "score": np.r_[SCORE_A, SCORE_B, SCORE_B, SCORE_A, SCORE_A, SCORE_B, SCORE_B, SCORE_A],
    "label": np.repeat(np.tile(LABELS, 4), 2),
    "latency": np.tile([0.010, 0.012, 0.011, 0.014], 20),
})


def shadow_log() -> ShadowLog:
    return shadow_log_module.load_shadow_log(SHADOW_TABLE)


def judge() -> rollout.CanaryJudge:
    return rollout.CanaryJudge([rollout.CanaryJudge.error_rate("errors", min_samples=5)],
                               planned_looks=4)


def canary_rollout() -> rollout.CanaryRollout:
    return rollout.CanaryRollout(judge())


def power_result() -> Any:
    return power.power_proportions(control_rate=0.10, mde=0.02, power=0.8)


def policy() -> bandits.ThompsonBernoulli:
    p = bandits.ThompsonBernoulli(3, rng=0)
    p.update_batch([0, 1, 2, 1], [1.0, 0.0, 1.0, 1.0])
    return p


CONTEXTS = np.column_stack([np.ones(10), X])  # an intercept and one feature
CONTEXT_ARMS = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0])


def contextual_policy() -> bandits.LinTS:
    p = bandits.LinTS(3, 2, v=0.5, rng=0)
    p.update_batch(CONTEXT_ARMS, BINARY.astype(float), CONTEXTS)
    return p


def fixed_router() -> FixedSplitRouter:
    router = FixedSplitRouter("exp")
    for i in range(20):
        router.record(f"u{i}", i % 3 == 0)
    return router


def shadow_router() -> ShadowRouter:
    router = ShadowRouter("v1", ["v2"])
    router.route("r1")
    return router


def bandit_router() -> BanditRouter:
    return BanditRouter("exp", policy(), ["a", "b", "c"], rng=0)


def watching_blue_green() -> rollout.BlueGreen:
    bg = rollout.BlueGreen(judge())
    bg.validate({"errors": PS(0, 5000)}, {"errors": PS(0, 5000)}, at=1.0)
    assert bg.phase == "watching", bg.phase
    return bg


def rolling_back_update() -> rollout.RollingUpdate:
    ru = rollout.RollingUpdate(judge(), n_instances=10, batch_size=3)
    ru.observe({"errors": PS(0, 5000)}, {"errors": PS(2500, 5000)}, at=1.0)
    assert ru.phase == "rolling_back", ru.phase
    return ru


def recreated() -> rollout.Recreate:
    rc = rollout.Recreate(judge())
    rc.recreate(at=1.0)
    return rc


def canary_router_with_data(rollout_: rollout.CanaryRollout | None = None) -> CanaryRouter:
    router = CanaryRouter(rollout_ if rollout_ is not None else canary_rollout())
    for i in range(60):
        unit = f"u{i}"
        router.route(unit)
        router.record(unit, {"errors": i % 2})
    return router


def recorded_shadow_router() -> ShadowRouter:
    router = shadow_router()
    router.record("r1", {"predictions": {"v1": 0.2, "v2": 0.7}})
    return router


SCRATCH = tempfile.mkdtemp(prefix="abkit-fuzz-")
"""Files the store and log cases write (a battery string as a path lands here, not in the repo)."""


def in_scratch(func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` run with the working directory ``SCRATCH``, so relative paths stay inside it."""
    @functools.wraps(func)
    def run(*args: Any, **kwargs: Any) -> Any:
        here = os.getcwd()
        os.chdir(SCRATCH)
        try:
            return func(*args, **kwargs)
        finally:
            os.chdir(here)
    return run


def scratch_path(name: str) -> str:
    return os.path.join(SCRATCH, name)


def canary_router_state() -> str:
    return canary_router_with_data().to_json()


def saved_canary_router() -> str:
    path = scratch_path("canary-saved.json")
    canary_router_with_data().save(path)
    return path


SHARED_ROLLOUT = canary_rollout()  # CanaryRouter.merge needs both routers on one rollout


def stored_router() -> FixedSplitRouter:
    return FixedSplitRouter("exp", store=MemoryStore())


def memory_store() -> MemoryStore:
    store = MemoryStore()
    store.add("exp", {"control": {"n": 3.0, "sum": 1.0}})
    store.put_pending("exp", "r1", "{}")
    return store


def segment_log() -> SegmentLog:
    return SegmentLog(tempfile.mkdtemp(dir=SCRATCH))


def logged_router() -> LoggedRouter:
    router = LoggedRouter(FixedSplitRouter("exp", weights=[0.5, 0.5]), segment_log())
    router.route("u1", request_id="r1")
    return router


def log_directory() -> str:
    """A decision log directory: a bandit's routes and rewards (two arms), one split record."""
    folder = tempfile.mkdtemp(dir=SCRATCH)
    with SegmentLog(folder, durability="batch") as log:
        for i in range(6):
            log.write("route", experiment="ranker", unit_id=f"u{i}", request_id=f"r{i}",
                      variant="ab"[i % 2], propensity=0.5)
            log.write("record", experiment="ranker", request_id=f"r{i}", outcome=float(i % 3 == 0))
            log.write("record", experiment="exp", unit_id=f"u{i}", variant="ab"[i % 2], outcome=1.0)
    return folder


LOG_DIRECTORY = log_directory()


SHADOW_TABLE_TIMED = SHADOW_TABLE.assign(timestamp=np.repeat(np.arange(40.0), 2))


def shadow_table() -> Any:
    return frame.ShadowTable(SHADOW_TABLE_TIMED)


OPE_TABLE = pd.DataFrame({"action": LABELS, "propensity": PROPENSITY, "reward": BINARY.astype(float),
                          "best": np.zeros(10, dtype=np.int64), "p0": TARGET[:, 0], "p1": TARGET[:, 1],
                          "q0": Q_HAT[:, 0], "q1": Q_HAT[:, 1]})
OPE_COLUMNS = {"target": ["p0", "p1"], "q_hat": ["q0", "q1"], "target_action": "best"}


def ope_table() -> Any:
    return frame.OffPolicyTable(OPE_TABLE, **OPE_COLUMNS)


def quantile_stats(shift: float = 0.0) -> Any:
    return frame.QuantileStats.from_values(np.arange(1.0, 101.0) + shift, 0.5)


MONITOR_BATCH = {("v2", "log_loss"): (stats.MeanStats(1000, 0.52, 0.30), stats.MeanStats(1000, 0.45, 0.28),
                                      stats.MeanStats(1000, -0.07, 0.02))}


GB_EXPERIMENT = {"key": "exp", "variations": ["a", "b"], "weights": [0.5, 0.5],
                 "condition": {"country": "NZ"}, "hashVersion": 2}
GB_FEATURES = {"checkout": {"defaultValue": "old", "rules": [
    {"condition": {"id": {"$inGroup": "g"}}, "force": "new", "coverage": 0.5},
    {"key": "exp", "variations": ["old", "new"], "weights": [0.5, 0.5]},
]}}

ERRORS = {"errors": BINARY[:8]}
ERRORS_B = {"errors": BINARY_B[:8]}


# ---------------------------------------------------------------------------------------------
# The table.

@dataclass(frozen=True)
class Case:
    """One valid call: ``target()`` builds the callable (a fresh instance for a method)."""

    name: str
    target: Callable[[], Callable[..., Any]]
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    xfail: str | None = None


def fn(name: str, func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Case:
    return Case(name, lambda: func, args, kwargs)


def method(name: str, make: Callable[[], Any], /, *args: Any, **kwargs: Any) -> Case:
    """``Class.method`` called on a fresh ``make()`` instance."""
    attribute = name.rsplit(".", 1)[1]
    return Case(name, lambda: getattr(make(), attribute), args, kwargs)


def xfail(case: Case, reason: str) -> Case:
    return Case(case.name, case.target, case.args, case.kwargs, reason)


PS = stats.ProportionStats
MS = stats.MeanStats
BS = stats.BivariateStats
SQ = sequential

CASES: tuple[Case, ...] = (
    # -- stats and fixed-horizon primitives ----------------------------------------------------
    fn("ProportionStats", PS, 10, 100),
    fn("ProportionStats.empty", PS.empty),
    fn("ProportionStats.from_samples", PS.from_samples, BINARY, nan_policy="raise"),
    method("ProportionStats.merge", lambda: PS(3, 10), PS(4, 10)),
    method("ProportionStats.update", lambda: PS(3, 10), BINARY),
    method("ProportionStats.to_dict", lambda: PS(3, 10)),
    fn("MeanStats", MS, 10, 1.5, 2.0),
    fn("MeanStats.empty", MS.empty),
    fn("MeanStats.from_samples", MS.from_samples, X, nan_policy="raise"),
    fn("MeanStats.from_aggregates", MS.from_aggregates, n=4, total=10.0, total_sq=30.0),
    method("MeanStats.merge", lambda: MS(5, 1.0, 2.0), MS(4, 1.5, 1.0)),
    method("MeanStats.update", lambda: MS(5, 1.0, 2.0), X),
    method("MeanStats.to_dict", lambda: MS(5, 1.0, 2.0)),
    fn("BivariateStats", BS, 10, 1.0, 2.0, 1.0, 2.0, 0.5),
    fn("BivariateStats.empty", BS.empty),
    fn("BivariateStats.from_samples", BS.from_samples, X, Y, nan_policy="raise"),
    fn("BivariateStats.from_aggregates", BS.from_aggregates, n=4, sum_x=4.0, sum_y=6.0,
       sum_xx=6.0, sum_yy=12.0, sum_xy=8.0),
    method("BivariateStats.merge", lambda: BS(5, 1.0, 2.0, 1.0, 2.0, 0.5),
           BS(4, 1.5, 2.5, 1.0, 1.0, 0.2)),
    method("BivariateStats.update", lambda: BS(5, 1.0, 2.0, 1.0, 2.0, 0.5), X, Y),
    method("BivariateStats.to_dict", lambda: BS(5, 1.0, 2.0, 1.0, 2.0, 0.5)),
    fn("proportions_test", abkit.proportions_test, PS(100, 1000), PS(130, 1000),
       alternative="two-sided", confidence_level=0.95, method="pooled",
       relative_method="delta-log", margin=0.0),
    fn("means_test", abkit.means_test, MS(100, 1.0, 2.0), MS(120, 1.2, 2.1), margin=0.0),
    fn("ratio_test", abkit.ratio_test, (X, Y), (Y, X)),
    fn("cuped_test", abkit.cuped_test, (X, Y), (Y, X)),
    fn("bayes_proportions", abkit.bayes_proportions, PS(100, 1000), PS(130, 1000),
       prior=(1.0, 1.0)),
    fn("bayes_means", abkit.bayes_means, MS(100, 1.0, 2.0), MS(120, 1.2, 2.1)),
    fn("mann_whitney_test", abkit.mann_whitney_test, X, Y),
    fn("hodges_lehmann", abkit.nonparametric.hodges_lehmann, Y, X),
    fn("bootstrap_test", abkit.bootstrap_test, X, Y, n_resamples=200, rng=0),
    fn("adjust_pvalues", abkit.adjust_pvalues, [0.01, 0.04, 0.2], method="holm"),
    fn("srm_test", abkit.srm_test, [5000, 5100], [0.5, 0.5], alpha=0.001),
    fn("assign", abkit.assign, "user-1", "exp", [0.5, 0.5]),
    fn("warmup", abkit.warmup),
    fn("ConfidenceInterval", abkit.ConfidenceInterval, 0.1, 0.2),
    method("ConfidenceInterval.contains", lambda: abkit.ConfidenceInterval(0.1, 0.2), 0.15),
    method("ConfidenceInterval.to_dict", lambda: abkit.ConfidenceInterval(0.1, 0.2)),
    # -- power -----------------------------------------------------------------------------------
    fn("power_proportions", abkit.power_proportions, control_rate=0.10, mde=0.02, power=0.8),
    fn("power_means", abkit.power_means, sd=1.0, mde=0.2, power=0.8),
    fn("power_ratio", abkit.power_ratio, mean_numerator=2.0, mean_denominator=1.0,
       var_numerator=4.0, var_denominator=1.0, covariance=1.0, mde=0.1, power=0.8),
    fn("duration", abkit.duration, n_control=1000, daily_visitors=500),
    fn("sequential_sample_size", abkit.sequential_sample_size, power_result(),
       SQ.GroupSequentialDesign(4)),
    # -- sequential ------------------------------------------------------------------------------
    fn("GroupSequentialDesign", SQ.GroupSequentialDesign, 4, alpha=0.05,
       alternative="two-sided", spending="obrien-fleming", power=0.8),
    fn("WangTsiatisDesign", SQ.WangTsiatisDesign, 4, alpha=0.05, delta=0.25),
    fn("wang_tsiatis", SQ.wang_tsiatis, 4, alpha=0.05, delta=0.25),
    fn("peeking_type1_error", SQ.peeking_type1_error, 5, alpha=0.05),
    fn("obrien_fleming_spending", SQ.obrien_fleming_spending, [0.25, 0.5, 1.0], 0.05),
    fn("pocock_spending", SQ.pocock_spending, [0.25, 0.5, 1.0], 0.05),
    fn("power_spending", SQ.power_spending, [0.25, 0.5, 1.0], 0.05, 3.0),
    fn("hsd_spending", SQ.hsd_spending, [0.25, 0.5, 1.0], 0.05, -4.0),
    fn("spending_function", SQ.spending_function, "power", 2.0),
    fn("SPRT", SQ.SPRT, 0.1, 0.2, alpha=0.05, beta=0.2),
    method("SPRT.llr", lambda: SQ.SPRT(0.1, 0.2), 12, 100),
    method("SPRT.decision", lambda: SQ.SPRT(0.1, 0.2), 12, 100),
    method("SPRT.operating_characteristic", lambda: SQ.SPRT(0.1, 0.2), 0.15),
    method("SPRT.expected_sample_size", lambda: SQ.SPRT(0.1, 0.2), 0.15),
    method("SPRT.exact_operating_characteristics", lambda: SQ.SPRT(0.1, 0.2), 0.15,
           n_max=500),
    fn("MSPRT", SQ.MSPRT, tau2=0.01, sigma2=1.0, theta0=0.0, alpha=0.05),
    method("MSPRT.update", lambda: SQ.MSPRT(tau2=0.01, sigma2=1.0), MS(100, 1.0, 2.0),
           MS(120, 1.2, 2.1)),
    method("MSPRT.to_dict", lambda: SQ.MSPRT(tau2=0.01, sigma2=1.0)),
    fn("MSPRT.from_dict", SQ.MSPRT.from_dict, SQ.MSPRT(tau2=0.01, sigma2=1.0).to_dict()),
    method("MSPRT.to_json", lambda: SQ.MSPRT(tau2=0.01, sigma2=1.0)),
    fn("MSPRT.from_json", SQ.MSPRT.from_json, SQ.MSPRT(tau2=0.01, sigma2=1.0).to_json()),
    fn("msprt", SQ.msprt, MS(100, 1.0, 2.0), MS(120, 1.2, 2.1), tau2=0.01, sigma2=1.0),
    fn("msprt_tau2", SQ.msprt_tau2, alpha=0.05, sigma2=1.0, n_max=10_000),
    fn("confidence_sequence", SQ.confidence_sequence, MS(100, 1.0, 2.0), MS(120, 1.2, 2.1),
       alpha=0.05, tuning_n=5000.0, difference="absolute"),
    fn("bernoulli_confidence_sequence", SQ.bernoulli_confidence_sequence, 30, 100,
       alpha=0.05, t_opt=100.0),
    fn("normal_mixture_rho", SQ.normal_mixture_rho, 1000.0, 0.05),
    fn("normal_mixture_bound", SQ.normal_mixture_bound, 100.0, 0.05, 1000.0),
    fn("normal_log_mixture", SQ.normal_log_mixture, 10.0, 100.0, 1000.0),
    fn("beta_binomial_mixture_bound", SQ.beta_binomial_mixture_bound, 100.0, 0.05, 1000.0,
       0.5, 0.5),
    fn("beta_binomial_log_mixture", SQ.beta_binomial_log_mixture, 10.0, 100.0, 1000.0,
       0.5, 0.5),
    fn("gamma_poisson_mixture_bound", SQ.gamma_poisson_mixture_bound, 100.0, 0.05, 1000.0,
       1.0),
    fn("gamma_poisson_log_mixture", SQ.gamma_poisson_log_mixture, 10.0, 100.0, 1000.0, 1.0),
    fn("poly_stitching_bound", SQ.poly_stitching_bound, 100.0, 0.05, 1.0),
    fn("sequential_srm_test", SQ.sequential_srm_test, [5000, 5100], [0.5, 0.5],
       concentration=100.0, alpha=0.001),
    fn("SequentialSRM", SQ.SequentialSRM, [0.5, 0.5], concentration=100.0, alpha=0.001),
    method("SequentialSRM.update", lambda: SQ.SequentialSRM([0.5, 0.5]), [50, 52]),
    # -- bandits ---------------------------------------------------------------------------------
    fn("ThompsonBernoulli", bandits.ThompsonBernoulli, 3, prior=(1, 1), discount=1.0, rng=0),
    fn("ThompsonGaussian", bandits.ThompsonGaussian, 3, discount=1.0, rng=0),
    fn("EpsilonGreedy", bandits.EpsilonGreedy, 3, epsilon=0.1, decay=0.0, rng=0),
    fn("UCB1", bandits.UCB1, 3, discount=1.0, rng=0),
    fn("KLUCB", bandits.KLUCB, 3, discount=1.0, rng=0),
    method("BasePolicy.select", policy),
    method("BasePolicy.select_many", policy, 5),
    method("BasePolicy.update", policy, 1, 1.0),
    method("BasePolicy.update_batch", policy, [0, 1, 2], [1.0, 0.0, 1.0]),
    method("BasePolicy.prob_best", policy),
    method("BasePolicy.expected_loss", policy),
    method("BasePolicy.allocation", policy),
    method("BasePolicy.add_arm", policy),
    method("BasePolicy.retire_arm", policy, 2),
    method("BasePolicy.warm_start", policy, [10, 10, 10], [0.2, 0.5, 0.3]),
    method("BasePolicy.to_json", policy),
    fn("BasePolicy.from_json", bandits.ThompsonBernoulli.from_json, policy().to_json(), rng=0),
    method("BasePolicy.merge", policy, policy()),
    fn("BanditState", bandits.BanditState, np.ones(2), np.full(2, 0.5), np.zeros(2),
       np.ones(2, dtype=bool)),
    fn("lai_robbins_bound", bandits.lai_robbins_bound, [0.1, 0.2], 1000, arms="bernoulli"),
    fn("simulate", bandits.simulate, bandits.ThompsonBernoulli(2), [0.1, 0.2], horizon=50,
       n_runs=2, rng=0, progress=False),
    fn("bandits.warmup", bandits.warmup),
    # contextual bandits: the methods are ContextualPolicy's, called on a LinTS
    fn("LinUCB", bandits.LinUCB, 3, 2, alpha=1.0, l2=1.0, rng=0),
    fn("LinTS", bandits.LinTS, 3, 2, v=1.0, l2=1.0, rng=0),
    fn("LogisticTS", bandits.LogisticTS, 3, 2, l2=1.0, rng=0),
    method("ContextualPolicy.select", contextual_policy, CONTEXTS[0]),
    method("ContextualPolicy.select_many", contextual_policy, CONTEXTS),
    method("ContextualPolicy.update", contextual_policy, 1, 0.5, CONTEXTS[0]),
    method("ContextualPolicy.update_batch", contextual_policy, CONTEXT_ARMS, X, CONTEXTS),
    method("ContextualPolicy.posterior", contextual_policy, 1),
    method("ContextualPolicy.expected_rewards", contextual_policy, CONTEXTS),
    method("ContextualPolicy.to_json", contextual_policy),
    fn("ContextualPolicy.from_json", bandits.LinTS.from_json, contextual_policy().to_json(),
       rng=0),
    method("ContextualPolicy.merge", contextual_policy, contextual_policy(),
           base=bandits.LinTS(3, 2, v=0.5, rng=0)),
    fn("ContextualState", bandits.ContextualState, *contextual_policy().state),
    fn("simulate_contextual", bandits.simulate_contextual, bandits.LinTS(2, 2),
       [[1.0, 0.0], [0.0, 1.0]], horizon=50, n_runs=2, rng=0, environment="linear", sd=1.0,
       progress=False),
    fn("policy_probabilities", offpolicy.policy_probabilities, contextual_policy(), CONTEXTS,
       greedy=False, n_samples=200, rng=0),
    fn("PolicyProbabilities", offpolicy.PolicyProbabilities, TARGET, np.zeros((10, 2)),
       "exact", 0),
    fn("ridge_reward_model", offpolicy.ridge_reward_model, CONTEXTS, CONTEXT_ARMS, X, 3,
       l2=1.0),
    fn("evaluate_contextual", offpolicy.evaluate_contextual, contextual_policy(), CONTEXTS,
       CONTEXT_ARMS, BINARY, np.full(10, 1 / 3), q_hat=None, greedy=False, n_samples=200,
       rng=0, confidence_level=0.95),
    fn("ips", offpolicy.ips, BINARY, LABELS, PROPENSITY, TARGET, clip=None),
    fn("snips", offpolicy.snips, BINARY, LABELS, PROPENSITY, TARGET),
    fn("doubly_robust", offpolicy.doubly_robust, BINARY, LABELS, PROPENSITY, TARGET, Q_HAT),
    fn("direct_method", offpolicy.direct_method, TARGET, Q_HAT),
    fn("replay", offpolicy.replay, BINARY, LABELS, LABELS),
    # -- shadow ----------------------------------------------------------------------------------
    fn("auc_ci", abkit.auc_ci, LABELS, SCORE_A, confidence_level=0.95),
    fn("delong_test", abkit.delong_test, LABELS, SCORE_A, SCORE_B, margin=0.0),
    fn("diebold_mariano_test", abkit.diebold_mariano_test, X, Y, horizon=1),
    fn("mcnemar_test", abkit.mcnemar_test, BINARY, BINARY_B),
    fn("paired_t_test", abkit.paired_t_test, X, Y, margin=0.0),
    fn("wilcoxon_test", abkit.wilcoxon_test, X, Y),
    fn("paired_bootstrap", abkit.paired_bootstrap, np.mean, X, Y, n_resamples=200, rng=0),
    fn("latency_quantiles", shadow.latency_quantiles, X, quantiles=(0.5, 0.9)),
    fn("latency_ratio_test", shadow.latency_ratio_test, X, Y, margin=0.0),
    fn("order_statistic_ranks", shadow.latency.order_statistic_ranks, 100, 0.9, 0.95),
    fn("shadow.compare_models", shadow.compare_models, shadow_log(), champion="v1",
       challengers=["v2"], metrics=["auc"], min_requests=10, n_resamples=100, rng=0),
    fn("compare_models", abkit.compare_models, SHADOW_TABLE, champion="v1",
       challengers=["v2"], metrics=["auc"], min_requests=10, n_resamples=100, rng=0),
    fn("ShadowMetric", shadow.ShadowMetric, name="m", worse="lower", margin=0.0,
       kind="accuracy", threshold=0.5),
    fn("ShadowMetric.builtin", shadow.ShadowMetric.builtin, "auc", margin=0.0),
    fn("ShadowMonitor", shadow.ShadowMonitor, "v1", ["v2"], ["accuracy"], alpha=0.05,
       min_requests=10),
    method("ShadowMonitor.update", lambda: shadow.ShadowMonitor("v1", ["v2"], ["accuracy"],
                                                                min_requests=10),
           shadow_log()),
    method("ShadowMonitor.to_dict", lambda: shadow.ShadowMonitor("v1", ["v2"], ["accuracy"])),
    method("ShadowMonitor.to_json", lambda: shadow.ShadowMonitor("v1", ["v2"], ["accuracy"])),
    fn("ShadowMonitor.from_dict", shadow.ShadowMonitor.from_dict,
       shadow.ShadowMonitor("v1", ["v2"], ["accuracy"]).to_dict()),
    fn("ShadowMonitor.from_json", shadow.ShadowMonitor.from_json,
       shadow.ShadowMonitor("v1", ["v2"], ["accuracy"]).to_json()),
    method("ShadowMonitor.update_stats", lambda: shadow.ShadowMonitor("v1", ["v2"], ["log_loss"],
                                                                      min_requests=200),
           MONITOR_BATCH, n_pending=0),
    fn("paired_t_from_moments", shadow.paired_t_from_moments, 10, 0.75, 2.33, 1.58, 1.5129,
       alternative="two-sided", confidence_level=0.95, margin=0.0),
    fn("mcnemar_from_counts", shadow.mcnemar_from_counts, 794, 150, 86, 1600,
       method="chi2-corrected", alternative="two-sided", confidence_level=0.95),
    fn("delong_from_moments", shadow.delong_from_moments, 0.7, 0.8,
       [[0.04, 0.02], [0.02, 0.05]], [[0.03, 0.01], [0.01, 0.04]], 40, 60,
       alternative="two-sided", confidence_level=0.95, margin=0.0),
    fn("latency_ratio_from_log_test", shadow.latency_ratio_from_log_test,
       shadow.paired_t_test(np.log(X), np.log(Y)), 0.0),
    fn("diebold_mariano_from_autocovariances", shadow.diebold_mariano_from_autocovariances,
       8, -0.2625, [0.0866, -0.01], horizon=2, variance="acf", small_sample=True,
       alternative="two-sided"),
    fn("ShadowLog.from_arrays", ShadowLog.from_arrays, request_id=np.repeat([1, 2, 3], 2),
       model=["a", "b"] * 3, score=SCORE_A[:6], label=np.repeat([0, 1, 1], 2)),
    method("ShadowLog.model_index", shadow_log, "v2"),
    method("ShadowLog.paired", shadow_log, "v1", "v2", field="score"),
    fn("load_shadow_log", shadow_log_module.load_shadow_log, SHADOW_TABLE, layout="long"),
    fn("duckdb_connection", shadow_log_module.duckdb_connection, "64MB"),
    fn("make_shadow_log", abkit.datasets.make_shadow_log, 50, positive_rate=0.3, rng=0),
    # -- rollout ---------------------------------------------------------------------------------
    fn("MetricCheck", rollout.MetricCheck, "errors", "error_rate", 0.01, worse="higher"),
    fn("CanaryJudge", rollout.CanaryJudge, [rollout.CanaryJudge.error_rate("errors")],
       alpha=0.05, planned_looks=4),
    fn("CanaryJudge.error_rate", rollout.CanaryJudge.error_rate, "errors", 0.01),
    fn("CanaryJudge.latency", rollout.CanaryJudge.latency, "latency", 0.99, 0.05),
    fn("CanaryJudge.mean", rollout.CanaryJudge.mean, "score", 0.05),
    fn("CanaryJudge.rank", rollout.CanaryJudge.rank, "score", 0.05),
    method("CanaryJudge.look_alpha", judge, 2),
    method("CanaryJudge.judge", judge, ERRORS, ERRORS_B, look=1),
    fn("CanaryRollout", rollout.CanaryRollout, judge(), (1, 5, 25, 50, 100)),
    method("CanaryRollout.observe", canary_rollout, ERRORS, ERRORS_B, at=10.0),
    method("CanaryRollout.abort", canary_rollout, "manual rollback", at=10.0),
    fn("BlueGreen", rollout.BlueGreen, judge(), watch_looks=1),
    method("BlueGreen.validate", lambda: rollout.BlueGreen(judge()), ERRORS, ERRORS_B, at=1.0),
    method("BlueGreen.watch", watching_blue_green, ERRORS, ERRORS_B, at=2.0),
    fn("RollingUpdate", rollout.RollingUpdate, judge(), n_instances=10, batch_size=3),
    method("RollingUpdate.observe", lambda: rollout.RollingUpdate(
        judge(), n_instances=10, batch_size=3), ERRORS, ERRORS_B, at=1.0),
    method("RollingUpdate.rollback_step", rolling_back_update, at=2.0),
    fn("Recreate", rollout.Recreate, judge(), stop_seconds=10.0, start_seconds=50.0),
    method("Recreate.recreate", lambda: rollout.Recreate(judge()), at=1.0),
    method("Recreate.validate", recreated, ERRORS, ERRORS_B, at=2.0),
    fn("CanaryRouter", CanaryRouter, canary_rollout(), experiment="canary", seed=""),
    method("CanaryRouter.bucket", lambda: CanaryRouter(canary_rollout()), "u1"),
    method("CanaryRouter.route", lambda: CanaryRouter(canary_rollout()), "u1"),
    method("CanaryRouter.record", lambda: CanaryRouter(canary_rollout()), "u1",
           {"errors": 0}),
    method("CanaryRouter.record_once", lambda: CanaryRouter(canary_rollout(), store=MemoryStore()), "u1",
           {"errors": 0}, idempotency_key="k1"),
    method("CanaryRouter.sync_rollout", lambda: CanaryRouter(canary_rollout(), store=MemoryStore())),
    method("CanaryRouter.counts", lambda: CanaryRouter(canary_rollout())),
    method("CanaryRouter.evaluate", canary_router_with_data, at=1.0),
    method("CanaryRouter.to_json", canary_router_with_data),
    fn("CanaryRouter.from_json", CanaryRouter.from_json, canary_router_state(), canary_rollout(),
       rng=0),
    Case("CanaryRouter.save", lambda: in_scratch(canary_router_with_data().save),
         (scratch_path("canary.json"),)),
    fn("CanaryRouter.load", in_scratch(CanaryRouter.load), saved_canary_router(),
       canary_rollout(), rng=0),
    method("CanaryRouter.merge", lambda: canary_router_with_data(SHARED_ROLLOUT),
           canary_router_with_data(SHARED_ROLLOUT)),
    fn("kayenta_classify", abkit.kayenta_classify, X, Y, tolerance=0.25,
       confidence_level=0.98),
    fn("kayenta_score", abkit.kayenta_score,
       [{"name": "a", "classification": "Pass", "groups": ["g1"]}], {"g1": 100.0}),
    fn("kayenta_score_classification", rollout.kayenta_score_classification, 90.0),
    fn("argo_assess", rollout.argo_assess, {}, {"consecutiveError": 4, "count": 5},
       terminating=True),
    fn("unit_bucket", abkit.adapters.unit_bucket, "u1", "salt"),
    # -- frame -----------------------------------------------------------------------------------
    fn("Proportion", frame.Proportion, "converted", method="pooled"),
    fn("Mean", frame.Mean, "revenue", None, method="welch"),
    fn("RatioOfMeans", frame.RatioOfMeans, "revenue", "converted"),
    method("Proportion.test", lambda: frame.Proportion("c"), PS(10, 100), PS(12, 100)),
    method("Mean.test", lambda: frame.Mean("r"), MS(10, 1.0, 2.0), MS(12, 1.2, 2.0)),
    method("RatioOfMeans.test", lambda: frame.RatioOfMeans("r", "c"), (X, Y), (Y, X)),
    fn("Experiment", frame.Experiment, converted=frame.Proportion("converted")),
    method("Experiment.analyze", lambda: frame.Experiment(
        converted=frame.Proportion("converted"), revenue=frame.Mean("revenue")),
        EXPERIMENT_TABLE, control="a", confidence_level=0.95),
    fn("summarize", frame.summarize, EXPERIMENT_TABLE,
       metrics={"converted": frame.Proportion("converted")}),
    fn("to_frame", frame.to_frame, [abkit.proportions_test(PS(10, 100), PS(12, 100))]),
    fn("Quantile", frame.Quantile, "revenue", 0.9, alternative="two-sided", margin=0.0),
    method("Quantile.test", lambda: frame.Quantile("revenue", 0.5), quantile_stats(),
           quantile_stats(10.0)),
    fn("QuantileStats", frame.QuantileStats, 100, 0.5, 50.5, 40.0, 61.0, 0.95),
    fn("QuantileStats.from_values", frame.QuantileStats.from_values, X, 0.5),
    fn("QuantileStats.from_order_statistics", frame.QuantileStats.from_order_statistics, 10, 0.5,
       dict(enumerate(np.sort(X).tolist(), start=1))),
    fn("quantile_test", frame.quantile_test, quantile_stats(), quantile_stats(10.0),
       alternative="two-sided", confidence_level=0.95, margin=0.0),
    fn("quantile_ranks", abkit.frame.quantile.quantile_ranks, 100, 0.5),
    method("Experiment.simulate", lambda: frame.Experiment(revenue=frame.Mean("revenue")),
           EXPERIMENT_TABLE, n_simulations=20, treatment_share=0.5, alpha=0.05, rng=0),
    fn("frame.simulate.simulate", abkit.frame.simulate.simulate, {"revenue": frame.Mean("revenue")},
       {"revenue": "mean"}, EXPERIMENT_TABLE, n_simulations=20, rng=0),
    fn("ShadowTable", frame.ShadowTable, SHADOW_TABLE, request_id="request_id", model="model",
       label="label", latency="latency"),
    method("ShadowTable.model_index", shadow_table, "v2"),
    method("ShadowTable.paired_t_test", shadow_table, "v1", "v2", values="score"),
    method("ShadowTable.mcnemar_test", shadow_table, "v1", "v2", threshold=0.5),
    method("ShadowTable.delong_test", shadow_table, "v1", "v2"),
    method("ShadowTable.latency_ratio_test", shadow_table, "v1", "v2"),
    method("ShadowTable.diebold_mariano_test", shadow_table, "v1", "v2", values="score"),
    method("ShadowTable.wilcoxon_test", shadow_table, "v1", "v2", values="score", threshold=0.5,
           correction=True, method="approx", alternative="two-sided", confidence_level=0.95),
    method("ShadowTable.latency_quantiles", shadow_table, "v2", quantiles=(0.5, 0.9),
           confidence_level=0.95, method="weibull"),
    method("ShadowTable.compare_models", shadow_table, champion="v1", challengers=["v2"],
           metrics=["auc"], min_requests=10, n_resamples=100, rng=0),
    method("ShadowTable.monitor_stats", shadow_table,
           shadow.ShadowMonitor("v1", ["v2"], ["accuracy"], min_requests=10)),
    fn("OffPolicyTable", frame.OffPolicyTable, OPE_TABLE, target=["p0", "p1"], q_hat=["q0", "q1"],
       target_action="best", reward="reward", action="action", propensity="propensity"),
    method("OffPolicyTable.evaluate", ope_table, ["ips", "replay"], clip=None, confidence_level=0.95),
    method("OffPolicyTable.ips", ope_table, clip=None, confidence_level=0.95),
    method("OffPolicyTable.snips", ope_table, confidence_level=0.95),
    method("OffPolicyTable.direct_method", ope_table, confidence_level=0.95),
    method("OffPolicyTable.doubly_robust", ope_table, clip=None, confidence_level=0.95),
    method("OffPolicyTable.replay", ope_table, confidence_level=0.95),
    fn("evaluate_policy", frame.evaluate_policy, OPE_TABLE, target=["p0", "p1"], q_hat=["q0", "q1"],
       target_action="best", methods=None, clip=None, confidence_level=0.95, reward="reward",
       action="action", propensity="propensity"),
    fn("make_experiment", abkit.datasets.make_experiment, 200, conversion_rate=0.1, rng=0),
    # -- adapters --------------------------------------------------------------------------------
    fn("FixedSplitRouter", FixedSplitRouter, "exp", ("control", "treatment"), [0.5, 0.5],
       coverage=1.0),
    method("FixedSplitRouter.index", fixed_router, "u1"),
    method("FixedSplitRouter.route", fixed_router, "u1"),
    method("FixedSplitRouter.record", fixed_router, "u2", 1),
    method("FixedSplitRouter.summary", fixed_router),
    method("FixedSplitRouter.test", fixed_router, "treatment", control="control"),
    method("FixedSplitRouter.record_once", stored_router, "u1", 1, variant="treatment",
           idempotency_key="k1"),
    fn("MemoryStore", MemoryStore, ttl=60.0),
    fn("SQLiteStore", in_scratch(SQLiteStore), scratch_path("store.db"), ttl=60.0,
       synchronous="NORMAL", timeout=5.0),
    method("SQLiteStore.close", lambda: SQLiteStore(scratch_path("store.db"))),
    fn("open_store", in_scratch(open_store), "memory://"),
    method("Store.add", memory_store, "exp", {"treatment": {"n": 1.0}}, idempotency_key="k"),
    method("Store.seen", memory_store, "exp", "k"),
    method("Store.totals", memory_store, "exp"),
    method("Store.put_pending", memory_store, "exp", "r2", "{}"),
    method("Store.pop_pending", memory_store, "exp", "r1"),
    method("Store.close", memory_store),
    method("Store.get_value", memory_store, "exp", "rollout"),
    method("Store.set_value", memory_store, "exp", "rollout", "{}", version=0),
    fn("SegmentLog", in_scratch(SegmentLog), scratch_path("log"), durability="sync",
       flush_interval=1.0, segment_bytes=1 << 20),
    method("SegmentLog.write", segment_log, "route", unit_id="u1", variant="a"),
    method("SegmentLog.write_many", segment_log, [("route", {"unit_id": "u1"})]),
    method("SegmentLog.flush", segment_log),
    method("SegmentLog.close", segment_log),
    fn("LoggedRouter", LoggedRouter, FixedSplitRouter("exp"), segment_log(), max_remembered=10),
    method("LoggedRouter.route", logged_router, "u2", request_id="r2"),
    method("LoggedRouter.record", logged_router, "u1", 1, request_id="r1"),
    fn("RedisStreamLog", RedisStreamLog, "redis://localhost:6379/0", stream="log", maxlen=1000,
       prefix="abkit"),
    fn("read_log", frame.read_log, LOG_DIRECTORY, experiment="ranker", event="record"),
    fn("load_outcomes", frame.load_outcomes, LOG_DIRECTORY, "exp"),
    fn("load_decision_log", frame.load_decision_log, LOG_DIRECTORY, "ranker", variants=["a", "b"]),
    fn("ShadowRouter", ShadowRouter, "v1", ["v2"], experiment="shadow"),
    method("ShadowRouter.route", shadow_router, "r2"),
    method("ShadowRouter.record", shadow_router, "r1",
           {"predictions": {"v1": 0.2, "v2": 0.7}, "latencies": {"v1": 0.01, "v2": 0.02}}),
    method("ShadowRouter.record_label", recorded_shadow_router, "r1", 1),
    method("ShadowRouter.to_records", shadow_router),
    method("ShadowRouter.to_frame", shadow_router),
    method("ShadowRouter.summary", shadow_router),
    method("ShadowRouter.model_stats", shadow_router),
    method("ShadowRouter.record_once", lambda: ShadowRouter("v1", ["v2"], store=MemoryStore()), "r1",
           {"predictions": {"v1": 0.2, "v2": 0.7}, "label": 1}, idempotency_key="k1"),
    method("ShadowRouter.merge", recorded_shadow_router, ShadowRouter("v1", ["v2"])),
    method("ShadowRouter.to_shadow_log", recorded_shadow_router, duplicates="raise"),
    fn("BanditRouter", BanditRouter, "exp", policy(), ["a", "b", "c"], max_pending=100, rng=0),
    method("BanditRouter.route", bandit_router, "u1"),
    method("BanditRouter.record", lambda: _routed(bandit_router()), "u1", 1.0),
    method("BanditRouter.record_once", lambda: _routed(BanditRouter("exp", bandits.ThompsonBernoulli(3),
                                                                     ["a", "b", "c"], store=MemoryStore(),
                                                                     rng=0)),
           "u1", 1.0, idempotency_key="k1"),
    method("BanditRouter.allocation", bandit_router),
    method("BanditRouter.sync", lambda: BanditRouter("exp", bandits.ThompsonBernoulli(3), ["a", "b", "c"],
                                                     store=MemoryStore(),
                                                     rng=0)),
    method("BanditRouter.decision_log", bandit_router, clear=False),
    method("BanditRouter.to_frame", bandit_router),
    method("BanditRouter.merge", bandit_router, bandit_router()),
    method("BanditRouter.sync", bandit_router),  # no store: a no-op, no arguments to fuzz
    # -- flags and assignment ------------------------------------------------------------------
    fn("FeatureFlag", abkit.FeatureFlag, "flag", 0.5, {"country": "NZ"}, "seed"),
    method("FeatureFlag.position", lambda: abkit.FeatureFlag("flag", 0.5), "u1"),
    method("FeatureFlag.is_on", lambda: abkit.FeatureFlag("flag", 0.5), "u1", {"a": 1}),
    method("FeatureFlag.with_rollout", lambda: abkit.FeatureFlag("flag", 0.5), 0.7),
    method("FeatureFlag.kill", lambda: abkit.FeatureFlag("flag", 0.5)),
    method("FeatureFlag.to_dict", lambda: abkit.FeatureFlag("flag", 0.5)),
    fn("check_condition", abkit.flags.check_condition, {"country": "NZ"}),
    fn("js_string", abkit.flags.conditions.js_string, 0.1),
    fn("version_key", abkit.flags.conditions.version_key, "1.10.0-rc.1"),
    fn("ExperimentSpec", abkit.flags.ExperimentSpec, key="exp", variations=[0, 1],
       weights=[0.5, 0.5], coverage=1.0, hash_version=2, seed="s"),
    fn("ExperimentSpec.from_dict", abkit.flags.ExperimentSpec.from_dict, GB_EXPERIMENT),
    method("ExperimentSpec.to_dict", lambda: abkit.flags.ExperimentSpec.from_dict(GB_EXPERIMENT)),
    fn("run_experiment", abkit.flags.run_experiment, GB_EXPERIMENT, {"id": "u1", "country": "NZ"},
       features=GB_FEATURES, saved_groups={"g": ["u1"]}, forced_variations={"other": 1},
       url="http://example.com/?exp=1", qa_mode=False, enabled=True, sticky_buckets={}),
    fn("evaluate_feature", abkit.flags.evaluate_feature, "checkout", GB_FEATURES,
       {"id": "u1", "country": "NZ"}, saved_groups={"g": ["u1"]}, forced_variations={"exp": 1},
       url="http://example.com/", qa_mode=False, enabled=True, sticky_buckets={},
       contextual_bandits={}),
    fn("query_string_override", abkit.flags.query_string_override, "exp",
       "http://example.com/?exp=1", 2),
    fn("evaluate_condition", abkit.flags.evaluate_condition, {"country": "NZ"}, {"country": "NZ"}),
    fn("compile_condition", abkit.flags.compile_condition, {"id": {"$inGroup": "g"}}, {"g": ["u1"]}),
    fn("freeze", abkit.flags.compiled.freeze, {"a": [1, ("b", {"c": None})]}),
    fn("uses_saved_groups", abkit.flags.compiled.uses_saved_groups, {"$or": [{"id": {"$inGroup": "g"}}]}),
    fn("FeatureSet", abkit.flags.FeatureSet, GB_FEATURES, saved_groups={"g": ["u1"]}, contextual_bandits={}),
    method("FeatureSet.evaluate", lambda: abkit.flags.FeatureSet(GB_FEATURES, saved_groups={"g": ["u1"]}),
           "checkout", {"id": "u1", "country": "NZ"}, forced_variations={"exp": 1},
           url="http://example.com/", qa_mode=False, enabled=True, sticky_buckets={}),
    fn("bucket_ranges", abkit.assignment.bucket_ranges, 2, 1.0, [0.5, 0.5]),
    fn("choose_variation", abkit.assignment.choose_variation, 0.3, [[0.0, 0.5], [0.5, 1.0]]),
    fn("equal_weights", abkit.assignment.equal_weights, 3),
    fn("fnv1a32", abkit.assignment.fnv1a32, "abc"),
    fn("gb_hash", abkit.assignment.gb_hash, "seed", "user", 2),
    fn("in_namespace", abkit.assignment.in_namespace, "user", ["ns", 0.0, 0.5]),
    fn("optimizely_bucket", abkit.assignment.optimizely_bucket, "user", "exp"),
    fn("optimizely_ranges", abkit.assignment.optimizely_ranges, [0.5, 0.5], 1.0),
    fn("Split", abkit.assignment.Split, "exp", [0.5, 0.5], n_variants=2, coverage=0.9,
       namespace=("ns", 0.0, 1.0), seed="s", hash_version=2, hashing="growthbook",
       ranges=[(0.0, 0.4), (0.5, 0.9)]),
    method("Split.index", lambda: abkit.assignment.Split("exp", [0.5, 0.5]), "u1"),
    method("Split.position", lambda: abkit.assignment.Split("exp", [0.5, 0.5]), "u1"),
)


def _routed(router: BanditRouter) -> BanditRouter:
    router.route("u1")
    return router


# Public names with no case of their own, and why.
NOT_CALLED = {
    "AbkitError": "an exception class",
    "AbkitWarning": "a warning class",
    "ConvergenceError": "an exception class",
    "DegenerateDataWarning": "a warning class",
    "StateError": "an exception class",
    "Router": "a typing.Protocol: no instances",
    "Router.route": "a typing.Protocol's method: the routers' own are fuzzed",
    "Router.record": "a typing.Protocol's method: the routers' own are fuzzed",
    "ShadowLog": "its fields come checked from ShadowLog.from_arrays / load_shadow_log (fuzzed)",
    "BasePolicy": "abstract: its constructor raises TypeError; the five policies are fuzzed",
    "ContextualPolicy": "a base class (its docstring: use a subclass); LinUCB, LinTS and "
                        "LogisticTS are fuzzed, and its methods on a LinTS",
    # plumbing of compare_models/ShadowMonitor: takes arrays they checked (validate once, at
    # the boundary; DESIGN section 5)
    "Store": "abstract: MemoryStore, SQLiteStore and RedisStore are the stores; its methods "
             "are fuzzed on a MemoryStore",
    "RedisStore": "needs a Redis server (and the optional redis package); none in the suite",
    "RedisStore.close": "needs a Redis server: see RedisStore",
    # RedisStreamLog's constructor connects to nothing (fuzzed); its methods talk to the server
    **{f"RedisStreamLog.{name}": "needs a Redis server (tests/adapters/test_redis_log.py starts one)"
       for name in ("close", "drain", "entries", "flush", "write", "write_many")},
    "LogSink": "a typing.Protocol: no instances; SegmentLog and RedisStreamLog are fuzzed",
    **{f"LogSink.{name}": "a typing.Protocol's method: the sinks' own are fuzzed"
       for name in ("close", "flush", "write", "write_many")},
    "bayes_row": "internal plumbing of Experiment.analyze(engine='bayes'): inputs checked there",
    "service.config.Experiment": "a plain record build_experiments fills from a checked config",
    # abkit.service: the optional HTTP service extra (starlette, uvicorn)
    "create_app": "the optional service: builds a Starlette app; its own tests drive it over HTTP",
    "app_from_env": "the optional service: reads its config from the environment",
    "serve": "the optional service: starts a server process that does not return",
    "load_config": "the optional service: reads a config file; its own tests cover bad files",
    "build_experiments": "the optional service: takes the config load_config checked",
    "read_table": "internal plumbing of load_shadow_log and ShadowTable (both fuzzed)",
    "bootstrap_pvalue": "internal plumbing: inputs checked by its callers",
    "paired_replicates": "internal plumbing: inputs checked by its callers",
}
# Plotting takes the results and objects fuzzed above; it is the face layer and needs
# matplotlib, so it is left to its own tests.
NOT_CALLED_MODULES = ("abkit.plotting",)


# (callable, argument) pairs that still fail: each runs as a strict xfail. The reason reads
# "first failing battery value (+ how many more) -> its outcome". None left (issue 15).
KNOWN_FAILURES: dict[tuple[str, str], str] = {}


# ---------------------------------------------------------------------------------------------
# The runner.


class CallTimeoutError(Exception):
    """A call ran past ``WALL_LIMIT``."""


def _on_alarm(signum: int, frame_: Any) -> None:
    raise CallTimeoutError


def _snapshot(target: Callable[..., Any]) -> Any:
    owner = getattr(target, "__self__", None)
    if owner is None or inspect.isclass(owner):
        return None
    for dump in ("to_json", "to_dict"):
        if callable(getattr(owner, dump, None)) and dump != target.__name__:
            try:
                return json.dumps(getattr(owner, dump)(), sort_keys=True, default=repr)
            except Exception:
                return None
    return None


def names_argument(message: str, name: str) -> bool:
    """Whether ``message`` names ``name`` in backticks (or a part of it: `control.n`)."""
    return any(f"`{name}{end}" in message for end in ("`", ".", "["))


def documented_without_name(exc: Exception, name: str) -> bool:
    """A solver's ``ConvergenceError`` (the design is unreachable), or a ``StateError`` for a
    corrupt serialised state passed as ``text``/``state``: errors.py documents both."""
    return isinstance(exc, ConvergenceError) or (
        isinstance(exc, StateError) and name in ("text", "state"))


def run_call(case: Case, args: tuple[Any, ...], kwargs: Mapping[str, Any], name: str | None,
             ) -> str | None:
    """None when the outcome is allowed, else a description of the failure."""
    target = case.target()
    before = _snapshot(target)
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, WALL_LIMIT)
    start = time.process_time()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                target(*args, **kwargs)
            except CallTimeoutError:
                return f"no answer within {WALL_LIMIT} s"
            except (AbkitError, ValueError, TypeError) as exc:
                if name is None:
                    return f"valid call raised {type(exc).__name__}: {exc}"
                if not (names_argument(str(exc), name) or documented_without_name(exc, name)):
                    return f"{type(exc).__name__} not naming `{name}`: {exc}"
                if before is not None and _snapshot(target) != before:
                    return f"failed call changed the instance ({type(exc).__name__}: {exc})"
            except Exception as exc:
                return f"{type(exc).__name__}: {exc}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0.0)
        signal.signal(signal.SIGALRM, previous)
    elapsed = time.process_time() - start
    if elapsed > CALL_LIMIT:
        return f"took {elapsed:.1f} CPU s"
    foreign = [w for w in caught if not issubclass(w.category, AbkitWarning)]
    if foreign:
        return f"foreign warning {foreign[0].category.__name__}: {foreign[0].message}"
    return None


def parameters(case: Case) -> list[inspect.Parameter]:
    """The parameters a substitution can replace (not ``*args``/``**kwargs``)."""
    signature = inspect.signature(case.target())
    return [p for p in signature.parameters.values()
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def substitutions(case: Case) -> Iterator[tuple[str, str, tuple[Any, ...], dict[str, Any]]]:
    """(argument, battery label, args, kwargs) for every single-argument replacement."""
    params = parameters(case)
    for index, param in enumerate(params):
        positional = index < len(case.args)
        valid = case.args[index] if positional else case.kwargs.get(param.name, param.default)
        for label, make in BATTERY:
            bad = make(None if valid is inspect.Parameter.empty else valid)
            if bad is SKIP:
                continue
            args, kwargs = list(case.args), dict(case.kwargs)
            if positional:
                args[index] = bad
            elif param.kind is param.POSITIONAL_ONLY:
                continue
            else:
                kwargs[param.name] = bad
            yield param.name, label, tuple(args), kwargs


def _param(case: Case) -> Any:
    marks = [pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else []
    return pytest.param(case, id=case.name, marks=marks)


@pytest.fixture(scope="module", autouse=True)
def compiled_kernels() -> None:
    """Compile (or load from numba's cache) the kernels first, so a call's time is its own."""
    abkit.warmup()
    SQ.SPRT(0.1, 0.2).exact_operating_characteristics(0.15, n_max=50)


def failures_of(case: Case, only: str | None = None) -> list[str]:
    """Every disallowed outcome of the case's substitutions (of argument ``only``, if given)."""
    failures = []
    for name, label, args, kwargs in substitutions(case):
        if (only is None and (case.name, name) in KNOWN_FAILURES) or only not in (None, name):
            continue
        failure = run_call(case, args, kwargs, name)
        if failure is not None:
            failures.append(f"{case.name}({name}={label}): {failure}")
    return failures


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_public_call_answers_bad_input_clearly(case: Case) -> None:
    failure = run_call(case, case.args, case.kwargs, None)
    assert failure is None, f"{case.name}: the valid call failed: {failure}"
    failures = failures_of(case)
    assert not failures, "\n".join(failures)


CASES_BY_NAME = {case.name: case for case in CASES}


@pytest.mark.parametrize(
    ("name", "argument"),
    [pytest.param(name, argument, id=f"{name}-{argument}",
                  marks=pytest.mark.xfail(strict=True, reason=reason))
     for (name, argument), reason in KNOWN_FAILURES.items()],
)
def test_known_failure_still_fails(name: str, argument: str) -> None:
    """Each entry of KNOWN_FAILURES still fails (strict xfail: delete the entry once fixed)."""
    assert not failures_of(CASES_BY_NAME[name], argument)


def test_known_failures_name_real_arguments() -> None:
    for name, argument in KNOWN_FAILURES:
        assert argument in {p.name for p in parameters(CASES_BY_NAME[name])}, (name, argument)


# ---------------------------------------------------------------------------------------------
# Coverage: every public callable has a case.


def public_callables() -> dict[str, Any]:
    """Every callable named in a public module's ``__all__``, with its public methods."""
    found: dict[str, Any] = {}
    modules = [abkit] + [importlib.import_module(m.name) for m in
                         pkgutil.walk_packages(abkit.__path__, "abkit.")
                         if not any(part.startswith("_") for part in m.name.split("."))
                         and not m.name.startswith(("abkit.tests", *NOT_CALLED_MODULES))]
    for module in modules:
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            if inspect.ismodule(obj) or not callable(obj):
                continue
            if inspect.isclass(obj) and issubclass(obj, abkit._results.Result):
                continue  # results are built from computed values, not user input
            if name in found and not any(value is obj for value in found.values()):
                # the same name for a different object (abkit.warmup, abkit.bandits.warmup):
                # each needs its own case, so the later one is named with its module
                name = f"{module.__name__.removeprefix('abkit.')}.{name}"
            found.setdefault(name, obj)
            if inspect.isclass(obj) and not issubclass(obj, BaseException):
                for attribute, value in vars(obj).items():
                    if not attribute.startswith("_") and callable(getattr(obj, attribute)):
                        found.setdefault(f"{name}.{attribute}", value)
    return found


def test_every_public_callable_has_a_case() -> None:
    covered = {case.name for case in CASES} | set(NOT_CALLED)
    missing = sorted(set(public_callables()) - covered)
    assert not missing, f"add a valid call to CASES for: {missing}"


def test_battery_is_complete() -> None:
    assert set(BATTERY_LABELS) >= {"nan", "inf", "-inf", "zero", "minus-one", "1e300", "1e-300",
                                   "2**63", "10**400", "true", "str", "none", "empty-array",
                                   "0d-array", "shorter", "nested-list", "nan-series"}


def test_issue_15_reproducers(tmp_path: Any) -> None:
    """The crashes issue 15 lists, each now a clear error naming its argument."""
    from abkit._validation import check_real

    with pytest.raises(ValueError, match=r"^`alpha` must be finite; got 1\.000e\+400\.$"):
        check_real("alpha", 10**400)
    with pytest.raises(TypeError, match=r"^`sd` must be a real number or an array"):
        abkit.power_means(sd=None, mde=0.2, power=0.8)
    with pytest.raises(ValueError, match=r"^`n_control` must be at most 1e\+15; got 1e\+300\.$"):
        abkit.power_means(sd=1, n_control=1e300, mde=0.2)
    with pytest.raises(ValueError, match=r"^`information` must be at most 1000 looks; got 9223372036854775808\.$"):
        SQ.GroupSequentialDesign(2**63)
    empty = SHADOW_TABLE.iloc[:0]
    with pytest.raises(ValueError, match=r"^`champion` must name a model of the log: Unknown model 'v1'; "
                                         r"the log has models \[\]\.$"):
        abkit.compare_models(empty, champion="v1", challengers=["v2"])
    with pytest.raises(ValueError, match=r"^`table` has no column\(s\) \['request_id', 'model', 'score'\]"):
        abkit.compare_models(pd.DataFrame(), champion="v1", challengers=["v2"])
    with pytest.raises(FileNotFoundError, match=r"^`table` names no readable file"):
        abkit.compare_models(str(tmp_path / "missing.parquet"), champion="v1", challengers=["v2"])
    with pytest.raises(ValueError, match=r"^`latency` must be at least 0 \(a duration\); got -1\.0\.$"):
        shadow.latency_quantiles([-1.0, 2.0, 3.0])
