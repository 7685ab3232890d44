"""Load shadow logs from tables: pandas, Polars, PyArrow, DuckDB, Parquet or CSV files.

This is the one shadow module that touches DataFrames (through narwhals, so one code path
serves every engine; files are read by DuckDB); :mod:`abkit.shadow` itself takes a
:class:`abkit.shadow.ShadowLog`. Only the needed columns are selected, in the
engine, before the rows reach NumPy; :class:`abkit.shadow.ShadowLog` then joins them by request
id and reports what it found.

Layouts
-------
``"long"`` (one row per request and model)::

    request_id | model | score | label | latency | timestamp | label_time

``"wide"`` (one row per request)::

    request_id | label | timestamp | score_<model> ... | latency_<model> ...

``score`` is the model's prediction or score (a long table without a ``score`` column may call
it ``prediction``, as the log of :class:`abkit.adapters.ShadowRouter` does; a router itself is
read through its ``to_shadow_log()``); ``label``, ``latency``, ``timestamp`` and ``label_time``
are optional and used when present. A model that did not answer a request has no row (long) or
a null score (wide); a label still to come is null.

Examples
--------
>>> import pandas as pd
>>> table = pd.DataFrame({"request_id": [1, 2, 3], "label": [1, 0, None],
...                       "score_v1": [0.8, 0.3, 0.6], "score_v2": [0.9, None, 0.4]})
>>> log = load_shadow_log(table, layout="wide")
>>> log.models, log.report.missing, log.report.unlabeled
(('v1', 'v2'), (0, 1), 1)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import narwhals as nw
import numpy as np

from abkit._validation import check_choice, check_id
from abkit.shadow.decision import ShadowComparison
from abkit.shadow.decision import compare_models as compare_shadow_logs
from abkit.shadow.log import ShadowLog

__all__ = ["LAYOUTS", "compare_models", "load_shadow_log"]

LAYOUTS = ("long", "wide")
_OPTIONAL = ("label", "latency", "timestamp", "label_time")


def _read(table: Any) -> Any:
    """A narwhals DataFrame or LazyFrame (DuckDB, Polars lazy) from any supported source."""
    if isinstance(table, str | Path):
        import duckdb

        path = str(table)
        suffix = Path(path).suffix.lower()
        if suffix not in (".parquet", ".csv"):
            raise ValueError(f"`table` must be a .parquet or .csv path; got {path!r}.")
        try:
            table = duckdb.read_parquet(path) if suffix == ".parquet" else duckdb.read_csv(path)
        except duckdb.IOException as exc:
            raise FileNotFoundError(f"`table` names no readable file: {path!r} ({exc}).") from exc
    try:
        frame = nw.from_native(table)
    except TypeError as exc:
        raise TypeError(
            "`table` must be a DataFrame (pandas, Polars, PyArrow, DuckDB, ...) or a Parquet/CSV "
            f"path; got {type(table).__name__}."
        ) from exc
    return frame


def _collect(frame: Any, columns: list[str]) -> Any:
    """Select ``columns`` in the engine, then bring the rows into memory."""
    data = frame.select(columns)
    return data.collect() if isinstance(data, nw.LazyFrame) else data


def _require(columns: list[str], names: list[tuple[str, str]]) -> None:
    """Each ``(argument, column)`` names a column of the table, or a ``ValueError`` naming it."""
    for argument, name in names:
        if name not in columns:
            raise ValueError(
                f"`{argument}` must name a column of the table; got {name!r}; its columns are {columns}."
            )


def load_shadow_log(
    table: Any,
    *,
    layout: str = "long",
    request_id: str = "request_id",
    model: str = "model",
    score: str | None = None,
    label: str = "label",
    latency: str = "latency",
    timestamp: str = "timestamp",
    label_time: str = "label_time",
    as_of: Any = None,
    models: list[str] | None = None,
    duplicates: str = "raise",
) -> ShadowLog:
    """Read a shadow log from a table and join the models' answers by request id.

    Parameters
    ----------
    table
        A pandas, Polars or PyArrow table, a DuckDB relation, any narwhals-compatible frame, the
        path of a Parquet or CSV file, or an :class:`abkit.adapters.ShadowRouter` (its log, read
        through its ``to_shadow_log()``).
    layout
        ``"long"`` or ``"wide"`` (see the module docstring).
    request_id, model, score, label, latency, timestamp, label_time
        Column names (long layout); in the wide layout ``score`` and ``latency`` are prefixes
        of ``<prefix>_<model>`` columns. Optional columns are used when present. ``score``
        defaults to ``"score"``, or ``"prediction"`` in a long table without a ``score`` column.
    as_of
        Evaluation cut-off: labels whose ``label_time`` is later are late, treated as pending
        and counted in ``report.late_labels``.
    models
        Wide layout: the model names (default: every ``<score>_<model>`` column).
    duplicates
        ``"raise"``, ``"first"`` or ``"last"`` for duplicated (request, model) rows.

    Returns
    -------
    ShadowLog

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"request_id": [7, 7, 8, 8, 8], "model": ["a", "b", "a", "b", "b"],
    ...                       "score": [0.2, 0.4, 0.9, 0.7, 0.6], "label": [0, 0, 1, 1, 1]})
    >>> log = load_shadow_log(table, duplicates="last")
    >>> log.report.duplicates, log.score.tolist()
    (1, [[0.2, 0.4], [0.9, 0.6]])
    """
    layout = check_choice("layout", layout, LAYOUTS)
    for name, column in (("request_id", request_id), ("model", model), ("label", label),
                         ("latency", latency), ("timestamp", timestamp), ("label_time", label_time)):
        check_id(name, column)
    if score is not None:
        check_id("score", score)
    if callable(getattr(table, "to_shadow_log", None)):  # a router (abkit.adapters.ShadowRouter)
        if as_of is not None:
            raise ValueError(f"`as_of` needs a label-arrival column; the table has no {label_time!r}.")
        log: ShadowLog = table.to_shadow_log(duplicates=duplicates)
        return log
    frame = _read(table)
    columns = list(frame.collect_schema().names())
    if score is None:
        score = "prediction" if layout == "long" and "score" not in columns and "prediction" in columns \
            else "score"
    optional = dict(zip(_OPTIONAL, (label, latency, timestamp, label_time), strict=True))
    present = {key: name for key, name in optional.items() if name in columns}
    if "label_time" in present and as_of is None:
        present.pop("label_time")
    if as_of is not None and "label_time" not in present:
        raise ValueError(f"`as_of` needs a label-arrival column; the table has no {label_time!r}.")

    if layout == "long":
        _require(columns, [("request_id", request_id), ("model", model), ("score", score)])
        keep = [request_id, model, score, *present.values()]
        data = _collect(frame, keep)
        arrays = {key: data[name].to_numpy() for key, name in present.items()}
        return ShadowLog.from_arrays(
            request_id=data[request_id].to_numpy(), model=data[model].to_numpy(),
            score=data[score].to_numpy(), as_of=as_of, duplicates=duplicates, **arrays,
        )

    prefix = f"{score}_"
    names = models if models is not None else [c[len(prefix):] for c in columns if c.startswith(prefix)]
    if not names:
        raise ValueError(f"The wide layout needs `{prefix}<model>` columns; the columns are {columns}.")
    score_columns = [f"{prefix}{m}" for m in names]
    _require(columns, [("request_id", request_id), *(("score", c) for c in score_columns)])
    latency_columns = [f"{latency}_{m}" for m in names]
    has_latency = all(c in columns for c in latency_columns)
    shared = {key: name for key, name in present.items() if key != "latency"}
    keep = [request_id, *shared.values(), *score_columns, *(latency_columns if has_latency else [])]
    data = _collect(frame, keep)
    ids = data[request_id].to_numpy()
    parts: dict[str, list[Any]] = {"request_id": [], "model": [], "score": [], "latency": []}
    parts.update({key: [] for key in shared})
    for i, name in enumerate(names):
        values = np.asarray(data[score_columns[i]].to_numpy(), dtype=np.float64)
        answered = ~np.isnan(values)
        parts["request_id"].append(ids[answered])
        parts["model"].append(np.full(int(answered.sum()), name, dtype=object))
        parts["score"].append(values[answered])
        if has_latency:
            parts["latency"].append(np.asarray(data[latency_columns[i]].to_numpy(), dtype=float)[answered])
        for key, column in shared.items():
            parts[key].append(data[column].to_numpy()[answered])
    arrays = {key: np.concatenate(value) for key, value in parts.items() if value}
    return ShadowLog.from_arrays(as_of=as_of, duplicates=duplicates, **arrays)



def compare_models(table: Any, *, champion: str, challengers: Any, **options: Any) -> ShadowComparison:
    """:func:`abkit.shadow.compare_models` on a table: load it, then compare.

    Parameters
    ----------
    table
        Anything :func:`load_shadow_log` reads with its defaults (a long-layout table, a
        Parquet/CSV path, an :class:`abkit.adapters.ShadowRouter`), or a
        :class:`abkit.shadow.ShadowLog`. For other layouts or column names, call
        :func:`load_shadow_log` first and pass its result.
    champion, challengers, **options
        As in :func:`abkit.shadow.compare_models` (``metrics``, ``alpha``, ``min_requests``,
        ``n_resamples``, ``rng``).

    Returns
    -------
    abkit.shadow.ShadowComparison

    Examples
    --------
    >>> from abkit.datasets import make_shadow_log
    >>> table = make_shadow_log(3000, models={"v1": 1.0, "v2": 1.0}, rng=4)   # equally good
    >>> result = compare_models(table, champion="v1", challengers=["v2"], metrics=["auc"])
    >>> result.verdicts[0].verdict, result.rows[0].status
    ('inconclusive', 'undecided')
    """
    if isinstance(table, ShadowLog):
        log = table
    else:
        try:
            log = load_shadow_log(table)
        except ValueError as exc:
            raise ValueError(
                "`table` must be a ShadowLog or a table load_shadow_log reads with its defaults "
                f"(for other columns or layouts, call load_shadow_log first): {exc}"
            ) from exc
    return compare_shadow_logs(log, champion=champion, challengers=challengers, **options)
