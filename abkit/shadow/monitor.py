"""Continuous shadow evaluation: watch a shadow every day (or batch) with always-valid inference.

A fixed-sample verdict (:func:`abkit.shadow.compare_models`) is valid when read once, at the
planned size; read after every batch it promotes far too often. :class:`ShadowMonitor` keeps the
running paired differences ``challenger - champion`` of a per-request metric (loss, correctness,
log latency) and, at every look, an always-valid p-value and confidence sequence from
:mod:`abkit.sequential`:

- ``method="confidence-sequence"`` (default): the asymptotic confidence sequence of
  Waudby-Smith et al. (2023) that :func:`abkit.sequential.confidence_sequence` computes,
  applied to the ``n`` paired differences (one unit per request, tuned at ``tuning_n``
  requests), with the plug-in variance of the differences;
- ``method="msprt"``: the normal-mixture SPRT of :func:`abkit.sequential.msprt` with
  ``Var(mean difference) = s^2 / n`` and a mixing variance ``tau2`` per metric (in squared
  units of the difference; the log ratio for latency).

Each look counts only once the metric has ``min_requests`` paired requests with some variation;
its p-value (for "the difference equals the goal's threshold") and interval join the running
minimum and the running intersection, which stay valid at every look, however many.

**Multiplicity.** With ``m`` (challenger, metric) sequences each one runs at ``alpha / m``
(Bonferroni): the union bound over sequences that are each valid uniformly in time keeps the
chance of any false "met" or "missed", at any look, at most ``alpha``. Intervals are
simultaneous at ``1 - alpha``; ``pvalue_noninferiority_adjusted = min(1, m *
pvalue_noninferiority)``, and likewise ``pvalue_harm_adjusted``. (Holm's step-down is
not used: its ordering of sequences changes from look to look.)

**Decision.** A metric's goal is met (``decision`` ``"promote"``, reason ``"goal met"``) once
the confidence sequence has lain entirely on the good side of the goal's threshold
(``pvalue_noninferiority_adjusted <= alpha``, one-sided p-values split by the side of the
estimate at that look), missed (``"keep"``, ``"goal missed"``) once it has lain on
the bad side; decisions per challenger follow :func:`compare_models` (promote / keep /
inconclusive). Once
decided, a metric is never undecided again: a promotion may be acted on at the look it appears.

**Batches.** Each request must reach the monitor once, in one batch, once it is complete: when
any metric needs the label, requests whose label is pending are skipped and counted in
``n_pending`` (send them again once labelled; requests that were counted must not be sent
again). The state is JSON (:meth:`ShadowMonitor.to_json`). Monitors are not merged: the running
minimum and intersection belong to one sequence of looks; send every worker's batch to one
monitor instead. A monitor is safe under threads: each call takes its one lock, and a batch's
checks and statistics are computed before it (a failed update changes nothing).

Examples
--------
>>> from abkit.datasets import make_shadow_log
>>> from abkit.frame import load_shadow_log
>>> monitor = ShadowMonitor("v1", ["v2"], ["log_loss"], min_requests=200)
>>> for day in range(5):
...     batch = load_shadow_log(make_shadow_log(2000, models={"v1": 1.0, "v2": 1.3}, rng=day))
...     result = monitor.update(batch)
>>> result.looks, result.verdicts[0].decision
(5, 'promote')
"""

from __future__ import annotations

import dataclasses
import json
import math
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from abkit._inference import clip_interval, warn_degenerate
from abkit._results import NAN_INTERVAL, ConfidenceInterval, object_html, object_repr
from abkit._state import dump_state, envelope_from_document, parse_json
from abkit._validation import (
    check_choice,
    check_id,
    check_instance,
    check_int,
    check_open_unit,
    check_positive,
)
from abkit.errors import StateError
from abkit.sequential.always_valid import asymptotic_cs, msprt_halfwidth, msprt_log_likelihood_ratio
from abkit.sequential.boundaries import normal_mixture_rho
from abkit.shadow.decision import (
    MetricComparison,
    ShadowComparison,
    ShadowMetric,
    as_metric,
    challenger_verdict,
    goal_threshold,
    metric_decision,
    per_request_values,
)
from abkit.shadow.log import LOAD_HINT, ShadowLog
from abkit.stats import MeanStats

__all__ = ["MONITOR_METHODS", "ShadowMonitor", "ShadowMonitorResult"]

MONITOR_METHODS = ("confidence-sequence", "msprt")
_STATE_VERSION = 2
"""Version 2: the envelope of :mod:`abkit._state`. Version 1, one flat object with ``"format": 1``,
is still read."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class ShadowMonitorResult(ShadowComparison):
    """The monitor after a look: rows and verdicts as in :class:`ShadowComparison`.

    In each row ``ci`` is the running intersection of the confidence sequence (simultaneous at
    ``1 - alpha`` over all rows and looks; clipped to [-1, 1] for accuracy, a difference of
    rates, as R's ``prop.test``), ``pvalue_noninferiority``/``pvalue_harm`` the running minima of the
    always-valid one-sided p-values and ``*_adjusted`` their Bonferroni adjustment; ``effect``
    is the current estimate (``ratio - 1`` for latency). ``looks`` counts updates and
    ``n_pending`` the requests skipped so far for a pending label.
    """

    looks: int
    n_pending: int
    method: str


@dataclasses.dataclass
class _Sequence:
    """Running state of one (challenger, metric) sequence; values on the tested scale."""

    champion: MeanStats = dataclasses.field(default_factory=MeanStats.empty)
    challenger: MeanStats = dataclasses.field(default_factory=MeanStats.empty)
    difference: MeanStats = dataclasses.field(default_factory=MeanStats.empty)
    p_meet: float = 1.0
    p_miss: float = 1.0
    low: float = -math.inf
    high: float = math.inf
    counted: int = 0  # looks that entered the running minimum and intersection

    def to_dict(self) -> dict[str, Any]:
        stats = {"champion": self.champion.to_dict(), "challenger": self.challenger.to_dict(),
                 "difference": self.difference.to_dict()}
        return {"stats": stats, "p_meet": self.p_meet, "p_miss": self.p_miss,
                "ci": None if self.counted == 0 else [self.low, self.high], "counted": self.counted}

    @classmethod
    def from_dict(cls, state: Any) -> _Sequence:
        if not isinstance(state, dict):
            raise StateError(f"Corrupt ShadowMonitor state: a sequence must be an object; got {state!r}.")
        stats = [MeanStats(**state["stats"][k]) for k in ("champion", "challenger", "difference")]
        if len({s.n for s in stats}) != 1:
            raise StateError("Corrupt ShadowMonitor state: a sequence's counts differ between its stats.")
        counted = check_int("counted", state["counted"])
        p_meet, p_miss = (float(state[k]) for k in ("p_meet", "p_miss"))
        if not (0.0 <= p_meet <= 1.0 and 0.0 <= p_miss <= 1.0):
            raise StateError(f"Corrupt ShadowMonitor state: p-values must be in [0, 1]; "
                             f"got {p_meet}, {p_miss}.")
        ci = state["ci"]
        if (ci is None) != (counted == 0):
            raise StateError("Corrupt ShadowMonitor state: `ci` must be null exactly when no look counted.")
        low, high = (-math.inf, math.inf) if ci is None else (float(ci[0]), float(ci[1]))
        return cls(champion=stats[0], challenger=stats[1], difference=stats[2], p_meet=p_meet, p_miss=p_miss,
                   low=low, high=high, counted=counted)


def _overflow_message(key: tuple[str, str]) -> str:
    return (f"The values of {key[1]!r} for {key[0]!r} are too large: their mean or variance "
            "overflows a float; the batch was not counted.")


def _batch_stats(key: tuple[str, str], values: npt.NDArray[np.float64]) -> MeanStats:
    """Mean and variance of one batch's values, refusing values whose variance overflows."""
    with np.errstate(over="ignore", invalid="ignore"):
        try:
            return MeanStats.from_samples(values)
        except ValueError:
            raise ValueError(_overflow_message(key)) from None


def _check_metric(metric: Any) -> ShadowMetric:
    spec = as_metric(metric)
    if spec.kind not in ("accuracy", "latency") and spec.loss is None:
        raise ValueError(
            f"`metrics` must be per-request metrics (accuracy, latency or a `loss`) to be monitored; "
            f"{spec.name!r} is not (AUC, quantiles and bootstrap statistics are not means of requests)."
        )
    if spec.kind == "latency" and goal_threshold(spec) <= -1.0:
        raise ValueError(f"The latency margin must be less than 1 for superiority; got {spec.margin}.")
    return spec


class ShadowMonitor:
    """Always-valid champion/challenger monitoring of a shadow deployment, batch by batch.

    Parameters
    ----------
    champion, challengers
        Model names as they appear in the shadow logs.
    metrics
        Per-request metrics: built-in names (``"accuracy"``, ``"log_loss"``, ``"brier"``,
        ``"latency"``) or :class:`ShadowMetric` objects with a ``loss``, ``kind="accuracy"``
        or ``kind="latency"`` and their own goal and margin.
    alpha
        Family-wise error rate over all challengers, metrics and looks (Bonferroni).
    method
        ``"confidence-sequence"`` or ``"msprt"`` (see the module docstring).
    tuning_n
        Paired requests at which the confidence sequence is tightest.
    tau2
        ``"msprt"`` only: the mixing variance, one for all metrics or ``{metric name: tau2}``.
    min_requests
        Paired requests a metric needs before a look counts and any verdict is given.

    Examples
    --------
    >>> from abkit.datasets import make_shadow_log
    >>> from abkit.frame import load_shadow_log
    >>> monitor = ShadowMonitor("champion", ["challenger"], ["accuracy", "latency"])
    >>> result = monitor.update(load_shadow_log(make_shadow_log(1000, rng=1)))
    >>> [row.reason for row in result.rows], monitor.looks
    (['goal met', 'undecided'], 1)
    >>> ShadowMonitor.from_json(monitor.to_json()).to_dict() == monitor.to_dict()
    True
    """

    def __init__(
        self,
        champion: str,
        challengers: Sequence[str],
        metrics: Sequence[str | ShadowMetric],
        *,
        alpha: float = 0.05,
        method: str = "confidence-sequence",
        tuning_n: float = 10_000.0,
        tau2: float | Mapping[str, float] | None = None,
        min_requests: int = 100,
    ) -> None:
        self.champion = check_id("champion", champion)
        if isinstance(challengers, str) or not isinstance(challengers, Sequence) or not challengers:
            raise ValueError(f"`challengers` must be a non-empty list of model names; got {challengers!r}.")
        self.challengers = tuple(check_id("challengers", c) for c in challengers)
        if self.champion in self.challengers or len(set(self.challengers)) < len(self.challengers):
            raise ValueError(f"`challengers` must be distinct and exclude the champion; got {challengers!r}.")
        if isinstance(metrics, str | ShadowMetric) or not isinstance(metrics, Sequence) or not metrics:
            raise ValueError(f"`metrics` must be a non-empty list of metrics; got {metrics!r}.")
        self.metrics = tuple(_check_metric(m) for m in metrics)
        names = [m.name for m in self.metrics]
        if len(set(names)) < len(names):
            raise ValueError(f"`metrics` must have distinct names; got {names}.")
        self.alpha = check_open_unit("alpha", alpha)
        self.method = check_choice("method", method, MONITOR_METHODS)
        self.tuning_n = check_positive("tuning_n", tuning_n)
        self.tau2 = self._check_tau2(tau2, names)
        self.min_requests = check_int("min_requests", min_requests, minimum=2)
        self.looks = 0
        self.n_pending = 0
        self._sequences = {(c, m.name): _Sequence() for c in self.challengers for m in self.metrics}
        self._lock = threading.RLock()

    def _check_tau2(self, tau2: Any, names: list[str]) -> dict[str, float] | None:
        if self.method == "confidence-sequence":
            if tau2 is not None:
                raise ValueError("`tau2` is for method='msprt'; the confidence sequence uses `tuning_n`.")
            return None
        if tau2 is None:
            raise ValueError("method='msprt' needs `tau2` (a number or {metric name: number}).")
        if not isinstance(tau2, Mapping):
            return dict.fromkeys(names, check_positive("tau2", tau2))
        missing = [n for n in names if n not in tau2]
        if missing:
            raise ValueError(f"`tau2` must give a value for every metric; missing {missing}.")
        return {n: check_positive(f"tau2[{n!r}]", tau2[n]) for n in names}

    @property
    def alpha_per_sequence(self) -> float:
        """``alpha / m``: the level of each (challenger, metric) sequence (Bonferroni)."""
        return self.alpha / len(self._sequences)

    def update(self, batch: ShadowLog) -> ShadowMonitorResult:
        """Add a batch of new requests and look.

        Parameters
        ----------
        batch
            A :class:`ShadowLog`: a table, a Parquet/CSV path or an
            :class:`abkit.adapters.ShadowRouter` goes through :func:`abkit.frame.load_shadow_log`
            first.
            Requests already sent in an earlier batch must not be sent again.

        Returns
        -------
        ShadowMonitorResult
        """
        log = check_instance("batch", batch, ShadowLog, hint=LOAD_HINT)
        for name in (self.champion, *self.challengers):
            if name not in log.models:
                raise ValueError(f"`batch` must have rows of the monitor's model {name!r}; "
                                 f"its models are {list(log.models)}.")
        labelled = any(m.kind != "latency" for m in self.metrics)
        new = {}
        for key in self._sequences:  # everything is checked and summarised outside the lock
            a, b = self._values(log, *key, labelled)
            new[key] = tuple(_batch_stats(key, v) for v in (a, b, b - a))
        pending = int(np.isnan(log.label).sum()) if labelled else 0
        with self._lock:  # merged into copies first: an overflow raises before anything changes
            looked = {key: self._look(key, *batch_stats) for key, batch_stats in new.items()}
            self._sequences.update(looked)
            self.n_pending += pending
            self.looks += 1
            return self.result

    @property
    def sequences(self) -> tuple[tuple[str, str], ...]:
        """The (challenger, metric name) pairs the monitor tracks, in order."""
        return tuple(self._sequences)

    def update_stats(self, stats: Mapping[tuple[str, str], Sequence[MeanStats]], *,
                     n_pending: int = 0) -> ShadowMonitorResult:
        """Add a batch given as sufficient statistics (e.g. engine aggregates) and look.

        Parameters
        ----------
        stats
            For every ``(challenger, metric name)`` of :attr:`sequences`, the
            :class:`abkit.stats.MeanStats` of the batch's per-request values of the champion,
            of the challenger and of their difference ``challenger - champion``, on the tested
            scale (losses, correctness, log latencies), over the same requests.
            :meth:`abkit.frame.ShadowTable.monitor_stats` computes them inside an engine.
        n_pending
            Requests of the batch skipped for a pending label.

        Returns
        -------
        ShadowMonitorResult

        Examples
        --------
        >>> from abkit.stats import MeanStats
        >>> monitor = ShadowMonitor("v1", ["v2"], ["log_loss"], min_requests=200)
        >>> batch = (MeanStats(1000, 0.52, 0.30), MeanStats(1000, 0.45, 0.28), MeanStats(1000, -0.07, 0.02))
        >>> monitor.update_stats({("v2", "log_loss"): batch}).verdicts[0].decision
        'promote'
        """
        if not isinstance(stats, Mapping) or set(stats) != set(self._sequences):
            given = sorted(stats) if isinstance(stats, Mapping) else type(stats).__name__
            raise ValueError(f"`stats` must hold exactly the keys {list(self._sequences)}; got {given}.")
        n_pending = check_int("n_pending", n_pending, minimum=0)
        new = {}
        for key in self._sequences:
            triple = tuple(stats[key])
            if len(triple) != 3 or not all(isinstance(v, MeanStats) for v in triple):
                raise TypeError(
                    f"`stats[{key!r}]` must be three MeanStats (champion, challenger, difference).")
            if len({v.n for v in triple}) != 1:
                raise ValueError(
                    f"`stats[{key!r}]` must count the same requests; got n = {[v.n for v in triple]}.")
            new[key] = triple
        with self._lock:  # merged into copies first, as in update: a failure changes nothing
            looked = {key: self._look(key, *batch_stats) for key, batch_stats in new.items()}
            self._sequences.update(looked)
            self.n_pending += n_pending
            self.looks += 1
            return self.result

    def _values(self, log: ShadowLog, challenger: str, metric: str,
                labelled: bool) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        spec = self._metric(metric)
        if spec.kind != "latency":
            y, a, b = log.paired(self.champion, challenger)
            a, b = per_request_values(spec, y, a, b)
            if a.shape != y.shape or b.shape != y.shape or not np.isfinite(np.concatenate([a, b])).all():
                raise ValueError(f"Metric {metric!r} must give one finite value per request; it did not for "
                                 f"{self.champion!r} or {challenger!r}.")
            return a, b
        _, a, b = log.paired(self.champion, challenger, field="latency", labelled=labelled)
        if np.isnan(a).any() or np.isnan(b).any() or (a <= 0.0).any() or (b <= 0.0).any():
            raise ValueError(f"Latencies of {self.champion!r} and {challenger!r} must be positive numbers "
                             "for every request both answered.")
        return np.log(a), np.log(b)

    def _metric(self, name: str) -> ShadowMetric:
        return next(m for m in self.metrics if m.name == name)

    def _look(self, key: tuple[str, str], champion: MeanStats, challenger: MeanStats,
              difference: MeanStats) -> _Sequence:
        """The sequence ``key`` after this batch (a new object; the monitor is not changed)."""
        seq = dataclasses.replace(self._sequences[key])
        try:
            seq.champion = seq.champion.merge(champion)
            seq.challenger = seq.challenger.merge(challenger)
            seq.difference = seq.difference.merge(difference)
        except ValueError:
            raise ValueError(_overflow_message(key)) from None
        n, mean, var = seq.difference.n, seq.difference.mean, seq.difference.var
        if n < self.min_requests:
            return seq
        if var <= 0.0:
            warn_degenerate(f"The paired differences of {key[0]!r} on {key[1]!r} do not vary yet "
                            f"({n} requests); this look does not count.")
            return seq
        spec = self._metric(key[1])
        theta0 = self._tested_threshold(spec)
        alpha, se2 = self.alpha_per_sequence, var / n
        if self.tau2 is None:
            rho = 1.0 / math.sqrt(normal_mixture_rho(self.tuning_n, alpha))
            half, pvalue = (float(x) for x in asymptotic_cs(mean - theta0, se2, n, rho, alpha))
        else:
            tau2 = self.tau2[spec.name]
            pvalue = min(1.0, math.exp(-float(msprt_log_likelihood_ratio(mean, se2, tau2, theta0))))
            half = float(msprt_halfwidth(se2, tau2, alpha))
        if (mean > theta0) == (spec.worse == "lower"):
            seq.p_meet = min(seq.p_meet, pvalue)
        else:
            seq.p_miss = min(seq.p_miss, pvalue)
        seq.low, seq.high = max(seq.low, mean - half), min(seq.high, mean + half)
        seq.counted += 1
        return seq

    @staticmethod
    def _tested_threshold(spec: ShadowMetric) -> float:
        threshold = goal_threshold(spec)
        return math.log1p(threshold) if spec.kind == "latency" else threshold

    @property
    def result(self) -> ShadowMonitorResult:
        """Rows and verdicts as of the last look."""
        with self._lock:
            return self._result()

    def _result(self) -> ShadowMonitorResult:
        m = len(self._sequences)
        rows = []
        for (challenger, name), seq in self._sequences.items():
            spec = self._metric(name)
            latency = spec.kind == "latency"

            def back(x: float, latency: bool = latency) -> float:  # tested scale -> ratio - 1
                return math.expm1(x) if latency else x

            def level(x: float, latency: bool = latency) -> float:  # mean log -> geometric mean
                return math.exp(x) if latency else x

            ci = NAN_INTERVAL if seq.counted == 0 else ConfidenceInterval(back(seq.low), back(seq.high))
            if spec.kind == "accuracy":  # a difference of accuracies lies in [-1, 1] (as R's prop.test)
                ci = clip_interval(ci, -1.0, 1.0)
            p_meet_adj, p_miss_adj = min(1.0, m * seq.p_meet), min(1.0, m * seq.p_miss)
            if seq.difference.n < self.min_requests:
                reason = "insufficient data"
            else:
                reason = ("goal missed" if p_miss_adj <= self.alpha
                          else "goal met" if p_meet_adj <= self.alpha else "undecided")
            empty = seq.difference.n == 0
            rows.append(MetricComparison(
                challenger=challenger, metric=name, goal=spec.goal, worse=spec.worse,
                champion_value=math.nan if empty else level(seq.champion.mean),
                challenger_value=math.nan if empty else level(seq.challenger.mean),
                effect=math.nan if empty else back(seq.difference.mean), ci=ci,
                threshold=goal_threshold(spec), pvalue_noninferiority=seq.p_meet,
                pvalue_noninferiority_adjusted=p_meet_adj, pvalue_harm=seq.p_miss,
                pvalue_harm_adjusted=p_miss_adj, n=seq.difference.n,
                method=f"always-valid {self.method}", decision=metric_decision(reason), reason=reason,
            ))
        verdicts = tuple(challenger_verdict(c, [r for r in rows if r.challenger == c], self.min_requests)
                         for c in self.challengers)
        return ShadowMonitorResult(
            champion=self.champion, verdicts=verdicts, rows=tuple(rows), alpha=self.alpha,
            min_requests=self.min_requests, adjustment="Bonferroni, always valid", looks=self.looks,
            n_pending=self.n_pending, method=self.method,
        )

    def _config_and_state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        config = {
            "champion": self.champion, "challengers": list(self.challengers),
            "metrics": [{"name": m.name, "goal": m.goal, "margin": m.margin} for m in self.metrics],
            "alpha": self.alpha, "method": self.method, "tuning_n": self.tuning_n, "tau2": self.tau2,
            "min_requests": self.min_requests,
        }
        state = {"looks": self.looks, "n_pending": self.n_pending,
                 "sequences": [{"challenger": c, "metric": m, **seq.to_dict()}
                               for (c, m), seq in self._sequences.items()]}
        return config, state

    def to_dict(self) -> dict[str, Any]:
        """The state envelope as a JSON-safe dict (built-in metrics by name; custom ones by name,
        goal and margin)."""
        return dict(json.loads(self.to_json()))

    def to_json(self) -> str:
        """The state envelope (:mod:`abkit._state`) as JSON text."""
        config, state = self._config_and_state()
        return dump_state("ShadowMonitor", _STATE_VERSION, config, state)

    @classmethod
    def from_dict(cls, state: Any, *, metrics: Sequence[ShadowMetric] | None = None) -> ShadowMonitor:
        """Restore a monitor saved with :meth:`to_dict`.

        Custom metrics (a ``loss`` function) cannot be stored: pass the same ``metrics`` again.
        A corrupt or mismatched state raises :class:`abkit.errors.StateError`.
        """
        if metrics is not None and (isinstance(metrics, str | bytes) or not isinstance(metrics, Sequence)
                                    or not all(isinstance(m, ShadowMetric) for m in metrics)):
            raise TypeError(f"`metrics` must be a sequence of ShadowMetric; got {type(metrics).__name__}.")
        if isinstance(state, dict) and "format" in state:  # version 1: one flat object
            if state.get("kind") != "ShadowMonitor" or state.get("format") != 1:
                raise StateError(f"Not a ShadowMonitor state of a known format: kind {state.get('kind')!r} "
                                 f"format {state.get('format')!r}.")
        else:
            envelope = envelope_from_document(state, "ShadowMonitor", versions=(_STATE_VERSION,))
            state = {**envelope.config, **envelope.state}
        try:
            saved = [(m["name"], m["goal"], float(m["margin"])) for m in state["metrics"]]
            specs = (list(metrics) if metrics is not None
                     else [ShadowMetric.builtin(n, goal=g, margin=margin) for n, g, margin in saved])
            if [(m.name, m.goal, m.margin) for m in specs] != saved:
                raise StateError(f"`metrics` do not match the saved ones {saved}.")
            monitor = cls(state["champion"], state["challengers"], specs, alpha=state["alpha"],
                          method=state["method"], tuning_n=state["tuning_n"], tau2=state["tau2"],
                          min_requests=state["min_requests"])
            monitor.looks = check_int("looks", state["looks"])
            monitor.n_pending = check_int("n_pending", state["n_pending"])
            sequences = state["sequences"]
            keys = [(s["challenger"], s["metric"]) for s in sequences]
            if keys != list(monitor._sequences):
                raise StateError(f"Corrupt ShadowMonitor state: sequences {keys} do not match the "
                                 f"challengers and metrics {list(monitor._sequences)}.")
            for key, s in zip(keys, sequences, strict=True):
                monitor._sequences[key] = _Sequence.from_dict(s)
        except StateError:
            raise
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise StateError(f"Corrupt ShadowMonitor state: {exc!r}") from exc
        return monitor

    @classmethod
    def from_json(cls, text: str, *, metrics: Sequence[ShadowMetric] | None = None) -> ShadowMonitor:
        """Restore a monitor from :meth:`to_json` output."""
        return cls.from_dict(parse_json(text), metrics=metrics)

    def _repr_items(self) -> list[tuple[str, Any]]:
        return [("champion", self.champion), ("challengers", list(self.challengers)),
                ("metrics", [m.name for m in self.metrics]), ("method", self.method), ("alpha", self.alpha),
                ("looks", self.looks), ("n_pending", self.n_pending)]

    def __repr__(self) -> str:
        return object_repr("ShadowMonitor", self._repr_items())

    def _repr_html_(self) -> str:
        return object_html("ShadowMonitor", self._repr_items())
