"""Experiments on tables where they live: pandas, Polars, PyArrow, DuckDB and PySpark.

:class:`Experiment` declares metrics (:class:`~abkit.frame.metrics.Proportion`,
:class:`~abkit.frame.metrics.Mean` with an optional CUPED covariate or cap,
:class:`~abkit.frame.metrics.RatioOfMeans`, :class:`~abkit.frame.Quantile`) and ``analyze``
reads every variant's (and, with ``by``, every segment's) sufficient statistics from one query
(:mod:`abkit.frame.aggregate`), tests every treatment against the control with the
fixed-horizon primitives, adjusts the p-values for multiplicity (Holm by default; Dunnett's
many-to-one adjustment as an option, :mod:`abkit.frame.family`) and checks the sample ratio.

Examples
--------
>>> import abkit
>>> from abkit.datasets import make_experiment
>>> data = make_experiment(4000, rng=3)
>>> experiment = abkit.Experiment(
...     conversion=abkit.Proportion("converted"),
...     revenue=abkit.Mean("revenue", covariate="revenue_pre"),
...     clicks_per_session=abkit.RatioOfMeans("clicks", "sessions"),
... )
>>> result = experiment.analyze(data, control="control")
>>> result.to_frame()[["metric", "treatment"]].values.tolist()
[['conversion', 'treatment'], ['revenue', 'treatment'], ['clicks_per_session', 'treatment']]
>>> result.srm.mismatch
False
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np

from abkit._inference import warn_degenerate
from abkit._validation import (
    check_alternative,
    check_choice,
    check_confidence_level,
    check_open_unit,
    check_positive,
)
from abkit.frame.aggregate import Stats, Summary, _summarize, summarize
from abkit.frame.bayes import bayes_row
from abkit.frame.family import FAMILIES, Comparison, adjust_family
from abkit.frame.metrics import Mean, Metric, Proportion, RatioOfMeans, check_metrics, kind
from abkit.frame.quantile import Quantile, QuantileTestResult
from abkit.frame.result import ExperimentResult, MetricResult, SegmentResult, to_frame
from abkit.frame.simulate import SimulationResult, simulate
from abkit.means import MeansTestResult
from abkit.multiple import ADJUST_METHODS
from abkit.proportions import ProportionsTestResult
from abkit.srm import srm_test

__all__ = [
    "Experiment",
    "ExperimentResult",
    "Mean",
    "MetricResult",
    "Proportion",
    "Quantile",
    "RatioOfMeans",
    "summarize",
    "to_frame",
]

TestResult = ProportionsTestResult | MeansTestResult | QuantileTestResult

_TEST_NAMES = {Proportion: "proportions_test", RatioOfMeans: "ratio_test", Quantile: "quantile_test"}


def _metric_row(name: str, metric: Metric, treatment: Any, control: Any, result: TestResult,
                pvalue_adjusted: float, cap_threshold: float) -> MetricResult:
    if isinstance(result, ProportionsTestResult):
        values = (result.control_rate, result.treatment_rate)
    elif isinstance(result, QuantileTestResult):
        values = (result.control_quantile, result.treatment_quantile)
    else:
        values = (result.control_mean, result.treatment_mean)
    if isinstance(metric, Mean):
        test = "means_test" if metric.covariate is None else "cuped_test"
    else:
        test = _TEST_NAMES[type(metric)]
    return MetricResult(
        metric=name, treatment=treatment, control=control, test=test, method=result.method,
        control_value=values[0], treatment_value=values[1], effect=result.effect, ci=result.ci,
        relative_effect=result.relative_effect, relative_ci=result.relative_ci,
        statistic=result.statistic, pvalue=result.pvalue, pvalue_adjusted=pvalue_adjusted,
        n_control=result.n_control, n_treatment=result.n_treatment,
        alternative=result.alternative, margin=result.margin,
        confidence_level=result.confidence_level, cap_threshold=cap_threshold,
        control_label=str(control), treatment_label=str(treatment), details=result,
    )


def _labels(labels: Any, order: list[Any], variant: str) -> list[str]:
    if labels is None:
        return [str(v) for v in order]
    if not isinstance(labels, Mapping):
        raise TypeError(f"`labels` must be a mapping of variant values to names; got "
                        f"{type(labels).__name__}.")
    for key, name in labels.items():
        if key not in order:
            raise ValueError(f"Variant {key!r} in `labels` has no rows in column {variant!r}; "
                             f"variants with rows: {order}.")
        if not isinstance(name, str) or not name:
            raise TypeError(f"`labels[{key!r}]` must be a non-empty string; got {name!r}.")
    return [labels.get(v, str(v)) for v in order]


def _shares(srm_weights: Any, order: list[Any], variant: str) -> list[float] | None:
    if srm_weights is None:
        return None
    if not isinstance(srm_weights, Mapping):
        raise TypeError(f"`srm_weights` must be a mapping of variant values to traffic shares; got "
                        f"{type(srm_weights).__name__}.")
    for key in srm_weights:
        if key not in order:
            raise ValueError(f"Variant {key!r} in `srm_weights` has no rows in column {variant!r}; "
                             f"variants with rows: {order}.")
    missing = [key for key in order if key not in srm_weights]
    if missing:
        raise ValueError(f"`srm_weights` must give a share for every variant; got none for {missing}.")
    return [check_positive(f"srm_weights[{key!r}]", srm_weights[key]) for key in order]


def _check_by(by: Any, variant: str) -> tuple[str, ...]:
    if by is None:
        return ()
    columns = [by] if isinstance(by, str) else by
    if not isinstance(columns, list | tuple) or not columns:
        raise TypeError(f"`by` must be a column name or a non-empty list of them; got {by!r}.")
    for column in columns:
        if not isinstance(column, str) or not column:
            raise TypeError(f"`by` must hold column names (non-empty strings); got {column!r}.")
    if len(set(columns)) < len(columns):
        raise ValueError(f"`by` must not repeat a column; got {list(columns)}.")
    if variant in columns:
        raise ValueError(f"`by` must not hold the variant column {variant!r}; got {list(columns)}.")
    return tuple(columns)


def _segments(summary: Summary, order: list[Any], shares: list[float] | None, srm_alpha: float,
              by: tuple[str, ...]) -> tuple[list[SegmentResult], list[tuple[Any, ...]]]:
    """Every segment's counts and SRM check; the analysed ones (every arm with 2+ units)."""
    results, analysed = [], []
    for segment, sizes in summary.sizes.items():
        n = tuple(sizes.get(v, 0) for v in order)
        ok = all(v in summary.segments[segment] for v in order)
        srm = srm_test(list(n), shares, alpha=srm_alpha) if min(n) > 0 else None
        results.append(SegmentResult(segment=segment, n=n, srm=srm, analyzed=ok))
        if ok:
            analysed.append(segment)
    skipped = [r.segment for r in results if not r.analyzed]
    if skipped:
        shown = ", ".join(", ".join(f"{c}={v!r}" for c, v in zip(by, s, strict=True))
                          for s in skipped[:5])
        more = f" and {len(skipped) - 5} more" if len(skipped) > 5 else ""
        warn_degenerate(f"{len(skipped)} segment(s) have an arm with fewer than 2 units and are not "
                        f"analysed: {shown}{more}.")
    return results, analysed


class Experiment:
    """An A/B(/n) experiment's metrics, analysed on any table with :meth:`analyze`.

    Parameters
    ----------
    **metrics
        Metric names mapped to :class:`Proportion`, :class:`Mean`, :class:`RatioOfMeans` or
        :class:`Quantile`; rows of the result follow this order.

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"variant": ["a"] * 4 + ["b"] * 4,
    ...                       "converted": [0, 1, 0, 0, 1, 1, 0, 1],
    ...                       "revenue": [0.0, 9.5, 0.0, 0.0, 7.0, 11.0, 0.0, 8.5]})
    >>> experiment = Experiment(converted=Proportion("converted"), revenue=Mean("revenue"))
    >>> result = experiment.analyze(table, control="a")
    >>> [round(r.effect, 4) for r in result.rows]
    [0.5, 4.25]
    """

    __slots__ = ("metrics",)

    def __init__(self, **metrics: Metric) -> None:
        if not metrics:
            raise ValueError("`Experiment` needs at least one metric, e.g. "
                             "Experiment(conversion=Proportion('converted')); got none.")
        self.metrics: dict[str, Metric] = check_metrics(metrics)

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={metric!r}" for name, metric in self.metrics.items())
        return f"Experiment({inner})"

    def simulate(
        self,
        table: Any,
        *,
        treat: Any = None,
        n_simulations: int = 1000,
        treatment_share: float = 0.5,
        alpha: float = 0.05,
        rng: int | np.random.Generator | None = None,
        progress: bool | None = None,
    ) -> SimulationResult:
        """A/A (``treat=None``) or power simulations of the analysis by re-randomising the units
        of ``table``: see :func:`abkit.frame.simulate.simulate`. ``progress=None`` shows a bar
        only for large work in a terminal or notebook; ``TQDM_DISABLE=1`` hides it."""
        kinds = {name: "capped" if isinstance(m, Mean) and m.cap is not None else kind(m)
                 for name, m in self.metrics.items()}
        return simulate(self.metrics, kinds, table, treat=treat, n_simulations=n_simulations,
                        treatment_share=treatment_share, alpha=alpha, rng=rng, progress=progress)

    def analyze(
        self,
        table: Any,
        *,
        variant: str = "variant",
        control: Any = None,
        alternative: str = "two-sided",
        confidence_level: float = 0.95,
        adjust: str = "holm",
        srm_weights: Mapping[Any, float] | None = None,
        srm_alpha: float = 0.001,
        labels: Mapping[Any, str] | None = None,
        engine: str = "frequentist",
        prior: tuple[float, float] = (1.0, 1.0),
        by: str | list[str] | tuple[str, ...] | None = None,
        family: str = "segment",
    ) -> ExperimentResult:
        """Test every treatment against the control on every metric, with one query on ``table``.

        Parameters
        ----------
        table
            A pandas, Polars, PyArrow, DuckDB or PySpark table, one row per randomisation unit.
        variant
            The column holding each unit's variant.
        control
            The control's value in ``variant``; ``None`` takes the smallest value.
        alternative, confidence_level
            As in the primitives, for every row (a metric's own ``alternative`` overrides
            ``alternative``; its ``margin`` is the null value of its ``effect``).
        adjust
            Multiplicity adjustment across the rows of a family (metrics x treatments):
            ``"holm"`` (default), ``"bonferroni"``, ``"hochberg"``, ``"bh"``, ``"by"``,
            ``"dunnett"`` (Dunnett's many-to-one adjustment within each metric, Bonferroni across
            metrics: see :mod:`abkit.frame.family`) or ``"none"``.
        srm_weights
            Designed traffic shares by variant value for the sample-ratio check (every variant
            needs one); ``None`` means an equal split.
        srm_alpha
            Threshold of the sample-ratio check.
        labels
            Display names by variant value (GrowthBook's arm names), carried to every row as
            ``control_label``/``treatment_label``; a variant without one is shown as ``str(value)``.
        engine
            ``"frequentist"`` (tests, p-values, adjustment) or ``"bayes"``: every row is a
            :class:`~abkit.frame.result.BayesMetricResult` with chance to win, expected losses
            and credible intervals (see :mod:`abkit.frame.bayes`; ``alternative``, margins and
            ``adjust`` do not apply; :class:`Quantile` metrics are not supported).
        prior
            Beta prior pseudo-counts ``(alpha, beta)`` of proportions under ``engine="bayes"``.
        by
            Segment (dimension) columns, e.g. ``["country", "platform"]``: after the overall
            rows, one block of rows per combination of their values, each the analysis of that
            segment's units alone (equal to analysing the filtered table, except that a
            percentile cap keeps the whole table's threshold), with its own sample-ratio check
            in ``result.segments``. All segments come from the same one group-by query (by
            variant and ``by``). A segment where an arm has fewer than 2 units has no rows (a
            ``DegenerateDataWarning`` names it). Segment columns must not hold nulls.
        family
            Which rows are adjusted together when ``by`` is given: ``"segment"`` (default; the
            overall block and each segment's block are separate families, as GrowthBook's
            dimension breakdowns) or ``"all"`` (every row of every block in one family: the
            stricter choice when segments are searched for an effect).

        Returns
        -------
        ExperimentResult
        """
        alternative = check_alternative(alternative)
        confidence_level = check_confidence_level(confidence_level)
        adjust = check_choice("adjust", adjust, (*ADJUST_METHODS, "dunnett", "none"))
        srm_alpha = check_open_unit("srm_alpha", srm_alpha)
        engine = check_choice("engine", engine, ("frequentist", "bayes"))
        family = check_choice("family", family, FAMILIES)
        segment_columns = _check_by(by, variant)
        if engine == "bayes":
            for name, metric in self.metrics.items():
                if isinstance(metric, Quantile):
                    raise ValueError(f"`engine` 'bayes' needs Proportion, Mean or RatioOfMeans "
                                     f"metrics; got Quantile metric {name!r}.")
        summary = _summarize(table, variant, self.metrics, segment_columns)
        variants = list(summary.overall)
        if control is None:
            control = variants[0]
        elif not isinstance(control, Hashable) or control not in summary.overall:
            raise ValueError(f"`control` must be a value of column {variant!r} (one of {variants}); "
                             f"got {control!r}.")
        else:
            control = next(v for v in variants if v == control)
        if len(variants) < 2:
            raise ValueError(f"Column {variant!r} must hold at least two variants; got only "
                             f"{variants}.")
        treatments = [v for v in variants if v != control]
        order = [control, *treatments]
        counts = [next(iter(summary.overall[v].values())).n for v in order]
        shares = _shares(srm_weights, order, variant)
        srm = srm_test(counts, shares, alpha=srm_alpha)
        names = _labels(labels, order, variant)
        blocks: list[tuple[tuple[Any, ...], dict[Any, dict[str, Stats]]]] = [((), summary.overall)]
        segments: list[SegmentResult] = []
        if segment_columns:
            segments, analysed = _segments(summary, order, shares, srm_alpha, segment_columns)
            blocks += [(segment, summary.segments[segment]) for segment in analysed]
        common = {"srm": srm, "variant": variant, "control": control,
                  "treatments": tuple(treatments), "n": tuple(counts), "alternative": alternative,
                  "confidence_level": confidence_level, "labels": tuple(names), "engine": engine,
                  "by": segment_columns, "family": family, "segments": tuple(segments)}

        if engine == "bayes":
            bayes_rows = tuple(
                dataclasses.replace(bayes_row(
                    name, kind(metric), treatment, control, stats[control][name],
                    stats[treatment][name], confidence_level=confidence_level, prior=prior,
                    cap_threshold=summary.thresholds.get(name, math.nan),
                    labels=(names[0], names[order.index(treatment)])), segment=segment)
                for segment, stats in blocks
                for name, metric in self.metrics.items() for treatment in treatments)
            return ExperimentResult(rows=bayes_rows, adjust="none", **common)
        tests = [(segment, name, metric, treatment, metric.test(
                     stats[control][name], stats[treatment][name],
                     alternative=metric.alternative or alternative,
                     confidence_level=confidence_level))
                 for segment, stats in blocks
                 for name, metric in self.metrics.items() for treatment in treatments]
        by_block = dict(blocks)
        adjusted = adjust_family(
            [Comparison(segment=segment, metric=name, pvalue=result.pvalue,
                        alternative=result.alternative, kind=kind(metric),
                        control=by_block[segment][control][name],
                        treatment=by_block[segment][treatment][name])
             for segment, name, metric, treatment, result in tests],
            method=adjust, family=family)
        rows = tuple(dataclasses.replace(
                         _metric_row(name, metric, treatment, control, result, p,
                                     summary.thresholds.get(name, math.nan)),
                         control_label=names[0], treatment_label=names[order.index(treatment)],
                         segment=segment)
                     for (segment, name, metric, treatment, result), p
                     in zip(tests, adjusted, strict=True))
        return ExperimentResult(rows=rows, adjust=adjust, **common)
