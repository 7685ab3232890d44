"""Shadow mode: the live model serves every request; shadows are called and logged.

Examples
--------
>>> router = ShadowRouter("ranker-v1", ["ranker-v2"])
>>> router.route("req-1").variant, router.route("req-1").shadows
('ranker-v1', ('ranker-v2',))
"""

from __future__ import annotations

import numbers
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from abkit._validation import check_id, check_nonnegative, check_real
from abkit.adapters._base import Route, _check_names, _JsonStateRouter
from abkit.errors import StateError
from abkit.shadow.log import ShadowLog
from abkit.stats import MeanStats

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["SHADOW_LOG_COLUMNS", "ShadowRouter"]

SHADOW_LOG_COLUMNS = ("request_id", "model", "prediction", "label", "latency", "timestamp")


def _check_value(name: str, value: Any, *, optional: bool) -> Any:
    if value is None and optional:
        return None
    if isinstance(value, str | bool):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    return check_real(name, value)


class ShadowRouter(_JsonStateRouter):
    """Shadow mode: the live model serves every request; shadows are called and logged.

    The shadow log is long, one row per (request, model), with the columns
    :data:`SHADOW_LOG_COLUMNS`:

    ============  ==============================================================
    request_id    the id passed to ``route``/``record`` (a string)
    model         a model name: ``live`` or one of ``shadows``
    prediction    that model's answer: a number (score, forecast) or a string (class)
    label         the ground truth when known (``record`` or later ``record_label``), else None
    latency       that model's latency in seconds, or None
    timestamp     when the row was recorded (seconds since the epoch, float)
    ============  ==============================================================

    ``to_frame()`` returns it as a pandas DataFrame (missing values as NaN/None); the champion is
    ``live``, the challengers are ``shadows``.

    Parameters
    ----------
    live
        The model whose answer is served (the champion).
    shadows
        Models called in the shadow of the live one (challengers).
    experiment
        A name for the comparison, reported in routes.

    Examples
    --------
    >>> router = ShadowRouter("ranker-v1", ["ranker-v2"])
    >>> router.route("req-1").shadows
    ('ranker-v2',)
    >>> router.record("req-1", {"predictions": {"ranker-v1": 0.2, "ranker-v2": 0.7},
    ...                         "latencies": {"ranker-v1": 0.011, "ranker-v2": 0.019}})
    >>> router.record_label("req-1", 1)
    >>> [(row["model"], row["prediction"], row["label"]) for row in router.to_records()]
    [('ranker-v1', 0.2, 1), ('ranker-v2', 0.7, 1)]
    """

    _kind = "ShadowRouter"

    def __init__(self, live: str, shadows: Sequence[str], *, experiment: str = "shadow") -> None:
        super().__init__()
        self.live = check_id("live", live)
        self.shadows = _check_names("shadows", shadows, 1)
        if self.live in self.shadows:
            raise ValueError(f"`shadows` must not include the live model; got {self.live!r}.")
        self.experiment = check_id("experiment", experiment)
        self.models = (self.live, *self.shadows)
        self._rows: list[list[Any]] = []
        self._rows_of: dict[str, list[int]] = {}

    def _config(self) -> dict[str, Any]:
        return {"live": self.live, "shadows": list(self.shadows), "experiment": self.experiment}

    def route(self, unit_id: str, context: dict[str, Any] | None = None) -> Route:
        """Serve the live model and name the shadows to call (``context`` is unused)."""
        check_id("unit_id", unit_id)
        return Route(unit_id=unit_id, experiment=self.experiment, variant=self.live, variant_index=0,
                     propensity=1.0, shadows=self.shadows)

    def record(self, unit_id: str, outcome: Any) -> None:
        """Log the models' answers to request ``unit_id`` (one row per model; atomic).

        ``outcome`` is a mapping with ``"predictions"`` (model name to prediction; any subset of
        the models, at least one) and optionally ``"latencies"`` (model name to seconds),
        ``"label"`` and ``"timestamp"`` (default: now).
        """
        rows = self._rows_for(check_id("unit_id", unit_id), outcome)
        with self._lock:
            for row in rows:
                self._rows_of.setdefault(row[0], []).append(len(self._rows))
                self._rows.append(row)

    def _rows_for(self, request_id: str, outcome: Any) -> list[list[Any]]:
        if not isinstance(outcome, Mapping):
            raise TypeError(f"`outcome` must be a mapping with 'predictions'; got {outcome!r}.")
        unknown_keys = set(outcome) - {"predictions", "latencies", "label", "timestamp"}
        if unknown_keys:
            raise ValueError(f"`outcome` has unknown keys {sorted(unknown_keys)}; known: "
                             "predictions, latencies, label, timestamp.")
        predictions = outcome.get("predictions")
        latencies = outcome.get("latencies") or {}
        if not isinstance(predictions, Mapping) or not predictions or not isinstance(latencies, Mapping):
            raise TypeError("`outcome` must map 'predictions' (and 'latencies') from model names; got "
                            f"{outcome!r}.")
        for model in (*predictions, *latencies):
            if model not in self.models:
                raise ValueError(f"`outcome` names an unknown model {model!r}; models: {list(self.models)}.")
        label = _check_value("label", outcome.get("label"), optional=True)
        stamp = outcome.get("timestamp")
        stamp = time.time() if stamp is None else check_real("timestamp", stamp)
        rows = []
        for model, prediction in predictions.items():
            latency = latencies.get(model)
            rows.append([request_id, model, _check_value("prediction", prediction, optional=False), label,
                         None if latency is None else check_nonnegative("latency", latency), stamp])
        return rows

    def record_label(self, request_id: str, label: Any) -> None:
        """Set the ground truth of an already logged request (labels that arrive late)."""
        check_id("request_id", request_id)
        value = _check_value("label", label, optional=False)
        with self._lock:
            rows = self._rows_of.get(request_id)
            if rows is None:
                raise ValueError(f"`request_id` was never recorded; got {request_id!r}.")
            for i in rows:
                self._rows[i][3] = value

    def to_records(self) -> list[dict[str, Any]]:
        """The shadow log as a list of row dicts (a snapshot)."""
        with self._lock:
            return [dict(zip(SHADOW_LOG_COLUMNS, row, strict=True)) for row in self._rows]

    def to_shadow_log(self, *, duplicates: str = "raise") -> ShadowLog:
        """The shadow log as an :class:`abkit.shadow.ShadowLog`, what :mod:`abkit.shadow` compares.

        The same log :func:`abkit.frame.load_shadow_log` reads from :meth:`to_frame`: one row of
        the arrays per request, one column per model (``prediction`` is the score). ``duplicates``
        (``"raise"``, ``"first"`` or ``"last"``) handles a model logged twice for one request.

        Examples
        --------
        >>> router = ShadowRouter("v1", ["v2"])
        >>> router.record("r1", {"predictions": {"v1": 0.2, "v2": 0.7}, "label": 1})
        >>> router.record("r2", {"predictions": {"v1": 0.9}})
        >>> log = router.to_shadow_log()
        >>> log.models, log.score.tolist(), log.report.missing
        (('v1', 'v2'), [[0.2, 0.7], [0.9, nan]], (0, 1))
        """
        with self._lock:
            columns = [np.array([row[j] for row in self._rows], dtype=object)
                       for j in range(len(SHADOW_LOG_COLUMNS))]
        request_id, model, prediction, label, latency, stamp = columns
        return ShadowLog.from_arrays(request_id=request_id, model=model, score=prediction, label=label,
                                     latency=latency, timestamp=stamp.astype(np.float64),
                                     duplicates=duplicates)

    def to_frame(self) -> pd.DataFrame:
        """The shadow log as a pandas DataFrame with the columns :data:`SHADOW_LOG_COLUMNS`."""
        import pandas as pd

        with self._lock:
            rows = [list(row) for row in self._rows]
        return pd.DataFrame(rows, columns=list(SHADOW_LOG_COLUMNS))

    def summary(self) -> dict[str, MeanStats]:
        """Per-model latency statistics (seconds) over the rows that have one."""
        with self._lock:
            latencies = {m: [r[4] for r in self._rows if r[1] == m and r[4] is not None] for m in self.models}
        return {m: MeanStats.from_samples(v) for m, v in latencies.items()}

    def __len__(self) -> int:
        return len(self._rows)

    def _repr_items(self) -> list[tuple[str, Any]]:
        return [*self._config().items(), ("rows", len(self))]

    def _state(self) -> dict[str, Any]:
        return {"log": {c: [row[j] for row in self._rows] for j, c in enumerate(SHADOW_LOG_COLUMNS)}}

    def _set_state(self, state: Any) -> None:
        log = state["log"]
        if not isinstance(log, dict) or set(log) != set(SHADOW_LOG_COLUMNS):
            raise StateError(
                f"Corrupt {self._kind} state: log must have the columns {list(SHADOW_LOG_COLUMNS)}."
            )
        columns = [log[c] for c in SHADOW_LOG_COLUMNS]
        if not all(isinstance(c, list) and len(c) == len(columns[0]) for c in columns):
            raise StateError(f"Corrupt {self._kind} state: log columns must be lists of one length.")
        if any(stamp is None for stamp in log["timestamp"]):
            raise StateError(f"Corrupt {self._kind} state: every row needs a timestamp.")
        rows: list[list[Any]] = []
        try:
            for request_id, model, prediction, label, latency, stamp in zip(*columns, strict=True):
                outcome = {"predictions": {model: prediction}, "latencies": {model: latency},
                           "label": label, "timestamp": stamp}
                rows.extend(self._rows_for(check_id("request_id", request_id), outcome))
        except (TypeError, ValueError) as exc:
            raise StateError(f"Corrupt {self._kind} state: {exc}") from exc
        self._rows = rows
        self._rows_of = {}
        for i, row in enumerate(rows):
            self._rows_of.setdefault(row[0], []).append(i)

    def _merge_states(self, mine: dict[str, Any], theirs: dict[str, Any]) -> dict[str, Any]:
        return {"log": {c: mine["log"][c] + theirs["log"][c] for c in SHADOW_LOG_COLUMNS}}

