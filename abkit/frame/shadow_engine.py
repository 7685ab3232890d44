"""Champion/challenger tests inside the table's engine: only sufficient statistics reach Python.

:class:`ShadowTable` wraps a long-layout shadow log (``request_id | model | score | label |
latency | timestamp``) held by pandas, Polars, PyArrow, DuckDB or PySpark (through narwhals), or
a Parquet/CSV/JSON Lines file or a directory of log segments (read by DuckDB). Each test joins
the two models' rows by request id and asks the engine for its sufficient statistics only:

- paired t (losses, correctness, log latencies): ``n`` and the means, plus the sample variance of
  the per-request differences from the engine's ``var`` aggregate (no raw sums of squares);
- McNemar: the 2x2 counts;
- DeLong: placement values from midranks (``rank(method="average")`` window functions over all
  labelled requests and within each class), then per class their means and their centred
  covariance (a window mean, then a sum of products);
- Diebold-Mariano: the mean loss differential and its autocovariances up to the horizon, from
  ``shift`` (lag) window functions in timestamp order;
- :class:`abkit.shadow.ShadowMonitor` looks: :meth:`ShadowTable.monitor_stats`.

- Wilcoxon signed-rank: average ranks of ``|d|`` (a window function) and the positive rank sum;
  the Hodges-Lehmann estimate and interval invert it with one such query per root-finding step;
- latency quantiles: the needed exact order statistics (a ``row_number`` window).

In :meth:`compare_models` the bootstrap metrics fall back to loading.

The final step is the core's own (:func:`abkit.shadow.paired_t_from_moments`,
:func:`abkit.shadow.mcnemar_from_counts`, :func:`abkit.shadow.delong_from_moments`,
:func:`abkit.shadow.latency_ratio_from_log_test`), so the results equal the in-memory path up to
the engine's floating-point summation order (tested to 1e-9 relative).

The label of a request is read from the two compared models' rows (the champion's, else the
challenger's); the in-memory :class:`abkit.shadow.ShadowLog` reads it from any model's row (rows
of a request must agree in both). Duplicated (request, model) rows and missing scores raise, as
:meth:`abkit.shadow.ShadowLog.from_arrays` does by default.

Examples
--------
>>> from abkit.datasets import make_shadow_log
>>> table = ShadowTable(make_shadow_log(2000, rng=4))
>>> r = table.delong_test("champion", "challenger")
>>> r.n_positive + r.n_negative
2000
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import narwhals as nw
import numpy as np

from abkit._progress import progress_bar
from abkit._results import NAN_INTERVAL, ConfidenceInterval
from abkit._validation import (
    RngLike,
    as_float_array,
    check_alternative,
    check_bool,
    check_choice,
    check_confidence_level,
    check_int,
    check_open_unit,
    check_progress,
    check_real,
    check_string,
)
from abkit.frame._engine import collect_rows as _rows
from abkit.frame._engine import count_where as _count
from abkit.frame._engine import number_or_nan as _number
from abkit.frame.shadow_log import DUCKDB_MEMORY_LIMIT, load_shadow_log, read_table
from abkit.shadow.auc import DeLongTestResult, delong_from_moments
from abkit.shadow.decision import (
    EPS,
    ShadowComparison,
    ShadowMetric,
    _known_model,
    check_options,
    delong_evaluation,
    empty_evaluation,
    evaluate,
    finish_comparison,
    latency_evaluation,
    log_loss,
    paired_evaluation,
    squared_error,
)
from abkit.shadow.decision import compare_models as compare_shadow_logs
from abkit.shadow.forecast import DieboldMarianoTestResult, diebold_mariano_from_autocovariances
from abkit.shadow.latency import (
    INSUFFICIENT_TAIL_DATA,
    LatencyQuantiles,
    LatencyRatioResult,
    QuantileEstimate,
    latency_ratio_from_log_test,
    order_statistic_ranks,
)
from abkit.shadow.log import ShadowLog
from abkit.shadow.monitor import ShadowMonitor
from abkit.shadow.paired import (
    WILCOXON_METHODS,
    McNemarTestResult,
    PairedTTestResult,
    WilcoxonTestResult,
    mcnemar_from_counts,
    paired_t_from_moments,
    signed_rank_z,
    wilcoxon_from_scores,
)
from abkit.shadow.paired import wilcoxon_test as wilcoxon_in_memory
from abkit.stats import MeanStats

__all__ = ["ENGINE_QUANTILE_METHODS", "VALUES", "ShadowTable", "compare_models"]

VALUES = ("score", "log_loss", "brier", "correct", "log_latency")
# numpy.quantile's continuous methods and their (alpha, beta) (Hyndman and Fan types 4-9 but 4).
ENGINE_QUANTILE_METHODS = {"weibull": (0, 0), "linear": (1, 1), "hazen": (0.5, 0.5),
                           "median_unbiased": (1 / 3.0, 1 / 3.0), "normal_unbiased": (3 / 8.0, 3 / 8.0)}


class ShadowTable:
    """A long-layout shadow log where it lives, tested through engine aggregates.

    Parameters
    ----------
    table
        A pandas, Polars (eager or lazy), PyArrow, DuckDB or PySpark table, or a Parquet, CSV or
        JSON Lines path or a directory of such log segments (read by DuckDB).
    request_id, model, score, label, latency, timestamp
        Column names; ``score`` defaults to ``"score"``, or ``"prediction"`` when the table has
        no ``score`` column (the log of :class:`abkit.adapters.ShadowRouter`).
    memory_limit
        When ``table`` is a path: the most DuckDB may hold (see
        :func:`abkit.frame.shadow_log.duckdb_connection`); beyond it the join and the window
        sorts spill to disk. ``None`` keeps DuckDB's default (80% of the machine's memory).

    Examples
    --------
    >>> import pandas as pd
    >>> t = ShadowTable(pd.DataFrame({"request_id": [1, 1, 2, 2, 3, 3], "model": ["a", "b"] * 3,
    ...                               "score": [0.2, 0.3, 0.9, 0.6, 0.4, 0.1], "label": [0, 0, 1, 1, 0, 0]}))
    >>> t.models
    ('a', 'b')
    >>> round(t.paired_t_test("a", "b", values="brier").effect, 4)
    0.0167
    """

    def __init__(self, table: Any, *, request_id: str = "request_id", model: str = "model",
                 score: str | None = None, label: str = "label", latency: str = "latency",
                 timestamp: str = "timestamp", memory_limit: str | None = DUCKDB_MEMORY_LIMIT) -> None:
        for argument, column in (("request_id", request_id), ("model", model), ("label", label),
                                 ("latency", latency), ("timestamp", timestamp)):
            check_string(argument, column)
        if score is not None:
            check_string("score", score)
        frame = read_table(table, memory_limit=memory_limit)
        self._frame = frame.lazy() if isinstance(frame, nw.DataFrame) else frame
        columns = list(self._frame.collect_schema().names())
        if score is None:
            score = "prediction" if "score" not in columns and "prediction" in columns else "score"
        missing = [c for c in (request_id, model, score) if c not in columns]
        if missing:
            named = [a for a, c in (("request_id", request_id), ("model", model), ("score", score))
                     if c in missing and c != a]  # the arguments that named a missing column
            hint = f" (check {', '.join(f'`{a}`' for a in named)})" if named else ""
            raise ValueError(f"`table` has no column(s) {missing}; its columns are {columns}{hint}.")
        self._columns = columns
        self._names = {"request_id": request_id, "model": model, "score": score, "label": label,
                       "latency": latency, "timestamp": timestamp}
        self._models: tuple[str, ...] | None = None

    @property
    def models(self) -> tuple[str, ...]:
        """The model names, sorted (one small group-by, which also checks the log)."""
        if self._models is None:
            self._models = self._check_log()
        return self._models

    def model_index(self, name: Any) -> int:
        """Position of model ``name``; a ``ValueError`` listing the known models otherwise."""
        models = self.models  # checks the log (its own errors)
        try:
            known = name in models
        except (TypeError, ValueError):  # an array or a Series: no truth value
            raise TypeError(f"`name` must be a model name; got {type(name).__name__}.") from None
        if not known:
            raise ValueError(f"`name` must name a model of the log: Unknown model {name!r}; "
                             f"the log has models {list(self.models)}.")
        return self.models.index(name)

    def _named_model(self, argument: str, name: Any) -> None:
        """``name`` is one of the log's models, or an error naming ``argument``."""
        if not isinstance(name, str):
            raise TypeError(f"`{argument}` must be a model name (a string); got {type(name).__name__}.")
        if name not in self.models:
            raise ValueError(
                f"`{argument}` must be one of the log's models {list(self.models)}; got {name!r}.")

    def _check_log(self) -> tuple[str, ...]:
        n = self._names
        score = nw.col(n["score"])
        missing = (score.is_null() | score.is_nan()).cast(nw.Int64)
        flagged = self._frame.with_columns(missing.alias("_missing"))
        rows = _rows(flagged.group_by(n["model"]).agg(
            nw.len().alias("rows"), nw.col(n["request_id"]).n_unique().alias("requests"),
            nw.col("_missing").sum().alias("missing"),
        ))
        for row in rows:
            if row["missing"]:
                raise ValueError(
                    f"`score` must not contain NaN; model {row[n['model']]!r} has {row['missing']} "
                    "missing value(s). Leave out the rows of models that did not answer."
                )
            if row["rows"] != row["requests"]:
                raise ValueError(
                    f"Model {row[n['model']]!r} has {row['rows'] - row['requests']} duplicated "
                    "request(s); deduplicate the table, or use abkit.frame.load_shadow_log(..., "
                    "duplicates='first')."
                )
        return tuple(sorted(str(row[n["model"]]) for row in rows))

    def _has(self, key: str) -> bool:
        return self._names[key] in self._columns

    def _paired(self, champion: str, challenger: str, *, labelled: bool, latency: bool = False,
                ordered: bool = False) -> Any:
        """One row per request both models answered: ``y`` (label), ``a``/``b`` (their values),
        ``_rid`` and, when ``ordered``, ``_ts`` (the earlier of the two rows' timestamps)."""
        _known_model(self.model_index, "champion", champion)
        _known_model(self.model_index, "challenger", challenger)
        n = self._names
        if latency and not self._has("latency"):
            raise ValueError("The log has no latency column; load it with `latency=`.")
        if ordered and not self._has("timestamp"):
            raise ValueError(
                f"The table has no timestamp column {n['timestamp']!r}; the test needs the time order.")
        if labelled and not self._has("label"):
            raise ValueError(f"The table has no label column {n['label']!r}.")
        value = n["latency"] if latency else n["score"]

        def side(name: str, suffix: str) -> Any:
            keep = [nw.col(n["request_id"]).alias("_rid"), nw.col(value).cast(nw.Float64).alias(suffix)]
            if self._has("label"):
                keep.append(nw.col(n["label"]).cast(nw.Float64).alias(f"y{suffix}"))
            if ordered:
                keep.append(nw.col(n["timestamp"]).alias(f"t{suffix}"))
            return self._frame.filter(nw.col(n["model"]) == name).select(*keep)

        joined = side(champion, "a").join(side(challenger, "b"), on="_rid", how="inner")
        if self._has("label"):
            joined = joined.with_columns(
                nw.when(nw.col("ya").is_null()).then(nw.col("yb")).otherwise(nw.col("ya")).alias("y"))
        if labelled:
            joined = joined.filter(~nw.col("y").is_null())
        if ordered:
            joined = joined.with_columns(nw.min_horizontal("ta", "tb").alias("_ts"))
        return joined

    def _check_binary(self, paired: Any) -> tuple[int, int]:
        row = _rows(paired.select(nw.len().alias("n"), _count(nw.col("y") == 1.0).alias("m"),
                                  _count(~nw.col("y").is_in([0.0, 1.0])).alias("bad")))[0]
        if row["bad"]:
            raise ValueError(f"`label` must be binary (0/1 or True/False); got {row['bad']} other value(s).")
        return int(row["m"] or 0), int(row["n"]) - int(row["m"] or 0)

    def paired_t_test(self, champion: str, challenger: str, *, values: str = "score",
                      threshold: float = 0.5, alternative: str = "two-sided",
                      confidence_level: float = 0.95, margin: float = 0.0) -> PairedTTestResult:
        """:func:`abkit.shadow.paired_t_test` on per-request values computed in the engine.

        ``values`` is ``"score"`` (the logged values themselves, e.g. a logged loss),
        ``"log_loss"`` or ``"brier"`` (against the label, as the built-in metrics),
        ``"correct"`` (``(score >= threshold) == label``) or ``"log_latency"``.
        """
        values = check_choice("values", values, VALUES)
        labelled = values in ("log_loss", "brier", "correct")
        paired = self._paired(champion, challenger, labelled=labelled, latency=values == "log_latency")
        if values == "correct":
            self._check_binary(paired)
        moments = self._moments(paired, {"t": (values, threshold)})["t"][:5]
        return paired_t_from_moments(*moments, alternative=alternative, confidence_level=confidence_level,
                                     margin=margin)

    @staticmethod
    def _per_request(kind: str, column: str, threshold: float) -> Any:
        x, y = nw.col(column), nw.col("y")
        if kind == "log_loss":
            p = x.clip(EPS, 1.0 - EPS)
            return -(y * p.log() + (1.0 - y) * (1.0 - p).log())
        if kind == "brier":
            return (x - y) ** 2
        if kind == "correct":
            return ((x >= threshold) == (y == 1.0)).cast(nw.Float64)
        if kind == "log_latency":
            return x.log()
        return x

    def _moments(self, paired: Any, specs: dict[str, tuple[str, float]]) -> dict[str, tuple[Any, ...]]:
        """``(n, mean_a, mean_b, mean_d, var_d, var_a, var_b)`` per named per-request value, in one
        query (variances from the engine's ``var`` aggregate, ``ddof=1``; NaN below 2 requests)."""
        derived, aggregates = [], [nw.len().alias("n")]
        for key, (kind, threshold) in specs.items():
            a, b = self._per_request(kind, "a", threshold), self._per_request(kind, "b", threshold)
            derived += [a.alias(f"{key}_a"), b.alias(f"{key}_b"), (b - a).alias(f"{key}_d")]
            aggregates += [nw.col(f"{key}_a").mean(), nw.col(f"{key}_b").mean(), nw.col(f"{key}_d").mean(),
                           nw.col(f"{key}_d").var(ddof=1).alias(f"{key}_v"),
                           nw.col(f"{key}_a").var(ddof=1).alias(f"{key}_va"),
                           nw.col(f"{key}_b").var(ddof=1).alias(f"{key}_vb")]
        row = _rows(paired.with_columns(*derived).select(*aggregates))[0]
        if any(kind == "log_latency" for kind, _ in specs.values()) and row["n"]:
            positive = _rows(paired.select(_count((nw.col("a") <= 0) | (nw.col("b") <= 0)).alias("bad")))
            if positive[0]["bad"]:
                raise ValueError("`latency` must be positive for a ratio; got a value <= 0.")
        return {key: (int(row["n"]), _number(row[f"{key}_a"]), _number(row[f"{key}_b"]),
                      _number(row[f"{key}_d"]), _number(row[f"{key}_v"]), _number(row[f"{key}_va"]),
                      _number(row[f"{key}_vb"])) for key in specs}

    def mcnemar_test(self, champion: str, challenger: str, *, threshold: float = 0.5,
                     method: str = "exact", alternative: str = "two-sided",
                     confidence_level: float = 0.95) -> McNemarTestResult:
        """:func:`abkit.shadow.mcnemar_test` on correctness ``(score >= threshold) == label``,
        from the 2x2 counts the engine returns."""
        threshold = check_real("threshold", threshold)
        paired = self._paired(champion, challenger, labelled=True)
        self._check_binary(paired)
        truth = nw.col("y") == 1.0
        right_a, right_b = (nw.col("a") >= threshold) == truth, (nw.col("b") >= threshold) == truth
        row = _rows(paired.select(
            nw.len().alias("n"), _count(right_a & right_b).alias("both"),
            _count(right_a & ~right_b).alias("b"), _count(~right_a & right_b).alias("c"),
        ))[0]
        return mcnemar_from_counts(int(row["both"] or 0), int(row["b"] or 0), int(row["c"] or 0),
                                   int(row["n"]), method=method, alternative=alternative,
                                   confidence_level=confidence_level)

    def delong_test(self, champion: str, challenger: str, *, alternative: str = "two-sided",
                    confidence_level: float = 0.95, margin: float = 0.0) -> DeLongTestResult:
        """:func:`abkit.shadow.delong_test` from placement moments computed in the engine."""
        paired = self._paired(champion, challenger, labelled=True)
        m, n = self._check_binary(paired)
        _check_classes(m, n)
        auc, s10, s01 = self._placement_moments(paired, m, n)
        return delong_from_moments(auc[0], auc[1], s10, s01, m, n, alternative=alternative,
                                   confidence_level=confidence_level, margin=margin)

    @staticmethod
    def _placement_moments(paired: Any, m: int, n: int) -> tuple[tuple[float, float], Any, Any]:
        """Per class: the mean placements of both models and their sample covariance matrix.

        A positive's placement is ``(rank - class rank) / n`` (average ranks among all labelled
        requests and within its class: the negatives below it, ties counting half), a
        negative's ``1 - (rank - class rank) / m``. Only ``y``, ``a`` and ``b`` go into the
        window sorts; the covariance comes from ``var`` aggregates by class (``cov(x, y) =
        (var(x + y) - var(x) - var(y)) / 2``), so no window centres the placements.
        """
        positive = nw.col("y") == 1.0
        ranked = paired.select("y", "a", "b").with_columns(
            *[(nw.col(s).rank("average") - nw.col(s).rank("average").over("y")).alias(f"r{s}")
              for s in ("a", "b")])
        placed = ranked.select("y", *[
            nw.when(positive).then(nw.col(f"r{s}") / n).otherwise(1.0 - nw.col(f"r{s}") / m).alias(f"v{s}")
            for s in ("a", "b")]).with_columns((nw.col("va") + nw.col("vb")).alias("vs"))
        rows = _rows(placed.group_by("y").agg(
            nw.len().alias("k"), nw.col("va").mean().alias("ma"), nw.col("vb").mean().alias("mb"),
            nw.col("va").var(ddof=1).alias("saa"), nw.col("vb").var(ddof=1).alias("sbb"),
            nw.col("vs").var(ddof=1).alias("sss"),
        ))
        by_class = {float(r["y"]): r for r in rows}

        def covariance(row: dict[str, Any]) -> list[list[float]]:
            if int(row["k"]) < 2:
                return [[math.nan, math.nan], [math.nan, math.nan]]
            saa, sbb = _number(row["saa"]), _number(row["sbb"])
            sab = (_number(row["sss"]) - saa - sbb) / 2.0
            return [[saa, sab], [sab, sbb]]

        pos, neg = by_class[1.0], by_class[0.0]
        return (float(pos["ma"]), float(pos["mb"])), covariance(pos), covariance(neg)

    def diebold_mariano_test(self, champion: str, challenger: str, *, values: str = "score",
                             threshold: float = 0.5, horizon: int = 1, variance: str = "acf",
                             small_sample: bool = True,
                             alternative: str = "two-sided") -> DieboldMarianoTestResult:
        """:func:`abkit.shadow.diebold_mariano_test` on per-request values in timestamp order.

        The engine centres the loss differential ``d`` (challenger - champion; ``values`` as in
        :meth:`paired_t_test`), orders the requests by timestamp (then request id) and sums the
        lagged products ``c_t c_{t-k}`` with ``lag`` window functions for ``k < horizon``.
        """
        values = check_choice("values", values, VALUES)
        horizon = check_int("horizon", horizon, minimum=1)
        small_sample = check_bool("small_sample", small_sample)
        labelled = values in ("log_loss", "brier", "correct")
        paired = self._paired(champion, challenger, labelled=labelled, latency=values == "log_latency",
                              ordered=True)
        a, b = self._per_request(values, "a", threshold), self._per_request(values, "b", threshold)
        centred = paired.with_columns((b - a).alias("_d")).with_columns(
            (nw.col("_d") - nw.col("_d").mean()).alias("_c"))
        order = ["_ts", "_rid"]
        lags = [(nw.col("_c") * nw.col("_c").shift(k).over(order_by=order)).alias(f"_g{k}")
                for k in range(1, horizon)]
        lagged = centred.with_columns(*lags) if lags else centred
        row = _rows(lagged.select(
            nw.len().alias("n"), nw.col("_d").mean().alias("mean"),
            (nw.col("_c") * nw.col("_c")).sum().alias("_g0"),
            *[nw.col(f"_g{k}").sum() for k in range(1, horizon)],
        ))[0]
        n = int(row["n"])
        if n < 2:
            raise ValueError(f"`champion_loss` must have at least 2 values; got {n}.")
        if horizon >= n:
            raise ValueError(f"`horizon` must be less than the number of periods ({n}); got {horizon}.")
        gammas = [_number(row[f"_g{k}"]) / n for k in range(horizon)]
        return diebold_mariano_from_autocovariances(
            n, _number(row["mean"]), gammas, horizon=horizon, variance=variance,
            small_sample=small_sample, alternative=alternative)

    def wilcoxon_test(self, champion: str, challenger: str, *, values: str = "score",
                      threshold: float = 0.5, correction: bool = True, method: str = "auto",
                      alternative: str = "two-sided", confidence_level: float = 0.95) -> WilcoxonTestResult:
        """:func:`abkit.shadow.wilcoxon_test` on per-request values (``values``: :meth:`paired_t_test`).

        The engine ranks ``|d|`` of the non-zero differences ``d`` (challenger - champion) with
        a window function (average ranks; a window count per ``|d|`` gives the tie correction)
        and returns the positive rank sum; the Hodges-Lehmann estimate and interval invert the
        same statistic of ``d - shift``, one engine query per root-finding step. The exact
        method (R's, below 50 untied non-zero differences, or ``method="exact"``) needs the
        Walsh averages of the differences: those are brought into memory.
        """
        self._named_model("champion", champion)
        self._named_model("challenger", challenger)
        values = check_choice("values", values, VALUES)
        if not isinstance(correction, bool):
            raise TypeError(f"`correction` must be True or False; got {correction!r}.")
        method = check_choice("method", method, WILCOXON_METHODS)
        alternative = check_alternative(alternative)
        confidence_level = check_confidence_level(confidence_level)
        labelled = values in ("log_loss", "brier", "correct")
        paired = self._paired(champion, challenger, labelled=labelled, latency=values == "log_latency")
        if values == "correct":
            self._check_binary(paired)
        a, b = self._per_request(values, "a", threshold), self._per_request(values, "b", threshold)
        diffs = paired.select((b - a).alias("_d"))
        nonzero = diffs.filter(nw.col("_d") != 0.0)
        row = _rows(diffs.select(nw.len().alias("size"), _count(nw.col("_d") == 0.0).alias("zeros"),
                                 _count(nw.col("_d").is_null() | nw.col("_d").is_nan()).alias("bad")))[0]
        size, n_zero = int(row["size"]), int(row["zeros"] or 0)
        if size == 0:
            raise ValueError("`loss_champion` must have at least 1 value(s); got 0.")
        if row["bad"]:
            raise ValueError(f"The per-request differences must be finite; got {row['bad']} NaN value(s).")
        n = size - n_zero
        spread = _rows(nonzero.select(nw.col("_d").min().alias("low"), nw.col("_d").max().alias("high"),
                                      nw.col("_d").abs().n_unique().alias("distinct")))[0]
        exact = method == "exact" or (method == "auto" and n < 50)
        if exact and n_zero == 0 and n and int(spread["distinct"]) == n:
            d = np.asarray([r["_d"] for r in _rows(diffs)], dtype=float)
            return wilcoxon_in_memory(np.zeros_like(d), d, correction=correction, method=method,
                                      alternative=alternative, confidence_level=confidence_level)
        sums: dict[float, tuple[int, float, float]] = {}

        def score(shift: float, corrected: bool) -> float:
            if shift not in sums:
                sums[shift] = _signed_rank_sums(nonzero, shift)
            k, v, ties = sums[shift]
            return signed_rank_z(k, v, ties, alternative, corrected) if k else math.nan

        z = score(0.0, correction)
        bounds = (_number(spread["low"]), _number(spread["high"]))
        return wilcoxon_from_scores(z, sums[0.0][1], n, n_zero, score, bounds, alternative=alternative,
                                    correction=correction, confidence_level=confidence_level)

    def latency_quantiles(self, model: str, *, quantiles: Any = (0.5, 0.9, 0.99),
                          confidence_level: float = 0.95, method: str = "weibull") -> LatencyQuantiles:
        """:func:`abkit.shadow.latency_quantiles` of a model's latencies from exact order statistics.

        The engine numbers the model's latencies in order (a ``row_number`` window) and returns
        only the order statistics the estimates (``numpy.quantile``'s interpolation, one of
        the continuous methods in :data:`ENGINE_QUANTILE_METHODS`) and the distribution-free
        intervals need.
        """
        self._named_model("model", model)
        if not self._has("latency"):
            raise ValueError("The log has no latency column; load it with `latency=`.")
        probabilities = [check_open_unit("quantiles", float(p)) for p in np.atleast_1d(
            as_float_array("quantiles", quantiles))]
        if not probabilities:
            raise ValueError("`quantiles` must hold at least one probability; got none.")
        confidence_level = check_confidence_level(confidence_level)
        method = check_choice("method", method, tuple(ENGINE_QUANTILE_METHODS))
        n_ = self._names
        latency = self._frame.filter(nw.col(n_["model"]) == model).select(
            nw.col(n_["latency"]).cast(nw.Float64).alias("_l"))
        row = _rows(latency.select(nw.len().alias("n"), nw.col("_l").min().alias("low"),
                                   _count(nw.col("_l").is_null() | nw.col("_l").is_nan()).alias("bad")))[0]
        n = int(row["n"])
        if n == 0:
            raise ValueError(f"`latency` must have at least 1 value(s); model {model!r} has none.")
        if row["bad"]:
            raise ValueError(
                f"`latency` must not contain NaN; model {model!r} has {row['bad']} missing value(s).")
        if row["low"] < 0.0:
            raise ValueError(f"`latency` must be at least 0 (a duration); got {row['low']}.")
        plans, wanted = [], set()
        for p in probabilities:
            low, high, coverage = order_statistic_ranks(n, p, confidence_level)
            virtual = _virtual_index(method, n, p)
            # numpy's neighbours (0-based): both ends clamp to one order statistic
            below = n - 1 if virtual >= n - 1 else 0 if virtual < 0 else math.floor(virtual)
            above = below if virtual >= n - 1 or virtual < 0 else below + 1
            plans.append((p, low, high, coverage, virtual - below, below, above))
            if low >= 1 and high <= n:
                wanted |= {low, high, below + 1, above + 1}
        order_statistics: dict[int, float] = {}
        if wanted:
            ranked = latency.with_columns(nw.col("_l").rank("ordinal").cast(nw.Int64).alias("_k"))
            for r in _rows(ranked.filter(nw.col("_k").is_in(sorted(wanted))).select("_k", "_l")):
                order_statistics[int(r["_k"])] = float(r["_l"])
        rows = []
        for p, low, high, coverage, gamma, below, above in plans:
            if low < 1 or high > n:
                rows.append(QuantileEstimate(probability=p, estimate=math.nan, ci=NAN_INTERVAL,
                                             coverage=math.nan, quality=INSUFFICIENT_TAIL_DATA))
                continue
            estimate = _lerp(order_statistics[below + 1], order_statistics[above + 1], gamma)
            rows.append(QuantileEstimate(probability=p, estimate=estimate,
                                         ci=ConfidenceInterval(order_statistics[low], order_statistics[high]),
                                         coverage=coverage, quality="ok"))
        return LatencyQuantiles(rows=tuple(rows), n=n, confidence_level=confidence_level, method=method)

    def latency_ratio_test(self, champion: str, challenger: str, *, alternative: str = "two-sided",
                           confidence_level: float = 0.95, margin: float = 0.0) -> LatencyRatioResult:
        """:func:`abkit.shadow.latency_ratio_test` from the moments of the log latencies."""
        if check_real("margin", margin) <= -1.0:
            raise ValueError(f"`margin` must be greater than -1; got {margin}.")
        logs = self.paired_t_test(champion, challenger, values="log_latency", alternative=alternative,
                                  confidence_level=confidence_level, margin=math.log1p(margin))
        return latency_ratio_from_log_test(logs, margin)

    def monitor_stats(self, monitor: ShadowMonitor) -> dict[str, Any]:
        """The keyword arguments of :meth:`abkit.shadow.ShadowMonitor.update_stats` for this batch.

        Per (challenger, metric) of the monitor, the :class:`abkit.stats.MeanStats` of the
        champion's, the challenger's and the difference's per-request values, from engine
        aggregates; and ``n_pending``, the requests whose label is pending (when a metric needs
        labels, as :meth:`abkit.shadow.ShadowMonitor.update` counts them).

        Examples
        --------
        >>> from abkit.datasets import make_shadow_log
        >>> from abkit.shadow import ShadowMonitor
        >>> monitor = ShadowMonitor("v1", ["v2"], ["log_loss", "latency"], min_requests=200)
        >>> for day in range(3):
        ...     batch = ShadowTable(make_shadow_log(2000, models={"v1": 1.0, "v2": 1.3}, rng=day))
        ...     result = monitor.update_stats(**batch.monitor_stats(monitor))
        >>> result.looks
        3
        """
        if not isinstance(monitor, ShadowMonitor):
            raise TypeError(f"`monitor` must be a ShadowMonitor; got {type(monitor).__name__}.")
        for name in (monitor.champion, *monitor.challengers):
            self.model_index(name)
        labelled = any(m.kind != "latency" for m in monitor.metrics)
        stats: dict[tuple[str, str], tuple[MeanStats, ...]] = {}
        for challenger, metric in monitor.sequences:
            spec = next(m for m in monitor.metrics if m.name == metric)
            kind = _engine_kind(spec)
            if kind is None:
                raise ValueError(f"Metric {metric!r} needs the per-request values; update the monitor "
                                 "with abkit.frame.load_shadow_log(...) instead.")
            paired = self._paired(monitor.champion, challenger, labelled=labelled,
                                  latency=kind == "log_latency")
            if kind == "correct":
                self._check_binary(paired)
            n, mean_a, mean_b, mean_d, var_d, var_a, var_b = self._moments(
                paired, {"t": (kind, spec.threshold)})["t"]
            stats[(challenger, metric)] = tuple(
                MeanStats.empty() if n == 0 else MeanStats(n, mean, var if n > 1 else 0.0)
                for mean, var in ((mean_a, var_a), (mean_b, var_b), (mean_d, var_d)))
        n_pending = 0
        if labelled and self._has("label"):
            n = self._names
            rid = nw.col(n["request_id"])
            every = _rows(self._frame.select(rid.n_unique().alias("k")))[0]["k"]
            labelled_ids = self._frame.filter(~nw.col(n["label"]).is_null())
            n_pending = int(every) - int(_rows(labelled_ids.select(rid.n_unique().alias("k")))[0]["k"])
        return {"stats": stats, "n_pending": n_pending}

    def compare_models(self, *, champion: str, challengers: Sequence[str],
                       metrics: Sequence[str | ShadowMetric] = ("auc", "log_loss"), alpha: float = 0.05,
                       min_requests: int = 500, n_resamples: int = 2000, rng: RngLike = 0,
                       progress: bool | None = None) -> ShadowComparison:
        """:func:`abkit.shadow.compare_models` with engine aggregates where a metric allows.

        ``"auc"``, ``"accuracy"``, ``"log_loss"``, ``"brier"``, ``"latency"`` (and
        :class:`abkit.shadow.ShadowMetric` objects of those kinds, with any goal and margin)
        run in the engine. The others need every per-request value: bootstrap metrics (latency
        quantiles, a custom ``statistic``) and custom ``loss`` functions. For those the table is
        loaded once (:func:`abkit.frame.load_shadow_log`) and the core evaluates them with the
        seeds it would have drawn, so the result equals the in-memory path's. ``progress``
        shows a bar over the comparisons (default: no bar).
        """
        options = check_options(self.model_index, champion, challengers, metrics, alpha, min_requests,
                                n_resamples, rng)
        level = 1.0 - options.alpha
        log = None
        cells = []
        plan = options.cells(challengers)
        show = bool(check_progress(progress))
        bar = progress_bar(show, total=len(plan), desc="compare_models", unit="comparison")
        with bar as advance:
            for name, spec, threshold, seed in plan:
                kind = _engine_kind(spec)
                if kind is None:
                    if log is None:
                        n = self._names
                        log = load_shadow_log(
                            self._frame, request_id=n["request_id"], model=n["model"], score=n["score"],
                            label=n["label"], latency=n["latency"], timestamp=n["timestamp"])
                    evaluation = evaluate(log, champion, name, spec, threshold, options.alpha, seed,
                                          n_resamples)
                else:
                    evaluation = self._evaluate(champion, name, spec, kind, threshold, level)
                cells.append((name, spec, threshold, evaluation))
                advance(1)
        return finish_comparison(cells, champion, challengers, options.alpha, options.min_requests)

    def _evaluate(self, champion: str, challenger: str, spec: ShadowMetric, kind: str, threshold: float,
                  level: float) -> Any:
        latency = kind == "log_latency"
        paired = self._paired(champion, challenger, labelled=not latency, latency=latency)
        if kind == "auc":
            m, n = self._check_binary(paired)
            if m + n < 2:
                return empty_evaluation(m + n)
            _check_classes(m, n)
            auc, s10, s01 = self._placement_moments(paired, m, n)
            result = delong_from_moments(auc[0], auc[1], s10, s01, m, n, margin=threshold,
                                         confidence_level=level)
            return delong_evaluation(result, m + n)
        if kind == "correct":
            self._check_binary(paired)
        size, *moments = self._moments(paired, {"t": (kind, spec.threshold)})["t"][:5]
        if size < 2:
            return empty_evaluation(size)
        if latency:
            logs = paired_t_from_moments(size, *moments, margin=math.log1p(threshold), confidence_level=level)
            ratio = latency_ratio_from_log_test(logs, threshold)
            return latency_evaluation(ratio, (math.exp(moments[0]), math.exp(moments[1])), size)
        test = paired_t_from_moments(size, *moments, margin=threshold, confidence_level=level)
        return paired_evaluation(spec, test)


def _signed_rank_sums(nonzero: Any, shift: float) -> tuple[int, float, float]:
    """``(n, V, sum(t^3 - t))`` of the non-zero ``d - shift`` (zeros dropped), by window functions."""
    shifted = nonzero.select((nw.col("_d") - shift).alias("_e")).filter(nw.col("_e") != 0.0)
    ranked = shifted.with_columns(nw.col("_e").abs().alias("_m")).with_columns(
        nw.col("_m").rank("average").alias("_r"),
        nw.col("_m").count().over("_m").cast(nw.Float64).alias("_t"))
    row = _rows(ranked.select(
        nw.len().alias("n"),
        nw.when(nw.col("_e") > 0.0).then(nw.col("_r")).otherwise(0.0).sum().alias("v"),
        (nw.col("_t") * nw.col("_t") - 1.0).sum().alias("ties")))[0]
    return int(row["n"]), _number(row["v"]) if row["n"] else 0.0, _number(row["ties"]) if row["n"] else 0.0


def _virtual_index(method: str, n: int, p: float) -> float:
    """numpy.quantile's 0-based virtual index (``numpy/lib/_function_base_impl.py``)."""
    if method == "linear":
        return (n - 1) * p
    alpha, beta = ENGINE_QUANTILE_METHODS[method]
    return n * p + (alpha + p * (1 - alpha - beta)) - 1


def _lerp(a: float, b: float, t: float) -> float:
    """numpy's quantile interpolation (``numpy/lib/_function_base_impl.py`` ``_lerp``)."""
    diff = b - a
    return b - diff * (1 - t) if t >= 0.5 else a + diff * t


def _check_classes(m: int, n: int) -> None:
    if m == 0 or n == 0:
        kind = "negative" if m else "positive"
        raise ValueError(f"`y_true` must contain both classes for an AUC; got no {kind} label.")


def _engine_kind(spec: ShadowMetric) -> str | None:
    """The engine computation of a metric, or None when it needs the per-request values."""
    if spec.kind == "auc":
        return "auc"
    if spec.kind == "accuracy":
        return "correct"
    if spec.kind == "latency":
        return "log_latency"
    if spec.loss is log_loss:
        return "log_loss"
    if spec.loss is squared_error:
        return "brier"
    return None


def compare_models(
    table: Any, *, champion: str, challengers: Sequence[str],
    memory_limit: str | None = DUCKDB_MEMORY_LIMIT, **options: Any
) -> ShadowComparison:
    """:func:`abkit.shadow.compare_models` on a table, through engine aggregates where possible.

    Parameters
    ----------
    table
        A long-layout table in any engine :class:`ShadowTable` reads (pandas, Polars, PyArrow,
        DuckDB, PySpark), a Parquet/CSV/JSON Lines path or a directory of log segments; or an
        :class:`abkit.shadow.ShadowLog` or an :class:`abkit.adapters.ShadowRouter` (compared in
        memory). For other column names, pass a :class:`ShadowTable`; for the wide layout, call
        :func:`abkit.frame.load_shadow_log` first and pass its result.
    champion, challengers, **options
        As in :func:`abkit.shadow.compare_models` (``metrics``, ``alpha``, ``min_requests``,
        ``n_resamples``, ``rng``, ``progress``).
    memory_limit
        When ``table`` is a path: the most DuckDB may hold (see :class:`ShadowTable`).

    Returns
    -------
    abkit.shadow.ShadowComparison
        Equal to the in-memory result. AUC, accuracy, log-loss, Brier and the latency ratio are
        computed from engine aggregates; bootstrap metrics (latency quantiles, custom
        ``statistic``) and custom ``loss`` functions fall back to loading the table (see
        :meth:`ShadowTable.compare_models`).

    Examples
    --------
    >>> from abkit.datasets import make_shadow_log
    >>> table = make_shadow_log(3000, models={"v1": 1.0, "v2": 1.0}, rng=4)   # equally good
    >>> result = compare_models(table, champion="v1", challengers=["v2"], metrics=["auc"])
    >>> result.verdicts[0].decision, result.rows[0].reason
    ('inconclusive', 'undecided')
    """
    if isinstance(table, ShadowLog) or callable(getattr(table, "to_shadow_log", None)):
        log = table if isinstance(table, ShadowLog) else load_shadow_log(table)
        return compare_shadow_logs(log, champion=champion, challengers=challengers, **options)
    source = table if isinstance(table, ShadowTable) else ShadowTable(table, memory_limit=memory_limit)
    return source.compare_models(champion=champion, challengers=challengers, **options)
