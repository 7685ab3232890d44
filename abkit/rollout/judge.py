"""A canary judge: per-metric tests against margins, Holm across metrics, valid over repeated looks.

Each metric gets the test suited to it, and two one-sided questions (as in Spotify's
"risk-aware" decision rules, Schultzberg et al. 2024):

- **harm**: is the canary worse than the baseline at all? (H0: no worse). Rejecting it rolls
  back. The harm p-values of the metrics are Holm-adjusted together.
- **non-inferiority**: is the canary worse by less than the margin? (H0: worse by at least the
  margin). Rejecting it for *every* metric lets the rollout continue (an intersection-union
  test, which needs no multiplicity adjustment).

Otherwise the verdict is ``"inconclusive"``: hold the traffic step and look again. A metric
with fewer than ``min_samples`` units in either arm is inconclusive and is left out of the
Holm family.

Tests per check (``validity="spending"``): ``error_rate`` uses :func:`abkit.proportions_test`
(pooled z for harm, Farrington-Manning restricted variance with ``margin=`` for non-inferiority;
the margin is in absolute points); ``mean`` uses :func:`abkit.means_test` (Welch) for harm and the
delta method on the log ratio of means for the relative margin; ``latency`` compares a quantile
on the log scale, each arm's standard error taken from the width of its distribution-free
order-statistic interval (binomial ranks; Price and Bonett 2002 do this for medians), with a
relative margin; ``rank`` uses the Mann-Whitney probability P(canary > baseline) with DeLong's
placement variance and a margin on that probability.

**Repeated looks.** A ramp looks at the data several times, often more than planned (a step is
held until the judge can decide). Two modes keep the chance of a false rollback (and of a false
pass) over all looks at most ``alpha``:

- ``validity="always-valid"`` (the default): every look uses the asymptotic confidence sequence
  of Waudby-Smith et al. (2023) as :func:`abkit.sequential.confidence_sequence` computes it
  (GrowthBook's normal mixture tuned at ``tuning_n`` units), so any number of looks, unknown in
  advance, is fine. Error rates use that function directly (absolute difference; the
  non-inferiority test takes the variance at the margin, as a score test does); means its
  relative difference; latency quantiles and ranks the same sequence
  (:func:`abkit.sequential.always_valid.asymptotic_cs`) around their asymptotically linear
  estimates: the sample quantile (Bahadur's representation, whose remainder is
  ``O(n^-3/4 log n)`` almost surely, small enough for the strong approximation the asymptotic
  sequence needs) and the Mann-Whitney U-statistic (Hoeffding's projection). The sequence's
  two-sided p-value serves each one-sided test, which makes them conservative (about
  ``alpha / 2`` each); Holm's adjustment stays valid because it needs only that each p-value
  be valid at every look.
- ``validity="spending"``: look ``k`` tests at ``alpha * spending[k]`` (equal shares of
  ``alpha`` over ``planned_looks`` by default: a Bonferroni split), valid by the union bound
  whatever the dependence between looks, but only for looks counted in advance.

Seeded simulations chose the default (``abkit/tests/rollout/test_simulation.py`` and
``test_validity.py``; error rate +50%, p99 latency +20%, variance doubled). With the four looks
of a ramp known in advance, spending catches the error-rate regression more often (98% of 50
canaries against 87% of 200 always valid; both catch every latency regression). Over 50 looks
both catch it equally (38 of 40 canaries each) and neither falsely rolls back more than ``alpha``
(none of 160 good canaries always valid; peeking at fixed-sample tests instead: 26%). But a
ramp holds each step until the judge decides, so the number of looks is not known in advance:
there spending must end in a rollback when its planned looks run out (41 of 60 good canaries
with 8 planned looks) while the always-valid judge never does (56 of 60 promoted within 40
looks, 1 false rollback).

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(1)
>>> judge = CanaryJudge([CanaryJudge.error_rate("errors", margin=0.01),
...                      CanaryJudge.latency("latency", quantile=0.5, margin=0.05)],
...                     alpha=0.05, planned_looks=1)
>>> base = {"errors": rng.random(4000) < 0.01, "latency": rng.lognormal(4.0, 0.3, 4000)}
>>> good = {"errors": rng.random(4000) < 0.01, "latency": rng.lognormal(4.0, 0.3, 4000)}
>>> judge.judge(base, good).decision
'pass'
>>> bad = {"errors": rng.random(4000) < 0.03, "latency": rng.lognormal(4.0, 0.3, 4000)}
>>> judge.judge(base, bad).decision
'rollback'
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from abkit._inference import clip_interval, pvalue_from_statistic, tail_quantile
from abkit._ranks import placements
from abkit._results import NAN_INTERVAL, ConfidenceInterval, Result
from abkit._validation import (
    as_float_array,
    check_choice,
    check_int,
    check_open_unit,
    check_positive,
)
from abkit.errors import DegenerateDataWarning
from abkit.means import means_test
from abkit.multiple import adjust_pvalues
from abkit.proportions import as_proportion_stats, proportions_test
from abkit.sequential.always_valid import asymptotic_cs, confidence_sequence
from abkit.sequential.boundaries import normal_mixture_rho
from abkit.stats import MeanStats, ProportionStats

__all__ = ["CanaryJudge", "CanaryVerdict", "MetricCheck", "MetricVerdict"]

CHECK_KINDS = ("error_rate", "mean", "latency", "rank")
WORSE = ("higher", "lower")
DECISIONS = ("pass", "rollback", "inconclusive")
VALIDITIES = ("always-valid", "spending")


@dataclasses.dataclass(frozen=True, slots=True)
class MetricCheck:
    """One metric's check; build it with ``CanaryJudge.error_rate``, ``.latency``, ``.mean`` or
    ``.rank``.

    ``margin`` is the tolerated worsening: absolute points for ``error_rate``, a fraction of
    the baseline for ``latency`` and ``mean``, and a probability above 1/2 for ``rank``.
    ``worse`` says which direction is bad.
    """

    name: str
    kind: str
    margin: float
    worse: str = "higher"
    quantile: float = 0.5
    min_samples: int = 100

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"`name` must be a non-empty string; got {self.name!r}.")
        check_choice("kind", self.kind, CHECK_KINDS)
        check_choice("worse", self.worse, WORSE)
        margin = check_positive("margin", self.margin)
        if self.kind == "error_rate" and margin >= 1.0:
            raise ValueError(f"`margin` must be in (0, 1) for an error rate (absolute points); got {margin}.")
        if self.kind == "rank" and margin >= 0.5:
            raise ValueError(f"`margin` must be in (0, 0.5) for a rank check; got {margin}.")
        if self.kind in ("latency", "mean") and self.worse == "lower" and margin >= 1.0:
            raise ValueError(f"`margin` must be in (0, 1) for a relative drop; got {margin}.")
        check_open_unit("quantile", self.quantile)
        check_int("min_samples", self.min_samples, minimum=2)
        object.__setattr__(self, "margin", margin)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class MetricVerdict(Result):
    """One metric's verdict at one look.

    ``effect`` is canary minus baseline on the check's scale (absolute for error rates, relative
    for latency and means, ``P(canary > baseline) - 1/2`` for ranks); ``ci`` is the two-sided
    interval whose ends the two tests compare with 0 and the margin: at level
    ``1 - 2 * alpha_look`` when spending, the confidence sequence at ``1 - alpha`` when always
    valid. ``ci`` stays inside the effect's range: clipped to [-1, 1] for error rates (as R's
    ``prop.test``), [-1/2, 1/2] for ranks and at -1 below for relative changes.
    ``pvalue_harm_adjusted`` is Holm-adjusted across the metrics tested at this look.
    """

    name: str
    kind: str
    decision: str
    reason: str
    effect: float
    ci: ConfidenceInterval
    margin: float
    worse: str
    pvalue_harm: float
    pvalue_harm_adjusted: float
    pvalue_noninferiority: float
    n_baseline: int
    n_canary: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class CanaryVerdict(Result):
    """The judge's answer at one look: ``decision`` and the per-metric verdicts and reasons.

    ``alpha_look`` is the level of this look's tests; ``alpha_spent`` the error budget used up to
    now (all of ``alpha`` from the first look in always-valid mode, which never needs more).
    """

    decision: str
    reasons: tuple[str, ...]
    metrics: tuple[MetricVerdict, ...]
    look: int
    planned_looks: int | None
    alpha_look: float
    alpha_spent: float
    validity: str

    @property
    def metric(self) -> dict[str, MetricVerdict]:
        """The per-metric verdicts by name."""
        return {m.name: m for m in self.metrics}


@dataclasses.dataclass(frozen=True, slots=True)
class _Test:
    """What every check returns: an estimate, harm and non-inferiority p-values and an interval."""

    effect: float
    pvalue_harm: float
    pvalue_ni: float
    ci: ConfidenceInterval
    n_baseline: int
    n_canary: int
    problem: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class _Estimate:
    """A check's estimate on its test scale: ``effect`` with standard error ``se``; ``null_ni`` is
    the (signed) effect at the margin; ``log_scale`` says the effect is a log ratio (reported as a
    relative change)."""

    effect: float
    se: float
    null_ni: float
    log_scale: bool
    n_baseline: int
    n_canary: int
    problem: str = ""


# The range of each check's effect: a relative change of a positive mean or quantile is at least
# -1 and P(canary > baseline) - 1/2 lies in [-1/2, 1/2]. Normal intervals around the estimate can
# leave it by construction (the always-valid relative mean and the rank check); they are clipped
# to it as R's prop.test clips a difference of rates and pROC an AUC. (Error rates, in [-1, 1],
# are clipped where they are computed.)
_EFFECT_RANGE = {"mean": (-1.0, math.inf), "latency": (-1.0, math.inf), "rank": (-0.5, 0.5)}


def _problem(base_n: int, canary_n: int, problem: str) -> _Estimate:
    return _Estimate(math.nan, math.nan, math.nan, False, base_n, canary_n, problem)


def _report(est: _Estimate, half: float, harm: float, ni: float) -> _Test:
    """The test's result with the effect and the interval ``effect +- half`` on the report scale."""
    low, high = est.effect - half, est.effect + half
    effect = est.effect
    if est.log_scale:
        effect, low, high = math.expm1(effect), math.expm1(low), math.expm1(high)
    return _Test(effect, harm, ni, ConfidenceInterval(low, high), est.n_baseline, est.n_canary)


def _finish_z(est: _Estimate, sign: float, tail: float) -> _Test:
    """Fixed-sample normal tests: harm (H0: sign*effect <= 0) and non-inferiority (H0: the effect is
    at the margin or beyond), with the two-sided interval at ``1 - 2 * tail``."""
    harm = pvalue_from_statistic(sign * est.effect / est.se, "greater")
    ni = pvalue_from_statistic(sign * (est.effect - est.null_ni) / est.se, "less")
    return _report(est, tail_quantile(tail) * est.se, harm, ni)


def _finish_always_valid(est: _Estimate, sign: float, alpha: float, rho: float) -> _Test:
    """Always-valid tests from the asymptotic confidence sequence (:mod:`abkit.sequential`).

    The sequence's p-value for ``H0: effect = theta0`` is two-sided; used for a one-sided null only
    when the estimate lies on the far side of ``theta0`` (else 1), it stays valid for the whole
    one-sided null: there the distance to any null value is larger than to ``theta0``.
    """
    var, total = est.se**2, est.n_baseline + est.n_canary
    half, p_zero = asymptotic_cs(est.effect, var, total, rho, alpha)
    _, p_margin = asymptotic_cs(est.effect - est.null_ni, var, total, rho, alpha)
    harm = float(p_zero) if sign * est.effect > 0.0 else 1.0
    ni = float(p_margin) if sign * (est.effect - est.null_ni) < 0.0 else 1.0
    return _report(est, float(half), harm, ni)


def _error_rate_pvalues(check: MetricCheck, base: ProportionStats,
                        canary: ProportionStats, tail: float) -> _Test:
    """Spending mode: pooled z for harm, Farrington-Manning for non-inferiority."""
    sign = 1.0 if check.worse == "higher" else -1.0
    harm_alt, ni_alt = ("greater", "less") if sign > 0 else ("less", "greater")
    with warnings.catch_warnings():
        # A baseline without errors makes the *relative* fields NaN; only p-values are used here.
        warnings.simplefilter("ignore", DegenerateDataWarning)
        events = base.successes + canary.successes
        if events in (0, base.n + canary.n):
            harm = 1.0
        else:
            harm = proportions_test(base, canary, alternative=harm_alt).pvalue
        ni_result = proportions_test(base, canary, alternative=ni_alt, margin=sign * check.margin,
                                     method="pooled", confidence_level=1.0 - tail)
    effect = canary.rate - base.rate
    se = math.sqrt(base.rate * (1 - base.rate) / base.n + canary.rate * (1 - canary.rate) / canary.n)
    ci = _z_interval(effect, se, tail) if se > 0 else ConfidenceInterval(effect, effect)
    return _Test(effect, harm, ni_result.pvalue, clip_interval(ci, -1.0, 1.0), base.n, canary.n)


def _z_interval(estimate: float, se: float, level_tail: float) -> ConfidenceInterval:
    half = tail_quantile(level_tail) * se
    return ConfidenceInterval(estimate - half, estimate + half)


def _error_rate_always_valid(check: MetricCheck, base: ProportionStats, canary: ProportionStats,
                             alpha: float, tuning_n: float, rho: float) -> _Test:
    """Always-valid error-rate tests: :func:`abkit.sequential.confidence_sequence` for harm and
    the interval; non-inferiority evaluates the variance at the margin (the canary's rate set to
    the baseline's plus the margin, as a score test does), so a canary without errors can pass."""
    sign = 1.0 if check.worse == "higher" else -1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateDataWarning)  # no variance: handled below
        cs = confidence_sequence(base, canary, alpha=alpha, tuning_n=tuning_n)
    effect, null = canary.rate - base.rate, sign * check.margin
    # No variance with the canary worse means every baseline unit passed and every canary unit failed.
    harm = 1.0 if sign * effect <= 0.0 else 0.0 if math.isnan(cs.pvalue) else cs.pvalue
    at_margin = min(max(base.rate + null, 0.0), 1.0)
    var_at_margin = base.rate * (1.0 - base.rate) / base.n + at_margin * (1.0 - at_margin) / canary.n
    ni = 1.0
    if sign * (effect - null) < 0.0 and var_at_margin > 0.0:
        ni = float(asymptotic_cs(effect - null, var_at_margin, base.n + canary.n, rho, alpha)[1])
    ci = ConfidenceInterval(effect, effect) if math.isnan(cs.se) else cs.ci
    return _Test(effect, harm, ni, ci, base.n, canary.n)


def _mean_sequence_estimate(check: MetricCheck, base: MeanStats, canary: MeanStats, alpha: float,
                            tuning_n: float) -> _Estimate:
    """Always-valid mode: the relative difference of means and its delta-method standard error as
    :func:`abkit.sequential.confidence_sequence` computes them (``difference="relative"``)."""
    sign = 1.0 if check.worse == "higher" else -1.0
    cs = confidence_sequence(base, canary, alpha=alpha, tuning_n=tuning_n, difference="relative")
    return _Estimate(cs.effect, cs.se, sign * check.margin, False, base.n, canary.n)


def _mean_estimate(check: MetricCheck, base: MeanStats, canary: MeanStats) -> _Estimate:
    """Log ratio of means and its delta-method standard error."""
    sign = 1.0 if check.worse == "higher" else -1.0
    if base.mean <= 0.0 or canary.mean <= 0.0:
        return _problem(base.n, canary.n, "the relative margin needs positive means in both arms")
    if base.var == 0.0 and canary.var == 0.0:
        return _problem(base.n, canary.n, "both arms have zero variance")
    with np.errstate(over="ignore"):  # extreme means: the ratio or the CVs overflow to infinity
        ratio = np.float64(canary.mean) / np.float64(base.mean)
        cv2 = ((np.sqrt(base.var) / base.mean) ** 2 / base.n
               + (np.sqrt(canary.var) / canary.mean) ** 2 / canary.n)
    if not (np.isfinite(ratio) and ratio > 0.0 and np.isfinite(cv2)):
        return _problem(base.n, canary.n,
                        "the ratio of means or its standard error is out of floating-point range")
    log_ratio = math.log(ratio)
    se = math.sqrt(cv2)
    return _Estimate(log_ratio, se, math.log1p(sign * check.margin), True, base.n, canary.n)


def _log_quantile_se(values: npt.NDArray[np.float64], q: float) -> tuple[float, float] | None:
    """log of the q-quantile and its standard error from the 95% order-statistic interval."""
    n = values.size
    z = 1.959963984540054
    spread = z * math.sqrt(n * q * (1.0 - q))
    low_rank, high_rank = math.floor(n * q - spread), math.ceil(n * q + spread)
    if low_rank < 1 or high_rank > n:
        return None
    ordered = np.partition(values, (low_rank - 1, high_rank - 1))
    lo, hi = ordered[low_rank - 1], ordered[high_rank - 1]
    estimate = float(np.quantile(values, q))
    return math.log(estimate), (math.log(hi) - math.log(lo)) / (2.0 * z)


def _latency_estimate(check: MetricCheck, base: npt.NDArray[np.float64],
                      canary: npt.NDArray[np.float64]) -> _Estimate:
    """Log ratio of the quantiles; each arm's standard error from its order-statistic interval."""
    sign = 1.0 if check.worse == "higher" else -1.0
    if (base <= 0).any() or (canary <= 0).any():
        return _problem(base.size, canary.size,
                        "latency values must be positive (the comparison is on the log scale)")
    fb, fc = _log_quantile_se(base, check.quantile), _log_quantile_se(canary, check.quantile)
    if fb is None or fc is None:
        return _problem(base.size, canary.size,
                        f"too few values for an interval of the {check.quantile:g} quantile")
    se = math.hypot(fb[1], fc[1])
    if se == 0.0:
        return _problem(base.size, canary.size,
                        "the quantile's interval has zero width in both arms (heavily tied data)")
    return _Estimate(fc[0] - fb[0], se, math.log1p(sign * check.margin), True, base.size, canary.size)


def _rank_estimate(check: MetricCheck, base: npt.NDArray[np.float64],
                   canary: npt.NDArray[np.float64]) -> _Estimate:
    """``P(canary > baseline) - 1/2`` with DeLong's placement variance."""
    sign = 1.0 if check.worse == "higher" else -1.0
    v_canary, v_base = placements(canary, base)
    auc = float(v_canary.mean())
    se = math.sqrt(float(np.var(v_canary, ddof=1)) / canary.size + float(np.var(v_base, ddof=1)) / base.size)
    if se == 0.0:
        return _problem(base.size, canary.size, "the two samples do not overlap or are all tied")
    return _Estimate(auc - 0.5, se, sign * check.margin, False, base.size, canary.size)


class CanaryJudge:
    """Compare a canary with its baseline, metric by metric, at one look of a rollout.

    Parameters
    ----------
    checks
        The metrics' checks (see :meth:`error_rate`, :meth:`latency`, :meth:`mean`,
        :meth:`rank`); names must be unique.
    alpha
        The chance of a false rollback (or a false pass) over all looks together.
    planned_looks
        How many looks the rollout may take (ramp steps plus holds). ``None`` (only with
        ``validity="always-valid"``) means no limit: look as often as you like.
    spending
        Share of ``alpha`` spent at each look (positive, summing to 1); equal shares by default.
        Only for ``validity="spending"``.
    nan_policy
        ``"raise"`` or ``"omit"`` for NaN values in raw samples.
    validity
        How repeated looks keep the error at ``alpha``: ``"always-valid"`` (the default: every look
        uses the asymptotic confidence sequence of :func:`abkit.sequential.confidence_sequence`,
        valid however many looks are taken) or ``"spending"`` (a Bonferroni split of ``alpha``
        over ``planned_looks`` fixed-sample tests).
    tuning_n
        Always-valid mode: the total number of units (both arms) at which the confidence
        sequence is tightest (GrowthBook's tuning parameter). It changes power, not validity.

    Examples
    --------
    >>> judge = CanaryJudge([CanaryJudge.error_rate("errors", margin=0.01)], planned_looks=4,
    ...                     validity="spending")
    >>> judge.look_alpha(1), judge.look_alpha(4)
    (0.0125, 0.0125)
    >>> CanaryJudge([CanaryJudge.error_rate("errors")], planned_looks=None).look_alpha(50)
    0.05
    """

    def __init__(
        self,
        checks: Sequence[MetricCheck],
        *,
        alpha: float = 0.05,
        planned_looks: int | None = 5,
        spending: Sequence[float] | None = None,
        nan_policy: str = "raise",
        validity: str = "always-valid",
        tuning_n: float = 10_000.0,
    ) -> None:
        if isinstance(checks, MetricCheck) or not isinstance(checks, Sequence) or not checks:
            raise TypeError("`checks` must be a non-empty list of MetricCheck; got "
                            f"{type(checks).__name__}.")
        for check in checks:
            if not isinstance(check, MetricCheck):
                raise TypeError(f"`checks` must contain MetricCheck objects; got {type(check).__name__}.")
        names = [c.name for c in checks]
        if len(set(names)) != len(names):
            raise ValueError(f"`checks` must have unique names; got {names}.")
        self.checks = tuple(checks)
        self.alpha = check_open_unit("alpha", alpha)
        self.validity = check_choice("validity", validity, VALIDITIES)
        self.tuning_n = check_positive("tuning_n", tuning_n)
        # GrowthBook's mixing parameter rho = sqrt(c / tuning_n) is 1 / sqrt(Howard et al.'s rho
        # tuned at v_opt = tuning_n): the same normal mixture, in two parametrisations.
        self._rho = 1.0 / math.sqrt(normal_mixture_rho(self.tuning_n, self.alpha))
        self.planned_looks: int | None = None
        if planned_looks is not None:
            self.planned_looks = check_int("planned_looks", planned_looks, minimum=1)
        elif self.validity == "spending":
            raise ValueError("`planned_looks` must be a whole number >= 1 with validity='spending'; "
                             "got None.")
        self.nan_policy = check_choice("nan_policy", nan_policy, ("raise", "omit"))
        self.spending: tuple[float, ...] = ()
        if self.validity == "always-valid":
            if spending is not None:
                raise ValueError("`spending` applies only to validity='spending'; "
                                 "got validity='always-valid'.")
            return
        assert self.planned_looks is not None  # checked above for spending
        if spending is None:
            weights = np.full(self.planned_looks, 1.0 / self.planned_looks)
        else:
            weights = as_float_array("spending", spending)
            if weights.size != self.planned_looks:
                raise ValueError(f"`spending` must have planned_looks ({self.planned_looks}) entries; "
                                 f"got {weights.size}.")
            if (weights <= 0).any() or not math.isclose(float(weights.sum()), 1.0, rel_tol=1e-9):
                raise ValueError(f"`spending` must be positive and sum to 1; got {weights.tolist()}.")
        self.spending = tuple(float(w) for w in weights)

    @staticmethod
    def error_rate(name: str, margin: float = 0.01, *, worse: str = "higher",
                   min_samples: int = 200) -> MetricCheck:
        """An error (or any 0/1) rate; ``margin`` in absolute points (0.01 = one point)."""
        return MetricCheck(name, "error_rate", margin, worse, 0.5, min_samples)

    @staticmethod
    def latency(name: str, quantile: float = 0.99, margin: float = 0.05, *, worse: str = "higher",
                min_samples: int | None = None) -> MetricCheck:
        """A quantile of positive values (tail latency); ``margin`` relative (0.05 = 5%).

        ``min_samples`` defaults to ``ceil(10 / min(q, 1 - q))`` per arm, enough for ten values
        beyond the quantile.
        """
        q = check_open_unit("quantile", quantile)
        default = 10.0 / min(q, 1.0 - q) - 1e-9
        if min_samples is None and default > 1e12:  # more samples per arm than any rollout sees
            raise ValueError(f"`quantile` {q:g} needs {default:.3g} samples per arm by default (ten "
                             "beyond the quantile); pass `min_samples` or a quantile further from 0 and 1.")
        default = math.ceil(default)
        return MetricCheck(name, "latency", margin, worse, q, default if min_samples is None else min_samples)

    @staticmethod
    def mean(name: str, margin: float = 0.05, *, worse: str = "higher", min_samples: int = 30) -> MetricCheck:
        """The mean of a positive metric; ``margin`` relative to the baseline mean."""
        return MetricCheck(name, "mean", margin, worse, 0.5, min_samples)

    @staticmethod
    def rank(name: str, margin: float = 0.05, *, worse: str = "higher", min_samples: int = 30) -> MetricCheck:
        """Mann-Whitney: ``P(canary > baseline) - 1/2`` (ties count half) against ``margin``."""
        return MetricCheck(name, "rank", margin, worse, 0.5, min_samples)

    def look_alpha(self, look: int) -> float:
        """The level of the tests at ``look`` (1-based): ``alpha * spending[look - 1]`` when
        spending, the whole ``alpha`` at every look when always valid."""
        look = check_int("look", look, minimum=1)
        if self.planned_looks is not None and look > self.planned_looks:
            raise ValueError(f"`look` must be at most planned_looks ({self.planned_looks}); got {look}.")
        if self.validity == "always-valid":
            return self.alpha
        return self.alpha * self.spending[look - 1]

    def _arm_data(self, check: MetricCheck, arm: str, data: Mapping[str, Any]) -> Any:
        if check.name not in data:
            raise ValueError(f"`{arm}` must have data for metric {check.name!r}; got keys {sorted(data)}.")
        value = data[check.name]
        label = f"{arm}[{check.name!r}]"
        if check.kind == "error_rate":
            if isinstance(value, ProportionStats):
                return value
            return ProportionStats.from_samples(as_float_array(label, value, nan_policy=self.nan_policy,
                                                               min_size=0))
        if check.kind == "mean" and isinstance(value, MeanStats):
            return value
        array = as_float_array(label, value, nan_policy=self.nan_policy, min_size=0)
        return MeanStats.from_samples(array) if check.kind == "mean" and array.size else array

    def _run(self, check: MetricCheck, base: Any, canary: Any, alpha_look: float) -> _Test:
        n_base = base.n if isinstance(base, ProportionStats | MeanStats) else int(np.size(base))
        n_canary = canary.n if isinstance(canary, ProportionStats | MeanStats) else int(np.size(canary))
        if min(n_base, n_canary) < check.min_samples:
            return _Test(math.nan, math.nan, math.nan, NAN_INTERVAL, n_base,
                         n_canary, f"needs at least {check.min_samples} units per arm; got {n_base} "
                                   f"(baseline) and {n_canary} (canary)")
        sequential = self.validity == "always-valid"
        if check.kind == "error_rate":
            base, canary = as_proportion_stats("baseline", base), as_proportion_stats("canary", canary)
            if sequential:
                return _error_rate_always_valid(check, base, canary, self.alpha, self.tuning_n, self._rho)
            return _error_rate_pvalues(check, base, canary, alpha_look)
        if check.kind == "mean":
            est = _mean_estimate(check, base, canary)
            if sequential and not est.problem:  # positive means and some variance: checked above
                est = _mean_sequence_estimate(check, base, canary, self.alpha, self.tuning_n)
        elif check.kind == "latency":
            est = _latency_estimate(check, base, canary)
        else:
            est = _rank_estimate(check, base, canary)
        if est.problem:
            return _Test(math.nan, math.nan, math.nan, NAN_INTERVAL,
                         est.n_baseline, est.n_canary, est.problem)
        sign = 1.0 if check.worse == "higher" else -1.0
        if sequential:
            test = _finish_always_valid(est, sign, self.alpha, self._rho)
            return dataclasses.replace(test, ci=clip_interval(test.ci, *_EFFECT_RANGE[check.kind]))
        test = _finish_z(est, sign, alpha_look)
        test = dataclasses.replace(test, ci=clip_interval(test.ci, *_EFFECT_RANGE[check.kind]))
        if check.kind == "mean":  # harm by Welch's test on the means themselves
            harm = means_test(base, canary, alternative="greater" if sign > 0 else "less").pvalue
            test = dataclasses.replace(test, pvalue_harm=harm)
        return test

    def judge(self, baseline: Mapping[str, Any], canary: Mapping[str, Any], *,
              look: int = 1) -> CanaryVerdict:
        """The verdict at ``look``: ``"rollback"``, ``"pass"`` or ``"inconclusive"``.

        Parameters
        ----------
        baseline, canary
            Per metric name: raw values (0/1 outcomes for error rates, one value per request
            otherwise), or ``ProportionStats`` (error rates) / ``MeanStats`` (means).
        look
            Which look of the rollout this is (1-based, at most ``planned_looks``). The
            always-valid mode uses it only for the report: its tests need no look count.

        Returns
        -------
        CanaryVerdict
        """
        alpha_look = self.look_alpha(look)
        for arm, data in (("baseline", baseline), ("canary", canary)):
            if not isinstance(data, Mapping):
                raise TypeError(
                    f"`{arm}` must be a mapping of metric name to data; got {type(data).__name__}.")
        tests = [self._run(c, self._arm_data(c, "baseline", baseline), self._arm_data(c, "canary", canary),
                           alpha_look) for c in self.checks]
        tested = [i for i, t in enumerate(tests) if not t.problem]
        adjusted = np.full(len(tests), math.nan)
        if tested:
            adjusted[tested] = adjust_pvalues([tests[i].pvalue_harm for i in tested], method="holm")
        verdicts = []
        for check, test, p_adj in zip(self.checks, tests, adjusted, strict=True):
            verdicts.append(self._metric_verdict(check, test, float(p_adj), alpha_look))
        decisions = [v.decision for v in verdicts]
        if "rollback" in decisions:
            decision = "rollback"
        elif all(d == "pass" for d in decisions):
            decision = "pass"
        else:
            decision = "inconclusive"
        return CanaryVerdict(
            decision=decision,
            reasons=tuple(f"{v.name}: {v.reason}" for v in verdicts),
            metrics=tuple(verdicts),
            look=look,
            planned_looks=self.planned_looks,
            alpha_look=alpha_look,
            alpha_spent=self.alpha * float(sum(self.spending[:look])) if self.spending else self.alpha,
            validity=self.validity,
        )

    @staticmethod
    def _metric_verdict(check: MetricCheck, test: _Test, p_adj: float, alpha_look: float) -> MetricVerdict:
        scale = "points" if check.kind == "error_rate" else "relative" if check.kind in ("latency", "mean") \
            else "probability"
        if test.problem:
            decision, reason = "inconclusive", test.problem
        elif p_adj <= alpha_look:
            decision = "rollback"
            reason = (f"canary is worse (effect {test.effect:+.4g} {scale}, Holm-adjusted p = {p_adj:.3g} "
                      f"<= {alpha_look:.3g})")
        elif test.pvalue_ni <= alpha_look:
            decision = "pass"
            reason = f"canary is not worse by {check.margin:g} {scale} or more (p = {test.pvalue_ni:.3g})"
        else:
            decision = "inconclusive"
            reason = (f"cannot yet rule out a worsening of {check.margin:g} {scale} "
                      f"(effect {test.effect:+.4g}, p = {test.pvalue_ni:.3g} > {alpha_look:.3g})")
        return MetricVerdict(name=check.name, kind=check.kind, decision=decision, reason=reason,
                             effect=test.effect, ci=test.ci, margin=check.margin, worse=check.worse,
                             pvalue_harm=test.pvalue_harm, pvalue_harm_adjusted=p_adj,
                             pvalue_noninferiority=test.pvalue_ni, n_baseline=test.n_baseline,
                             n_canary=test.n_canary)

