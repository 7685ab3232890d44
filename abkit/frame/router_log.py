"""Analysis straight from a decision and outcome log directory (the routers' segment files).

The routers' logs (:class:`abkit.adapters.logs.SegmentLog`, drained
:class:`abkit.adapters.redis_log.RedisStreamLog` streams, ``abkit serve --log DIR``) are JSON
Lines segment files, one flat record per ``route``, ``record`` or ``shadow`` answer. They are
read here in DuckDB, one query, without loading the lines into Python:

- :func:`read_log`: the log as one table (the log's columns), each ``record`` completed with the
  ``variant`` and ``propensity`` of its ``route`` when its own line lacks them (a reward recorded
  by a process that did not make the decision): the latest route of the same experiment at or
  before the record, matched by ``request_id`` when the record has one, else by ``unit_id``.
- :func:`load_outcomes`: an experiment's outcomes, one row per counted record with its variant,
  ready for :meth:`abkit.frame.Experiment.analyze` (``Proportion("outcome")`` or
  ``Mean("outcome")``).
- :func:`load_decision_log`: a bandit's logged decisions as the ``rewards``, ``actions`` and
  ``propensities`` arrays of :mod:`abkit.bandits.offpolicy` (``ips(**load_decision_log(...),
  target=...)``), the same arrays ``BanditRouter.decision_log()`` gives in memory.
- :func:`abkit.frame.load_shadow_log` reads the ``shadow`` lines of the same directory.

Rows come in log order: by timestamp, then segment file.

Examples
--------
>>> import json, pathlib, tempfile
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> lines = [{"event": "route", "experiment": "e", "unit_id": "u1", "variant": "b", "propensity": 0.5,
...           "timestamp": 1.0},
...          {"event": "record", "experiment": "e", "unit_id": "u1", "outcome": 1, "timestamp": 2.0}]
>>> _ = (folder / "a.jsonl").write_text("".join(json.dumps(line) + "\\n" for line in lines))
>>> load_outcomes(folder, "e").fetchall()   # the record found its route's variant
[(2.0, 'u1', None, 'b', 0.5, 1.0)]
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from abkit._validation import check_choice, check_id
from abkit.frame.shadow_log import _LOG_TYPES

__all__ = ["LOG_EVENTS", "load_decision_log", "load_outcomes", "read_log"]

LOG_EVENTS = ("route", "record", "shadow")
_COLUMNS = tuple(_LOG_TYPES)


def _segments(source: Any) -> list[str]:
    """The segment files of ``source``: a directory (its ``*.jsonl``), a file, or a list of files."""
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        if path.is_dir():
            files = sorted(str(p) for p in path.glob("*.jsonl"))
            if not files:
                raise ValueError(f"`source` must be a log directory with segments (*.jsonl); "
                                 f"{str(path)!r} has none.")
            return files
        if path.is_file():
            return [str(path)]
        raise ValueError(f"`source` names no log directory or file: {str(path)!r} does not exist.")
    if isinstance(source, Sequence) and source and all(isinstance(p, str | os.PathLike) for p in source):
        files = [str(Path(p)) for p in source]
        missing = [f for f in files if not Path(f).is_file()]
        if missing:
            raise ValueError(f"`source` names files that do not exist: {missing[:3]}.")
        return files
    raise TypeError(f"`source` must be a log directory, a segment file or a non-empty list of them; got "
                    f"{type(source).__name__}.")


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def read_log(source: Any, *, experiment: str | None = None, event: str | None = None) -> Any:
    """The decision and outcome log in ``source`` as a DuckDB relation (see the module docstring).

    Parameters
    ----------
    source
        A log directory (every ``*.jsonl`` segment in it), one segment file, or a list of them.
    experiment
        Only this experiment's lines (default: all).
    event
        Only ``"route"``, ``"record"`` or ``"shadow"`` lines (default: all).

    Returns
    -------
    duckdb.DuckDBPyRelation
        The columns ``timestamp, event, experiment, unit_id, request_id, variant, propensity,
        outcome, model, prediction, label, latency``; ``.df()``, ``.pl()`` or ``.arrow()``
        convert it, and :meth:`abkit.frame.Experiment.analyze` takes it as it is.
    """
    import duckdb

    files = _segments(source)
    if experiment is not None:
        check_id("experiment", experiment)
    if event is not None:
        check_choice("event", event, LOG_EVENTS)
    types = "{" + ", ".join(f"'{name}': '{kind}'" for name, kind in _LOG_TYPES.items()) + "}"
    listed = "[" + ", ".join(_quote(f) for f in files) + "]"
    where = "" if experiment is None else f"WHERE experiment = {_quote(experiment)}"
    columns = ", ".join(_COLUMNS)
    completed = ", ".join(f"t.{c}" if c in ("variant", "propensity") else f"r.{c}" for c in _COLUMNS)
    query = f"""
        WITH log AS (
            SELECT {columns}, filename FROM read_json({listed}, format='newline_delimited',
                                                      columns={types}, filename=true) {where}),
        routes AS (SELECT experiment, unit_id, request_id, variant, propensity, timestamp
                   FROM log WHERE event = 'route'),
        bare AS (SELECT * FROM log WHERE event = 'record' AND variant IS NULL),
        by_request AS (
            SELECT {completed}, r.filename FROM (SELECT * FROM bare WHERE request_id IS NOT NULL) r
            ASOF LEFT JOIN routes t ON r.experiment = t.experiment AND r.request_id = t.request_id
                                   AND r.timestamp >= t.timestamp),
        by_unit AS (
            SELECT {completed}, r.filename FROM (SELECT * FROM bare WHERE request_id IS NULL) r
            ASOF LEFT JOIN routes t ON r.experiment = t.experiment AND r.unit_id = t.unit_id
                                   AND r.timestamp >= t.timestamp),
        whole AS (
            SELECT * FROM log WHERE NOT (event = 'record' AND variant IS NULL)
            UNION ALL SELECT * FROM by_request
            UNION ALL SELECT * FROM by_unit)
        SELECT {columns} FROM whole {"" if event is None else f"WHERE event = {_quote(event)}"}
        ORDER BY timestamp, filename"""
    return duckdb.sql(query)


def load_outcomes(source: Any, experiment: str) -> Any:
    """The outcomes of ``experiment``: one row per record with a variant and an outcome.

    Columns ``timestamp, unit_id, request_id, variant, propensity, outcome`` (a DuckDB
    relation), for :meth:`abkit.frame.Experiment.analyze`. Records without a variant (units
    outside the experiment, which the router does not count either, and records whose route is
    not in the log) and without an outcome (a canary's metrics) are left out.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from abkit.frame import Experiment, Proportion
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> lines = "".join(
    ...     f'{{"event": "record", "experiment": "e", "variant": "{v}", "outcome": {o}}}\\n'
    ...     for v, o in [("a", 0), ("a", 1), ("a", 0), ("b", 1), ("b", 1), ("b", 0)])
    >>> _ = (folder / "log.jsonl").write_text(lines)
    >>> result = Experiment(conversion=Proportion("outcome")).analyze(load_outcomes(folder, "e"))
    >>> round(result.rows[0].effect, 4)
    0.3333
    """
    check_id("experiment", experiment)
    log = read_log(source, experiment=experiment, event="record")
    return log.filter("variant IS NOT NULL AND outcome IS NOT NULL").project(
        "timestamp, unit_id, request_id, variant, propensity, outcome")


def load_decision_log(source: Any, experiment: str, *, variants: Sequence[str]
                      ) -> dict[str, npt.NDArray[Any]]:
    """A bandit's logged decisions: ``rewards``, ``actions`` and ``propensities`` arrays.

    ``actions`` are indices into ``variants`` (the router's arm names, in its order), so the
    arrays equal ``BanditRouter.decision_log()`` and feed :func:`abkit.bandits.offpolicy.ips`,
    ``snips`` and ``doubly_robust`` as they are. Every record of ``experiment`` must have a
    variant of ``variants``, a propensity and a reward (``ValueError`` naming how many do not).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from abkit.bandits.offpolicy import ips
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> lines = "".join(
    ...     f'{{"event": "record", "experiment": "ranker", "variant": "{v}", "propensity": 0.5, '
    ...     f'"outcome": {r}}}\\n' for v, r in [("a", 1), ("b", 0), ("a", 0), ("b", 1)])
    >>> _ = (folder / "log.jsonl").write_text(lines)
    >>> log = load_decision_log(folder, "ranker", variants=["a", "b"])
    >>> log["actions"].tolist(), ips(**log, target=[[1.0, 0.0]] * 4).value
    ([0, 1, 0, 1], 0.5)
    """
    check_id("experiment", experiment)
    if isinstance(variants, str) or not isinstance(variants, Sequence) or not variants:
        raise TypeError(f"`variants` must be a non-empty list of the arms' names; got {variants!r}.")
    names = [check_id("variants", v) for v in variants]
    if len(set(names)) != len(names):
        raise ValueError(f"`variants` must be distinct; got {names}.")
    data = read_log(source, experiment=experiment, event="record").project(
        "variant, propensity, outcome").fetchnumpy()
    variant = np.asarray(data["variant"], dtype=object)
    propensity = np.ma.filled(np.ma.asarray(data["propensity"], dtype=np.float64), np.nan)
    reward = np.ma.filled(np.ma.asarray(data["outcome"], dtype=np.float64), np.nan)
    index = {name: i for i, name in enumerate(names)}
    actions = np.array([index.get(v, -1) if isinstance(v, str) else -2 for v in variant], dtype=np.int64)
    problems = {
        "no variant (the route is not in the log, or the unit was outside the experiment)":
            int((actions == -2).sum()),
        f"a variant not in `variants` {names}": int((actions == -1).sum()),
        "no propensity": int(np.isnan(propensity).sum()),
        "no reward": int(np.isnan(reward).sum()),
    }
    found = [f"{count} with {what}" for what, count in problems.items() if count]
    if found:
        raise ValueError(f"Every record of experiment {experiment!r} needs a variant, a propensity and a "
                         f"reward; of {len(actions)}: {'; '.join(found)}.")
    return {"rewards": reward, "actions": actions, "propensities": propensity}
