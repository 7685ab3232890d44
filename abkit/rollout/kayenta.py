"""Kayenta-compatible canary analysis: Netflix's Mann-Whitney classifier and weighted scorer.

This module reproduces the decisions of Kayenta's ``NetflixACAJudge`` (spinnaker/kayenta,
``kayenta-judge``) so that abkit can stand in for it, and so its rule can be compared with
:class:`abkit.rollout.CanaryJudge`:

- :func:`kayenta_classify` is ``MannWhitneyClassifier.classify``: NaN handling (``"remove"``
  drops NaN, ``"replace"`` sets them to 0), the no-data and identical-data shortcuts, Gaussian
  noise of scale ``1e-5 * value`` when both samples are constant, the asymptotic Wilcoxon
  interval for the location shift ``experiment - control`` found by Brent's root finder (R's
  ``zeroin`` with tolerance 1e-4, as Kayenta's ``BrentSolver``), and the rule
  ``High`` when the interval's lower end exceeds ``tolerance * |estimate|`` (``Low``
  symmetrically), gated by an effect size (mean ratio or CLES) and, for critical metrics, by
  critical thresholds.
- :func:`kayenta_score` is ``WeightedSumScorer``: per group the share of ``Pass`` among
  Pass/High/Low, weighted by group weights (groups without a weight share what is left of 100),
  groups without data count 100, a failing critical metric or 50% or more ``Nodata`` metrics
  give 0, and the score is rounded half-up to two decimals.
- :func:`kayenta_score_classification` is ``ThresholdScoreClassifier``.

Kayenta draws its noise from an unseeded generator; here it comes from a fixed seed, so results
are reproducible (the published cases do not depend on the draw).

Examples
--------
>>> r = kayenta_classify([1.0, 2.2, 1.1, 2.5, 3.0], [20.0, 22.0, 21.0, 25.0, 30.0])
>>> r.classification, r.critical
('High', False)
>>> kayenta_score([{"name": "latency", "classification": "Pass", "groups": ["g"]},
...                {"name": "errors", "classification": "High", "groups": ["g"]}], {}).summary_score
50.0
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import special

from abkit._ranks import placement_counts
from abkit._results import NAN_INTERVAL, ConfidenceInterval, Result
from abkit._rootfind import zeroin
from abkit._validation import (
    _to_float_array,
    check_choice,
    check_confidence_level,
    check_nonnegative,
    check_real,
)

__all__ = [
    "KayentaClassification",
    "KayentaScore",
    "kayenta_classify",
    "kayenta_score",
    "kayenta_score_classification",
]

DIRECTIONS = ("either", "increase", "decrease")
NAN_STRATEGIES = ("remove", "replace")
EFFECT_SIZE_MEASURES = ("meanRatio", "cles")
CLASSIFICATIONS = ("Pass", "High", "Low", "Nodata", "Error")
NODATA_THRESHOLD = 50.0
_NOISE_SEED = 0
_ZEROIN_TOL = 1e-4
_ZEROIN_MAXIT = 1000


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class KayentaClassification(Result):
    """Result of :func:`kayenta_classify`.

    ``deviation`` is Kayenta's reported mean ratio (experiment / control; NaN when either mean
    is 0), ``effect_size`` the measure used by the thresholds, ``estimate`` and ``ci`` the
    Hodges-Lehmann-type shift and its interval (NaN when the test was not needed).
    """

    classification: str
    critical: bool
    reason: str | None
    deviation: float
    effect_size: float
    estimate: float
    ci: ConfidenceInterval
    direction: str
    nan_strategy: str
    tolerance: float
    confidence_level: float
    effect_size_measure: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class KayentaScore(Result):
    """Result of :func:`kayenta_score`: the summary score (0-100) and each group's score."""

    summary_score: float
    group_scores: dict[str, float]
    reason: str | None
    n_metrics: int


def _prepare(name: str, values: Any, nan_strategy: str) -> npt.NDArray[np.float64]:
    array = _to_float_array(name, values)
    if np.isinf(array).any():
        raise ValueError(f"`{name}` must not contain infinite values; got {int(np.isinf(array).sum())}.")
    nan = np.isnan(array)
    if nan_strategy == "remove":
        return array[~nan]
    return np.where(nan, 0.0, array)


class _WilcoxonShift:
    """Kayenta's ``wilcoxonDiff``: the continuity-corrected, tie-corrected standardised rank sum
    of ``x - mu`` against ``y``. It is computed from the distinct values and their counts with
    binary searches, which gives the same numbers as ranking the pooled sample at every call
    (Kayenta's way) in O(u log u) for u distinct values.

    Kept apart from :mod:`abkit._ranks` on purpose: it reproduces Kayenta's ``MannWhitney``
    (a port of R's ``wilcox.test``) step by step, with its tie correction recomputed at each
    shift, and the root finder is called with it dozens of times on presorted distinct values,
    where the shared placements would sort the pooled sample at every call."""

    def __init__(self, x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]) -> None:
        self.x, x_counts = np.unique(x, return_counts=True)
        self.y, y_counts = np.unique(y, return_counts=True)
        self.x_counts = x_counts.astype(np.float64)
        self.y_counts = y_counts.astype(np.float64)
        self.y_below = np.concatenate([[0.0], np.cumsum(self.y_counts)])
        self.m, self.n = float(x.size), float(y.size)
        self.y_ties = float(np.sum(self.y_counts**3 - self.y_counts))

    def __call__(self, mu: float, quantile: float) -> float:
        shifted = self.x - mu  # stays sorted: subtraction is monotone (equal values may merge)
        left = np.searchsorted(self.y, shifted, side="left")
        right = np.searchsorted(self.y, shifted, side="right")
        below = self.y_below[left]
        equal = self.y_below[right] - below
        dz = float(np.dot(self.x_counts, below + 0.5 * equal)) - self.m * self.n / 2.0
        starts = np.flatnonzero(np.r_[True, shifted[1:] != shifted[:-1]])
        tx = np.add.reduceat(self.x_counts, starts)
        ty = equal[starts]
        pooled = tx + ty
        ties = float(np.sum(pooled**3 - pooled - (ty**3 - ty))) + self.y_ties
        total = self.m + self.n
        sigma = math.sqrt(self.m * self.n / 12.0 * (total + 1.0 - ties / (total * (total - 1.0))))
        if sigma == 0.0:
            raise ArithmeticError("cannot compute confidence interval when all observations are tied")
        correction = 0.5 * (dz > 0) - 0.5 * (dz < 0)
        return (dz - correction) / sigma - quantile


def _shift_interval(
    experiment: npt.NDArray[np.float64], control: npt.NDArray[np.float64], confidence_level: float
) -> tuple[float, float, float]:
    """(low, high, estimate) of the shift ``experiment - control`` as Kayenta's ``MannWhitney``."""
    diff = _WilcoxonShift(experiment, control)
    mu_min = float(experiment.min() - control.max())
    mu_max = float(experiment.max() - control.min())

    def root(zq: float) -> float:
        f_lower, f_upper = diff(mu_min, zq), diff(mu_max, zq)
        if f_lower <= 0.0:
            return mu_min
        if f_upper >= 0.0:
            return mu_max
        return zeroin(lambda mu: diff(mu, zq), mu_min, mu_max, f_lower, f_upper, tol=_ZEROIN_TOL,
                      maxiter=_ZEROIN_MAXIT)

    # Kept out of abkit._inference on purpose: this reproduces Netflix Kayenta's MannWhitney (a port
    # of R's wilcox.test) bit for bit, including its quantile qnorm(alpha / 2) (negative) and the
    # roots at -z and z, so that the root finder sees the same brackets as Kayenta's BrentSolver.
    z = float(special.ndtri((1.0 - confidence_level) / 2.0))
    low, high = root(-z), root(z)
    estimate = zeroin(lambda mu: diff(mu, 0.0), mu_min, mu_max, diff(mu_min, 0.0), diff(mu_max, 0.0),
                      tol=_ZEROIN_TOL, maxiter=_ZEROIN_MAXIT)
    return low, high, estimate


def _mean_ratio(control: npt.NDArray[np.float64], experiment: npt.NDArray[np.float64]) -> float:
    c, e = float(np.mean(control)), float(np.mean(experiment))
    return math.nan if c == 0.0 or e == 0.0 else e / c


def _cles(control: npt.NDArray[np.float64], experiment: npt.NDArray[np.float64]) -> float:
    """Vargha-Delaney A: P(experiment > control) + P(tie) / 2 (the pairs counted exactly, then one
    division)."""
    counts, _ = placement_counts(experiment, control)
    return float(counts.sum()) / (experiment.size * control.size)


def _noisy(values: npt.NDArray[np.float64], rng: np.random.Generator) -> npt.NDArray[np.float64]:
    return values + rng.standard_normal(values.size) * (values[0] * 1e-5)


def _check_pair(name: str, value: Any) -> tuple[float, float]:
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2:
        raise TypeError(f"`{name}` must be a pair (decrease, increase); got {value!r}.")
    return check_real(f"{name}[0]", value[0]), check_real(f"{name}[1]", value[1])


def kayenta_classify(
    control: Any,
    experiment: Any,
    *,
    direction: str = "either",
    nan_strategy: str = "remove",
    critical: bool = False,
    tolerance: float = 0.25,
    confidence_level: float = 0.98,
    effect_size_measure: str = "meanRatio",
    effect_size_thresholds: tuple[float, float] = (1.0, 1.0),
    critical_thresholds: tuple[float, float] = (1.0, 1.0),
) -> KayentaClassification:
    """Classify one metric as Kayenta's Mann-Whitney classifier does.

    Parameters
    ----------
    control, experiment
        The metric's values for the baseline and the canary (Kayenta's control and experiment:
        usually one value per time interval). NaN values are allowed.
    direction
        Which changes count: ``"either"``, ``"increase"`` (only High) or ``"decrease"``.
    nan_strategy
        ``"remove"`` drops NaN values (an empty side gives ``"Nodata"``); ``"replace"`` sets
        them to 0 (an empty side then gives ``"Pass"``, as in Kayenta).
    critical
        Whether the metric is critical (a critical failure fails the whole canary).
    tolerance
        The allowed shift as a fraction of the absolute Hodges-Lehmann estimate.
    confidence_level
        Of the Wilcoxon interval (Kayenta's judge uses 0.98).
    effect_size_measure
        ``"meanRatio"`` (experiment mean / control mean) or ``"cles"`` (probability that an
        experiment value exceeds a control value).
    effect_size_thresholds, critical_thresholds
        ``(allowed_decrease, allowed_increase)``: High needs ``effect >= allowed_increase``,
        Low needs ``effect <= allowed_decrease`` (ignored when the effect is NaN).

    Returns
    -------
    KayentaClassification
        ``classification`` is ``"Pass"``, ``"High"``, ``"Low"``, ``"Nodata"`` or ``"Error"``
        (when the interval cannot be computed).

    Examples
    --------
    >>> kayenta_classify([1.0, 2.0, 3.0], [], nan_strategy="remove").classification
    'Nodata'
    >>> kayenta_classify([1.0, 2.0, 3.0], [], nan_strategy="replace").classification
    'Pass'
    """
    direction = check_choice("direction", direction, DIRECTIONS)
    nan_strategy = check_choice("nan_strategy", nan_strategy, NAN_STRATEGIES)
    if not isinstance(critical, bool | np.bool_):
        raise TypeError(f"`critical` must be a bool; got {critical!r}.")
    tolerance = check_nonnegative("tolerance", tolerance)
    confidence_level = check_confidence_level(confidence_level)
    effect_size_measure = check_choice("effect_size_measure", effect_size_measure, EFFECT_SIZE_MEASURES)
    effect_low, effect_high = _check_pair("effect_size_thresholds", effect_size_thresholds)
    critical_low, critical_high = _check_pair("critical_thresholds", critical_thresholds)
    c = _prepare("control", control, nan_strategy)
    e = _prepare("experiment", experiment, nan_strategy)
    options: dict[str, Any] = {"direction": direction, "nan_strategy": nan_strategy, "tolerance": tolerance,
               "confidence_level": confidence_level, "effect_size_measure": effect_size_measure}

    def early(classification: str, is_critical: bool, reason: str | None) -> KayentaClassification:
        return KayentaClassification(classification=classification, critical=is_critical, reason=reason,
                                     deviation=1.0, effect_size=math.nan, estimate=math.nan, ci=NAN_INTERVAL,
                                     **options)

    if e.size == 0 or c.size == 0:
        if nan_strategy == "remove":
            return early("Nodata", bool(critical), "Missing data for the metric")
        return early("Pass", False, None)
    if e.size == c.size and np.array_equal(np.sort(e), np.sort(c)):
        return early("Pass", False, "The canary and baseline data are identical")
    if np.unique(np.concatenate([e, c])).size == 1:
        return early("Pass", False, None)

    if np.unique(e).size == 1 and np.unique(c).size == 1:
        rng = np.random.default_rng(_NOISE_SEED)
        e, c = _noisy(e, rng), _noisy(c, rng)
    try:
        low, high, estimate = _shift_interval(e, c, confidence_level)
    except ArithmeticError as exc:
        return KayentaClassification(classification="Error", critical=bool(critical),
                                     reason=f"Metric classification failed: {exc}",
                                     deviation=math.nan, effect_size=math.nan, estimate=math.nan,
                                     ci=NAN_INTERVAL, **options)
    deviation = _mean_ratio(c, e)
    effect = _cles(c, e) if effect_size_measure == "cles" else deviation
    bound = tolerance * abs(estimate)
    high_ok = math.isnan(effect) or effect >= effect_high
    low_ok = math.isnan(effect) or effect <= effect_low
    if direction in ("increase", "either") and low > bound and high_ok:
        label = "High"
    elif direction in ("decrease", "either") and high < -bound and low_ok:
        label = "Low"
    else:
        label = "Pass"
    is_critical = critical and (
        (label == "High" and (math.isnan(effect) or effect >= critical_high))
        or (label == "Low" and (math.isnan(effect) or effect <= critical_low))
    )
    reason = None if label == "Pass" else f"The metric was classified as {label}" + (
        " (Critical)" if is_critical else "")
    return KayentaClassification(classification=label, critical=bool(is_critical), reason=reason,
                                 deviation=deviation, effect_size=effect, estimate=estimate,
                                 ci=ConfidenceInterval(low, high), **options)


def _round_half_up(value: float) -> float:
    return float(Decimal(repr(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _check_metric(index: int, metric: Any) -> tuple[str, str, tuple[str, ...], bool]:
    if not isinstance(metric, Mapping):
        raise TypeError(f"`metrics[{index}]` must be a mapping; got {type(metric).__name__}.")
    for key in ("name", "classification", "groups"):
        if key not in metric:
            raise ValueError(f"`metrics[{index}]` must have the key {key!r}; got keys {sorted(metric)}.")
    label = check_choice(f"metrics[{index}].classification", metric["classification"], CLASSIFICATIONS)
    groups = metric["groups"]
    if isinstance(groups, str) or not isinstance(groups, Sequence) or not groups:
        raise ValueError(f"`metrics[{index}].groups` must be a non-empty list of names; got {groups!r}.")
    return str(metric["name"]), label, tuple(str(g) for g in groups), bool(metric.get("critical", False))


def kayenta_score(metrics: Sequence[Mapping[str, Any]], group_weights: Mapping[str, float]) -> KayentaScore:
    """Kayenta's weighted-sum score of classified metrics.

    Parameters
    ----------
    metrics
        One mapping per metric with ``name``, ``classification`` (as from
        :func:`kayenta_classify`), ``groups`` (names) and optionally ``critical`` (default
        False).
    group_weights
        Weight (percent) per group; groups without a weight share ``100 - sum(weights)``
        equally.

    Returns
    -------
    KayentaScore

    Examples
    --------
    >>> kayenta_score([{"name": "a", "classification": "Pass", "groups": ["g1"]},
    ...                {"name": "b", "classification": "High", "groups": ["g2"]}],
    ...               {"g1": 75.0, "g2": 25.0}).summary_score
    75.0
    """
    if isinstance(metrics, str | bytes) or not isinstance(metrics, Sequence):
        raise TypeError(f"`metrics` must be a list of mappings; got {type(metrics).__name__}.")
    if not isinstance(group_weights, Mapping):
        raise TypeError(f"`group_weights` must be a mapping; got {type(group_weights).__name__}.")
    weights = {str(k): check_nonnegative(f"group_weights[{k!r}]", v) for k, v in group_weights.items()}
    parsed = [_check_metric(i, m) for i, m in enumerate(metrics)]
    if not parsed:
        raise ValueError("`metrics` must have at least 1 metric; got 0.")
    labels: dict[str, list[str]] = {}
    for _, label, groups, _ in parsed:
        for group in groups:
            labels.setdefault(group, []).append(label)
    scores: dict[str, float] = {}
    no_data: dict[str, bool] = {}
    for group, group_labels in labels.items():
        counted = [lab for lab in group_labels if lab in ("Pass", "High", "Low")]
        no_data[group] = not counted
        scores[group] = 0.0 if not counted else counted.count("Pass") / len(counted) * 100.0

    failures = [name for name, label, _, is_critical in parsed if is_critical and label != "Pass"]
    nodata_share = 100.0 * sum(label == "Nodata" for _, label, _, _ in parsed) / len(parsed)
    if failures:
        return KayentaScore(summary_score=0.0, group_scores=scores, n_metrics=len(parsed),
                            reason=f"Canary failed: critical metric {failures[0]!r} did not pass")
    if nodata_share >= NODATA_THRESHOLD:
        return KayentaScore(summary_score=0.0, group_scores=scores, n_metrics=len(parsed),
                            reason=f"Canary failed: {NODATA_THRESHOLD:g}% or more metrics returned NODATA")
    unweighted = [g for g in scores if g not in weights]
    shared = (100.0 - sum(weights.values())) / len(unweighted) if unweighted else 0.0
    total = 0.0
    for group, score in scores.items():
        total += (100.0 if no_data[group] else score) * (weights.get(group, shared) / 100.0)
    return KayentaScore(summary_score=_round_half_up(total), group_scores=scores, reason=None,
                        n_metrics=len(parsed))


def kayenta_score_classification(
    score: float, *, pass_threshold: float = 95.0, marginal_threshold: float = 75.0
) -> str:
    """Kayenta's threshold rule for a summary score: ``"Pass"``, ``"Marginal"`` or ``"Fail"``.

    Examples
    --------
    >>> kayenta_score_classification(80.0)
    'Marginal'
    """
    score = check_real("score", score)
    pass_threshold = check_real("pass_threshold", pass_threshold)
    marginal_threshold = check_real("marginal_threshold", marginal_threshold)
    if marginal_threshold > pass_threshold:
        raise ValueError(
            f"`marginal_threshold` must be at most `pass_threshold` ({pass_threshold}); "
            f"got {marginal_threshold}."
        )
    if score >= pass_threshold:
        return "Pass"
    return "Marginal" if score >= marginal_threshold else "Fail"
