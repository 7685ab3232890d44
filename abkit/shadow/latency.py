"""Latency of shadow models: quantiles with distribution-free intervals and the paired ratio.

- :func:`latency_quantiles` estimates quantiles (default R's type 6, ``numpy.quantile(...,
  method="weibull")``) with the order-statistic interval ``[X_(l), X_(u)]``, whose coverage
  ``P(l <= B < u)`` for ``B ~ Binomial(n, p)`` is at least the confidence level whatever the
  distribution. When the sample has too few events beyond a quantile for that interval to
  exist, the row says ``"insufficient tail data"`` and its numbers are NaN rather than a
  misleading estimate (a p99 from 50 requests).
- :func:`latency_ratio_test` is the paired geometric ratio: the geometric mean of per-request
  ``challenger / champion`` latencies, with a paired t interval on the log scale.

Examples
--------
>>> import numpy as np
>>> lat = np.random.default_rng(0).lognormal(3.5, 0.4, 200)
>>> rows = latency_quantiles(lat, quantiles=(0.5, 0.999)).rows
>>> rows[0].quality, rows[1].quality
('ok', 'insufficient tail data')
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from typing import Any

import numpy as np
from scipy import stats

from abkit._inference import NAN_INTERVAL
from abkit._results import ConfidenceInterval, Result
from abkit._validation import (
    as_float_array,
    as_paired_float_arrays,
    check_alternative,
    check_choice,
    check_confidence_level,
    check_int,
    check_open_unit,
    check_real,
)
from abkit.shadow._table import html_table, text_table
from abkit.shadow.paired import PairedTTestResult, paired_t_test

__all__ = [
    "INSUFFICIENT_TAIL_DATA",
    "LatencyQuantiles",
    "LatencyRatioResult",
    "QuantileEstimate",
    "latency_quantiles",
    "latency_ratio_from_log_test",
    "latency_ratio_test",
    "order_statistic_ranks",
]

INSUFFICIENT_TAIL_DATA = "insufficient tail data"
QUANTILE_METHODS = ("weibull", "linear", "hazen", "median_unbiased", "normal_unbiased",
                    "inverted_cdf", "averaged_inverted_cdf", "closest_observation",
                    "interpolated_inverted_cdf", "lower", "higher", "midpoint", "nearest")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class QuantileEstimate(Result):
    """One quantile: ``quality`` is ``"ok"`` or ``"insufficient tail data"`` (then NaN numbers).

    ``quality`` describes the data, not a decision (it was ``status`` before 0.4; ``status`` still
    reads it, with a ``DeprecationWarning``).
    """

    probability: float
    estimate: float
    ci: ConfidenceInterval
    coverage: float
    quality: str

    @property
    def status(self) -> str:
        """Deprecated name of :attr:`quality`."""
        warnings.warn("QuantileEstimate.status is now `quality`.", DeprecationWarning, stacklevel=2)
        return self.quality


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class LatencyQuantiles(Result):
    """Result of :func:`latency_quantiles`: one :class:`QuantileEstimate` per probability."""

    rows: tuple[QuantileEstimate, ...]
    n: int
    confidence_level: float
    method: str

    def _table(self) -> tuple[str, list[str], list[list[Any]]]:
        title = f"LatencyQuantiles (n={self.n}, {self.confidence_level:g} order-statistic intervals)"
        headers = ["probability", "estimate", "ci", "coverage", "quality"]
        rows = [[r.probability, r.estimate, r.ci, r.coverage, r.quality] for r in self.rows]
        return title, headers, rows

    def __repr__(self) -> str:
        return text_table(*self._table())

    def _repr_html_(self) -> str:
        return html_table(*self._table())


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class LatencyRatioResult(Result):
    """Result of :func:`latency_ratio_test`.

    ``ratio`` is the geometric mean of ``challenger / champion`` per request; ``effect =
    ratio - 1`` (positive: the challenger is slower) with ``ci``; ``margin`` is a relative
    null value (``0.1`` tests "at most 10% slower").
    """

    statistic: float
    pvalue: float
    effect: float
    ci: ConfidenceInterval
    ratio: float
    ratio_ci: ConfidenceInterval
    n: int
    margin: float
    alternative: str
    confidence_level: float


# scipy's binomial quantile (boost) stops converging a little beyond 1e15 trials.
MAX_ORDER_STATISTIC_N = 10**15


def order_statistic_ranks(n: int, probability: float, confidence_level: float) -> tuple[int, int, float]:
    """1-based ranks ``(l, u)`` of the order-statistic interval and its exact coverage.

    ``l`` or ``u`` outside ``1..n`` means the interval does not exist for this sample size.

    >>> low, high, coverage = order_statistic_ranks(100, 0.5, 0.95)
    >>> low, high, round(coverage, 4)
    (40, 61, 0.9648)
    """
    n = check_int("n", n, minimum=1, maximum=MAX_ORDER_STATISTIC_N)
    probability = check_open_unit("probability", probability)
    tail = (1.0 - check_confidence_level(confidence_level)) / 2.0
    low = int(stats.binom.ppf(tail, n, probability))
    high = int(stats.binom.ppf(1.0 - tail, n, probability)) + 1
    coverage = float(stats.binom.cdf(high - 1, n, probability) - stats.binom.cdf(low - 1, n, probability))
    return low, high, coverage


def latency_quantiles(
    latency: Any,
    *,
    quantiles: Any = (0.5, 0.9, 0.99),
    confidence_level: float = 0.95,
    method: str = "weibull",
) -> LatencyQuantiles:
    """Latency quantiles with distribution-free order-statistic intervals.

    Parameters
    ----------
    latency
        One latency per request (any unit; at least 0).
    quantiles
        Probabilities in (0, 1).
    confidence_level
        Minimum coverage of each two-sided interval.
    method
        ``numpy.quantile`` method of the point estimate; ``"weibull"`` is R's type 6.

    Returns
    -------
    LatencyQuantiles

    Examples
    --------
    >>> r = latency_quantiles(np.arange(1.0, 101.0), quantiles=(0.5,))
    >>> row = r.rows[0]
    >>> row.estimate, (row.ci.low, row.ci.high), row.quality
    (50.5, (40.0, 61.0), 'ok')
    """
    values = np.sort(as_float_array("latency", latency))
    if values[0] < 0.0:
        raise ValueError(f"`latency` must be at least 0 (a duration); got {values[0]}.")
    probabilities = as_float_array("quantiles", quantiles)
    for p in probabilities:
        check_open_unit("quantiles", float(p))
    confidence_level = check_confidence_level(confidence_level)
    method = check_choice("method", method, QUANTILE_METHODS)
    n = int(values.size)
    rows = []
    for p in probabilities:
        low, high, coverage = order_statistic_ranks(n, float(p), confidence_level)
        if low < 1 or high > n:
            rows.append(QuantileEstimate(probability=float(p), estimate=math.nan, ci=NAN_INTERVAL,
                                         coverage=math.nan, quality=INSUFFICIENT_TAIL_DATA))
            continue
        estimate = float(np.quantile(values, p, method=method))  # type: ignore[call-overload]
        rows.append(QuantileEstimate(
            probability=float(p), estimate=estimate,
            ci=ConfidenceInterval(float(values[low - 1]), float(values[high - 1])),
            coverage=coverage, quality="ok",
        ))
    return LatencyQuantiles(rows=tuple(rows), n=n, confidence_level=confidence_level, method=method)


def latency_ratio_test(
    champion_latency: Any,
    challenger_latency: Any,
    *,
    alternative: str = "two-sided",
    confidence_level: float = 0.95,
    margin: float = 0.0,
) -> LatencyRatioResult:
    """Paired geometric ratio of latencies: is the challenger slower than the champion?

    Parameters
    ----------
    champion_latency, challenger_latency
        Positive latencies of each model for the same requests.
    alternative
        ``"less"``: the challenger is faster than ``1 + margin`` times the champion.
    confidence_level
        Of the interval for the ratio (paired t on log latencies, back-transformed).
    margin
        Relative null value (greater than -1): ``0.05`` means a ratio of 1.05.

    Returns
    -------
    LatencyRatioResult

    Examples
    --------
    >>> r = latency_ratio_test([10.0, 20.0, 30.0, 40.0], [11.0, 21.0, 33.0, 44.0])
    >>> round(r.ratio, 4), bool(r.ci.low > 0)
    (1.0873, True)
    """
    champ, chall = as_paired_float_arrays(
        "champion_latency", champion_latency, "challenger_latency", challenger_latency, min_size=2
    )
    for name, values in (("champion_latency", champ), ("challenger_latency", chall)):
        if np.any(values <= 0.0):
            raise ValueError(f"`{name}` must be positive for a ratio; got {values[values <= 0.0][0]}.")
    alternative = check_alternative(alternative)
    confidence_level = check_confidence_level(confidence_level)
    margin = check_real("margin", margin)
    if margin <= -1.0:
        raise ValueError(f"`margin` must be greater than -1; got {margin}.")
    logs = paired_t_test(np.log(champ), np.log(chall), alternative=alternative,
                         confidence_level=confidence_level, margin=math.log1p(margin))
    return latency_ratio_from_log_test(logs, margin)


def latency_ratio_from_log_test(logs: PairedTTestResult, margin: float) -> LatencyRatioResult:
    """:func:`latency_ratio_test` from the paired t test of log latencies at ``log1p(margin)``.

    The engine path aggregates the log latencies (:func:`abkit.shadow.paired_t_from_moments`)
    and finishes here, through the same formulas as the in-memory path.

    Examples
    --------
    >>> logs = paired_t_test(np.log([10.0, 20.0, 30.0, 40.0]), np.log([11.0, 21.0, 33.0, 44.0]))
    >>> round(latency_ratio_from_log_test(logs, 0.0).ratio, 4)
    1.0873
    """
    if not isinstance(logs, PairedTTestResult):
        raise TypeError(f"`logs` must be a PairedTTestResult (paired_t_from_moments of the log "
                        f"latencies); got {type(logs).__name__}.")
    margin = check_real("margin", margin)
    if margin <= -1.0:
        raise ValueError(f"`margin` must be greater than -1 (a relative change); got {margin}.")
    alternative, confidence_level = logs.alternative, logs.confidence_level
    ratio = math.exp(logs.effect)
    ratio_ci = ConfidenceInterval(math.exp(logs.ci.low), math.exp(logs.ci.high))
    return LatencyRatioResult(
        statistic=logs.statistic, pvalue=logs.pvalue, effect=ratio - 1.0,
        ci=ConfidenceInterval(ratio_ci.low - 1.0, ratio_ci.high - 1.0), ratio=ratio,
        ratio_ci=ratio_ci, n=logs.n, margin=margin, alternative=alternative,
        confidence_level=confidence_level,
    )
