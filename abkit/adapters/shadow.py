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
from abkit.adapters._base import RECORDS_GROUP, Route, _check_names, _JsonStateRouter
from abkit.adapters.stores import Store
from abkit.errors import StateError
from abkit.shadow.log import ShadowLog
from abkit.stats import MeanStats

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["MOMENTS", "SHADOW_LOG_COLUMNS", "ShadowRouter"]

SHADOW_LOG_COLUMNS = ("request_id", "model", "prediction", "label", "latency", "timestamp")
MOMENTS = ("prediction", "latency", "loss")
"""What :meth:`ShadowRouter.model_stats` summarises per model (n, sum, sum of squares each)."""
_LARGEST = 1e150  # squares (and sums of squares) stay far from float overflow


def _loss(prediction: Any, label: Any) -> float | None:
    """Squared error of numbers (the Brier score for probabilities and 0/1 labels), 0/1 loss of
    classes (strings), None when there is no label or the two are not comparable."""
    if label is None:
        return None
    if isinstance(prediction, str) or isinstance(label, str):
        return float(prediction != label) if isinstance(prediction, str) and isinstance(label, str) else None
    return (float(prediction) - float(label)) ** 2


def _mean_stats(n: int, total: float, total_sq: float) -> MeanStats:
    """MeanStats from additive sums; the rounding a replaced label's retraction leaves in the sums
    (a tiny negative spread, a single value's nonzero one) is clipped to 0."""
    if n <= 0:
        return MeanStats(n=0, mean=0.0, var=0.0)
    mean = total / n
    m2 = max(total_sq - total * mean, 0.0)
    return MeanStats(n=n, mean=mean, var=m2 / (n - 1) if n > 1 else 0.0)


def _moments(rows: Sequence[Sequence[Any]], sign: float = 1.0) -> dict[str, dict[str, float]]:
    """Additive per-model statistics of log rows: ``{model: {"{moment}_n", "_sum", "_sumsq"}}``."""
    groups: dict[str, dict[str, float]] = {}
    for _, model, prediction, label, latency, _ in rows:
        fields = groups.setdefault(model, {})
        score = None if isinstance(prediction, str) else float(prediction)
        values = (score, latency, _loss(prediction, label))
        for moment, value in zip(MOMENTS, values, strict=True):
            if value is not None:
                for suffix, term in (("n", 1.0), ("sum", value), ("sumsq", value * value)):
                    key = f"{moment}_{suffix}"
                    fields[key] = fields.get(key, 0.0) + sign * term
    return groups


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
        A name for the comparison, reported in routes (and the store namespace).
    store
        ``None`` (default): everything lives in this object. A
        :class:`abkit.adapters.stores.Store` (``SQLiteStore``, ``RedisStore``): every ``record``
        also adds each model's sufficient statistics (count, sum and sum of squares of its
        predictions, latencies and losses, see :meth:`model_stats`) to the store in one atomic
        increment, so :meth:`model_stats` and :meth:`summary` count what every worker and host
        recorded, and ``record`` takes an ``idempotency_key``. **The raw log (``to_records``,
        ``to_shadow_log``, ``to_frame``, the JSON state) stays per process**: it holds the rows
        this object recorded; the durable, complete log is the service's log sink
        (:mod:`abkit.adapters.logs`). ``record_label`` finds only rows this process logged.

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

    def __init__(self, live: str, shadows: Sequence[str], *, experiment: str = "shadow",
                 store: Store | None = None) -> None:
        super().__init__()
        if store is not None and not isinstance(store, Store):
            raise TypeError(f"`store` must be an abkit store or None; got {type(store).__name__}.")
        self.store = store
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

    def record(self, unit_id: str, outcome: Any, *, idempotency_key: str | None = None) -> None:
        """Log the models' answers to request ``unit_id`` (one row per model; atomic).

        ``outcome`` is a mapping with ``"predictions"`` (model name to prediction; any subset of
        the models, at least one) and optionally ``"latencies"`` (model name to seconds),
        ``"label"`` and ``"timestamp"`` (default: now). ``idempotency_key`` (routers with a
        ``store`` only): an outcome sent again with the same key is counted once.
        """
        self.record_once(unit_id, outcome, idempotency_key=idempotency_key)

    def record_once(self, unit_id: str, outcome: Any, *, idempotency_key: str | None = None) -> bool:
        """:meth:`record`, returning whether it counted (False for a repeated idempotency key)."""
        rows = self._rows_for(check_id("unit_id", unit_id), outcome)
        if idempotency_key is not None and self.store is None:
            raise ValueError("`idempotency_key` needs a router with a `store`; this one keeps its log "
                             "in memory.")
        if self.store is not None:
            self._check_finite_squares(rows)
            deltas = {**_moments(rows), RECORDS_GROUP: {"n": 1.0}}  # the count: every worker's records
            if not self.store.add(self.experiment, deltas, idempotency_key=idempotency_key):
                return False
        with self._lock:
            for row in rows:
                self._rows_of.setdefault(row[0], []).append(len(self._rows))
                self._rows.append(row)
        return True

    @staticmethod
    def _check_finite_squares(rows: list[list[Any]]) -> None:
        for row in rows:
            for name, value in (("prediction", row[2]), ("label", row[3]), ("latency", row[4])):
                if isinstance(value, int | float) and not isinstance(value, bool) and abs(value) > _LARGEST:
                    raise ValueError(f"`{name}` must be at most {_LARGEST:g} in absolute value with a "
                                     f"store (its square must not overflow); got {value!r}.")

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
                where = " in this process (a router with a store keeps its raw log per process)" \
                    if self.store is not None else ""
                raise ValueError(f"`request_id` was never recorded{where}; got {request_id!r}.")
            if self.store is not None:  # the losses change: add the new ones, take the old ones off
                old = [self._rows[i] for i in rows]
                new = [[*row[:3], value, *row[4:]] for row in old]
                self._check_finite_squares(new)
                delta = _moments(new)
                for model, fields in _moments(old, sign=-1.0).items():
                    for key, term in fields.items():
                        if key.startswith("loss_"):
                            delta[model][key] = delta[model].get(key, 0.0) + term
                self.store.add(self.experiment, {m: {k: v for k, v in f.items() if k.startswith("loss_")}
                                                 for m, f in delta.items()})
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
        """Per-model latency statistics (seconds) over the rows that have one (every worker's,
        with a store)."""
        if self.store is None:
            with self._lock:
                latencies = {m: [r[4] for r in self._rows if r[1] == m and r[4] is not None]
                             for m in self.models}
            return {m: MeanStats.from_samples(v) for m, v in latencies.items()}
        return {m: stats["latency"] for m, stats in self.model_stats().items()}

    def model_stats(self) -> dict[str, dict[str, MeanStats]]:
        """Per model, :class:`~abkit.stats.MeanStats` of its ``"prediction"`` (numeric ones),
        ``"latency"`` and ``"loss"`` (rows with a label: squared error of numbers, the Brier score
        for probabilities and 0/1 labels; 0/1 loss of classes).

        From the store's totals (every worker's records) when the router has one, else from this
        object's log. Means from sums and sums of squares: see the stores' numerical note.

        Examples
        --------
        >>> router = ShadowRouter("v1", ["v2"])
        >>> router.record("r1", {"predictions": {"v1": 0.2, "v2": 0.6}, "label": 1})
        >>> router.record("r2", {"predictions": {"v1": 0.8, "v2": 0.6}, "label": 1})
        >>> {m: round(s["loss"].mean, 2) for m, s in router.model_stats().items()}
        {'v1': 0.34, 'v2': 0.16}
        """
        if self.store is None:
            with self._lock:
                totals = _moments(self._rows)
        else:
            totals = self.store.totals(self.experiment)
        out: dict[str, dict[str, MeanStats]] = {}
        for model in self.models:
            fields = totals.get(model, {})
            out[model] = {moment: _mean_stats(round(fields.get(f"{moment}_n", 0.0)),
                                              fields.get(f"{moment}_sum", 0.0),
                                              fields.get(f"{moment}_sumsq", 0.0)) for moment in MOMENTS}
        return out

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

    def merge(self, other: ShadowRouter) -> ShadowRouter:
        """A new router holding both logs (same configuration; routers without a store)."""
        if self.store is not None or getattr(other, "store", None) is not None:
            raise StateError(f"Routers with a store share their statistics through it; merge their "
                             f"logs with {self._kind}s without one.")
        return super().merge(other)

    def _merge_states(self, mine: dict[str, Any], theirs: dict[str, Any]) -> dict[str, Any]:
        return {"log": {c: mine["log"][c] + theirs["log"][c] for c in SHADOW_LOG_COLUMNS}}

