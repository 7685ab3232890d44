"""One aggregation query: per-variant (and per-segment) sufficient statistics in the engine.

:func:`summarize` runs **one** group-by query per table, through narwhals, inside the table's own
engine, and turns the per-group aggregates into :mod:`abkit.stats` values; only those small
aggregates reach Python (a pandas table is grouped in pandas itself on integer group codes,
:mod:`abkit.frame.pandas_groups`: the same aggregates, bit for bit, without pandas' costly
grouping on several key columns). With segments (``by`` columns) the query groups by the
variant and the segment columns, and each variant's overall statistics are the exact merge
(Chan's parallel formulas) of its segments', so the overall and every segment come from the
same one query.
Quantile metrics add a sample of rows before the query (which places bands of values around
each group's quantile, :mod:`abkit.frame.quantile_bands`; the query counts each group's values
below and above them) and one read of the bands' rows after it for the order statistics they
need (:mod:`abkit.frame.order_stats`); percentile caps add one aggregate query for the
thresholds (:mod:`abkit.frame.capping`).

Numerical precision: the query asks the engine for means and sample variances (its ``var``
aggregate, computed by a stable one-pass or two-pass algorithm) rather than raw sums of
squares, which cancel catastrophically when a mean is large relative to the spread. A
covariance comes from the identity ``cov(x, y) = (var(x + y) - var(x) - var(y)) / 2``, so it
needs no second pass either; its error is a few ulps of ``var(x) + var(y)`` (tested), which is
small beside ``sqrt(var(x) var(y))`` unless the two columns' spreads differ by many orders of
magnitude.

Examples
--------
>>> import pandas as pd
>>> table = pd.DataFrame({"variant": ["a", "a", "b", "b"], "y": [1.0, 3.0, 2.0, 4.0]})
>>> summarize(table, metrics={"y": Mean("y")})["b"]
{'y': MeanStats(n=2, mean=3.0, var=2.0)}
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import narwhals as nw
import numpy as np
import pandas as pd

from abkit.frame import pandas_groups, quantile_bands
from abkit.frame._engine import alias as _alias
from abkit.frame._engine import open_table, python_value, sorted_keys
from abkit.frame.capping import apply_caps
from abkit.frame.metrics import Mean, Metric, Proportion, RatioOfMeans, _check_column, check_metrics
from abkit.frame.order_stats import order_statistics
from abkit.frame.quantile import Quantile, QuantileStats, quantile_ranks
from abkit.stats import BivariateStats, MeanStats, ProportionStats

__all__ = ["summarize"]

Stats = ProportionStats | MeanStats | BivariateStats | QuantileStats


@dataclasses.dataclass
class _Plan:
    """Which aggregates the metrics need, and the names the query gives them."""

    value: dict[str, str]  # column -> name of its float64 expression
    proportion: list[str]
    moment: list[str]
    pairs: list[tuple[str, str]]
    quantile: list[str]
    names: dict[str, str] = dataclasses.field(default_factory=dict)  # capped column -> source
    bands: dict[str, list[tuple[float, float]]] = dataclasses.field(default_factory=dict)

    @classmethod
    def build(cls, metrics: Mapping[str, Metric], schema: Mapping[str, Any]) -> _Plan:
        proportion: dict[str, None] = {}
        moment: dict[str, None] = {}
        pairs: dict[tuple[str, str], None] = {}
        quantile: dict[str, None] = {}
        for metric in metrics.values():
            if isinstance(metric, Proportion):
                proportion[metric.column] = None
            elif isinstance(metric, Quantile):
                quantile[metric.column] = None
            else:
                moment.update(dict.fromkeys(metric.columns))
                if len(metric.columns) == 2:
                    pairs[(metric.columns[0], metric.columns[1])] = None
        columns = list(dict.fromkeys([*proportion, *moment, *quantile]))
        # Float64 columns are read as they are; others are cast to Float64 under a new name.
        value = {c: c if schema[c] == nw.Float64 else _alias("v", i) for i, c in enumerate(columns)}
        return cls(value, list(proportion), list(moment), list(pairs), list(quantile))

    def alias(self, kind: str, column: str) -> str:
        """The query's name for aggregate ``kind`` of ``column`` (by position: any name is safe)."""
        return _alias(kind, list(self.value).index(column))

    def derived(self, bands: bool = True) -> list[nw.Expr]:
        """Columns computed before grouping: float casts, pair sums and 0/1 violations (and the
        0/1 columns whose sums count the values below and above each band, unless ``bands`` is
        false: the pandas path counts those itself)."""
        exprs = [self.float(c).alias(name) for c, name in self.value.items() if name != c]
        exprs += [(self.float(x) + self.float(y)).alias(_alias("s", j))
                  for j, (x, y) in enumerate(self.pairs)]
        exprs += [(~self.float(c).is_in([0.0, 1.0])).cast(nw.Int64).alias(self.alias("b", c))
                  for c in self.proportion]
        exprs += [(~self.float(c).is_finite()).cast(nw.Float64).alias(self.alias("nf", c))
                  for c in self.unchecked()]
        for c, column_bands in (self.bands.items() if bands else ()):  # values below/above bands
            for j, (low, high) in enumerate(column_bands):
                # 0/1 as floats: their sums are exact below 2**53 and cheaper than integer sums
                # in pandas (and no dearer in DuckDB, which sums BIGINT into HUGEINT).
                exprs += [(self.float(c) < low).cast(nw.Float64).alias(self.alias(f"lt{j}_", c)),
                          (self.float(c) > high).cast(nw.Float64).alias(self.alias(f"gt{j}_", c))]
        return exprs

    def unchecked(self) -> list[str]:
        """Quantile columns that need a count of non-finite values: the others have a sum or a
        mean, whose finiteness is checked (a count, so no finite value is too large)."""
        return [c for c in self.quantile if c not in self.moment and c not in self.proportion]

    def float(self, column: str) -> nw.Expr:
        """``column`` as float64 (a cast unless it already is)."""
        expr = nw.col(column)
        return expr if self.value[column] == column else expr.cast(nw.Float64)

    def specs(self, bands: bool = True) -> list[tuple[str, str | None, str]]:
        """Per-group aggregates as ``(operation, column, name)``: ``"len"`` (no column),
        ``"count"``, ``"sum"``, ``"mean"`` or ``"var"`` (ddof 1); every one is elementary, so
        every engine runs them natively. ``bands=False`` leaves out the band counts."""
        specs: list[tuple[str, str | None, str]] = [("len", None, _alias("n", 0))]
        for c, name in self.value.items():
            specs.append(("count", name, self.alias("count", c)))
        for c in self.proportion:
            specs += [("sum", self.value[c], self.alias("sum", c)),
                      ("sum", self.alias("b", c), self.alias("bad", c))]
        for c in self.moment:
            specs += [("mean", self.value[c], self.alias("mean", c)),
                      ("var", self.value[c], self.alias("var", c))]
        specs += [("var", _alias("s", j), _alias("svar", j)) for j in range(len(self.pairs))]
        specs += [("sum", self.alias("nf", c), self.alias("nonfinite", c)) for c in self.unchecked()]
        if bands:
            for c in self.quantile:
                specs += [("sum", self.alias(f"{side}{j}_", c), self.alias(f"n{side}{j}_", c))
                          for j in range(len(self.bands.get(c, ()))) for side in ("lt", "gt")]
        return specs

    def aggregates(self) -> list[nw.Expr]:
        """:meth:`specs` as narwhals expressions."""
        exprs = []
        for operation, column, name in self.specs():
            if column is None:  # "len"
                exprs.append(nw.len().alias(name))
            elif operation == "var":
                exprs.append(nw.col(column).var(ddof=1).alias(name))
            else:
                exprs.append(getattr(nw.col(column), operation)().alias(name))
        return exprs


class _Group:
    """One variant's row of aggregates, checked as it is read."""

    def __init__(self, key: Any, row: Mapping[str, Any], variant: str, plan: _Plan,
                 segment: str = "") -> None:
        self.row = row
        self.plan = plan
        self.where = f"in variant {key!r} of column {variant!r}{segment}"
        self.names = plan.names
        self.n = int(python_value(row[_alias("n", 0)]))

    def value(self, name: str) -> float:
        value = python_value(self.row[name])
        return math.nan if value is None else float(value)

    def get(self, kind: str, column: str) -> float:
        return self.value(self.plan.alias(kind, column))

    def count(self, kind: str, column: str) -> int:
        """A count (an integer or a float sum of 0/1 values) as an int."""
        return round(python_value(self.row[self.plan.alias(kind, column)]))

    def check_column(self, column: str, metric: str) -> None:
        count = int(self.get("count", column))
        if count < self.n:
            column = self.names.get(column, column)
            raise ValueError(
                f"Column {column!r} (metric {metric!r}) must not contain missing values; got "
                f"{self.n - count} null or NaN value(s) {self.where}."
            )

    def check_finite(self, column: str, metric: str, *values: float) -> None:
        if not all(math.isfinite(v) for v in values):
            column = self.names.get(column, column)
            raise ValueError(
                f"Column {column!r} (metric {metric!r}) must contain only finite values; got NaN "
                f"or infinite values (or values too large to aggregate) {self.where}."
            )

    def moments(self, column: str, metric: str) -> tuple[float, float]:
        # One row (possible in a segment) has no sample variance; it adds 0 to a merged one.
        mean = self.get("mean", column)
        var = self.get("var", column) if self.n > 1 else 0.0
        self.check_finite(column, metric, mean, var)
        return mean, max(var, 0.0)


def _proportion_stats(group: _Group, name: str, metric: Proportion) -> ProportionStats:
    column = metric.column
    total = group.get("sum", column)
    group.check_finite(column, name, total)
    bad = int(group.get("bad", column))
    if bad:
        raise ValueError(
            f"Column {column!r} (metric {name!r}) must contain only 0 and 1 (or booleans); got "
            f"{bad} other value(s) {group.where}."
        )
    return ProportionStats(round(total), group.n)


def _moment_stats(group: _Group, name: str, metric: Mean | RatioOfMeans) -> Stats:
    columns = metric.columns
    if len(columns) == 1:
        mean, var = group.moments(columns[0], name)
        return MeanStats(group.n, mean, var)
    (mean_x, var_x), (mean_y, var_y) = (group.moments(c, name) for c in columns)
    var_sum = (group.value(_alias("svar", group.plan.pairs.index((columns[0], columns[1]))))
               if group.n > 1 else 0.0)
    shown = [group.names.get(c, c) for c in columns]
    group.check_finite(f"{shown[0]}' + '{shown[1]}", name, var_sum)
    cov = (var_sum - var_x - var_y) / 2.0
    bound = math.sqrt(var_x) * math.sqrt(var_y)  # the product var_x * var_y can underflow
    # The identity loses a few ulps of var_x + var_y; keep Cauchy-Schwarz exact.
    cov = min(max(cov, -bound), bound)
    return BivariateStats(group.n, mean_x, mean_y, var_x, var_y, cov)


def check_schema(schema: Mapping[str, Any], variant: str, metrics: Mapping[str, Metric],
                 by: tuple[str, ...] = ()) -> None:
    """Raise if ``variant``, a ``by`` column or a metric column is missing or of the wrong type."""
    available = list(schema)
    if variant not in schema:
        raise ValueError(f"`variant` must be a column of the table; got {variant!r} (columns: "
                         f"{available}).")
    for column in by:
        if column not in schema:
            raise ValueError(f"`by` must name columns of the table; got {column!r} (columns: "
                             f"{available}).")
    for name, metric in metrics.items():
        for column in metric.columns:
            if column not in schema:
                raise ValueError(f"Column {column!r} (metric {name!r}) is not in the table; "
                                 f"columns: {available}.")
            dtype = schema[column]
            if not (dtype.is_numeric() or dtype == nw.Boolean):
                raise TypeError(f"Column {column!r} (metric {name!r}) must be numeric or boolean; "
                                f"got dtype {dtype}.")


def _declared_variants(frame: Any, schema: Mapping[str, Any], variant: str) -> list[Any]:
    """The categories of an Enum or pandas categorical variant column (empty for other types)."""
    dtype = schema[variant]
    if isinstance(dtype, nw.Enum):
        return list(dtype.categories)
    if (dtype == nw.Categorical and isinstance(frame, nw.DataFrame)
            and frame.implementation.is_pandas()):
        return [python_value(c) for c in frame.to_native()[variant].cat.categories]
    return []


def summarize(
    table: Any, *, variant: str = "variant", metrics: Mapping[str, Metric]
) -> dict[Any, dict[str, Stats]]:
    """Per-variant sufficient statistics of ``metrics``, from one group-by query in the engine.

    Parameters
    ----------
    table
        A pandas, Polars (eager or lazy), PyArrow, DuckDB or PySpark table (anything
        ``narwhals.from_native`` accepts), one row per randomisation unit.
    variant
        The column holding each unit's variant.
    metrics
        Names mapped to :class:`Proportion`, :class:`Mean`, :class:`RatioOfMeans` or
        :class:`~abkit.frame.Quantile`.

    Returns
    -------
    dict
        ``{variant value: {metric name: stats}}`` in sorted variant order, where stats is
        ``ProportionStats`` for a proportion, ``MeanStats`` for a mean, and ``BivariateStats``
        (``x`` the metric or numerator, ``y`` the covariate or denominator) for a ratio or a
        covariate, ``QuantileStats`` for a quantile.

    Raises
    ------
    ValueError
        Missing columns, null variants, a variant with fewer than 2 rows (a category of an Enum or
        pandas categorical variant column counts as a variant), missing or non-finite metric
        values, or a proportion column with values other than 0 and 1.
    TypeError
        An unsupported table or a non-numeric metric column.

    Examples
    --------
    >>> import polars as pl
    >>> table = pl.DataFrame({"variant": ["a", "a", "b", "b", "b"], "y": [1.0, 3.0, 2.0, 4.0, 9.0]})
    >>> summarize(table, metrics={"y": Mean("y")})
    {'a': {'y': MeanStats(n=2, mean=2.0, var=2.0)}, 'b': {'y': MeanStats(n=3, mean=5.0, var=13.0)}}
    """
    return _summarize(table, variant, metrics).overall


@dataclasses.dataclass(frozen=True, slots=True)
class Summary:
    """What one pass over a table gives an analysis.

    ``overall`` maps each variant (sorted) to its metrics' stats; ``segments`` maps each segment
    (a tuple of ``by`` values, sorted) to the stats of its variants with at least 2 units;
    ``thresholds`` holds the capped metrics' thresholds.
    """

    overall: dict[Any, dict[str, Stats]]
    segments: dict[tuple[Any, ...], dict[Any, dict[str, Stats]]]
    sizes: dict[tuple[Any, ...], dict[Any, int]]
    thresholds: dict[str, float]


def _is_null(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _group_stats(group: _Group, metrics: Mapping[str, Metric]) -> dict[str, Stats]:
    stats: dict[str, Stats] = {}
    for name, metric in metrics.items():
        for column in metric.columns:
            group.check_column(column, name)
        if isinstance(metric, Proportion):
            stats[name] = _proportion_stats(group, name, metric)
        elif isinstance(metric, Quantile):
            bad = group.count("nonfinite", metric.column) if metric.column in group.plan.unchecked() else 0
            if bad:
                column = group.names.get(metric.column, metric.column)
                raise ValueError(f"Column {column!r} (metric {name!r}) must contain only finite "
                                 f"values; got {bad} NaN or infinite value(s) {group.where}.")
        else:
            stats[name] = _moment_stats(group, name, metric)
    return stats


def _merged(parts: list[dict[str, Stats]]) -> dict[str, Stats]:
    merged = dict(parts[0])
    for part in parts[1:]:
        for name, stats in part.items():
            merged[name] = merged[name].merge(stats)  # type: ignore[union-attr,arg-type]
    return merged


def _where(by: tuple[str, ...], segment: tuple[Any, ...]) -> str:
    if not by:
        return ""
    return " (segment " + ", ".join(f"{c}={v!r}" for c, v in zip(by, segment, strict=True)) + ")"


def _summarize(table: Any, variant: str, metrics: Any, by: tuple[str, ...] = ()) -> Summary:
    """:func:`summarize`, by segment of the ``by`` columns too, with the capped thresholds."""
    _check_column("variant", variant)
    metrics = check_metrics(metrics)
    frame = open_table(table)
    lazy = frame.lazy() if isinstance(frame, nw.DataFrame) else frame
    schema = dict(lazy.collect_schema())
    check_schema(schema, variant, metrics, by)
    originals = metrics
    lazy, metrics, thresholds = apply_caps(lazy, metrics)
    names = {metrics[name].columns[0]: originals[name].columns[0] for name in thresholds}
    schema.update(dict.fromkeys(names, nw.Float64))
    plan = _Plan.build(metrics, schema)
    plan.names = names
    if plan.quantile:  # where each quantile column's wanted order statistics lie, from a sample
        for column in plan.quantile:
            sampled, scale = quantile_bands.sample(frame, lazy, [variant, *by], plan.float(column))
            plan.bands[column] = quantile_bands.bands(
                sampled, [m.q for m in metrics.values() if isinstance(m, Quantile) and m.column == column],
                scale)
    rows = _pandas_rows(lazy, [variant, *by], plan) if lazy.implementation.is_pandas() else None
    if rows is None:
        derived = plan.derived()
        rows = ((lazy.with_columns(*derived) if derived else lazy)
                .group_by(variant, *by)
                .agg(*plan.aggregates())
                .collect()
                .rows(named=True))
    if not rows:
        raise ValueError("`table` must have rows; got an empty table.")
    groups: dict[tuple[Any, ...], dict[Any, _Group]] = {}
    for row in rows:
        key = python_value(row[variant])
        if _is_null(key):
            raise ValueError(f"Column {variant!r} (the variant) must not contain nulls; got "
                             f"{int(row[_alias('n', 0)])} row(s) with a null variant.")
        segment = tuple(python_value(row[c]) for c in by)
        for column, value in zip(by, segment, strict=True):
            if _is_null(value):
                raise ValueError(f"Column {column!r} (in `by`) must not contain nulls (fill them with a "
                                 f"value such as 'unknown'); got {int(row[_alias('n', 0)])} row(s) "
                                 f"with a null {column!r} in variant {key!r}.")
        groups.setdefault(segment, {})[key] = _Group(key, row, variant, plan, _where(by, segment))
    variants = sorted_keys({key for block in groups.values() for key in block})
    for key in _declared_variants(frame, schema, variant):
        if key not in variants:
            raise ValueError(f"Each variant must have at least 2 rows; got 0 in variant {key!r} (a "
                             f"category of column {variant!r}).")
    segments = sorted_keys(groups)
    stats = {segment: {key: _group_stats(groups[segment][key], metrics) for key in variants
                       if key in groups[segment]} for segment in segments}
    sizes = {segment: {key: groups[segment][key].n for key in variants if key in groups[segment]}
             for segment in segments}
    overall: dict[Any, dict[str, Stats]] = {}
    for key in variants:
        n = sum(block.get(key, 0) for block in sizes.values())
        if n < 2:
            raise ValueError(f"Each variant must have at least 2 rows; got {n} in variant {key!r} of "
                             f"column {variant!r}.")
        overall[key] = _merged([stats[s][key] for s in segments if key in stats[s]])
    if isinstance(frame, nw.DataFrame) and frame.implementation.is_pyarrow():
        lazy = nw.from_native(frame.to_pandas()).lazy()  # narwhals has no window rank in PyArrow
    by_segment = {segment: {key: stats[segment][key] for key in variants
                            if sizes[segment].get(key, 0) >= 2} for segment in segments} if by else {}
    _quantile_stats(lazy, variant, by, plan, metrics, overall, by_segment, groups)
    return Summary(overall, by_segment, sizes, thresholds)


def _pandas_rows(lazy: Any, keys: list[str], plan: _Plan) -> list[dict[str, Any]] | None:
    """The main query's rows for a pandas table, from :mod:`abkit.frame.pandas_groups` (the same
    aggregates, bit for bit, as pandas' group-by on ``keys``); ``None`` (run the generic query)
    when a key holds a null or the table is empty."""
    table = lazy.to_native()
    groups = pandas_groups.group_codes(table, keys)
    if groups is None:
        return None
    derived = plan.derived(bands=False)
    if derived:
        table = lazy.with_columns(*derived).to_native()
    # A numpy integer or boolean column (and its float copy) cannot hold a null: no count.
    complete = {name for c, name in plan.value.items()
                if isinstance(table[c].dtype, np.dtype) and table[c].dtype.kind in "iub"}
    result = pandas_groups.group_aggregates(table, groups, plan.specs(bands=False), complete)
    for c, column_bands in plan.bands.items():
        if column_bands:
            values = table[plan.value[c]].to_numpy(dtype=float)
            for j, (below, above) in enumerate(pandas_groups.band_counts(values, groups, column_bands)):
                result[plan.alias(f"nlt{j}_", c)] = below
                result[plan.alias(f"ngt{j}_", c)] = above
    result = pd.concat([groups.keys, result], axis=1)
    result = result[result[_alias("n", 0)] > 0]  # key combinations that occur
    rows: list[dict[str, Any]] = nw.from_native(result, eager_only=True).rows(named=True)
    return rows


def _quantile_stats(lazy: Any, variant: str, by: tuple[str, ...], plan: _Plan,
                    metrics: Mapping[str, Metric], overall: dict[Any, dict[str, Stats]],
                    by_segment: dict[tuple[Any, ...], dict[Any, dict[str, Stats]]],
                    groups: Mapping[tuple[Any, ...], Mapping[Any, _Group]]) -> None:
    """Fill in the quantile metrics from their order statistics (:mod:`abkit.frame.order_stats`)."""
    quantiles = {name: m for name, m in metrics.items() if isinstance(m, Quantile)}
    if not quantiles:
        return
    # Finest groups are (variant, *segment); an overall arm is the union of its segments.
    members = {key: tuple((key, *segment) for segment, block in groups.items() if key in block)
               for key in overall}
    blocks = [(members[key], groups_n(groups, members[key]), stats) for key, stats in overall.items()]
    blocks += [(((key, *segment),), groups[segment][key].n, stats)
               for segment, block in by_segment.items() for key, stats in block.items()]
    keys = [variant, *by]
    finest = {(key, *segment): group for segment, block in groups.items() for key, group in block.items()}
    for column in dict.fromkeys(m.column for m in quantiles.values()):
        targets = list(dict.fromkeys(
            (group, rank) for group, n, _ in blocks for m in quantiles.values() if m.column == column
            for rank in quantile_ranks(n, m.q)[:4] if 1 <= rank <= n))
        bands = []  # each band's counts from the main query: values below it and within it
        for j, (low, high) in enumerate(plan.bands.get(column, ())):
            below = {key: group.count(f"nlt{j}_", column) for key, group in finest.items()}
            inside = {key: group.n - below[key] - group.count(f"ngt{j}_", column)
                      for key, group in finest.items()}
            bands.append((low, high, below, inside))
        values = order_statistics(lazy, keys, plan.float(column), targets, bands)
        for group, n, stats in blocks:
            for name, metric in quantiles.items():
                if metric.column == column:
                    ranks = [r for r in quantile_ranks(n, metric.q)[:4] if 1 <= r <= n]
                    stats[name] = QuantileStats.from_order_statistics(
                        n, metric.q, {r: values[(group, r)] for r in ranks})
    order = list(metrics)
    for _, _, stats in blocks:
        reordered = {name: stats[name] for name in order}
        stats.clear()
        stats.update(reordered)


def groups_n(groups: Mapping[tuple[Any, ...], Mapping[Any, _Group]],
             members: tuple[tuple[Any, ...], ...]) -> int:
    """Units in the union of the finest groups ``members`` ((variant, *segment) tuples)."""
    return sum(groups[member[1:]][member[0]].n for member in members)
