"""Bands of values that hold a quantile metric's order statistics, placed from a sample of rows.

A quantile metric needs a few order statistics of each arm and segment (the ranks of
:func:`abkit.frame.quantile.quantile_ranks`), all close to the ``q`` quantile. Before the main
aggregation query, a sample of rows (``SAMPLE`` random rows of an in-memory table; the first
``SAMPLE`` rows of a lazy one, which reads no more, and its row count) places, for every group
of the sample (each variant overall and each variant x segment), a band of values
``[low, high]`` around its ``q`` quantile that holds the group's wanted ranks unless the sample
misleads by more than ``Z`` standard errors. Overlapping bands are merged (at most
``MAX_BANDS`` are kept).

The main query then counts, per group, the values below and above each band (two sums, no
extra scan), which says exactly which ranks each band holds; :func:`~abkit.frame.order_stats.
order_statistics` reads the bands' rows in one query and picks the ranks. The sample only
decides where to look: a wanted rank that falls outside every band (an unrepresentative sample,
say a lazy table sorted by the metric) is found by the histogram narrowing over the whole range,
so answers are exact whatever the sample.

Examples
--------
>>> import numpy as np
>>> x = np.sort(np.random.default_rng(0).exponential(1.0, 100_000))  # 1 row in 100 sampled
>>> ((low, high),) = bands({("a",): x}, [0.9], scale=100.0)
>>> bool(low < np.log(10) < high), round(float(np.mean((x >= low) & (x <= high))), 3)
(True, 0.007)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import narwhals as nw
import numpy as np

from abkit.frame._engine import python_value
from abkit.frame.order_stats import values_by_group

__all__: list[str] = []

#: Rows sampled to place the bands.
SAMPLE = 100_000
#: Standard errors of the sample quantile a band reaches beyond it on each side.
Z = 3.5
#: Standard errors of the arm's own quantile: its 95% order-statistic interval ends are within 2.6.
Z_INTERVAL = 2.6
#: Sampled values a group needs to place a band (fewer place none: a rough band would be wide).
MIN_SAMPLE = 1_000
#: Bands kept per quantile column (each adds two sums to the main query).
MAX_BANDS = 4


def sample(frame: Any, lazy: Any, keys: list[str], expr: Any
           ) -> tuple[dict[tuple[Any, ...], np.ndarray], float]:
    """Sampled finite values of ``expr`` by group of ``keys``, and the table's rows per sampled row.

    An in-memory (eager) ``frame`` gives ``SAMPLE`` rows drawn at random (a fixed seed: the
    answers never depend on it, only where the bands fall); a lazy one its first ``SAMPLE``
    rows (and, if it has more, a count of its rows).
    """
    columns = [nw.col(k) for k in keys]
    if isinstance(frame, nw.DataFrame):
        rows = len(frame)
        part = frame.select(*columns, expr.alias("__abkit_x"))
        if rows > SAMPLE:
            index = np.sort(np.random.default_rng(0).choice(rows, SAMPLE, replace=False))
            part = part[index]
        scale = max(rows, 1) / max(len(part), 1)
    else:
        part = lazy.select(*columns, expr.alias("__abkit_x")).head(SAMPLE).collect()
        rows = len(part)
        if rows == SAMPLE:
            rows = int(python_value(lazy.select(nw.len()).collect().item()))
        scale = max(rows, 1) / max(len(part), 1)
    groups = {key: np.sort(values[np.isfinite(values)])
              for key, values in values_by_group(part, keys).items()}
    return groups, scale


def _band(values: np.ndarray, q: float, scale: float) -> tuple[float, float] | None:
    """The values between which the group's wanted ranks lie, or ``None`` (too few values)."""
    m = values.size
    complete = scale == 1.0
    if m == 0 or (m < MIN_SAMPLE and not complete):
        return None
    spread = math.sqrt(q * (1.0 - q))
    # The group has about m * scale values (exactly m when the sample is the whole table).
    width = Z_INTERVAL * spread / math.sqrt(m * scale) + 2.0 / m
    if not complete:
        width += Z * spread / math.sqrt(m)
    if not complete and (q - width <= 0.0 or q + width >= 1.0):
        return None  # the band would reach the sample's extremes: no narrower than the range
    first = min(max(math.floor((q - width) * m), 0), m - 1)
    last = min(max(math.ceil((q + width) * m) - 1, 0), m - 1)
    return float(values[first]), float(values[last])


def bands(groups: Mapping[tuple[Any, ...], np.ndarray], probabilities: Sequence[float],
          scale: float) -> list[tuple[float, float]]:
    """Merged bands for every sampled group (``(variant, *segment)`` groups, and with segments
    each variant over all of them too; sorted values) and every probability: sorted and
    disjoint (``low <= high < next low``), as :func:`abkit.frame.pandas_groups.band_counts`
    needs them."""
    sets = list(groups.values())
    if any(len(group) > 1 for group in groups):
        for variant in dict.fromkeys(group[0] for group in groups):
            sets.append(np.sort(np.concatenate([v for g, v in groups.items() if g[0] == variant])))
    found = []
    for values in sets:
        for q in probabilities:
            band = _band(values, q, scale)
            if band is not None:
                found.append(band)
    found.sort()
    merged: list[tuple[float, float]] = []
    for low, high in found:
        if merged and low <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    while len(merged) > MAX_BANDS:  # join the two closest
        j = min(range(len(merged) - 1), key=lambda i: merged[i + 1][0] - merged[i][1])
        merged[j:j + 2] = [(merged[j][0], merged[j + 1][1])]
    return merged
