"""Off-policy evaluation from a decision log where it lives: only engine aggregates reach Python.

A decision log has one row per logged round: the action taken (an integer arm index), its
propensity under the logging policy, the reward, and the evaluated (target) policy's
probabilities of each arm in per-arm columns (or one column holding the target's probability
of the logged action); a reward model's predictions ``q_hat`` in per-arm columns; and, for
replay, the target's (deterministic) action. The table may be held by pandas, Polars, PyArrow,
DuckDB or PySpark (through narwhals), or be a Parquet/CSV path or a directory of segments (read
by DuckDB).

Each estimator of :mod:`abkit.bandits.offpolicy` is a mean of per-round terms, so the engine
returns the number of rounds, the terms' mean and sample variance (its ``var`` aggregate) and
the sums of the importance weights and of their squares (Kish's effective sample size):

- IPS ``w r``; direct method ``sum_a target_a q_a``; doubly robust
  ``sum_a target_a q_a + w (r - q_a_logged)``: one scan;
- SNIPS and replay (ratio estimates ``mean(w r) / mean(w)``, replay with ``w`` the indicator
  that the target's action equals the logged one): the means in a first scan, then the
  variance of the residual terms ``w (r - value)`` in a second.

The input checks (finite values, propensities in (0, 1], target rows summing to 1, actions in
range) are counts in the first scan. The last step is the in-memory estimators' own
(:func:`abkit.bandits.offpolicy.estimate_from_moments`,
:func:`~abkit.bandits.offpolicy.ratio_from_moments`), so the results equal theirs up to the
engine's summation order (tested to 1e-9 relative).

Examples
--------
>>> import pandas as pd
>>> log = pd.DataFrame({"action": [0, 1, 1, 0], "propensity": [0.5] * 4,
...                     "reward": [1.0, 0.0, 1.0, 1.0], "p0": [1.0] * 4, "p1": [0.0] * 4})
>>> table = OffPolicyTable(log, target=["p0", "p1"])
>>> table.ips().value
1.0
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import narwhals as nw
import numpy as np

from abkit._validation import check_choice, check_positive
from abkit.bandits.offpolicy import (
    OffPolicyResult,
    estimate_from_moments,
    kish,
    ratio_from_moments,
    ratio_value,
)
from abkit.frame._engine import collect_rows as _rows
from abkit.frame._engine import count_where as _count
from abkit.frame._engine import number_or_nan as _number
from abkit.frame.shadow_log import _is_decision_log, duckdb_connection, read_table

__all__ = ["OPE_MEMORY_LIMIT", "OPE_METHODS", "OffPolicyTable", "evaluate_policy"]

OPE_METHODS = ("ips", "snips", "direct_method", "doubly_robust", "replay")
# DuckDB's memory limit when abkit opens the log: the estimators are streaming aggregates, so
# DuckDB needs about a row group per thread (measured: 184 MiB added at 10M rows, row groups of
# 1M rows; benchmarks/README.md).
OPE_MEMORY_LIMIT = "192MB"

# Target rows must sum to 1 within this, as abkit.bandits.offpolicy checks in memory.
_SUM_TOLERANCE = 1e-6


def _bad(column: Any) -> Any:
    return column.is_null() | ~column.is_finite()


def _columns(name: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, Sequence) or not value or not all(isinstance(v, str) for v in value):
        raise TypeError(f"`{name}` must be a column name or a non-empty list of column names (one per arm); "
                        f"got {value!r}.")
    return tuple(value)


class OffPolicyTable:
    """A decision log where it lives, evaluated through engine aggregates.

    Parameters
    ----------
    table
        A pandas, Polars (eager or lazy), PyArrow, DuckDB or PySpark table, or a Parquet/CSV
        path or a directory of such segments (read by DuckDB).
    target
        The evaluated policy: a list of column names, one per arm in arm order, holding its
        probability of each arm in each round (rows sum to 1); or one column name holding its
        probability of the logged action (enough for IPS and SNIPS).
    q_hat
        The reward model: a list of column names, one per arm (direct method, doubly robust;
        needs ``target`` per arm).
    target_action
        Column of the target's deterministic action per round (replay).
    reward, propensity
        Columns of the logged reward and of the logging policy's probability of the logged action.
    action
        Column of the logged action (an integer arm index, ``0 .. n_arms - 1``); default
        ``"action"``, or ``"variant_index"`` (the column of
        :meth:`abkit.adapters.BanditRouter.to_frame`) when the table has no ``action``.
    memory_limit
        When ``table`` is a path: the most DuckDB may hold (see
        :func:`abkit.frame.shadow_log.duckdb_connection`); ``None`` keeps DuckDB's default.
        The estimators are streaming aggregates, so DuckDB needs only the row groups its
        threads are decoding: the default, :data:`OPE_MEMORY_LIMIT`, is small, and a query
        that needs more (a file of very large row groups) is run again under DuckDB's default.

    Examples
    --------
    >>> import pandas as pd
    >>> log = pd.DataFrame({"action": [0, 1, 1], "propensity": [0.5] * 3, "reward": [1.0, 0.0, 1.0],
    ...                     "p0": [0.5] * 3, "p1": [0.5] * 3, "q0": [0.2] * 3, "q1": [0.4] * 3})
    >>> table = OffPolicyTable(log, target=["p0", "p1"], q_hat=["q0", "q1"])
    >>> round(table.direct_method().value, 4), round(table.doubly_robust().value, 4)
    (0.3, 0.6333)
    """

    def __init__(self, table: Any, *, target: str | Sequence[str] | None = None,
                 q_hat: Sequence[str] | None = None, target_action: str | None = None,
                 reward: str = "reward", action: str | None = None,
                 propensity: str = "propensity", memory_limit: str | None = OPE_MEMORY_LIMIT) -> None:
        if isinstance(table, str | Path) and Path(table).is_dir() and _is_decision_log(Path(table)):
            raise ValueError(
                "`table` is a router's decision log directory; its route and record events carry no "
                "target probabilities. Join them into a table with the target's columns first.")
        # abkit's own connection when it opens a file: a query that runs out of its memory limit
        # is retried once under DuckDB's default limit (see _collect)
        self._connection = duckdb_connection(memory_limit) if isinstance(table, str | Path) else None
        frame = read_table(table, connection=self._connection)
        self._frame = frame.lazy() if isinstance(frame, nw.DataFrame) else frame
        schema = self._frame.collect_schema()
        self._schema = dict(schema.items())
        names = list(schema.names())
        if action is None:
            action = "variant_index" if "action" not in names and "variant_index" in names else "action"
        self._target = None if target is None else _columns("target", target)
        self._q_hat = None if q_hat is None else _columns("q_hat", q_hat)
        if self._q_hat is not None and isinstance(q_hat, str):
            raise TypeError(f"`q_hat` must be a list of column names, one per arm; got {q_hat!r}.")
        per_arm = self._target is not None and not isinstance(target, str)
        self._per_arm = per_arm
        if self._q_hat is not None and self._target is not None and per_arm \
                and len(self._q_hat) != len(self._target):
            raise ValueError(f"`q_hat` must name one column per arm ({len(self._target)}, as `target`); "
                             f"got {len(self._q_hat)}.")
        self._names: dict[str, str] = {"reward": reward, "action": action, "propensity": propensity,
                                       "target_action": "" if target_action is None else target_action}
        self._replay = target_action is not None
        for argument, name in self._names.items():
            if not isinstance(name, str):
                raise TypeError(f"`{argument}` must be a column name; got {name!r}.")
        self._columns = names
        given = [("target", c) for c in self._target or ()] + [("q_hat", c) for c in self._q_hat or ()]
        for argument, column in [*given, *([("target_action", target_action)] if target_action else [])]:
            self._check_column(argument, column)

    @property
    def methods(self) -> tuple[str, ...]:
        """The estimators the given columns allow, in :data:`OPE_METHODS` order."""
        allowed = []
        if self._target is not None:
            allowed += ["ips", "snips"]
            if self._per_arm and self._q_hat is not None:
                allowed += ["direct_method", "doubly_robust"]
        if self._replay:
            allowed.append("replay")
        return tuple(m for m in OPE_METHODS if m in allowed)

    def _require(self, method: str) -> None:
        if method in self.methods:
            return
        needs = {"ips": "`target`", "snips": "`target`",
                 "direct_method": "`target` (one column per arm) and `q_hat`",
                 "doubly_robust": "`target` (one column per arm) and `q_hat`", "replay": "`target_action`"}
        raise ValueError(
            f"{method} needs {needs[method]}; give the column(s) when building the OffPolicyTable.")

    # --- per-round expressions ------------------------------------------------------------------

    def _logged(self, columns: Sequence[str]) -> Any:
        """The value of the logged action's column: ``sum_k [action == k] column_k`` (exact)."""
        action = nw.col(self._names["action"])
        return nw.sum_horizontal(*[(action == k).cast(nw.Float64) * nw.col(c).cast(nw.Float64)
                                   for k, c in enumerate(columns)])

    def _weight(self, clip: float | None) -> Any:
        assert self._target is not None
        chosen = self._logged(self._target) if self._per_arm else nw.col(self._target[0]).cast(nw.Float64)
        weight = chosen / nw.col(self._names["propensity"]).cast(nw.Float64)
        if clip is not None:
            weight = nw.when(weight > clip).then(nw.lit(clip, nw.Float64)).otherwise(weight)
        return weight

    def _direct(self) -> Any:
        assert self._target is not None and self._q_hat is not None
        return nw.sum_horizontal(*[nw.col(t).cast(nw.Float64) * nw.col(q).cast(nw.Float64)
                                   for t, q in zip(self._target, self._q_hat, strict=True)])

    # --- checks, counted in the first scan ------------------------------------------------------

    def _checks(self, methods: Sequence[str]) -> dict[str, Any]:
        """Named count expressions: each must be 0 (or, ``_sum``, at most the tolerance)."""
        n = self._names
        uses_logged = any(m != "direct_method" for m in methods)
        uses_weights = any(m in ("ips", "snips", "doubly_robust") for m in methods)
        checks: dict[str, Any] = {}
        if uses_logged:
            self._check_column("reward", n["reward"])
            checks["reward"] = _count(_bad(nw.col(n["reward"]).cast(nw.Float64)))
        if uses_weights:
            self._check_column("propensity", n["propensity"])
            p = nw.col(n["propensity"]).cast(nw.Float64)
            checks["propensity"] = _count(_bad(p) | (p <= 0.0) | (p > 1.0))
        targets = self._target if any(m != "replay" for m in methods) else None
        for i, column in enumerate(targets or ()):
            t = nw.col(column).cast(nw.Float64)
            checks[f"target{i}"] = _count(_bad(t) | (t < 0.0) | (t > 1.0))
        if targets and self._per_arm:
            total = nw.sum_horizontal(*[nw.col(c).cast(nw.Float64) for c in targets])
            checks["target_sum"] = _count((total - 1.0).abs() > _SUM_TOLERANCE)
        if any(m in ("direct_method", "doubly_robust") for m in methods):
            for i, column in enumerate(self._q_hat or ()):
                checks[f"q_hat{i}"] = _count(_bad(nw.col(column).cast(nw.Float64)))
        arms = len(self._target) if self._target is not None and self._per_arm else None
        if "replay" in methods or (arms is not None and any(m != "direct_method" for m in methods)):
            self._check_integer("action", n["action"])
            a = nw.col(n["action"])
            outside = a.is_null() | (a < 0)
            if arms is not None and any(m != "replay" for m in methods):
                outside = outside | (a >= arms)
            checks["action"] = _count(outside)
        if "replay" in methods:
            self._check_integer("target_action", n["target_action"])
            b = nw.col(n["target_action"])
            checks["target_action"] = _count(b.is_null() | (b < 0))
        return checks

    def _check_column(self, argument: str, column: str | None) -> None:
        if column not in self._columns:
            raise ValueError(f"`{argument}` must name a column of the table; got {column!r}; "
                             f"its columns are {self._columns}.")

    def _check_integer(self, argument: str, column: str | None) -> None:
        self._check_column(argument, column)
        dtype = self._schema[column]
        if not dtype.is_integer():
            raise TypeError(f"`{argument}` column {column!r} must hold integer arm indices; got {dtype}.")

    def _raise(self, row: dict[str, Any], keys: Sequence[str]) -> None:
        n = self._names
        arms = len(self._target) if self._target is not None and self._per_arm else None
        messages = {
            "reward": f"`reward` column {n['reward']!r} must be finite; got {{}} missing or non-finite "
                      "value(s).",
            "propensity": f"`propensity` column {n['propensity']!r} must be in (0, 1]; got {{}} value(s) "
                          "outside (or missing).",
            "target_sum": f"`target` rows must sum to 1; {{}} row(s) do not (tolerance "
                          f"{_SUM_TOLERANCE}).",
            "action": (f"`action` column {n['action']!r} must be in [0, {arms - 1}]; got {{}} value(s) "
                       "outside (or missing)." if arms is not None else
                       f"`action` column {n['action']!r} must be at least 0; got {{}} value(s) below "
                       "(or missing)."),
            "target_action": f"`target_action` column {n['target_action']!r} must be at least 0; got {{}} "
                             "value(s) below (or missing).",
        }
        for key in keys:
            bad = int(row[f"_check_{key}"] or 0)
            if not bad:
                continue
            if key.startswith("target") and key[6:].isdigit():
                column = self._target[int(key[6:])]  # type: ignore[index]
                raise ValueError(f"`target` column {column!r} must hold probabilities in [0, 1]; got {bad} "
                                 "value(s) outside (or missing).")
            if key.startswith("q_hat"):
                column = self._q_hat[int(key[5:])]  # type: ignore[index]
                raise ValueError(f"`q_hat` column {column!r} must be finite; got {bad} missing or non-finite "
                                 "value(s).")
            raise ValueError(messages[key].format(bad))

    def _collect(self, query: Any) -> dict[str, Any]:
        """The one row of an aggregate query; once more under DuckDB's default memory limit if
        abkit's connection ran out of its own."""
        try:
            return _rows(query)[0]
        except Exception as exc:  # duckdb.OutOfMemoryException (duckdb is optional)
            if self._connection is None or type(exc).__name__ != "OutOfMemoryException":
                raise
            self._connection.execute("RESET memory_limit")
            return _rows(query)[0]

    # --- estimators -----------------------------------------------------------------------------

    def evaluate(self, methods: Sequence[str] | None = None, *, clip: float | None = None,
                 confidence_level: float = 0.95) -> dict[str, OffPolicyResult]:
        """Several estimators at once, in two scans of the table at most.

        ``methods`` defaults to every estimator the columns allow (:attr:`methods`); ``clip``
        caps the importance weights of IPS and doubly robust, as in memory.

        Examples
        --------
        >>> import pandas as pd
        >>> log = pd.DataFrame({"action": [0, 1, 1, 0], "propensity": [0.5] * 4,
        ...                     "reward": [1.0, 0.0, 1.0, 1.0], "p": [1.0, 0.0, 0.0, 1.0],
        ...                     "best": [0, 0, 0, 0]})
        >>> results = OffPolicyTable(log, target="p", target_action="best").evaluate()
        >>> {name: r.value for name, r in results.items()}
        {'ips': 1.0, 'snips': 1.0, 'replay': 1.0}
        """
        if methods is not None and (isinstance(methods, str) or not isinstance(methods, Sequence)):
            raise TypeError(f"`methods` must be a list of {list(OPE_METHODS)}; got {methods!r}.")
        chosen = self.methods if methods is None else tuple(check_choice("methods", m, OPE_METHODS)
                                                             for m in methods)
        if not chosen:
            raise ValueError(f"`methods` must be a non-empty list of {list(OPE_METHODS)}; got {methods!r}.")
        for method in chosen:
            self._require(method)
        if clip is not None:
            clip = check_positive("clip", clip)
        return self._estimate(chosen, clip, confidence_level)

    def _estimate(self, methods: Sequence[str], clip: float | None,
                  confidence_level: float) -> dict[str, OffPolicyResult]:
        reward = nw.col(self._names["reward"]).cast(nw.Float64)
        derived: dict[str, Any] = {}
        aggregates: list[Any] = [nw.len().alias("n")]
        if any(m in ("ips", "snips", "doubly_robust") for m in methods):
            derived["_w"] = self._weight(None)
        if clip is not None and any(m in ("ips", "doubly_robust") for m in methods):
            derived["_wc"] = self._weight(clip)
        clipped = "_wc" if clip is not None else "_w"
        if "ips" in methods or "doubly_robust" in methods:
            aggregates += [nw.col(clipped).sum().alias("clipped_sum"),
                           (nw.col(clipped) * nw.col(clipped)).sum().alias("clipped_sq")]
        if "ips" in methods:
            derived["_ips"] = nw.col(clipped) * reward
        if "snips" in methods:
            derived["_wr"] = nw.col("_w") * reward
            aggregates += [nw.col("_wr").mean().alias("snips_num"), nw.col("_w").mean().alias("snips_den"),
                           nw.col("_w").sum().alias("w_sum"),
                           (nw.col("_w") * nw.col("_w")).sum().alias("w_sq")]
        if "direct_method" in methods or "doubly_robust" in methods:
            derived["_dm"] = self._direct()
        if "doubly_robust" in methods:
            assert self._q_hat is not None
            derived["_dr"] = nw.col("_dm") + nw.col(clipped) * (reward - self._logged(self._q_hat))
        for key, column in (("ips", "_ips"), ("direct_method", "_dm"), ("doubly_robust", "_dr")):
            if key in methods:
                aggregates += [nw.col(column).mean().alias(f"{key}_mean"),
                               nw.col(column).var(ddof=1).alias(f"{key}_var")]
        if "replay" in methods:
            match = (nw.col(self._names["action"]) == nw.col(self._names["target_action"])).cast(nw.Float64)
            derived["_m"] = match
            aggregates += [(nw.col("_m") * reward).mean().alias("replay_num"),
                           nw.col("_m").mean().alias("replay_den"), nw.col("_m").sum().alias("matches")]
        checks = self._checks(methods)
        aggregates += [expr.alias(f"_check_{key}") for key, expr in checks.items()]
        frame = self._frame
        for name, expression in derived.items():  # one at a time: later columns use earlier ones
            frame = frame.with_columns(expression.alias(name))
        with np.errstate(all="ignore"):  # bad input (checked below) may make eager engines warn
            row = self._collect(frame.select(*aggregates))
        n = int(row["n"])
        if n == 0:
            raise ValueError("`table` must hold at least one logged round; got none.")
        self._raise(row, list(checks))

        results: dict[str, OffPolicyResult] = {}
        if "ips" in methods or "doubly_robust" in methods:
            clipped_ess = kish(_number(row["clipped_sum"]), _number(row["clipped_sq"]))
        for key in ("ips", "direct_method", "doubly_robust"):
            if key in methods:
                ess = float(n) if key == "direct_method" else clipped_ess
                variance = _number(row[f"{key}_var"]) if n > 1 else math.nan
                results[key] = estimate_from_moments(_number(row[f"{key}_mean"]), n, variance, ess, key,
                                                     confidence_level)
        ratios = {}
        if "snips" in methods:
            den = _number(row["snips_den"])
            ratios["snips"] = ("_w", ratio_value(_number(row["snips_num"]), den), den,
                               kish(_number(row["w_sum"]), _number(row["w_sq"])))
        if "replay" in methods:
            den = _number(row["replay_den"])
            ratios["replay"] = ("_m", ratio_value(_number(row["replay_num"]), den), den,
                                _number(row["matches"]))
        if ratios:
            residual = self._collect(frame.select(*[
                (nw.col(weight) * (reward - nw.lit(value if not math.isnan(value) else 0.0, nw.Float64)))
                .var(ddof=1).alias(key)
                for key, (weight, value, _, _) in ratios.items()]))
            for key, (_, value, den, ess) in ratios.items():
                variance = _number(residual[key]) if n > 1 and not math.isnan(value) else math.nan
                results[key] = ratio_from_moments(value, den, n, variance, ess, key, confidence_level)
        return {m: results[m] for m in methods}

    def ips(self, *, clip: float | None = None, confidence_level: float = 0.95) -> OffPolicyResult:
        """:func:`abkit.bandits.offpolicy.ips` from engine aggregates (one scan)."""
        return self.evaluate(["ips"], clip=clip, confidence_level=confidence_level)["ips"]

    def snips(self, *, confidence_level: float = 0.95) -> OffPolicyResult:
        """:func:`abkit.bandits.offpolicy.snips` from engine aggregates (two scans)."""
        return self.evaluate(["snips"], confidence_level=confidence_level)["snips"]

    def direct_method(self, *, confidence_level: float = 0.95) -> OffPolicyResult:
        """:func:`abkit.bandits.offpolicy.direct_method` from engine aggregates (one scan)."""
        return self.evaluate(["direct_method"], confidence_level=confidence_level)["direct_method"]

    def doubly_robust(self, *, clip: float | None = None, confidence_level: float = 0.95) -> OffPolicyResult:
        """:func:`abkit.bandits.offpolicy.doubly_robust` from engine aggregates (one scan)."""
        return self.evaluate(["doubly_robust"], clip=clip, confidence_level=confidence_level)["doubly_robust"]

    def replay(self, *, confidence_level: float = 0.95) -> OffPolicyResult:
        """:func:`abkit.bandits.offpolicy.replay` from engine aggregates (two scans)."""
        return self.evaluate(["replay"], confidence_level=confidence_level)["replay"]


def evaluate_policy(table: Any, *, target: str | Sequence[str] | None = None,
                    q_hat: Sequence[str] | None = None, target_action: str | None = None,
                    methods: Sequence[str] | None = None, clip: float | None = None,
                    confidence_level: float = 0.95, reward: str = "reward", action: str | None = None,
                    propensity: str = "propensity",
                    memory_limit: str | None = OPE_MEMORY_LIMIT) -> dict[str, OffPolicyResult]:
    """Off-policy estimates of a target policy's value from a decision log, in the log's engine.

    Parameters
    ----------
    table
        A decision log in any engine :class:`OffPolicyTable` reads (pandas, Polars, PyArrow,
        DuckDB, PySpark), a Parquet/CSV path or a directory of segments, or an
        :class:`OffPolicyTable`.
    target, q_hat, target_action, reward, action, propensity, memory_limit
        Column names and DuckDB's memory limit, as in :class:`OffPolicyTable` (ignored when
        ``table`` is one).
    methods
        Any of :data:`OPE_METHODS`; default every estimator the columns allow.
    clip, confidence_level
        As in :func:`abkit.bandits.offpolicy.ips` (``clip`` caps the weights of IPS and doubly
        robust).

    Returns
    -------
    dict of str to abkit.bandits.offpolicy.OffPolicyResult
        Equal to the in-memory estimators' results on the same rounds.

    Examples
    --------
    >>> import pandas as pd
    >>> log = pd.DataFrame({"action": [0, 1, 1, 0], "propensity": [0.5] * 4,
    ...                     "reward": [1.0, 0.0, 1.0, 1.0], "p0": [0.9] * 4, "p1": [0.1] * 4,
    ...                     "q0": [0.8] * 4, "q1": [0.5] * 4})
    >>> results = evaluate_policy(log, target=["p0", "p1"], q_hat=["q0", "q1"])
    >>> {name: round(r.value, 3) for name, r in results.items()}
    {'ips': 0.95, 'snips': 0.95, 'direct_method': 0.77, 'doubly_robust': 0.95}
    """
    source = table if isinstance(table, OffPolicyTable) else OffPolicyTable(
        table, target=target, q_hat=q_hat, target_action=target_action, reward=reward, action=action,
        propensity=propensity, memory_limit=memory_limit)
    return source.evaluate(methods, clip=clip, confidence_level=confidence_level)
