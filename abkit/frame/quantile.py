"""The quantile metric: a difference of quantiles with a distribution-free interval.

Each arm's quantile is R's ``quantile(x, q, type = 7)`` (NumPy's default ``"linear"`` method,
DuckDB's ``quantile_cont``, Polars' ``"linear"``): with ``h = (n - 1) q + 1``,
``X_(floor h) + (h - floor h) (X_(floor h + 1) - X_(floor h))``. Its standard error comes from
the width of the arm's exact order-statistic interval ``[X_(l), X_(u)]``, the ranks from the
binomial distribution of the number of values below the quantile
(:func:`abkit.shadow.latency.order_statistic_ranks`, at 95% whatever the analysis level), whose
exact coverage ``c`` gives ``se = (X_(u) - X_(l)) / (2 z_{(1 + c) / 2})``: Price and Bonett's
(2002) distribution-free interval for a difference of medians, also the canary judge's latency
check (:mod:`abkit.rollout.judge`). The difference of the arms' quantiles then has a normal
interval with ``se = hypot(se_control, se_treatment)`` and the relative difference a delta-log
one. No resampling and no sort: the engine narrows histograms of each arm's values down to
the few order statistics needed (:mod:`abkit.frame.order_stats`).

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(1)
>>> control = QuantileStats.from_values(rng.exponential(1.0, 2000), 0.5)
>>> treatment = QuantileStats.from_values(rng.exponential(1.2, 2000), 0.5)
>>> r = quantile_test(control, treatment)
>>> round(r.control_quantile, 3), round(r.treatment_quantile, 3), r.ci.contains(0.2 * np.log(2))
(0.706, 0.828, True)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import special

from abkit._inference import (
    NAN_INTERVAL,
    interval,
    pvalue_from_statistic,
    relative_interval_log,
    warn_degenerate,
)
from abkit._results import ConfidenceInterval, Result
from abkit._validation import (
    as_float_array,
    check_alternative,
    check_confidence_level,
    check_int,
    check_open_unit,
    check_real,
)
from abkit.shadow.latency import order_statistic_ranks

__all__ = ["Quantile", "QuantileStats", "QuantileTestResult", "quantile_ranks", "quantile_test"]

#: Level of each arm's order-statistic interval, whose width sets the arm's standard error.
SE_LEVEL = 0.95


def quantile_ranks(n: int, q: float) -> tuple[int, int, int, int, float]:
    """1-based ranks an arm of ``n`` values needs for its ``q`` quantile.

    Returns ``(k, k_next, low, high, coverage)``: the type-7 estimate interpolates
    ``X_(k)`` and ``X_(k_next)``; ``[X_(low), X_(high)]`` is the 95% order-statistic interval
    with exact ``coverage`` (``low < 1`` or ``high > n`` when it does not exist).

    >>> k, k_next, low, high, coverage = quantile_ranks(100, 0.5)
    >>> k, k_next, low, high, round(coverage, 4)
    (50, 51, 40, 61, 0.9648)
    """
    n = check_int("n", n, minimum=1)
    q = check_open_unit("q", q)
    h = (n - 1) * q + 1.0
    k = min(max(math.floor(h), 1), n)
    low, high, coverage = order_statistic_ranks(n, q, SE_LEVEL)
    return k, min(k + 1, n), low, high, coverage


@dataclasses.dataclass(frozen=True, slots=True)
class QuantileStats:
    """One arm's ``probability`` quantile (type 7) and its order-statistic interval.

    ``low``/``high`` are NaN when the arm has too few values beyond the quantile for the
    interval to exist. Built by :func:`abkit.frame.summarize` from the engine's order
    statistics, or from raw values with :meth:`from_values`.
    """

    n: int
    probability: float
    estimate: float
    low: float
    high: float
    coverage: float

    @classmethod
    def from_order_statistics(cls, n: int, probability: float, values: dict[int, float]) -> QuantileStats:
        """From ``values``, a mapping of 1-based ranks to order statistics (those
        :func:`quantile_ranks` names)."""
        n = check_int("n", n, minimum=1)
        probability = check_open_unit("probability", probability)
        k, k_next, low, high, coverage = quantile_ranks(n, probability)
        if not isinstance(values, Mapping):
            raise TypeError(f"`values` must be a mapping of 1-based ranks to order statistics; "
                            f"got {type(values).__name__}.")
        needed = sorted({k, k_next} | ({low, high} if low >= 1 and high <= n else set()))
        if any(r not in values for r in needed):
            raise ValueError(f"`values` must hold the order statistics of ranks {needed}; "
                             f"got ranks {sorted(values)}.")
        values = {r: check_real("values", values[r]) for r in needed}
        h = (n - 1) * probability + 1.0
        estimate = values[k] + (h - k) * (values[k_next] - values[k]) if k < n else values[k]
        if low < 1 or high > n:
            return cls(n, probability, float(estimate), math.nan, math.nan, math.nan)
        return cls(n, probability, float(estimate), float(values[low]), float(values[high]), coverage)

    @classmethod
    def from_values(cls, values: Any, probability: float) -> QuantileStats:
        """From one arm's raw values.

        >>> s = QuantileStats.from_values(np.arange(1.0, 101.0), 0.5)
        >>> s.estimate, s.low, s.high, round(s.coverage, 4)
        (50.5, 40.0, 61.0, 0.9648)
        """
        x = np.sort(as_float_array("values", values, min_size=2))
        probability = check_open_unit("probability", probability)
        ranks = [r for r in quantile_ranks(x.size, probability)[:4] if 1 <= r <= x.size]
        return cls.from_order_statistics(x.size, probability, {r: float(x[r - 1]) for r in ranks})

    @property
    def se(self) -> float:
        """Standard error of the estimate from the interval's width (NaN without an interval)."""
        return (self.high - self.low) / (2.0 * float(special.ndtri((1.0 + self.coverage) / 2.0)))


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class QuantileTestResult(Result):
    """Result of :func:`quantile_test`: ``effect = treatment_quantile - control_quantile``."""

    statistic: float
    pvalue: float
    effect: float
    ci: ConfidenceInterval
    relative_effect: float
    relative_ci: ConfidenceInterval
    control_quantile: float
    treatment_quantile: float
    control_se: float
    treatment_se: float
    se: float
    n_control: int
    n_treatment: int
    probability: float
    margin: float
    alternative: str
    confidence_level: float
    method: str


def quantile_test(
    control: QuantileStats,
    treatment: QuantileStats,
    *,
    alternative: str = "two-sided",
    confidence_level: float = 0.95,
    margin: float = 0.0,
) -> QuantileTestResult:
    """Difference and relative difference of two arms' quantiles (z test, order-statistic se).

    ``margin`` is the null value of ``effect`` (the statistic is ``(effect - margin) / se``).

    Degenerate arms (no order-statistic interval, or zero width in both arms) give NaN
    statistics with a ``DegenerateDataWarning``.

    Examples
    --------
    >>> a = QuantileStats.from_values(np.arange(1.0, 101.0), 0.5)
    >>> b = QuantileStats.from_values(np.arange(11.0, 111.0), 0.5)
    >>> r = quantile_test(a, b)
    >>> r.effect, round(r.pvalue, 3)
    (10.0, 0.156)
    """
    for name, arm in (("control", control), ("treatment", treatment)):
        if not isinstance(arm, QuantileStats):
            raise TypeError(f"`{name}` must be a QuantileStats; got {type(arm).__name__}.")
    if control.probability != treatment.probability:
        raise ValueError("`control` and `treatment` must hold the same quantile; got "
                         f"{control.probability} and {treatment.probability}.")
    alternative = check_alternative(alternative)
    confidence_level = check_confidence_level(confidence_level)
    margin = check_real("margin", margin)
    effect = treatment.estimate - control.estimate
    relative = treatment.estimate / control.estimate - 1.0 if control.estimate != 0.0 else math.nan
    se = math.hypot(control.se, treatment.se)
    if math.isnan(se):
        warn_degenerate(f"Too few values beyond the {control.probability:g} quantile for its "
                        "order-statistic interval; the quantile test is NaN.")
    elif se == 0.0:
        warn_degenerate(f"The {control.probability:g} quantile's order-statistic interval has zero "
                        "width in both arms (heavily tied data); the quantile test is NaN.")
        se = math.nan
    if math.isnan(se):
        statistic, ci, relative_ci = math.nan, NAN_INTERVAL, NAN_INTERVAL
    else:
        statistic = (effect - margin) / se
        ci = interval(effect, se, alternative, confidence_level)
        relative_ci = relative_interval_log(control.estimate, control.se**2, treatment.estimate,
                                            treatment.se**2, alternative, confidence_level)
    return QuantileTestResult(
        statistic=statistic, pvalue=pvalue_from_statistic(statistic, alternative), effect=effect,
        ci=ci, relative_effect=relative, relative_ci=relative_ci,
        control_quantile=control.estimate, treatment_quantile=treatment.estimate,
        control_se=control.se, treatment_se=treatment.se, se=se, n_control=control.n,
        n_treatment=treatment.n, probability=control.probability, margin=margin,
        alternative=alternative,
        confidence_level=confidence_level, method="order-statistic",
    )


@dataclasses.dataclass(frozen=True, slots=True)
class Quantile:
    """The ``q`` quantile of a numeric column per unit (R's type 7), tested by
    :func:`quantile_test` on order statistics the engine computes.

    Examples
    --------
    >>> Quantile("revenue", 0.9).columns
    ('revenue',)
    """

    column: str
    q: float = 0.5
    _: dataclasses.KW_ONLY
    alternative: str | None = None
    margin: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.column, str) or not self.column:
            raise TypeError(f"`column` must be a column name (a non-empty string); got {self.column!r}.")
        object.__setattr__(self, "q", check_open_unit("q", self.q))
        if self.alternative is not None:
            object.__setattr__(self, "alternative", check_alternative(self.alternative))
        object.__setattr__(self, "margin", check_real("margin", self.margin))

    @property
    def columns(self) -> tuple[str, ...]:
        """The table columns the metric reads."""
        return (self.column,)

    def test(self, control: Any, treatment: Any, **options: Any) -> QuantileTestResult:
        """The metric's test on two arms' ``QuantileStats``."""
        return quantile_test(control, treatment, margin=self.margin, **options)
