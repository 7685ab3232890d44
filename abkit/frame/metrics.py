"""The metrics an :class:`~abkit.frame.Experiment` declares: what to read and which test to run.

:class:`Proportion` (a 0/1 outcome), :class:`Mean` (optionally CUPED with a covariate, optionally
capped), :class:`RatioOfMeans` (delta method) and :class:`~abkit.frame.Quantile`. Each is a
frozen declaration: its columns, its test on two arms' sufficient statistics, and per-metric
``alternative`` and ``margin``.

Examples
--------
>>> Mean("revenue", covariate="revenue_pre", cap=("percentile", 0.99)).columns
('revenue', 'revenue_pre')
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from abkit._validation import (
    check_alternative,
    check_choice,
    check_open_unit,
    check_real,
)
from abkit.frame.quantile import Quantile
from abkit.means import MEAN_METHODS, RELATIVE_METHODS, MeansTestResult, cuped_test, means_test, ratio_test
from abkit.proportions import PROPORTION_METHODS, ProportionsTestResult, proportions_test

__all__ = ["Mean", "Metric", "Proportion", "RatioOfMeans"]


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


def check_metrics(metrics: Any) -> dict[str, Metric]:
    if not isinstance(metrics, Mapping) or not metrics:
        raise TypeError("`metrics` must be a non-empty mapping of names to Proportion, Mean, Quantile or "
                        f"RatioOfMeans; got {metrics!r}.")
    for name, metric in metrics.items():
        if not isinstance(metric, Proportion | Mean | RatioOfMeans | Quantile):
            raise TypeError(f"Metric {name!r} must be a Proportion, Mean, RatioOfMeans or Quantile; "
                            f"got {type(metric).__name__}.")
    return dict(metrics)



def kind(metric: Metric) -> str:
    """The metric's kind: ``"proportion"``, ``"mean"``, ``"cuped"``, ``"ratio"`` or ``"quantile"``.

    >>> kind(Mean("revenue", covariate="revenue_pre"))
    'cuped'
    """
    if isinstance(metric, Proportion):
        return "proportion"
    if isinstance(metric, RatioOfMeans):
        return "ratio"
    if isinstance(metric, Quantile):
        return "quantile"
    return "mean" if metric.covariate is None else "cuped"
