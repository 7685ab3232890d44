"""The shadow log: every model's answer to every request, joined by request id.

Layout (long): one row per (request, model) with the request id, the model's name, its
prediction or score, and optionally the label (the ground truth, which may arrive later and
be empty until then), the model's latency, the request's timestamp and the label's arrival
time. :meth:`ShadowLog.from_arrays` builds the log from those columns as arrays; the table
loader :func:`abkit.frame.load_shadow_log` (pandas, Polars, Arrow, DuckDB, Parquet or CSV, long
or wide) ends here too. Nothing is dropped silently: requests a model did not answer, duplicated
(request, model) rows and labels that arrived after the cut-off are counted in
:attr:`ShadowLog.report`.

Examples
--------
>>> log = ShadowLog.from_arrays(
...     request_id=[1, 1, 2, 2, 3],
...     model=["a", "b", "a", "b", "a"],
...     score=[0.9, 0.8, 0.2, 0.4, 0.6],
...     label=[1, 1, 0, 0, None],
... )
>>> log.models, log.report.missing, log.report.unlabeled
(('a', 'b'), (0, 1), 1)
>>> y, a, b = log.paired("a", "b")
>>> y.tolist(), a.tolist(), b.tolist()
([1.0, 0.0], [0.9, 0.2], [0.8, 0.4])
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import numpy.typing as npt

from abkit._results import Result
from abkit._validation import check_choice

__all__ = ["DUPLICATE_POLICIES", "ShadowLog", "ShadowLogReport"]

DUPLICATE_POLICIES = ("raise", "first", "last")
# What a function of this package says when it is handed a table instead of a ShadowLog.
LOAD_HINT = "Pass a table through abkit.frame.load_shadow_log(...) first."
FIELDS = ("score", "latency")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class ShadowLogReport(Result):
    """What loading found: nothing in a shadow log is dropped without being counted here.

    ``missing[i]`` is the number of requests model ``models[i]`` has no row for;
    ``duplicates`` the (request, model) rows dropped under ``duplicate_policy``;
    ``unlabeled`` the requests without a label (pending ground truth), of which ``late_labels``
    had a label that arrived after ``as_of`` and was set aside.
    """

    n_requests: int
    n_rows: int
    models: tuple[str, ...]
    missing: tuple[int, ...]
    duplicates: int
    duplicate_policy: str
    unlabeled: int
    late_labels: int
    as_of: str


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class ShadowLog:
    """Requests x models arrays; a missing answer or a pending label is NaN.

    Attributes
    ----------
    request_id
        Sorted unique request ids (one per row of the arrays).
    models
        Model names, sorted (columns of ``score`` and ``latency``).
    score, latency
        ``(n_requests, n_models)`` float arrays (``latency`` is None when not logged).
    label
        ``(n_requests,)`` labels, NaN while pending.
    timestamp
        ``(n_requests,)`` first timestamp of each request, or None.
    report
        The :class:`ShadowLogReport`.
    """

    request_id: npt.NDArray[Any]
    models: tuple[str, ...]
    score: npt.NDArray[np.float64]
    latency: npt.NDArray[np.float64] | None
    label: npt.NDArray[np.float64]
    timestamp: npt.NDArray[Any] | None
    report: ShadowLogReport

    def __repr__(self) -> str:
        r = self.report
        return (f"ShadowLog({r.n_requests} requests, models={list(self.models)}, "
                f"missing={list(r.missing)}, duplicates={r.duplicates}, unlabeled={r.unlabeled}, "
                f"late_labels={r.late_labels})")

    @classmethod
    def from_arrays(
        cls,
        *,
        request_id: Any,
        model: Any,
        score: Any,
        label: Any = None,
        latency: Any = None,
        timestamp: Any = None,
        label_time: Any = None,
        as_of: Any = None,
        duplicates: str = "raise",
    ) -> ShadowLog:
        """Build a log from long-layout columns (equal-length 1-D arrays).

        Parameters
        ----------
        request_id, model
            Request ids and model names, one per row.
        score
            The model's prediction or score (finite; NaN raises: a model that did not answer
            has no row).
        label
            Ground truth per row (None/NaN while pending); rows of a request must agree.
        latency, timestamp
            Optional per-row latency and request time (numbers or datetime64).
        label_time, as_of
            When the label arrived, and the cut-off: labels arriving after ``as_of`` are
            treated as pending and counted in ``report.late_labels``.
        duplicates
            ``"raise"`` (default), or keep the ``"first"`` or ``"last"`` row of a duplicated
            (request, model) pair; dropped rows are counted in ``report.duplicates``.
        """
        policy = check_choice("duplicates", duplicates, DUPLICATE_POLICIES)
        ids = _column("request_id", request_id)
        n_rows = ids.size
        names = np.asarray(_column("model", model, n_rows)).astype(str)
        scores = _float_column("score", score, n_rows)
        if np.isnan(scores).any():
            bad = _plain(ids[np.isnan(scores)][0])
            raise ValueError(
                f"`score` must not contain NaN; got {int(np.isnan(scores).sum())} NaN value(s) "
                f"(first at request {bad!r}). Leave out the rows of models that did not answer."
            )
        labels = _float_column("label", label, n_rows) if label is not None else np.full(n_rows, np.nan)
        latencies = _float_column("latency", latency, n_rows) if latency is not None else None
        request_ids, row_request = np.unique(ids, return_inverse=True)
        models, row_model = np.unique(names, return_inverse=True)
        n_requests, n_models = request_ids.size, models.size

        keep, n_duplicates = _deduplicate(row_request * n_models + row_model, policy, ids)
        request_index, model_index = row_request[keep], row_model[keep]
        grid = np.full((n_requests, n_models), np.nan)
        grid[request_index, model_index] = scores[keep]
        latency_grid = None
        if latencies is not None:
            latency_grid = np.full((n_requests, n_models), np.nan)
            latency_grid[request_index, model_index] = latencies[keep]

        late = np.zeros(n_rows, dtype=bool)
        if label_time is not None and as_of is not None:
            arrived = _column("label_time", label_time, n_rows)
            late = ~np.isnan(labels) & (arrived > np.asarray(as_of, dtype=arrived.dtype))
        elif (label_time is None) != (as_of is None):
            raise ValueError("`label_time` and `as_of` must be given together; got only one of them.")
        on_time = np.where(late, np.nan, labels)
        request_label = _request_labels(on_time, row_request, n_requests, request_ids)
        had_label = _request_labels(labels, row_request, n_requests, request_ids)
        first_time = _first_timestamp(timestamp, row_request, n_requests, n_rows)
        report = ShadowLogReport(
            n_requests=int(n_requests), n_rows=int(n_rows), models=tuple(models.tolist()),
            missing=tuple(int(v) for v in np.isnan(grid).sum(axis=0)), duplicates=n_duplicates,
            duplicate_policy=policy, unlabeled=int(np.isnan(request_label).sum()),
            late_labels=int((np.isnan(request_label) & ~np.isnan(had_label)).sum()),
            as_of="" if as_of is None else str(as_of),
        )
        return cls(request_id=request_ids, models=report.models, score=grid, latency=latency_grid,
                   label=request_label, timestamp=first_time, report=report)

    def model_index(self, name: Any) -> int:
        """Column of model ``name``; a ``ValueError`` listing the known models otherwise."""
        if name not in self.models:
            raise ValueError(f"Unknown model {name!r}; the log has models {list(self.models)}.")
        return self.models.index(name)

    def paired(
        self, champion: str, challenger: str, *, field: str = "score", labelled: bool = True
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """``(label, champion values, challenger values)`` on the requests both models answered.

        With ``labelled=True`` only requests whose label has arrived are kept. Rows are in
        timestamp order when timestamps were logged (request-id order otherwise).
        """
        field = check_choice("field", field, FIELDS)
        grid = self.score if field == "score" else self.latency
        if grid is None:
            raise ValueError("The log has no latency column; load it with `latency=`.")
        a, b = grid[:, self.model_index(champion)], grid[:, self.model_index(challenger)]
        both = ~np.isnan(a) & ~np.isnan(b)
        if not both.any():
            raise ValueError(
                f"Challenger {challenger!r} has no requests in common with champion {champion!r} "
                f"(they answered {int((~np.isnan(b)).sum())} and {int((~np.isnan(a)).sum())} requests)."
            )
        keep = both & ~np.isnan(self.label) if labelled else both
        order = np.flatnonzero(keep)
        if self.timestamp is not None:
            order = order[np.argsort(self.timestamp[order], kind="stable")]
        return self.label[order], a[order], b[order]


def _plain(value: Any) -> Any:
    """A NumPy scalar as the Python value it holds (for messages)."""
    return value.item() if isinstance(value, np.generic) else value


def _column(name: str, values: Any, size: int | None = None) -> npt.NDArray[Any]:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"`{name}` must be 1-D; got an array of shape {array.shape}.")
    if size is not None and array.size != size:
        raise ValueError(f"`{name}` must have one value per row ({size}); got {array.size}.")
    return array


def _float_column(name: str, values: Any, size: int) -> npt.NDArray[np.float64]:
    array = _column(name, values, size)
    if array.dtype == object:
        array = np.array([np.nan if v is None else v for v in array])
    try:
        return np.asarray(array, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"`{name}` must hold numbers; got dtype {array.dtype}.") from exc


def _deduplicate(
    key: npt.NDArray[np.int64], policy: str, ids: npt.NDArray[Any]
) -> tuple[npt.NDArray[Any], int]:
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    repeated = sorted_key[1:] == sorted_key[:-1]
    n_duplicates = int(repeated.sum())
    if n_duplicates == 0:
        return np.arange(key.size), 0
    if policy == "raise":
        example = _plain(ids[order[1:][repeated][0]])
        raise ValueError(
            f"The log has {n_duplicates} duplicated (request, model) row(s), e.g. request "
            f"{example!r}; pass duplicates='first' or 'last' to keep one of each."
        )
    first_of_group = np.concatenate(([True], ~repeated))
    last_of_group = np.concatenate((~repeated, [True]))
    return order[first_of_group if policy == "first" else last_of_group], n_duplicates


def _request_labels(labels: npt.NDArray[np.float64], request_index: npt.NDArray[np.int64],
                    n_requests: int, request_ids: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    low = np.full(n_requests, np.inf)
    high = np.full(n_requests, -np.inf)
    present = ~np.isnan(labels)
    np.minimum.at(low, request_index[present], labels[present])
    np.maximum.at(high, request_index[present], labels[present])
    conflict = np.isfinite(low) & (low != high)
    if conflict.any():
        raise ValueError(
            f"`label` differs between rows of the same request for {int(conflict.sum())} request(s), "
            f"e.g. {_plain(request_ids[conflict][0])!r}."
        )
    return np.where(np.isfinite(low), low, np.nan)


def _first_timestamp(timestamp: Any, request_index: npt.NDArray[np.int64], n_requests: int,
                     n_rows: int) -> npt.NDArray[Any] | None:
    if timestamp is None:
        return None
    times = _column("timestamp", timestamp, n_rows)
    order = np.lexsort((times, request_index))
    first = np.concatenate(([True], request_index[order][1:] != request_index[order][:-1]))
    result = np.empty(n_requests, dtype=times.dtype)
    result[request_index[order][first]] = times[order][first]
    return result
