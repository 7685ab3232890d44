"""Experiments on tables where they live: pandas, Polars, PyArrow, DuckDB and PySpark.

:func:`summarize` runs **one** group-by query per table, through narwhals, inside the table's own
engine, and turns the per-variant aggregates into :mod:`abkit.stats` values; only those small
aggregates reach Python. :class:`Experiment` declares metrics (:class:`Proportion`,
:class:`Mean` with an optional CUPED covariate, :class:`RatioOfMeans`) and ``analyze`` tests every
treatment against the control with the fixed-horizon primitives, adjusts the p-values for
multiplicity (Holm by default) and checks the sample ratio.

Numerical precision: the query asks the engine for means and sample variances (its ``var``
aggregate, computed by a stable one-pass or two-pass algorithm) rather than raw sums of
squares, which cancel catastrophically when a mean is large relative to the spread. A
covariance comes from the identity ``cov(x, y) = (var(x + y) - var(x) - var(y)) / 2``, so it
needs no second pass either; its error is a few ulps of ``var(x) + var(y)`` (tested), which is
small beside ``sqrt(var(x) var(y))`` unless the two columns' spreads differ by many orders of
magnitude.

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
import decimal
import math
from collections.abc import Hashable, Iterable, Mapping
from typing import Any

import narwhals as nw
import numpy as np

from abkit._validation import (
    check_alternative,
    check_choice,
    check_confidence_level,
    check_open_unit,
    check_positive,
    check_real,
)
from abkit.frame.bayes import bayes_row
from abkit.frame.quantile import Quantile, QuantileStats, QuantileTestResult, order_statistics, quantile_ranks
from abkit.frame.result import ExperimentResult, MetricResult, to_frame
from abkit.frame.simulate import SimulationResult, simulate
from abkit.means import MEAN_METHODS, RELATIVE_METHODS, MeansTestResult, cuped_test, means_test, ratio_test
from abkit.multiple import ADJUST_METHODS, adjust_pvalues
from abkit.proportions import PROPORTION_METHODS, ProportionsTestResult, proportions_test
from abkit.srm import srm_test
from abkit.stats import BivariateStats, MeanStats, ProportionStats

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

Stats = ProportionStats | MeanStats | BivariateStats | QuantileStats
TestResult = ProportionsTestResult | MeansTestResult | QuantileTestResult


def _check_column(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError(f"`{name}` must be a column name (a non-empty string); got {value!r}.")
    return value


def _check_declaration(columns: dict[str, Any], method: str, methods: tuple[str, ...],
                       relative_method: str) -> None:
    for name, column in columns.items():
        _check_column(name, column)
    check_choice("method", method, methods)
    check_choice("relative_method", relative_method, RELATIVE_METHODS)


def _check_options(metric: Any) -> None:
    """Per-metric ``alternative`` (``None``: the analysis's) and ``margin`` (the signed null
    value of ``effect``, as in the primitives)."""
    if metric.alternative is not None:
        object.__setattr__(metric, "alternative", check_alternative(metric.alternative))
    object.__setattr__(metric, "margin", check_real("margin", metric.margin))


def _check_cap(cap: Any) -> tuple[str, float]:
    rule = "`cap` must be (\"percentile\", p) with p in (0, 1) or (\"absolute\", x) with x finite"
    if not (isinstance(cap, tuple) and len(cap) == 2 and cap[0] in ("percentile", "absolute")):
        raise ValueError(f"{rule}; got {cap!r}.")
    if cap[0] == "percentile":
        return "percentile", check_open_unit("cap", cap[1])
    return "absolute", check_real("cap", cap[1])


@dataclasses.dataclass(frozen=True, slots=True)
class Proportion:
    """A 0/1 (or boolean) outcome per unit, such as ``converted``; tested by
    :func:`abkit.proportions_test` with ``method`` and ``relative_method`` as there.

    Examples
    --------
    >>> Proportion("converted").columns
    ('converted',)
    """

    column: str
    _: dataclasses.KW_ONLY
    method: str = "pooled"
    relative_method: str = "delta-log"
    alternative: str | None = None
    margin: float = 0.0

    def __post_init__(self) -> None:
        _check_declaration({"column": self.column}, self.method, PROPORTION_METHODS,
                           self.relative_method)
        _check_options(self)

    @property
    def columns(self) -> tuple[str, ...]:
        """The table columns the metric reads."""
        return (self.column,)

    def test(self, control: Any, treatment: Any, **options: Any) -> ProportionsTestResult:
        """The metric's test on two arms' ``ProportionStats`` (options: ``alternative``, ...)."""
        return proportions_test(control, treatment, method=self.method,
                                relative_method=self.relative_method, margin=self.margin, **options)


@dataclasses.dataclass(frozen=True, slots=True)
class Mean:
    """The mean of a numeric column per unit; with ``covariate`` (a pre-experiment column) the
    test is CUPED (:func:`abkit.cuped_test`), else Welch's (:func:`abkit.means_test`).

    ``method`` is ``"welch"`` (t with Welch-Satterthwaite degrees of freedom, the default, as
    tea-tasting's ``use_t=True``) or ``"z"``.

    ``cap`` winsorises heavy tails before aggregation (GrowthBook's capping): every value above
    a threshold becomes the threshold. ``("percentile", p)`` takes the threshold from the ``p``
    quantile (R's type 7) of the column pooled over every variant of the table, computed in the
    engine (one more query); ``("absolute", x)`` uses ``x``. Only the metric column is capped
    (not the covariate); the result reports the threshold as ``cap_threshold``.

    Examples
    --------
    >>> Mean("revenue", covariate="revenue_pre").columns
    ('revenue', 'revenue_pre')
    >>> Mean("revenue", cap=("percentile", 0.99)).cap
    ('percentile', 0.99)
    """

    column: str
    covariate: str | None = None
    _: dataclasses.KW_ONLY
    method: str = "welch"
    relative_method: str = "delta-log"
    cap: tuple[str, float] | None = None
    alternative: str | None = None
    margin: float = 0.0

    def __post_init__(self) -> None:
        columns = {"column": self.column}
        if self.covariate is not None:
            columns["covariate"] = self.covariate
        _check_declaration(columns, self.method, MEAN_METHODS, self.relative_method)
        if self.cap is not None:
            object.__setattr__(self, "cap", _check_cap(self.cap))
        _check_options(self)

    @property
    def columns(self) -> tuple[str, ...]:
        """The table columns the metric reads."""
        return (self.column,) if self.covariate is None else (self.column, self.covariate)

    def test(self, control: Any, treatment: Any, **options: Any) -> MeansTestResult:
        """The metric's test on two arms' ``MeanStats`` (or ``BivariateStats`` with a covariate)."""
        test = means_test if self.covariate is None else cuped_test
        return test(control, treatment, method=self.method, relative_method=self.relative_method,
                    margin=self.margin, **options)


@dataclasses.dataclass(frozen=True, slots=True)
class RatioOfMeans:
    """``mean(numerator) / mean(denominator)`` over units (clicks per session with users
    randomised), tested by the delta method (:func:`abkit.ratio_test`); ``method`` as in
    :class:`Mean`.

    Examples
    --------
    >>> RatioOfMeans("clicks", "sessions").columns
    ('clicks', 'sessions')
    """

    numerator: str
    denominator: str
    _: dataclasses.KW_ONLY
    method: str = "welch"
    relative_method: str = "delta-log"
    alternative: str | None = None
    margin: float = 0.0

    def __post_init__(self) -> None:
        _check_declaration({"numerator": self.numerator, "denominator": self.denominator},
                           self.method, MEAN_METHODS, self.relative_method)
        _check_options(self)

    @property
    def columns(self) -> tuple[str, ...]:
        """The table columns the metric reads."""
        return (self.numerator, self.denominator)

    def test(self, control: Any, treatment: Any, **options: Any) -> MeansTestResult:
        """The metric's test on two arms' ``BivariateStats``."""
        return ratio_test(control, treatment, method=self.method,
                          relative_method=self.relative_method, margin=self.margin, **options)


Metric = Proportion | Mean | RatioOfMeans | Quantile


# --------------------------------------------------------------------------------------------
# One aggregation query
# --------------------------------------------------------------------------------------------

def _alias(kind: str, index: int) -> str:
    return f"__abkit_{kind}{index}"


@dataclasses.dataclass
class _Plan:
    """Which aggregates the metrics need, and the names the query gives them."""

    value: dict[str, str]  # column -> name of its float64 expression
    proportion: list[str]
    moment: list[str]
    pairs: list[tuple[str, str]]
    quantile: list[str]
    names: dict[str, str] = dataclasses.field(default_factory=dict)  # capped column -> source

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

    def derived(self) -> list[nw.Expr]:
        """Columns computed before grouping: float casts, pair sums and 0/1 violations."""
        exprs = [self.float(c).alias(name) for c, name in self.value.items() if name != c]
        exprs += [(self.float(x) + self.float(y)).alias(_alias("s", j))
                  for j, (x, y) in enumerate(self.pairs)]
        exprs += [(~self.float(c).is_in([0.0, 1.0])).cast(nw.Int64).alias(self.alias("b", c))
                  for c in self.proportion]
        return exprs

    def float(self, column: str) -> nw.Expr:
        """``column`` as float64 (a cast unless it already is)."""
        expr = nw.col(column)
        return expr if self.value[column] == column else expr.cast(nw.Float64)

    def aggregates(self) -> list[nw.Expr]:
        """Per-group aggregates; every one is elementary, so every engine runs them natively."""
        exprs = [nw.len().alias(_alias("n", 0))]
        for c, name in self.value.items():
            exprs.append(nw.col(name).count().alias(self.alias("count", c)))
        for c in self.proportion:
            exprs += [nw.col(self.value[c]).sum().alias(self.alias("sum", c)),
                      nw.col(self.alias("b", c)).sum().alias(self.alias("bad", c))]
        for c in self.moment:
            exprs += [nw.col(self.value[c]).mean().alias(self.alias("mean", c)),
                      nw.col(self.value[c]).var(ddof=1).alias(self.alias("var", c))]
        exprs += [nw.col(_alias("s", j)).var(ddof=1).alias(_alias("svar", j))
                  for j in range(len(self.pairs))]
        for c in self.quantile:  # exact, so no finite value is too large to check
            exprs += [nw.col(self.value[c]).min().alias(self.alias("min", c)),
                      nw.col(self.value[c]).max().alias(self.alias("max", c))]
        return exprs


def _python_value(value: Any) -> Any:
    # numpy scalars and Decimals (DuckDB's sum of integers) to plain Python numbers.
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, decimal.Decimal):
        return int(value) if value == int(value) else float(value)
    return value


class _Group:
    """One variant's row of aggregates, checked as it is read."""

    def __init__(self, key: Any, row: Mapping[str, Any], variant: str, plan: _Plan) -> None:
        self.row = row
        self.plan = plan
        self.where = f"in variant {key!r} of column {variant!r}"
        self.names = plan.names
        self.n = int(_python_value(row[_alias("n", 0)]))

    def value(self, name: str) -> float:
        value = _python_value(self.row[name])
        return math.nan if value is None else float(value)

    def get(self, kind: str, column: str) -> float:
        return self.value(self.plan.alias(kind, column))

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
        mean, var = self.get("mean", column), self.get("var", column)
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
    var_sum = group.value(_alias("svar", group.plan.pairs.index((columns[0], columns[1]))))
    shown = [group.names.get(c, c) for c in columns]
    group.check_finite(f"{shown[0]}' + '{shown[1]}", name, var_sum)
    cov = (var_sum - var_x - var_y) / 2.0
    bound = math.sqrt(var_x) * math.sqrt(var_y)  # the product var_x * var_y can underflow
    # The identity loses a few ulps of var_x + var_y; keep Cauchy-Schwarz exact.
    cov = min(max(cov, -bound), bound)
    return BivariateStats(group.n, mean_x, mean_y, var_x, var_y, cov)


def _check_schema(schema: Mapping[str, Any], variant: str, metrics: Mapping[str, Metric]) -> None:
    available = list(schema)
    if variant not in schema:
        raise ValueError(f"`variant` must be a column of the table; got {variant!r} (columns: "
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
        return [_python_value(c) for c in frame.to_native()[variant].cat.categories]
    return []


def _sorted_keys(keys: Iterable[Any]) -> list[Any]:
    keys = list(keys)
    try:
        return sorted(keys)
    except TypeError:
        return sorted(keys, key=repr)


def _check_metrics(metrics: Any) -> dict[str, Metric]:
    if not isinstance(metrics, Mapping) or not metrics:
        raise TypeError("`metrics` must be a non-empty mapping of names to Proportion, Mean, Quantile or "
                        f"RatioOfMeans; got {metrics!r}.")
    for name, metric in metrics.items():
        if not isinstance(metric, Proportion | Mean | RatioOfMeans | Quantile):
            raise TypeError(f"Metric {name!r} must be a Proportion, Mean, RatioOfMeans or Quantile; "
                            f"got {type(metric).__name__}.")
    return dict(metrics)


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
        Names mapped to :class:`Proportion`, :class:`Mean` or :class:`RatioOfMeans`.

    Returns
    -------
    dict
        ``{variant value: {metric name: stats}}`` in sorted variant order, where stats is
        ``ProportionStats`` for a proportion, ``MeanStats`` for a mean, and ``BivariateStats``
        (``x`` the metric or numerator, ``y`` the covariate or denominator) otherwise.

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
    return _summarize(table, variant, metrics)[0]


def _caps(lazy: Any, metrics: dict[str, Metric]) -> tuple[Any, dict[str, Metric], dict[str, float]]:
    """Capped metrics read a new, capped column; the thresholds come from one query if needed."""
    capped = {name: m for name, m in metrics.items() if isinstance(m, Mean) and m.cap is not None}
    if not capped:
        return lazy, metrics, {}
    thresholds: dict[str, float] = {}
    pooled = [(name, m) for name, m in capped.items() if m.cap is not None and m.cap[0] == "percentile"]
    if pooled:
        row = lazy.select(*[
            nw.col(m.column).cast(nw.Float64).quantile(m.cap[1], interpolation="linear")  # type: ignore[index]
            .alias(_alias("t", i)) for i, (name, m) in enumerate(pooled)]).collect().rows()[0]
        thresholds.update({name: float(_python_value(v)) for (name, _), v in zip(pooled, row, strict=True)})
    renamed, exprs = dict(metrics), []
    for i, (name, m) in enumerate(capped.items()):
        assert m.cap is not None
        threshold = thresholds.setdefault(name, m.cap[1])
        source = nw.col(m.column).cast(nw.Float64)
        # NaN > t and null > t are not true, so missing values stay missing (and are reported).
        exprs.append(nw.when(source > threshold).then(nw.lit(threshold)).otherwise(source)
                     .alias(_alias("cap", i)))
        renamed[name] = Mean(_alias("cap", i), m.covariate, method=m.method,
                             relative_method=m.relative_method)
    return lazy.with_columns(*exprs), renamed, thresholds


def _summarize(table: Any, variant: str, metrics: Any
               ) -> tuple[dict[Any, dict[str, Stats]], dict[str, float]]:
    """:func:`summarize` and the capped metrics' thresholds."""
    _check_column("variant", variant)
    metrics = _check_metrics(metrics)
    try:
        frame = nw.from_native(table)
    except TypeError as exc:
        raise TypeError("`table` must be a pandas, Polars, PyArrow, DuckDB or PySpark table; got "
                        f"{type(table).__name__}.") from exc
    lazy = frame.lazy() if isinstance(frame, nw.DataFrame) else frame
    schema = dict(lazy.collect_schema())
    _check_schema(schema, variant, metrics)
    originals = metrics
    lazy, metrics, thresholds = _caps(lazy, metrics)
    names = {metrics[name].columns[0]: originals[name].columns[0] for name in thresholds}
    schema.update(dict.fromkeys(names, nw.Float64))
    plan = _Plan.build(metrics, schema)
    plan.names = names
    derived = plan.derived()
    rows = ((lazy.with_columns(*derived) if derived else lazy)
            .group_by(variant)
            .agg(*plan.aggregates())
            .collect()
            .rows(named=True))
    if not rows:
        raise ValueError("`table` must have rows; got an empty table.")
    groups: dict[Any, _Group] = {}
    for row in rows:
        key = _python_value(row[variant])
        if key is None or (isinstance(key, float) and math.isnan(key)):
            raise ValueError(f"Column {variant!r} (the variant) must not contain nulls; got "
                             f"{int(row[_alias('n', 0)])} row(s) with a null variant.")
        groups[key] = _Group(key, row, variant, plan)
    for key in _declared_variants(frame, schema, variant):
        if key not in groups:
            raise ValueError(f"Each variant must have at least 2 rows; got 0 in variant {key!r} (a "
                             f"category of column {variant!r}).")
    result: dict[Any, dict[str, Stats]] = {}
    for key in _sorted_keys(groups):
        group = groups[key]
        if group.n < 2:
            raise ValueError(f"Each variant must have at least 2 rows; got {group.n} {group.where}.")
        stats: dict[str, Stats] = {}
        for name, metric in metrics.items():
            for column in metric.columns:
                group.check_column(column, name)
            if isinstance(metric, Proportion):
                stats[name] = _proportion_stats(group, name, metric)
            elif isinstance(metric, Quantile):
                group.check_finite(metric.column, name, group.get("min", metric.column),
                                   group.get("max", metric.column))
            else:
                stats[name] = _moment_stats(group, name, metric)
        result[key] = stats
    if isinstance(frame, nw.DataFrame) and frame.implementation.is_pyarrow():
        lazy = nw.from_native(frame.to_pandas()).lazy()  # narwhals has no window rank in PyArrow
    _quantile_stats(lazy, [variant], plan, metrics, groups, result)
    return result, thresholds


def _quantile_stats(lazy: Any, keys: list[str], plan: _Plan, metrics: Mapping[str, Metric],
                    groups: Mapping[Any, _Group], result: dict[Any, dict[str, Stats]]) -> None:
    """Fill in the quantile metrics of ``result`` from a second, window query (if any)."""
    quantiles = {name: m for name, m in metrics.items() if isinstance(m, Quantile)}
    if not quantiles:
        return
    wanted: dict[str, set[int]] = {m.column: set() for m in quantiles.values()}
    for group in groups.values():
        for metric in quantiles.values():
            wanted[metric.column].update(r for r in quantile_ranks(group.n, metric.q)[:4]
                                         if 1 <= r <= group.n)
    fetched = order_statistics(lazy, keys, {c: (plan.float(c), sorted(r)) for c, r in wanted.items()})
    for key, stats in result.items():
        for name, metric in quantiles.items():
            values = fetched[metric.column][key if isinstance(key, tuple) else (key,)]
            stats[name] = QuantileStats.from_order_statistics(groups[key].n, metric.q, values)
        order = list(metrics)
        result[key] = {name: stats[name] for name in order}


# --------------------------------------------------------------------------------------------
# Experiment and its result
# --------------------------------------------------------------------------------------------



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


def _kind(metric: Metric) -> str:
    if isinstance(metric, Proportion):
        return "proportion"
    if isinstance(metric, RatioOfMeans):
        return "ratio"
    return "mean" if isinstance(metric, Mean) and metric.covariate is None else "cuped"


def _adjust(pvalues: list[float], method: str) -> list[float]:
    # NaN p-values (degenerate rows, already warned about) stay NaN and do not count as tests.
    p = np.array(pvalues, dtype=float)
    adjusted = p.copy()
    finite = ~np.isnan(p)
    if method != "none" and finite.any():
        adjusted[finite] = adjust_pvalues(p[finite], method=method)
    return [float(v) for v in adjusted]


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


class Experiment:
    """An A/B(/n) experiment's metrics, analysed on any table with :meth:`analyze`.

    Parameters
    ----------
    **metrics
        Metric names mapped to :class:`Proportion`, :class:`Mean` or :class:`RatioOfMeans`; rows
        of the result follow this order.

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
        self.metrics: dict[str, Metric] = _check_metrics(metrics)

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
        kinds = {name: _kind(m) if not (isinstance(m, Mean) and m.cap is not None) else "capped"
                 for name, m in self.metrics.items()}
        kinds = {name: "quantile" if isinstance(self.metrics[name], Quantile) else k
                 for name, k in kinds.items()}
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
            Multiplicity adjustment across all rows (metrics x treatments): ``"holm"`` (default),
            ``"bonferroni"``, ``"hochberg"``, ``"bh"``, ``"by"`` or ``"none"``.
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

        Returns
        -------
        ExperimentResult
        """
        alternative = check_alternative(alternative)
        confidence_level = check_confidence_level(confidence_level)
        adjust = check_choice("adjust", adjust, (*ADJUST_METHODS, "none"))
        srm_alpha = check_open_unit("srm_alpha", srm_alpha)
        engine = check_choice("engine", engine, ("frequentist", "bayes"))
        if engine == "bayes":
            for name, metric in self.metrics.items():
                if isinstance(metric, Quantile):
                    raise ValueError(f"`engine` 'bayes' needs Proportion, Mean or RatioOfMeans "
                                     f"metrics; got Quantile metric {name!r}.")
        summary, thresholds = _summarize(table, variant, self.metrics)
        variants = list(summary)
        if control is None:
            control = variants[0]
        elif not isinstance(control, Hashable) or control not in summary:
            raise ValueError(f"`control` must be a value of column {variant!r} (one of {variants}); "
                             f"got {control!r}.")
        else:
            control = next(v for v in variants if v == control)
        if len(variants) < 2:
            raise ValueError(f"Column {variant!r} must hold at least two variants; got only "
                             f"{variants}.")
        treatments = [v for v in variants if v != control]
        order = [control, *treatments]
        counts = [next(iter(summary[v].values())).n for v in order]
        srm = srm_test(counts, _shares(srm_weights, order, variant), alpha=srm_alpha)
        names = _labels(labels, order, variant)

        if engine == "bayes":
            bayes_rows = tuple(
                bayes_row(name, _kind(metric), treatment, control, summary[control][name],
                          summary[treatment][name], confidence_level=confidence_level, prior=prior,
                          cap_threshold=thresholds.get(name, math.nan),
                          labels=(names[0], names[order.index(treatment)]))
                for name, metric in self.metrics.items() for treatment in treatments)
            return ExperimentResult(
                rows=bayes_rows, srm=srm, variant=variant, control=control,
                treatments=tuple(treatments), n=tuple(counts), alternative=alternative,
                confidence_level=confidence_level, adjust="none", labels=tuple(names), engine=engine)
        tests = [(name, metric, treatment, metric.test(
                     summary[control][name], summary[treatment][name],
                     alternative=metric.alternative or alternative,
                     confidence_level=confidence_level))
                 for name, metric in self.metrics.items() for treatment in treatments]
        adjusted = _adjust([t[3].pvalue for t in tests], adjust)
        rows = tuple(dataclasses.replace(
                         _metric_row(name, metric, treatment, control, result, p,
                                     thresholds.get(name, math.nan)),
                         control_label=names[0], treatment_label=names[order.index(treatment)])
                     for (name, metric, treatment, result), p in zip(tests, adjusted, strict=True))
        return ExperimentResult(
            rows=rows, srm=srm, variant=variant, control=control, treatments=tuple(treatments),
            n=tuple(counts), alternative=alternative, confidence_level=confidence_level,
            adjust=adjust, labels=tuple(names), engine=engine,
        )

