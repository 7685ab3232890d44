"""A/A and power simulations of an experiment's analysis by re-randomising a real table's units.

:func:`simulate` reads the metric columns once (one query in the engine), then for every
simulation draws a fresh assignment of the units (each unit treated with probability
``treatment_share``), optionally replaces the treated units' values by ``treat(values)`` (their
outcomes under treatment), and runs each metric's own test on the two arms. The per-arm sums,
sums of squares and cross-products of all simulations come from matrix products of a block of
0/1 assignment rows with the unit values, so the units are touched once per block, not once per
simulation. The rejection rate of each metric at ``alpha`` is reported with its exact
(Clopper-Pearson) binomial interval: under no treatment it estimates the type-I error, under a
treatment the power.

Supported metrics: :class:`~abkit.frame.Proportion`, :class:`~abkit.frame.Mean` (without a
covariate or cap) and :class:`~abkit.frame.RatioOfMeans`.

Examples
--------
>>> import abkit
>>> from abkit.datasets import make_experiment
>>> table = make_experiment(2000, rng=1)
>>> experiment = abkit.Experiment(revenue=abkit.Mean("revenue"))
>>> r = experiment.simulate(table, n_simulations=200, rng=7)
>>> r.rows[0].metric, r.rows[0].n_simulations, 0.0 <= r.rows[0].rejection_rate <= 0.15
('revenue', 200, True)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any

import narwhals as nw
import numpy as np
from scipy import stats

from abkit._progress import progress_bar, show_progress
from abkit._results import ConfidenceInterval, Result
from abkit._validation import check_int, check_open_unit, check_rng
from abkit.stats import BivariateStats, MeanStats, ProportionStats

__all__ = ["SimulationResult", "SimulationRow", "simulate"]

_PROGRESS_WORK = 1e8  # unit-simulations above which a watched run shows a bar
_BLOCK = 32  # simulations per matrix product: 32 x n float64 assignment rows


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class SimulationRow(Result):
    """One metric's rejection rate over the simulations, with its Clopper-Pearson interval."""

    metric: str
    rejections: int
    n_simulations: int
    rejection_rate: float
    ci: ConfidenceInterval
    alpha: float


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class SimulationResult(Result):
    """Result of :func:`simulate`: one :class:`SimulationRow` per metric."""

    rows: tuple[SimulationRow, ...]
    n_units: int
    treatment_share: float
    treated: bool


def _clopper_pearson(k: int, n: int, level: float) -> ConfidenceInterval:
    tail = (1.0 - level) / 2.0
    low = 0.0 if k == 0 else float(stats.beta.ppf(tail, k, n - k + 1))
    high = 1.0 if k == n else float(stats.beta.ppf(1.0 - tail, k + 1, n - k))
    return ConfidenceInterval(low, high)


def _columns(metrics: dict[str, Any], kinds: dict[str, str]) -> list[str]:
    columns: dict[str, None] = {}
    for name, metric in metrics.items():
        if kinds[name] not in ("proportion", "mean", "ratio"):
            raise ValueError("`simulate` supports Proportion, Mean (without covariate or cap) and "
                             f"RatioOfMeans metrics; got metric {name!r}.")
        columns.update(dict.fromkeys(metric.columns))
    return list(columns)


def _arm_stats(kind: str, metric: Any, shift: dict[str, float], n: int, s: dict[str, float],
               q: dict[tuple[str, str], float]) -> Any:
    """Stats of one arm from its sums ``s[column]`` and cross-products ``q[(a, b)]`` of values
    centred by ``shift`` (so no sum of squares cancels)."""

    def var(a: str, b: str) -> float:
        return (q[(a, b)] - s[a] * s[b] / n) / (n - 1)

    def mean(c: str) -> float:
        return s[c] / n + shift[c]

    if kind == "proportion":
        return ProportionStats(round(s[metric.column] + shift[metric.column] * n), n)
    if len(metric.columns) == 1:
        c = metric.columns[0]
        return MeanStats(n, mean(c), max(var(c, c), 0.0))
    x, y = metric.columns
    var_x, var_y = max(var(x, x), 0.0), max(var(y, y), 0.0)
    bound = math.sqrt(var_x) * math.sqrt(var_y)
    return BivariateStats(n, mean(x), mean(y), var_x, var_y, min(max(var(x, y), -bound), bound))


def simulate(
    metrics: dict[str, Any],
    kinds: dict[str, str],
    table: Any,
    *,
    treat: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]] | None = None,
    n_simulations: int = 1000,
    treatment_share: float = 0.5,
    alpha: float = 0.05,
    rng: int | np.random.Generator | None = None,
    progress: bool | None = None,
) -> SimulationResult:
    """Rejection rates of each metric's test over re-randomisations of ``table``'s units.

    Called as :meth:`abkit.frame.Experiment.simulate`.

    Parameters
    ----------
    metrics, kinds
        The experiment's metrics and their kinds (``"proportion"``, ``"mean"``, ``"ratio"``);
        each metric is tested as ``analyze`` tests it (its own alternative, default two-sided,
        and ``margin``), unadjusted.
    table
        Any table ``analyze`` takes; one row per unit. Its variant column is ignored.
    treat
        ``None`` for A/A simulations; else a function of ``{column: values}`` (float arrays of
        every unit) returning the same columns' values under treatment (e.g. ``lambda v:
        {**v, "revenue": v["revenue"] * 1.05}``).
    n_simulations
        Number of re-randomisations.
    treatment_share
        Each unit's probability of being treated.
    alpha
        Rejection threshold of each test's p-value.
    rng
        Seed or generator of the assignments.
    progress
        Show a tqdm progress bar over the blocks of simulations; ``None`` (default): when the
        work is large (over 10^8 unit-simulations) and standard error is a terminal or a
        notebook. ``TQDM_DISABLE=1`` hides it.

    Returns
    -------
    SimulationResult
    """
    n_simulations = check_int("n_simulations", n_simulations, minimum=1)
    treatment_share = check_open_unit("treatment_share", treatment_share)
    alpha = check_open_unit("alpha", alpha)
    if not isinstance(metrics, Mapping):
        raise TypeError("`metrics` must be a mapping of metric names to metrics; "
                        f"got {type(metrics).__name__}.")
    if not isinstance(kinds, Mapping) or any(name not in kinds for name in metrics):
        raise TypeError(f"`kinds` must map every metric name to its kind; got {kinds!r}.")
    if treat is not None and not callable(treat):
        raise TypeError("`treat` must be None or a function of the columns' values; "
                        f"got {type(treat).__name__}.")
    columns = _columns(metrics, kinds)
    try:
        frame = nw.from_native(table)
    except TypeError:
        raise TypeError(f"`table` must be a DataFrame (pandas, Polars, PyArrow, DuckDB, Spark...); "
                        f"got {type(table).__name__}.") from None
    lazy = frame.lazy() if isinstance(frame, nw.DataFrame) else frame
    native = lazy.select(*[nw.col(c).cast(nw.Float64) for c in columns]).collect()
    control_values = {c: native[c].to_numpy().astype(np.float64) for c in columns}
    n = len(next(iter(control_values.values())))
    for c, v in control_values.items():
        if not np.all(np.isfinite(v)):
            raise ValueError(f"Column {c!r} must contain only finite values for `simulate`.")
    treated_values = control_values if treat is None else treat(dict(control_values))
    generator = check_rng(rng)
    pairs = list(dict.fromkeys((a, b) for m in metrics.values()
                               for a in m.columns for b in m.columns if a <= b))
    # Per unit: values and cross-products under control (0) and under treatment (1).
    shift = {c: float(np.mean(v)) for c, v in control_values.items()}
    base = {0: {c: v - shift[c] for c, v in control_values.items()},
            1: {c: np.asarray(treated_values[c], dtype=np.float64) - shift[c] for c in columns}}
    features = {arm: np.column_stack([v[c] for c in columns] + [v[a] * v[b] for a, b in pairs])
                for arm, v in base.items()}
    totals = features[0].sum(axis=0)
    rejections = dict.fromkeys(metrics, 0)
    blocks = range(0, n_simulations, _BLOCK)
    show = show_progress(progress, work=n_simulations * n, threshold=_PROGRESS_WORK)
    with progress_bar(show, total=len(blocks), desc="simulations", unit="block") as advance:
        for start in blocks:
            size = min(_BLOCK, n_simulations - start)
            assign = (generator.random((size, n)) < treatment_share).astype(np.float64)
            treated_sums = assign @ features[1]
            control_sums = totals - assign @ features[0]
            n_treated = assign.sum(axis=1).astype(int)
            for i in range(size):
                arms = []
                for sums, count in ((control_sums[i], n - n_treated[i]), (treated_sums[i], n_treated[i])):
                    s = dict(zip(columns, sums[:len(columns)], strict=True))
                    q = dict(zip(pairs, sums[len(columns):], strict=True))
                    q.update({(b, a): v for (a, b), v in list(q.items())})
                    arms.append((count, s, q))
                if min(arms[0][0], arms[1][0]) < 2:
                    continue
                for name, metric in metrics.items():
                    kind = kinds[name]
                    result = metric.test(_arm_stats(kind, metric, shift, *arms[0]),
                                         _arm_stats(kind, metric, shift, *arms[1]),
                                         alternative=metric.alternative or "two-sided")
                    rejections[name] += bool(result.pvalue < alpha)
            advance(1)
    rows = tuple(SimulationRow(metric=name, rejections=k, n_simulations=n_simulations,
                               rejection_rate=k / n_simulations,
                               ci=_clopper_pearson(k, n_simulations, 0.95), alpha=alpha)
                 for name, k in rejections.items())
    return SimulationResult(rows=rows, n_units=n, treatment_share=treatment_share,
                            treated=treat is not None)
