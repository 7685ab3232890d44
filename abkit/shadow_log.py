"""Load shadow logs from tables: pandas, Polars, PyArrow, DuckDB, Parquet or CSV files.

This is the one shadow module that touches DataFrames (through narwhals, so one code path
serves every engine; files are read by DuckDB). Only the needed columns are selected, in the
engine, before the rows reach NumPy; :class:`abkit.shadow.ShadowLog` then joins them by request
id and reports what it found.

Layouts
-------
``"long"`` (one row per request and model)::

    request_id | model | score | label | latency | timestamp | label_time

``"wide"`` (one row per request)::

    request_id | label | timestamp | score_<model> ... | latency_<model> ...

``score`` is the model's prediction or score (a long table without a ``score`` column may call
it ``prediction``, as the log of :class:`abkit.adapters.ShadowRouter` does, which is read
directly); ``label``, ``latency``, ``timestamp`` and ``label_time`` are optional and used when
present. A model that did not answer a request has
no row (long) or a null score (wide); a label still to come is null.

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
from scipy import special

from abkit._validation import check_choice, check_id, check_real
from abkit.shadow.log import ShadowLog

__all__ = ["LAYOUTS", "load_shadow_log", "make_shadow_log"]

LAYOUTS = ("long", "wide")
_OPTIONAL = ("label", "latency", "timestamp", "label_time")


def _read(table: Any) -> Any:
    """A narwhals DataFrame or LazyFrame (DuckDB, Polars lazy) from any supported source."""
    from abkit.adapters import ShadowRouter

    if isinstance(table, ShadowRouter):
        table = table.to_frame()
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
        path of a Parquet or CSV file, or an :class:`abkit.adapters.ShadowRouter` (its log).
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


def make_shadow_log(
    n_requests: int = 20_000,
    *,
    models: dict[str, float] | None = None,
    latency_ms: dict[str, float] | None = None,
    positive_rate: float = 0.3,
    difficulty: float = 1.0,
    missing_rate: float = 0.0,
    pending_rate: float = 0.0,
    rng: Any = 0,
) -> Any:
    """A seeded synthetic shadow log (long layout, pandas) for notebooks, tests and benchmarks.

    Scores are ``sigmoid(separation * (2 y - 1) + shared + own)`` with request-level noise
    ``shared`` common to all models (what makes the comparison paired) and model noise ``own``;
    latencies are log-normal with a request-level component shared by the models.

    Parameters
    ----------
    n_requests
        Requests, each answered by every model (except a ``missing_rate`` share per challenger).
    models
        ``{name: separation}``; the first is the champion. Default ``{"champion": 1.0,
        "challenger": 1.1}``.
    latency_ms
        ``{name: median latency}``; default 40 ms for every model.
    positive_rate
        Share of positive labels.
    difficulty
        Standard deviation of the request-level noise shared by all models' logits (each model
        adds its own unit-variance noise); larger values make the models' errors more
        correlated, and pairing more valuable.
    missing_rate, pending_rate
        Share of requests a challenger did not answer, and of labels not yet arrived.
    rng
        Seed or ``numpy.random.Generator``.

    Returns
    -------
    pandas.DataFrame
        Columns ``request_id, model, score, label, latency, timestamp``.

    Examples
    --------
    >>> df = make_shadow_log(100, rng=1)
    >>> sorted(df["model"].unique()), len(df)
    (['challenger', 'champion'], 200)
    """
    import pandas as pd

    from abkit._validation import check_int, check_nonnegative, check_positive, check_rng, check_share

    n = check_int("n_requests", n_requests, minimum=1, maximum=10**8)
    generator = check_rng(rng)
    models = {"champion": 1.0, "challenger": 1.1} if models is None else models
    if not isinstance(models, dict) or not models:
        raise TypeError(f"`models` must be a dict of model name to separation; got {models!r}.")
    latency_ms = dict.fromkeys(models, 40.0) if latency_ms is None else latency_ms
    for name, separation in models.items():
        check_id("models", name)
        check_real("models", separation)
    if not isinstance(latency_ms, dict) or set(latency_ms) != set(models):
        raise TypeError(f"`latency_ms` must be a dict with one entry per model; got {latency_ms!r}.")
    for value in latency_ms.values():
        check_positive("latency_ms", value)
    positive_rate = check_share("positive_rate", positive_rate)
    difficulty = check_nonnegative("difficulty", difficulty)
    missing_rate = check_share("missing_rate", missing_rate)
    pending_rate = check_share("pending_rate", pending_rate)
    y = (generator.random(n) < positive_rate).astype(float)
    shared = generator.normal(0.0, difficulty, n)
    shared_latency = generator.normal(0.0, 0.3, n)
    timestamp = pd.Timestamp("2026-01-01") + pd.to_timedelta(np.sort(generator.uniform(0, 86_400, n)), "s")
    label = np.where(generator.random(n) < pending_rate, np.nan, y)
    frames = []
    for position, (name, separation) in enumerate(models.items()):
        logit = separation * (2.0 * y - 1.0) + shared + generator.normal(0.0, 1.0, n)
        latency = latency_ms[name] * np.exp(shared_latency + generator.normal(0.0, 0.2, n))
        answered = np.ones(n, dtype=bool) if position == 0 else generator.random(n) >= missing_rate
        frames.append(pd.DataFrame({
            "request_id": np.arange(n)[answered], "model": name,
            "score": special.expit(logit)[answered], "label": label[answered],
            "latency": latency[answered], "timestamp": timestamp[answered],
        }))
    return pd.concat(frames, ignore_index=True)
