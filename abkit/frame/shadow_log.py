"""Load shadow logs from tables: pandas, Polars, PyArrow, DuckDB, Parquet, CSV or JSON Lines files.

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

import json
import tempfile
from pathlib import Path
from typing import Any

import narwhals as nw
import numpy as np

from abkit._validation import check_choice, check_id
from abkit.shadow.log import ShadowLog

__all__ = ["DUCKDB_MEMORY_LIMIT", "LAYOUTS", "duckdb_connection", "load_shadow_log", "read_table"]

LAYOUTS = ("long", "wide")
# What DuckDB may hold (its buffer pool: hash tables, sorts, cached file blocks) when abkit opens a
# file; beyond it the joins, aggregates and window sorts spill to a temporary directory.
DUCKDB_MEMORY_LIMIT = "512MB"
_OPTIONAL = ("label", "latency", "timestamp", "label_time")


_SEGMENTS = {".parquet": "parquet", ".csv": "csv", ".jsonl": "json", ".json": "json", ".ndjson": "json"}


def duckdb_connection(memory_limit: str | None = DUCKDB_MEMORY_LIMIT) -> Any:
    """A DuckDB connection for the files abkit opens, holding at most ``memory_limit``.

    DuckDB's buffer pool (its hash tables, sorts and cached file blocks) stays under
    ``memory_limit`` (a DuckDB size such as ``"1GB"``; ``None`` keeps DuckDB's default, 80% of
    the machine's memory): larger joins, aggregates and window sorts spill to a directory
    under the system's temporary directory. Row order is not preserved (no query abkit runs
    depends on it) and DuckDB's cache of file blocks is off, so a second scan reads the file
    again (through the operating system's page cache) instead of holding it.

    Examples
    --------
    >>> con = duckdb_connection("256MB")
    >>> con.sql("SELECT current_setting('memory_limit')").fetchall()
    [('244.1 MiB',)]
    """
    import duckdb

    if memory_limit is not None and not isinstance(memory_limit, str):
        raise TypeError(f"`memory_limit` must be a DuckDB size such as '1GB', or None; got {memory_limit!r}.")
    config: dict[str, Any] = {"preserve_insertion_order": False,
                              "temp_directory": str(Path(tempfile.gettempdir()) / "abkit-duckdb")}
    if memory_limit is not None:
        config["memory_limit"] = memory_limit
    try:
        return duckdb.connect(config={**config, "enable_external_file_cache": False})
    except duckdb.Error as exc:
        if "enable_external_file_cache" not in str(exc):  # DuckDB before 1.3 has no such cache
            raise _bad_limit(memory_limit, exc) from None
    try:
        return duckdb.connect(config=config)
    except duckdb.Error as exc:
        raise _bad_limit(memory_limit, exc) from None


def _bad_limit(memory_limit: str | None, exc: Exception) -> ValueError:
    return ValueError(f"`memory_limit` must be a DuckDB size such as '1GB'; got {memory_limit!r} "
                      f"({str(exc).strip().splitlines()[0]}).")


def read_table(table: Any, *, memory_limit: str | None = DUCKDB_MEMORY_LIMIT, connection: Any = None) -> Any:
    """A narwhals frame from a table, or from a file or a directory of segment files (DuckDB).

    A directory is read whole (every ``*.parquet``, ``*.csv`` or ``*.jsonl``/``*.json`` file in
    it, one kind only) as one table, lazily. Files are read by a connection of
    :func:`duckdb_connection` (``memory_limit``), or by ``connection`` when given; a table is
    used as it is.
    """
    if isinstance(table, str | Path):
        path = Path(table)
        if path.is_dir() and _is_decision_log(path):
            return nw.from_native(_read_segments(path, connection or duckdb_connection(memory_limit)))
        if path.is_dir():
            kinds = {_SEGMENTS[p.suffix.lower()] for p in path.iterdir() if p.suffix.lower() in _SEGMENTS}
            if len(kinds) != 1:
                raise ValueError(
                    "`table` must be a directory of Parquet, CSV or JSON Lines segments of one kind; "
                    f"{str(path)!r} holds {sorted(kinds) or 'none'}."
                )
            kind = kinds.pop()
            files = sorted(str(p) for p in path.iterdir() if _SEGMENTS.get(p.suffix.lower()) == kind)
        elif path.suffix.lower() in _SEGMENTS:
            if not path.is_file():
                raise FileNotFoundError(f"`table` names no readable file: {str(path)!r} does not exist.")
            kind, files = _SEGMENTS[path.suffix.lower()], [str(path)]
        else:
            raise ValueError(
                f"`table` must be a .parquet, .csv or .jsonl path or a directory of them; got {str(path)!r}."
            )
        connection = connection or duckdb_connection(memory_limit)
        reader = {"parquet": connection.read_parquet, "csv": connection.read_csv,
                  "json": connection.read_json}[kind]
        table = reader(files if len(files) > 1 else files[0])
    try:
        frame = nw.from_native(table)
    except TypeError as exc:
        raise TypeError(
            "`table` must be a DataFrame (pandas, Polars, PyArrow, DuckDB, PySpark, ...), a "
            f"Parquet/CSV/JSON Lines path or a directory of them; got {type(table).__name__}."
        ) from exc
    return frame


_LOG_TYPES = {"timestamp": "DOUBLE", "event": "VARCHAR", "experiment": "VARCHAR", "unit_id": "VARCHAR",
              "request_id": "VARCHAR", "variant": "VARCHAR", "propensity": "DOUBLE", "outcome": "DOUBLE",
              "model": "VARCHAR", "prediction": "DOUBLE", "label": "DOUBLE", "latency": "DOUBLE"}


def _is_decision_log(folder: Path) -> bool:
    """Whether ``folder`` holds the JSON Lines segments of :class:`abkit.adapters.logs.SegmentLog`
    (every record has an ``event`` field), rather than segments of a plain table."""
    for segment in sorted(folder.glob("*.jsonl")):
        with segment.open(encoding="utf-8") as handle:
            first = handle.readline()
        if first.strip():
            try:
                record = json.loads(first)
            except ValueError:
                return False
            return isinstance(record, dict) and "event" in record and "experiment" in record
    return False


def _read_segments(folder: Path, connection: Any) -> Any:
    """The shadow rows of a decision log directory (:class:`abkit.adapters.logs.SegmentLog`), in DuckDB."""
    if not any(folder.glob("*.jsonl")):
        raise ValueError(f"`table` is a directory without log segments (*.jsonl); got {str(folder)!r}.")
    columns = "{" + ", ".join(f"'{name}': '{kind}'" for name, kind in _LOG_TYPES.items()) + "}"
    pattern = str(folder / "*.jsonl").replace("'", "''")
    return connection.sql(
        f"SELECT request_id, model, prediction, label, latency, timestamp "
        f"FROM read_json('{pattern}', format='newline_delimited', columns={columns}) WHERE event = 'shadow'")


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
        path of a Parquet or CSV file, a decision log directory (the JSON Lines segments of
        :class:`abkit.adapters.logs.SegmentLog`, whose ``"shadow"`` rows are read in DuckDB), or
        an :class:`abkit.adapters.ShadowRouter` (its log, read through its ``to_shadow_log()``).
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
    frame = read_table(table)
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

