"""Results of :meth:`abkit.frame.Experiment.analyze` and :func:`to_frame` for any results."""

from __future__ import annotations

import dataclasses
import html
import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from abkit._results import ConfidenceInterval, Result
from abkit.srm import SRMTestResult

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["BayesMetricResult", "ExperimentResult", "MetricResult", "SegmentResult", "to_frame"]

@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class MetricResult(Result):
    """One metric, one treatment against the control: a row of :class:`ExperimentResult`.

    ``control_value``/``treatment_value`` are the arms' rates, means (CUPED-adjusted with a
    covariate), ratios of means or quantiles; ``cap_threshold`` is the value a capped
    :class:`Mean` was capped at (NaN when not capped); ``details`` is the primitive's full result.
    """

    metric: str
    treatment: Any
    control: Any
    test: str
    method: str
    control_value: float
    treatment_value: float
    effect: float
    ci: ConfidenceInterval
    relative_effect: float
    relative_ci: ConfidenceInterval
    statistic: float
    pvalue: float
    pvalue_adjusted: float
    n_control: int
    n_treatment: int
    alternative: str
    margin: float
    confidence_level: float
    cap_threshold: float
    control_label: str
    treatment_label: str
    segment: tuple[Any, ...] = ()
    details: Result

    def __repr__(self) -> str:
        nested = repr(self.details)
        return Result.__repr__(self).replace(nested, nested.replace("\n", "\n    "))


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class SegmentResult(Result):
    """One segment of ``analyze(..., by=...)``: its ``by`` values, units per arm and SRM check.

    ``n`` counts the units of ``(control, *treatments)`` in the segment (0 for an arm without
    any); ``analyzed`` is False when an arm has fewer than 2 units there, so the segment has no
    rows (its SRM check still runs when every arm has a unit).
    """

    segment: tuple[Any, ...]
    n: tuple[int, ...]
    srm: SRMTestResult | None
    analyzed: bool


def _segment_text(by: tuple[str, ...], segment: tuple[Any, ...]) -> str:
    return ", ".join(f"{c}={v!r}" for c, v in zip(by, segment, strict=True))


def _percent(value: float) -> str:
    return f"{value:+.2%}" if math.isfinite(value) else _number(value)


def _number(value: float) -> str:
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.4g}"


def _interval(ci: ConfidenceInterval, fmt: Any) -> str:
    return f"[{fmt(ci.low)}, {fmt(ci.high)}]"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class ExperimentResult(Result):
    """Result of :meth:`Experiment.analyze`: one row per metric and treatment, and the SRM check.

    ``n`` counts the units of ``(control, *treatments)`` and ``labels`` names them. With
    segments (``analyze(..., by=...)``) the overall rows come first, then one block of rows per
    analysed segment (each row's ``segment`` holds its ``by`` values, ``()`` overall);
    ``segments`` holds every segment's unit counts and SRM check, and ``family`` says which rows
    were adjusted together. Prints as a table, renders as HTML in Jupyter, and converts with
    :meth:`to_frame`.
    """

    rows: tuple[MetricResult, ...] | tuple[BayesMetricResult, ...]
    srm: SRMTestResult
    variant: str
    control: Any
    treatments: tuple[Any, ...]
    n: tuple[int, ...]
    alternative: str
    confidence_level: float
    adjust: str
    labels: tuple[str, ...]
    engine: str
    by: tuple[str, ...] = ()
    family: str = "segment"
    segments: tuple[SegmentResult, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        """A pandas DataFrame, one row per metric and treatment (see :func:`to_frame`); with
        segments, the ``by`` columns come first (missing on the overall rows)."""
        frame = to_frame(list(self.rows))
        segments = frame.pop("segment") if "segment" in frame else None
        if self.by and segments is not None:
            for i, column in enumerate(self.by):
                frame.insert(i, column, [s[i] if s else None for s in segments])
        return frame

    def row(self, metric: str, treatment: Any = None, segment: Any = ()) -> Any:
        """The row of ``metric`` against ``treatment`` (the only treatment when ``None``) in
        ``segment`` (a tuple of ``by`` values, or the value itself with one ``by`` column;
        ``()``, the default, is the overall row)."""
        key = segment if isinstance(segment, tuple) else (segment,)
        for r in self.rows:
            if (r.metric == metric and (treatment is None or r.treatment == treatment)
                    and r.segment == key):
                return r
        raise KeyError(f"No row for metric {metric!r}, treatment {treatment!r} and segment "
                       f"{segment!r}.")

    def _header(self) -> list[str]:
        arms = ", ".join(
            f"{v!r}{'' if label == str(v) else f' {label}'} (n = {n:,})"
            for v, label, n in zip((self.control, *self.treatments), self.labels, self.n, strict=True))
        verdict = "MISMATCH: do not trust the results" if self.srm.mismatch else "ok"
        caps = {r.metric: r.cap_threshold for r in self.rows if not math.isnan(r.cap_threshold)}
        lines = [f"Experiment on column {self.variant!r}; control first: {arms}",
                 f"Sample ratio check: chi2 = {self.srm.statistic:.3f}, p = {self.srm.pvalue:.4g} "
                 f"-> {verdict}"]
        if caps:
            lines.append("Capped at: " + ", ".join(f"{k} {_number(v)}" for k, v in caps.items()))
        if self.by:
            analyzed = sum(s.analyzed for s in self.segments)
            family = ("each segment (and the overall) on its own" if self.family == "segment"
                      else "all rows of every segment and the overall together")
            lines.append(f"Segments by {', '.join(self.by)}: {analyzed} of {len(self.segments)} "
                         f"analysed; p-values adjusted across {family}")
            for seg in self.segments:
                if not seg.analyzed:
                    lines.append(f"  {_segment_text(self.by, seg.segment)}: not analysed (an arm "
                                 f"has fewer than 2 units; n = {list(seg.n)})")
                elif seg.srm is not None and seg.srm.mismatch:
                    lines.append(f"  {_segment_text(self.by, seg.segment)}: sample ratio MISMATCH "
                                 f"(p = {seg.srm.pvalue:.4g})")
        return lines

    def _segment_cells(self, r: Any) -> list[str]:
        if not self.by:
            return []
        return [str(v) for v in r.segment] if r.segment else ["(all)"] * len(self.by)

    def _table(self) -> tuple[list[str], list[list[str]]]:
        level = f"{self.confidence_level:.0%}"
        if self.engine == "bayes":
            headers = [*self.by, "metric", "treatment", "control value", "treatment value", "effect",
                       f"{level} CrI", "relative", f"{level} CrI (relative)", "chance to win",
                       "loss (control)", "loss (treatment)"]
            return headers, [
                [*self._segment_cells(r), r.metric, r.treatment_label, _number(r.control_value),
                 _number(r.treatment_value),
                 _number(r.effect), _interval(r.ci, _number), _percent(r.relative_effect),
                 _interval(r.relative_ci, _percent), f"{r.chance_to_win:.2%}",
                 _number(r.control_expected_loss), _number(r.treatment_expected_loss)]
                for r in self.rows if isinstance(r, BayesMetricResult)]
        headers = [*self.by, "metric", "treatment", "control value", "treatment value", "effect",
                   f"{level} CI",
                   "relative", f"{level} CI (relative)", "pvalue", f"pvalue ({self.adjust})"]
        cells = [[*self._segment_cells(r), r.metric, r.treatment_label, _number(r.control_value),
                  _number(r.treatment_value),
                  _number(r.effect), _interval(r.ci, _number), _percent(r.relative_effect),
                  _interval(r.relative_ci, _percent), _number(r.pvalue), _number(r.pvalue_adjusted)]
                 for r in self.rows if isinstance(r, MetricResult)]
        return headers, cells

    def __repr__(self) -> str:
        headers, cells = self._table()
        widths = [max(len(row[i]) for row in [headers, *cells]) for i in range(len(headers))]
        lines = [*self._header(), ""]
        for row in [headers, *cells]:
            lines.append("  ".join(c.ljust(w) if i < 2 + len(self.by) else c.rjust(w)
                                   for i, (c, w) in enumerate(zip(row, widths, strict=True))).rstrip())
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        headers, cells = self._table()
        head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
                       for row in cells)
        caption = "<br>".join(html.escape(line) for line in self._header())
        return (f"<table><caption style='text-align:left'>{caption}</caption>"
                f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class BayesMetricResult(Result):
    """One metric, one treatment against the control, from ``analyze(..., engine="bayes")``.

    ``chance_to_win`` is the posterior ``P(treatment > control)``; ``control_expected_loss``
    and ``treatment_expected_loss`` the expected loss of shipping each arm; ``ci`` and
    ``relative_ci`` equal-tailed credible intervals; ``details`` is the
    :func:`abkit.bayes_proportions` or :func:`abkit.bayes_means` result.
    """

    metric: str
    treatment: Any
    control: Any
    test: str
    method: str
    control_value: float
    treatment_value: float
    effect: float
    ci: ConfidenceInterval
    relative_effect: float
    relative_ci: ConfidenceInterval
    chance_to_win: float
    control_expected_loss: float
    treatment_expected_loss: float
    n_control: int
    n_treatment: int
    confidence_level: float
    cap_threshold: float
    control_label: str
    treatment_label: str
    segment: tuple[Any, ...] = ()
    details: Result

    def __repr__(self) -> str:
        nested = repr(self.details)
        return Result.__repr__(self).replace(nested, nested.replace("\n", "\n    "))


_INTERVAL_PREFIX = {"relative_ci": "rel_ci"}


def to_frame(results: Iterable[Result] | Result) -> pd.DataFrame:
    """Results as a pandas DataFrame, one row each.

    A result that holds rows of its own (an :class:`ExperimentResult`, or one with a
    ``to_records()`` method such as :class:`abkit.shadow.ShadowComparison`) gives those rows.
    An interval field ``ci`` becomes columns ``ci_low`` and ``ci_high`` (``relative_ci`` becomes
    ``rel_ci_low``/``rel_ci_high``, any other ``name`` ``name_low``/``name_high``); nested
    results (such as ``details``) are left out; other fields are kept as they are.

    Examples
    --------
    >>> from abkit import ProportionStats, proportions_test
    >>> r = proportions_test(ProportionStats(100, 1000), ProportionStats(130, 1000))
    >>> list(to_frame([r]).columns[:6])
    ['statistic', 'pvalue', 'effect', 'ci_low', 'ci_high', 'relative_effect']
    """
    import pandas as pd

    if isinstance(results, ExperimentResult):
        return results.to_frame()
    if isinstance(results, Result) and callable(to_records := getattr(results, "to_records", None)):
        return pd.DataFrame.from_records(to_records())  # a result holding rows of its own
    elif isinstance(results, Result):
        results = [results]
    elif (isinstance(results, str | bytes | Mapping) or not isinstance(results, Iterable)
          or getattr(results, "ndim", 1) == 0):
        raise TypeError(f"`results` must be an abkit result or an iterable of them; "
                        f"got {type(results).__name__}.")
    records: list[dict[str, Any]] = []
    for result in results:
        if not (isinstance(result, Result) and dataclasses.is_dataclass(result)):
            raise TypeError(f"`results` must hold abkit results; got {type(result).__name__}.")
        record: dict[str, Any] = {}
        for field in dataclasses.fields(result):
            value = getattr(result, field.name)
            if isinstance(value, ConfidenceInterval):
                prefix = _INTERVAL_PREFIX.get(field.name, field.name)
                record[f"{prefix}_low"], record[f"{prefix}_high"] = value.low, value.high
            elif not isinstance(value, Result):
                record[field.name] = value
        records.append(record)
    return pd.DataFrame.from_records(records)
