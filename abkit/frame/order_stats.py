"""Exact order statistics of groups, found in the engine by narrowing histograms (no sort).

A quantile metric needs a few order statistics of each arm (:func:`abkit.frame.quantile.
quantile_ranks`: the ranks the type-7 estimate interpolates and the ends of the order-statistic
interval), all close to the same quantile. Ranking every value within its group (a window
``rank() over (partition by ...)``) sorts the whole table; instead:

1. one group-by counts the values of every group (variant x segment) in ``BUCKETS``
   equal-width buckets over a value range ``[low, high]`` (with each bucket's smallest and
   largest value), which places every wanted rank in one bucket: a bucket whose values are all
   equal gives its order statistics at once;
2. the range shrinks to the buckets still holding a wanted rank and, once it holds at most
   ``FETCH`` rows, those rows alone are read and sorted in Python (the rows below the range
   are counted, so ranks are exact); otherwise step 1 runs again on the smaller range.

A group of a coarser partition (the variant over all segments) is the union of its finer
groups, so one pass serves the overall and every segment. Every step is an elementary filter
and group-by, so pandas, Polars, DuckDB and Spark run it natively; with typical data it takes
one histogram and one small read.

Examples
--------
>>> import narwhals as nw, pandas as pd
>>> table = pd.DataFrame({"g": ["a"] * 5 + ["b"] * 3, "x": [5.0, 1.0, 4.0, 2.0, 3.0, 9.0, 7.0, 8.0]})
>>> lazy = nw.from_native(table).lazy()
>>> a, b = (("a",),), (("b",),)  # each group is one finest group here
>>> order_statistics(lazy, ["g"], nw.col("x"), [(a, 2), (b, 3), (a + b, 8)])
{((('a',),), 2): 2.0, ((('b',),), 3): 9.0, ((('a',), ('b',)), 8): 9.0}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import narwhals as nw
import numpy as np

from abkit.frame._engine import python_value

__all__: list[str] = []

#: Buckets per histogram pass.
BUCKETS = 2048
#: Rows read into Python at most, once the range is this narrow.
FETCH = 200_000

#: Rows a band may hold to be read at once.
BAND_FETCH = 500_000

Target = tuple[tuple[tuple[Any, ...], ...], int]  # (finest groups whose union is the group, rank)
#: (low, high, values below low by finest group, values in [low, high] by finest group)
Band = tuple[float, float, Mapping[tuple[Any, ...], int], Mapping[tuple[Any, ...], int]]


def order_statistics(lazy: Any, keys: list[str], expr: Any, targets: Sequence[Target],
                     bands: Sequence[Band] = ()) -> dict[Target, float]:
    """The ``rank``-th smallest value (1-based) of ``expr`` in each target's group.

    ``keys`` are the finest group columns; a target names the finest groups (tuples of ``keys``
    values) its group is made of and a rank within it (every rank must exist; every value must
    be finite). ``bands`` (from
    :mod:`abkit.frame.quantile_bands`) are value ranges ``[low, high]`` with each finest
    group's count of values below ``low`` and within the range: a target whose rank one of them
    holds is read from it (one query for all of them, or a histogram narrowing within the band
    if it holds more than ``BAND_FETCH`` rows); the others start from the whole range.
    """
    frame = lazy.select(*[nw.col(k) for k in keys], expr.alias("__abkit_x"))
    found: dict[Target, float] = {}
    placed: dict[int, list[Target]] = {}
    rest = []
    for target in dict.fromkeys(targets):
        members, rank = target
        for j, (_, _, below, inside) in enumerate(bands):
            start = sum(below.get(m, 0) for m in members)
            if start < rank <= start + sum(inside.get(m, 0) for m in members):
                placed.setdefault(j, []).append(target)
                break
        else:
            rest.append(target)
    reads = []
    for j, part in placed.items():
        low, high, below, inside = bands[j]
        if sum(inside.values()) <= BAND_FETCH:
            reads.append((part, low, high, dict(below)))
        else:
            _solve(frame, keys, part, low, high, dict(below), found)
    if reads:
        found.update(_read(frame, reads))
    if rest:  # from the whole range of values
        x = nw.col("__abkit_x")
        low, high = frame.select(x.min(), x.max().alias("__abkit_max")).collect().row(0)
        _solve(frame, keys, rest, float(python_value(low)), float(python_value(high)), {}, found)
    return {target: found[target] for target in targets}


def _solve(frame: Any, keys: list[str], targets: list[Target], low: float, high: float,
           below: dict[tuple[Any, ...], int], found: dict[Target, float]) -> None:
    """Resolve ``targets``, whose values lie in ``[low, high]``; ``below`` counts each finest
    group's values under ``low``."""
    if low == high:  # every value left is the same
        found.update(dict.fromkeys(targets, float(low)))
        return
    value = nw.col("__abkit_x")
    width = (high - low) / BUCKETS
    bucket = ((value - low) / width).floor().clip(0, BUCKETS - 1).cast(nw.Int64)
    rows = (frame.filter(value.is_between(low, high, closed="both"))
            .with_columns(bucket.alias("__abkit_b"))
            .group_by(*keys, "__abkit_b")
            .agg(nw.len().alias("__abkit_n"), value.min().alias("__abkit_lo"),
                 value.max().alias("__abkit_hi"))
            .collect().rows(named=False))
    size = len(keys)
    counts: dict[tuple[Any, ...], np.ndarray] = {}
    lows, highs = np.full(BUCKETS, np.inf), np.full(BUCKETS, -np.inf)
    for row in rows:
        group = tuple(python_value(v) for v in row[:size])
        b = int(row[size])
        counts.setdefault(group, np.zeros(BUCKETS, dtype=np.int64))[b] += int(row[size + 1])
        lows[b] = min(lows[b], float(row[size + 2]))
        highs[b] = max(highs[b], float(row[size + 3]))
    empty = np.zeros(BUCKETS, dtype=np.int64)
    places: dict[int, list[Target]] = {}
    for target in targets:
        members, rank = target
        hist = sum((counts.get(m, empty) for m in members), start=empty)
        start = sum(below.get(m, 0) for m in members)
        b = int(np.searchsorted(np.cumsum(hist), rank - start))  # first bucket reaching rank
        if lows[b] == highs[b]:
            found[target] = float(lows[b])
        else:
            places.setdefault(b, []).append(target)
    # Runs of adjacent buckets holding ranks become the next, narrower ranges.
    runs: list[list[int]] = []
    for b in sorted(places):
        if runs and b == runs[-1][-1] + 1:
            runs[-1].append(b)
        else:
            runs.append([b])
    if len(runs) == 1 and runs[0][0] == 0 and runs[0][-1] == BUCKETS - 1:
        runs = [[b] for b in runs[0]]  # ranks in every bucket: no run would narrow the range
    reads: list[tuple[list[Target], float, float, dict[tuple[Any, ...], int]]] = []
    for run in runs:
        first, last = run[0], run[-1]
        inner = {group: below.get(group, 0) + int(hist[:first].sum()) for group, hist in counts.items()}
        part = [t for b in run for t in places[b]]
        inside = sum(int(hist[first:last + 1].sum()) for hist in counts.values())
        if inside <= FETCH:
            reads.append((part, float(lows[first]), float(highs[last]), inner))
        else:
            _solve(frame, keys, part, float(lows[first]), float(highs[last]), inner, found)
    if reads:
        found.update(_read(frame, reads))


def _read(frame: Any, reads: list[tuple[list[Target], float, float, dict[tuple[Any, ...], int]]]
          ) -> dict[Target, float]:
    """Read the rows with values in the ranges of ``reads`` (one query) and pick each target's
    rank among its range's values."""
    value = nw.col("__abkit_x")
    condition = None
    for _, low, high, _ in reads:
        inside = value.is_between(low, high, closed="both")
        condition = inside if condition is None else condition | inside
    table = frame.filter(condition).collect()
    arrays = values_by_group(table, [c for c in table.columns if c != "__abkit_x"])
    found, ordered = {}, {}
    for targets, low, high, below in reads:
        for target in targets:
            members, rank = target
            if (members, low, high) not in ordered:  # one sort per group and range
                parts = [arrays.get(m, np.empty(0)) for m in members]
                ordered[members, low, high] = np.sort(np.concatenate(
                    [v[(v >= low) & (v <= high)] for v in parts]))
            values = ordered[members, low, high]
            found[target] = float(values[rank - sum(below.get(m, 0) for m in members) - 1])
    return found


def values_by_group(table: Any, keys: list[str]) -> dict[tuple[Any, ...], np.ndarray]:
    """The ``__abkit_x`` values of an eager narwhals frame by group of ``keys`` (one hash
    grouping, not a mask per group: segments can be many)."""
    x = table["__abkit_x"].to_numpy().astype(float)
    labels = table.select(*[nw.col(k) for k in keys]).to_pandas()
    indices = labels.groupby(keys, sort=False, dropna=False).indices
    return {key if isinstance(key, tuple) else (key,): x[index] for key, index in indices.items()}
