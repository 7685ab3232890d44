"""Numba kernels of ``abkit.nonparametric``: bootstrap replicates, jackknife values, and order
statistics of pairwise differences.

Every kernel goes through the one decorator :data:`kernel` (``njit(cache=True, nogil=True)``),
takes C-contiguous float64 arrays, plain scalars and (for resampling) a
``numpy.random.Generator``, and assumes validated input.

Resampling draws ``rng.integers(0, n, n)`` for one resample after another, which is the same
stream as NumPy's ``rng.integers(0, n, size=(n_resamples, n))``: with the same generator, the
replicates equal those of ``scipy.stats.bootstrap`` (which draws the index matrix of each sample
in turn) without holding that matrix in memory.

Examples
--------
>>> import numpy as np
>>> x = np.array([[1.0], [2.0], [4.0]])
>>> jackknife_values(x, STAT_MEAN, 0.5)
array([3. , 2.5, 1.5])
>>> kth_pairwise_difference(np.array([1.0, 5.0]), np.array([0.0, 2.0]), 0)
-1.0
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = [
    "STAT_MEAN",
    "STAT_QUANTILE",
    "STAT_RATIO",
    "bootstrap_replicates",
    "jackknife_values",
    "kernel",
    "kth_pairwise_difference",
]

kernel = numba.njit(cache=True, nogil=True)

# Statistic codes: the mean of column 0; the ``q``-quantile of column 0 (NumPy's default
# "linear" definition, the median at q = 0.5); the ratio of the sums of columns 0 and 1.
STAT_MEAN = 0
STAT_QUANTILE = 1
STAT_RATIO = 2


@kernel
def _linear_quantile(ordered, q):
    # NumPy's "linear" (type 7) quantile of an ascending array, with NumPy's lerp.
    position = q * (ordered.size - 1)
    below = math.floor(position)
    if below >= ordered.size - 1:
        return ordered[ordered.size - 1]
    t = position - below
    a = ordered[below]
    b = ordered[below + 1]
    diff = b - a
    return b - diff * (1.0 - t) if t >= 0.5 else a + diff * t


@kernel
def bootstrap_replicates(values, kind, q, n_resamples, rng):
    """The statistic ``kind`` on ``n_resamples`` resamples (with replacement) of the rows of
    ``values`` (shape ``(n, 1)``, or ``(n, 2)`` for the ratio)."""
    n = values.shape[0]
    out = np.empty(n_resamples, dtype=np.float64)
    buffer = np.empty(n, dtype=np.float64)
    for b in range(n_resamples):
        # One call per resample: the same stream as scalar draws, at a fraction of the cost.
        index = rng.integers(0, n, n)
        if kind == STAT_RATIO:
            numerator = 0.0
            denominator = 0.0
            for k in range(n):
                numerator += values[index[k], 0]
                denominator += values[index[k], 1]
            out[b] = numerator / denominator
        elif kind == STAT_MEAN:
            total = 0.0
            for k in range(n):
                total += values[index[k], 0]
            out[b] = total / n
        else:
            for k in range(n):
                buffer[k] = values[index[k], 0]
            buffer.sort()
            out[b] = _linear_quantile(buffer, q)
    return out


@kernel
def jackknife_values(values, kind, q):
    """The statistic with each row of ``values`` left out in turn, in row order (O(n log n))."""
    n = values.shape[0]
    out = np.empty(n, dtype=np.float64)
    if kind == STAT_MEAN:
        total = values[:, 0].sum()
        for i in range(n):
            out[i] = (total - values[i, 0]) / (n - 1)
    elif kind == STAT_RATIO:
        numerator = values[:, 0].sum()
        denominator = values[:, 1].sum()
        for i in range(n):
            out[i] = (numerator - values[i, 0]) / (denominator - values[i, 1])
    else:
        order = np.argsort(values[:, 0], kind="mergesort")
        ordered = values[order, 0]
        position = q * (n - 2)
        below = math.floor(position)
        t = position - below
        for rank in range(n):
            # Without the element at sorted position ``rank``, index j of the rest is
            # ``ordered[j]`` below ``rank`` and ``ordered[j + 1]`` from it on.
            a = ordered[below] if below < rank else ordered[below + 1]
            if below + 1 >= n - 1:
                value = a
            else:
                b = ordered[below + 1] if below + 1 < rank else ordered[below + 2]
                diff = b - a
                value = b - diff * (1.0 - t) if t >= 0.5 else a + diff * t
            out[order[rank]] = value
    return out


@kernel
def _count_below(x, y_desc, pivot, strict, counts):
    # counts[i] = #{j : x[i] - y_desc[j] < pivot} (or <= when not strict); the matrix
    # x[i] - y_desc[j] increases along rows and columns, so one pointer walks it in O(n + m).
    m = y_desc.size
    j = m
    total = 0
    for i in range(x.size):
        while j > 0 and ((x[i] - y_desc[j - 1] >= pivot) if strict else (x[i] - y_desc[j - 1] > pivot)):
            j -= 1
        counts[i] = j
        total += j
    return total


@kernel
def kth_pairwise_difference(x_sorted, y_sorted, k):
    """The ``k``-th smallest (0-based) of the ``n * m`` differences ``x[i] - y[j]``.

    ``x_sorted`` and ``y_sorted`` are ascending. Selection in the sorted matrix without
    materialising it (Johnson and Mizoguchi, 1978): each round takes the weighted median of the
    row medians of the remaining candidates as pivot, which removes at least a quarter of them,
    so it needs O(log(n m)) rounds of O(n log n + m) work and O(n + m) memory.
    """
    n = x_sorted.size
    m = y_sorted.size
    y_desc = y_sorted[::-1].copy()
    low = np.zeros(n, dtype=np.int64)  # candidate columns of row i are [low[i], high[i])
    high = np.full(n, m, dtype=np.int64)
    below = np.empty(n, dtype=np.int64)
    at_most = np.empty(n, dtype=np.int64)
    medians = np.empty(n, dtype=np.float64)
    weights = np.empty(n, dtype=np.float64)
    while True:
        remaining = 0
        for i in range(n):
            remaining += high[i] - low[i]
        if remaining <= n + m:
            pool = np.empty(remaining, dtype=np.float64)
            filled = 0
            skipped = 0
            for i in range(n):
                skipped += low[i]
                for j in range(low[i], high[i]):
                    pool[filled] = x_sorted[i] - y_desc[j]
                    filled += 1
            pool.sort()
            return pool[k - skipped]
        rows = 0
        for i in range(n):
            width = high[i] - low[i]
            if width > 0:
                medians[rows] = x_sorted[i] - y_desc[low[i] + width // 2]
                weights[rows] = width
                rows += 1
        order = np.argsort(medians[:rows])
        half = 0.5 * remaining
        cumulative = 0.0
        pivot = medians[order[rows - 1]]
        for r in range(rows):
            cumulative += weights[order[r]]
            if cumulative >= half:
                pivot = medians[order[r]]
                break
        n_below = _count_below(x_sorted, y_desc, pivot, True, below)
        n_at_most = _count_below(x_sorted, y_desc, pivot, False, at_most)
        if k < n_below:
            for i in range(n):
                high[i] = min(high[i], below[i])
        elif k >= n_at_most:
            for i in range(n):
                low[i] = max(low[i], at_most[i])
        else:
            return pivot
