"""The champion/challenger decision: promote, keep the champion, or keep watching.

:func:`compare_models` runs one paired test per (challenger, metric) on a :class:`ShadowLog`,
each asking the metric's question: *superiority* (is the challenger better by more than
``margin``?) or *non-inferiority* (is it worse by less than ``margin``?). Each question gets a
one-sided p-value for "the challenger meets the goal" and one for "it does not"; Holm's method
adjusts each family across all challengers and metrics. A challenger is

- ``"inconclusive"`` while a metric has fewer than ``min_requests`` paired requests, or its
  tail is too thin to estimate (latency quantiles), whatever the p-values say;
- ``"keep"`` (keep the champion) when some metric is shown to miss its goal;
- ``"promote"`` when every metric is shown to meet its goal;
- ``"inconclusive"`` otherwise, naming the metrics still undecided.

Intervals are two-sided at ``1 - alpha`` and not adjusted; the verdicts use adjusted p-values.
Differences of accuracies and of AUCs are clipped to [-1, 1], their range (as R's ``prop.test``
clips a difference of rates).
A fixed-sample verdict should be read once, at the planned size; to watch a shadow daily use
:class:`abkit.shadow.ShadowMonitor` (always-valid inference).

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(3)
>>> n = 4000
>>> y = rng.integers(0, 2, n)
>>> champion = 1 / (1 + np.exp(-(2 * y - 1) * 0.8 - rng.normal(0, 1.5, n)))
>>> challenger = 1 / (1 + np.exp(-(2 * y - 1) * 1.3 - rng.normal(0, 1.5, n)))
>>> log = ShadowLog.from_arrays(request_id=np.tile(np.arange(n), 2),
...                             model=np.repeat(["v1", "v2"], n),
...                             score=np.concatenate([champion, challenger]), label=np.tile(y, 2))
>>> result = compare_models(log, champion="v1", challengers=["v2"], metrics=["auc", "log_loss"])
>>> result.verdicts[0].decision
'promote'
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from abkit._bootstrap import percentile_interval
from abkit._inference import clip_interval, pvalue_from_statistic
from abkit._progress import progress_bar, show_progress
from abkit._results import NAN_INTERVAL, ConfidenceInterval, Result
from abkit._validation import (
    RngLike,
    check_choice,
    check_instance,
    check_int,
    check_nonnegative,
    check_open_unit,
    check_rng,
    check_string,
)
from abkit.multiple import adjust_pvalues
from abkit.shadow._table import html_table, text_table
from abkit.shadow.auc import check_binary_labels, delong_test
from abkit.shadow.latency import INSUFFICIENT_TAIL_DATA, latency_ratio_test, order_statistic_ranks
from abkit.shadow.log import LOAD_HINT, ShadowLog
from abkit.shadow.paired import paired_t_test
from abkit.shadow.resample import bootstrap_pvalue, paired_replicates

_PROGRESS_VALUES = 20_000_000  # resampled requests above which a watched comparison shows a bar

__all__ = ["ChallengerVerdict", "MetricComparison", "ShadowComparison", "ShadowMetric", "compare_models"]

GOALS = ("superiority", "non-inferiority")
WORSE = ("higher", "lower")
EPS = 1e-15


def log_loss(y: npt.NDArray[np.float64], p: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    p = np.clip(p, EPS, 1.0 - EPS)
    return -(y * np.log(p) + (1.0 - y) * np.log1p(-p))


def squared_error(y: npt.NDArray[np.float64], p: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return (p - y) ** 2


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ShadowMetric:
    """One metric of the decision and the question asked of it.

    Exactly one way of computing it is set: ``kind`` for the built-ins (``"auc"``: DeLong;
    ``"accuracy"``: paired test on per-request correctness at ``threshold``; ``"latency"``: the
    paired geometric ratio, ``margin`` relative), ``loss`` (per-request values, paired t test),
    ``statistic`` (any metric of ``(y_true, values)``, paired bootstrap), or ``quantile`` (a
    latency quantile, paired bootstrap, "insufficient tail data" when the tail is thin).

    ``worse`` (``"higher"`` or ``"lower"``) says which direction of the metric is bad.
    ``margin`` (at least 0, in the metric's units) is the improvement required for
    ``"superiority"`` or the loss tolerated for ``"non-inferiority"``: a tolerance in the
    ``worse`` direction, as in a rollout's metric check.

    Examples
    --------
    >>> ShadowMetric.builtin("log_loss", goal="non-inferiority", margin=0.01).worse
    'higher'
    """

    name: str
    worse: str
    goal: str = "superiority"
    margin: float = 0.0
    kind: str = ""
    loss: Callable[..., Any] | None = None
    statistic: Callable[..., float] | None = None
    quantile: float | None = None
    threshold: float = 0.5

    def __post_init__(self) -> None:
        check_choice("worse", self.worse, WORSE)
        check_choice("goal", self.goal, GOALS)
        check_nonnegative("margin", self.margin)
        check_string("kind", self.kind)
        ways = [bool(self.kind), self.loss is not None, self.statistic is not None, self.quantile is not None]
        if sum(ways) != 1:
            raise ValueError(
                f"Metric {self.name!r} must set exactly one of `kind`, `loss`, `statistic`, `quantile`; "
                f"got {sum(ways)}."
            )
        if self.kind:
            check_choice("kind", self.kind, ("auc", "accuracy", "latency"))
        if self.quantile is not None:
            check_open_unit("quantile", self.quantile)

    @classmethod
    def builtin(cls, name: str, *, goal: str = "superiority", margin: float = 0.0) -> ShadowMetric:
        """``"auc"``, ``"accuracy"``, ``"log_loss"``, ``"brier"``, ``"latency"`` or
        ``"latency_p50"``/``"latency_p90"``/``"latency_p95"``/``"latency_p99"``."""
        quantiles = {"latency_p50": 0.5, "latency_p90": 0.9, "latency_p95": 0.95, "latency_p99": 0.99}
        builtins: dict[str, dict[str, Any]] = {
            "auc": {"kind": "auc", "worse": "lower"},
            "accuracy": {"kind": "accuracy", "worse": "lower"},
            "log_loss": {"loss": log_loss, "worse": "higher"},
            "brier": {"loss": squared_error, "worse": "higher"},
            "latency": {"kind": "latency", "worse": "higher"},
            **{k: {"quantile": q, "worse": "higher"} for k, q in quantiles.items()},
        }
        check_choice("name", name, tuple(builtins))
        return cls(name=name, goal=goal, margin=margin, **builtins[name])


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class MetricComparison(Result):
    """One (challenger, metric) row: ``effect = challenger - champion`` in the metric's units.

    ``threshold`` is the null value of ``effect`` for the goal (``+margin`` or ``-margin`` in the
    good direction). ``pvalue_noninferiority`` tests "the challenger is better than the
    threshold" (the goal is met: with goal ``"superiority"`` this is the superiority test) and
    ``pvalue_harm`` "it is worse than the threshold" (the goal is missed), each Holm-adjusted in
    ``*_adjusted``. ``decision`` is what this metric argues for: ``"promote"`` (goal met),
    ``"keep"`` (goal missed) or ``"inconclusive"``; ``reason`` is ``"goal met"``,
    ``"goal missed"``, ``"undecided"``, ``"insufficient data"`` or ``"insufficient tail data"``.
    """

    challenger: str
    metric: str
    goal: str
    worse: str
    champion_value: float
    challenger_value: float
    effect: float
    ci: ConfidenceInterval
    threshold: float
    pvalue_noninferiority: float
    pvalue_noninferiority_adjusted: float
    pvalue_harm: float
    pvalue_harm_adjusted: float
    n: int
    method: str
    decision: str
    reason: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class ChallengerVerdict(Result):
    """``decision`` is ``"promote"``, ``"keep"`` (the champion) or ``"inconclusive"``, with reasons."""

    challenger: str
    decision: str
    reasons: tuple[str, ...]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class ShadowComparison(Result):
    """Result of :func:`compare_models`; prints and renders as a table.

    :meth:`to_records` gives one flat row per (challenger, metric);
    ``abkit.frame.to_frame(result)`` turns those rows into a pandas DataFrame.
    """

    champion: str
    verdicts: tuple[ChallengerVerdict, ...]
    rows: tuple[MetricComparison, ...]
    alpha: float
    min_requests: int
    adjustment: str

    _HEADERS = ("challenger", "metric", "goal", "effect", "ci", "threshold", "p_adj", "n", "reason")

    def _table_rows(self) -> list[list[Any]]:
        return [[r.challenger, r.metric, r.goal, r.effect, r.ci, r.threshold,
                 r.pvalue_noninferiority_adjusted, r.n, r.reason] for r in self.rows]

    def _title(self) -> str:
        return (f"{type(self).__name__} vs champion {self.champion!r} "
                f"(alpha={self.alpha:g}, {self.adjustment})")

    def __repr__(self) -> str:
        table = text_table(self._title(), self._HEADERS, self._table_rows())
        verdicts = [f"  {v.challenger}: {v.decision.upper()} - " + "; ".join(v.reasons)
                    for v in self.verdicts]
        return "\n".join([table, "Decisions", *verdicts])

    def _repr_html_(self) -> str:
        verdicts = html_table("Decisions", ("challenger", "decision", "reasons"),
                              [[v.challenger, v.decision, "; ".join(v.reasons)] for v in self.verdicts])
        return html_table(self._title(), self._HEADERS, self._table_rows()) + verdicts

    def to_records(self) -> list[dict[str, Any]]:
        """One row per (challenger, metric) with the challenger's decision (``challenger_decision``);
        ``ci`` split in ``ci_low``/``ci_high``."""
        overall = {v.challenger: v.decision for v in self.verdicts}
        records = []
        for row in self.rows:
            record = {k: v for k, v in row._items() if k != "ci"}
            record.update(ci_low=row.ci.low, ci_high=row.ci.high, challenger_decision=overall[row.challenger])
            records.append(record)
        return records


@dataclasses.dataclass(frozen=True, slots=True)
class _Evaluation:
    champion_value: float
    challenger_value: float
    effect: float
    ci: ConfidenceInterval
    p_above: float  # H1: effect > threshold
    p_below: float  # H1: effect < threshold
    n: int
    method: str
    reason: str = ""


def _from_test(
    result: Any, df: float | None, values: tuple[float, float], method: str, n: int
) -> _Evaluation:
    """Both one-sided p-values from a two-sided test whose statistic is centred at the threshold."""
    reason = "" if math.isfinite(result.statistic) else "insufficient data"
    return _Evaluation(
        *values, result.effect, result.ci, pvalue_from_statistic(result.statistic, "greater", df),
        pvalue_from_statistic(result.statistic, "less", df), n, method, reason,
    )




def empty_evaluation(n: int, method: str = "", reason: str = "insufficient data") -> _Evaluation:
    """A cell that cannot be tested (too few requests, or a thin tail)."""
    return _Evaluation(math.nan, math.nan, math.nan, NAN_INTERVAL, math.nan, math.nan, n, method, reason)


def delong_evaluation(auc: Any, n: int) -> _Evaluation:
    """A cell from a :class:`abkit.shadow.DeLongTestResult` on ``n`` paired requests."""
    return _from_test(auc, None, (auc.champion_auc, auc.challenger_auc), "DeLong", n)


def latency_evaluation(ratio: Any, geometric: tuple[float, float], n: int) -> _Evaluation:
    """A cell from a latency ratio test and the two geometric mean latencies."""
    return _from_test(ratio, n - 1.0, geometric, "paired geometric ratio", n)


def paired_evaluation(metric: ShadowMetric, test: Any) -> _Evaluation:
    """A cell from the paired t test of per-request correctness or loss."""
    method = "paired t on correctness" if metric.kind == "accuracy" else "paired t"
    evaluation = _from_test(test, test.df, (test.champion_mean, test.challenger_mean), method, test.n)
    if metric.kind == "accuracy":  # a difference of accuracies lies in [-1, 1] (as R's prop.test)
        evaluation = dataclasses.replace(evaluation, ci=clip_interval(evaluation.ci, -1.0, 1.0))
    return evaluation


def evaluate(log: ShadowLog, champion: str, challenger: str, metric: ShadowMetric, threshold: float,
              alpha: float, seed: int, n_resamples: int) -> _Evaluation:
    """One (challenger, metric) cell from the log's per-request values."""
    latency = metric.kind == "latency" or metric.quantile is not None
    y, a, b = log.paired(champion, challenger, field="latency" if latency else "score",
                         labelled=not latency)
    n = int(a.size)
    level = 1.0 - alpha
    if n < 2:
        return empty_evaluation(n)
    if metric.kind == "auc":
        return delong_evaluation(delong_test(y, a, b, margin=threshold, confidence_level=level), n)
    if metric.kind == "latency":
        ratio = latency_ratio_test(a, b, margin=threshold, confidence_level=level)
        geometric = (float(np.exp(np.log(a).mean())), float(np.exp(np.log(b).mean())))
        return latency_evaluation(ratio, geometric, n)
    if metric.quantile is not None:
        q = metric.quantile
        low, high, _ = order_statistic_ranks(n, q, level)
        if low < 1 or high > n:
            return empty_evaluation(n, "paired bootstrap", INSUFFICIENT_TAIL_DATA)

        def quantile(values: npt.NDArray[np.float64]) -> float:
            return float(np.quantile(values, q, method="weibull"))

        return _bootstrap(quantile, a, b, None, threshold, alpha, seed, n_resamples)
    if metric.statistic is not None:
        return _bootstrap(metric.statistic, a, b, y, threshold, alpha, seed, n_resamples)
    a, b = per_request_values(metric, y, a, b)
    return paired_evaluation(metric, paired_t_test(a, b, margin=threshold, confidence_level=level))


def per_request_values(
    metric: ShadowMetric, y: npt.NDArray[np.float64], a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Per-request correctness (``"accuracy"``) or loss of the champion and the challenger."""
    if metric.kind == "accuracy":
        truth = check_binary_labels("label", y)
        return (((a >= metric.threshold) == truth).astype(float),
                ((b >= metric.threshold) == truth).astype(float))
    assert metric.loss is not None
    return np.asarray(metric.loss(y, a), float), np.asarray(metric.loss(y, b), float)


def _bootstrap(statistic: Callable[..., float], a: npt.NDArray[np.float64], b: npt.NDArray[np.float64],
               y: npt.NDArray[np.float64] | None, threshold: float, alpha: float, seed: int,
               n_resamples: int) -> _Evaluation:
    values = (float(statistic(a) if y is None else statistic(y, a)),
              float(statistic(b) if y is None else statistic(y, b)))
    replicates = paired_replicates(statistic, a, b, y, n_resamples, np.random.default_rng(seed))
    ci = percentile_interval(replicates, 1.0 - alpha, "two-sided")
    return _Evaluation(*values, values[1] - values[0], ci, bootstrap_pvalue(replicates, threshold, "greater"),
                       bootstrap_pvalue(replicates, threshold, "less"), int(a.size), "paired bootstrap")


def goal_threshold(metric: ShadowMetric) -> float:
    """The null value of ``challenger - champion`` for the metric's goal and margin."""
    better = metric.margin if metric.goal == "superiority" else -metric.margin
    return (better if metric.worse == "lower" else -better) + 0.0  # no -0.0 in tables


BUILTIN_METRICS = ("auc", "accuracy", "log_loss", "brier", "latency", "latency_p50", "latency_p90",
                   "latency_p95", "latency_p99")  # the names ShadowMetric.builtin knows


def as_metric(metric: Any) -> ShadowMetric:
    if isinstance(metric, ShadowMetric):
        return metric
    if isinstance(metric, str):
        return ShadowMetric.builtin(check_choice("metrics", metric, BUILTIN_METRICS))
    raise TypeError(f"`metrics` must hold metric names or ShadowMetric objects; got {type(metric).__name__}.")


def compare_models(
    log: ShadowLog,
    *,
    champion: str,
    challengers: Sequence[str],
    metrics: Sequence[str | ShadowMetric] = ("auc", "log_loss"),
    alpha: float = 0.05,
    min_requests: int = 500,
    n_resamples: int = 2000,
    rng: RngLike = 0,
    progress: bool | None = None,
) -> ShadowComparison:
    """Compare each challenger with the champion on every metric and give a verdict.

    Parameters
    ----------
    log
        A :class:`ShadowLog`. A table goes through :func:`abkit.frame.load_shadow_log` first
        (or call :func:`abkit.frame.compare_models`, which takes the table).
    champion, challengers
        Model names in the log.
    metrics
        Built-in names (see :meth:`ShadowMetric.builtin`; superiority with margin 0) or
        :class:`ShadowMetric` objects with their own goal and margin.
    alpha
        Family-wise error rate across all challengers and metrics (Holm).
    min_requests
        Paired requests (labelled, for label metrics) a metric needs before any verdict.
    n_resamples, rng
        For the bootstrap metrics.
    progress
        Show a tqdm bar over the (challenger, metric) comparisons; ``None`` (default): when
        ``n_resamples`` times the requests times the comparisons is above 2 * 10^7 and standard
        error is a terminal or a notebook. ``TQDM_DISABLE=1`` hides it.

    Returns
    -------
    ShadowComparison

    Examples
    --------
    >>> from abkit.datasets import make_shadow_log
    >>> from abkit.frame import load_shadow_log
    >>> table = make_shadow_log(3000, models={"v1": 1.0, "v2": 1.0}, rng=4)   # equally good
    >>> log = load_shadow_log(table)
    >>> result = compare_models(log, champion="v1", challengers=["v2"], metrics=["auc"])
    >>> result.verdicts[0].decision, result.rows[0].reason
    ('inconclusive', 'undecided')
    """
    log = check_instance("log", log, ShadowLog, hint=LOAD_HINT)
    options = check_options(log.model_index, champion, challengers, metrics, alpha, min_requests,
                            n_resamples, rng)
    specs = options.metrics
    total = len(challengers) * len(specs)
    show = show_progress(progress, work=n_resamples * log.report.n_requests * total,
                         threshold=_PROGRESS_VALUES)
    cells = []
    with progress_bar(show, total=total, desc="compare_models", unit="comparison") as advance:
        for name, spec, threshold, seed in options.cells(challengers):
            cells.append((name, spec, threshold,
                          evaluate(log, champion, name, spec, threshold, options.alpha, seed, n_resamples)))
            advance(1)
    return finish_comparison(cells, champion, challengers, options.alpha, options.min_requests)


@dataclasses.dataclass(frozen=True, slots=True)
class ComparisonOptions:
    """Validated options of :func:`compare_models` (shared with the engine path)."""

    metrics: tuple[ShadowMetric, ...]
    alpha: float
    min_requests: int
    generator: np.random.Generator

    def cells(self, challengers: Sequence[str]) -> list[tuple[str, ShadowMetric, float, int]]:
        """(challenger, metric, threshold, bootstrap seed) in the order of the comparison."""
        return [(name, spec, goal_threshold(spec), int(self.generator.integers(2**63 - 1)))
                for name in challengers for spec in self.metrics]


def _known_model(model_index: Callable[[str], int], argument: str, name: Any) -> None:
    """``model_index(name)``, its error naming the caller's ``argument``."""
    try:
        model_index(name)
    except (ValueError, TypeError) as exc:
        message = str(exc).replace("`name`", f"`{argument}`", 1)
        if f"`{argument}`" not in message:
            message = f"`{argument}` must name a model of the log: {message}"
        raise type(exc)(message) from None


MIN_ALPHA = 1e-15


def check_options(model_index: Callable[[str], int], champion: str, challengers: Sequence[str],
                  metrics: Sequence[str | ShadowMetric], alpha: float, min_requests: int,
                  n_resamples: int, rng: RngLike) -> ComparisonOptions:
    """Validate the options of :func:`compare_models`; ``model_index`` raises on unknown models."""
    alpha = check_open_unit("alpha", alpha)
    if alpha < MIN_ALPHA:  # 1 - alpha, the intervals' level, must stay below 1 in floating point
        raise ValueError(f"`alpha` must be at least {MIN_ALPHA:g} (intervals are at 1 - alpha); got {alpha}.")
    min_requests = check_int("min_requests", min_requests, minimum=2)
    check_int("n_resamples", n_resamples, minimum=1)
    generator = check_rng(rng)
    _known_model(model_index, "champion", champion)
    if isinstance(challengers, str) or not isinstance(challengers, Sequence) or len(challengers) == 0:
        raise ValueError(f"`challengers` must be a non-empty list of model names; got {challengers!r}.")
    for name in challengers:
        _known_model(model_index, "challengers", name)
        if name == champion:
            raise ValueError(f"`challengers` must not include the champion {champion!r}.")
    if isinstance(metrics, str) or not isinstance(metrics, Sequence):
        raise ValueError(f"`metrics` must be a non-empty list of metrics; got {metrics!r}.")
    specs = tuple(as_metric(m) for m in metrics)
    if not specs:
        raise ValueError("`metrics` must name at least one metric; got none.")
    return ComparisonOptions(specs, alpha, min_requests, generator)


def finish_comparison(cells: list[tuple[str, ShadowMetric, float, _Evaluation]], champion: str,
                      challengers: Sequence[str], alpha: float, min_requests: int) -> ShadowComparison:
    """Holm-adjust the cells and give each challenger its verdict."""
    rows = _adjusted_rows(cells, min_requests, alpha)
    verdicts = tuple(challenger_verdict(name, [r for r in rows if r.challenger == name], min_requests)
                     for name in challengers)
    return ShadowComparison(champion=champion, verdicts=verdicts, rows=tuple(rows), alpha=alpha,
                            min_requests=min_requests, adjustment="holm")


def _adjusted_rows(cells: list[tuple[str, ShadowMetric, float, _Evaluation]],
                   min_requests: int, alpha: float) -> list[MetricComparison]:
    p_meet = np.array([ev.p_below if spec.worse == "higher" else ev.p_above for _, spec, _, ev in cells])
    p_harm = np.array([ev.p_above if spec.worse == "higher" else ev.p_below for _, spec, _, ev in cells])
    tested = ~np.isnan(p_meet)
    adj_meet, adj_harm = np.full(p_meet.size, np.nan), np.full(p_harm.size, np.nan)
    if tested.any():
        adj_meet[tested] = adjust_pvalues(p_meet[tested], method="holm")
        adj_harm[tested] = adjust_pvalues(p_harm[tested], method="holm")
    rows = []
    for i, (name, spec, threshold, ev) in enumerate(cells):
        reason = ev.reason or ("insufficient data" if ev.n < min_requests else "")
        if not reason:
            reason = ("goal missed" if adj_harm[i] <= alpha else "goal met" if adj_meet[i] <= alpha
                      else "undecided")
        rows.append(MetricComparison(
            challenger=name, metric=spec.name, goal=spec.goal, worse=spec.worse,
            champion_value=ev.champion_value, challenger_value=ev.challenger_value,
            effect=ev.effect, ci=ev.ci, threshold=threshold, pvalue_noninferiority=float(p_meet[i]),
            pvalue_noninferiority_adjusted=float(adj_meet[i]), pvalue_harm=float(p_harm[i]),
            pvalue_harm_adjusted=float(adj_harm[i]), n=ev.n, method=ev.method,
            decision=metric_decision(reason), reason=reason,
        ))
    return rows


def metric_decision(reason: str) -> str:
    """What one metric argues for, from its ``reason``."""
    return {"goal met": "promote", "goal missed": "keep"}.get(reason, "inconclusive")


def challenger_verdict(name: str, rows: list[MetricComparison], min_requests: int) -> ChallengerVerdict:
    blocked = [r for r in rows if r.reason.startswith("insufficient")]
    if blocked:
        reasons = tuple(
            f"{r.metric}: {r.reason} ({r.n} paired requests; at least {min_requests} needed)"
            if r.reason == "insufficient data" else f"{r.metric}: {r.reason}" for r in blocked
        )
        return ChallengerVerdict(challenger=name, decision="inconclusive", reasons=reasons)
    missed = [r for r in rows if r.decision == "keep"]
    if missed:
        return ChallengerVerdict(challenger=name, decision="keep", reasons=tuple(
            f"{r.metric}: misses its {r.goal} goal (effect {r.effect:.4g}, threshold {r.threshold:g}, "
            f"adjusted p {r.pvalue_harm_adjusted:.3g})" for r in missed))
    undecided = [r for r in rows if r.decision == "inconclusive"]
    if undecided:
        return ChallengerVerdict(challenger=name, decision="inconclusive", reasons=tuple(
            f"{r.metric}: {r.goal} not shown yet (adjusted p {r.pvalue_noninferiority_adjusted:.3g})"
            for r in undecided))
    return ChallengerVerdict(challenger=name, decision="promote", reasons=tuple(
        f"{r.metric}: meets its {r.goal} goal (adjusted p {r.pvalue_noninferiority_adjusted:.3g})"
        for r in rows))
