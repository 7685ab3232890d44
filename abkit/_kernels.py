"""Numba kernels of ``abkit.nonparametric``: bootstrap replicates, jackknife values, and order
statistics of pairwise differences.

Every kernel goes through the one decorator :data:`abkit._numba.kernel`, takes C-contiguous
float64 arrays, plain scalars and (for resampling) a ``numpy.random.Generator``, and assumes
validated input.

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

import numpy as np

from abkit._numba import kernel

__all__ = [
    "STAT_MEAN",
    "STAT_QUANTILE",
    "STAT_RATIO",
    "bootstrap_replicates",
    "jackknife_values",
    "kth_pairwise_difference",
    "shifted_rank_sum",
]

# Statistic codes: the mean of column 0; the ``q``-quantile of column 0 (NumPy's default
# "linear" definition, the median at q = 0.5); the ratio of the sums of columns 0 and 1.
STAT_MEAN = 0
STAT_QUANTILE = 1
STAT_RATIO = 2


@kernel
def _lerp(a, b, t):
    # NumPy's interpolation between neighbouring order statistics (exact at t = 0 and t = 1).
    diff = b - a
    return b - diff * (1.0 - t) if t >= 0.5 else a + diff * t


@kernel
def _linear_quantile(values, q):
    # NumPy's "linear" (type 7) quantile, by selection (O(n)) rather than sorting.
    position = q * (values.size - 1)
    below = math.floor(position)
    part = np.partition(values, below)
    if below >= values.size - 1:
        return part[below]
    return _lerp(part[below], part[below + 1:].min(), position - below)


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
                out[order[rank]] = a
            else:
                b = ordered[below + 1] if below + 1 < rank else ordered[below + 2]
                out[order[rank]] = _lerp(a, b, t)
    return out


@kernel
def _count_below(x, y_desc, pivot, below, at_most):
    # below[i] = #{j : x[i] - y_desc[j] < pivot} and at_most[i] the same with <=; the matrix
    # x[i] - y_desc[j] increases along rows and columns, so two pointers walk it in O(n + m).
    m = y_desc.size
    j_below = m
    j_at_most = m
    total_below = 0
    total_at_most = 0
    for i in range(x.size):
        while j_below > 0 and x[i] - y_desc[j_below - 1] >= pivot:
            j_below -= 1
        while j_at_most > 0 and x[i] - y_desc[j_at_most - 1] > pivot:
            j_at_most -= 1
        below[i] = j_below
        at_most[i] = j_at_most
        total_below += j_below
        total_at_most += j_at_most
    return total_below, total_at_most


_SAMPLE = 16384  # candidates sampled per round to place the two pivots
_POOL = 4 * _SAMPLE  # below this many candidates, collect and sort them


@kernel
def _splitmix64(state):
    # One step of SplitMix64 (a fixed, local generator: the pivots only change the speed).
    state = state + np.uint64(0x9E3779B97F4A7C15)
    z = state
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return state, z ^ (z >> np.uint64(31))


@kernel
def _sample_candidates(x_sorted, y_desc, low, high, remaining, state):
    # _SAMPLE candidates drawn uniformly (with replacement) from the remaining ones, sorted.
    n = x_sorted.size
    ends = np.empty(n, dtype=np.int64)
    total = 0
    for i in range(n):
        total += high[i] - low[i]
        ends[i] = total
    sample = np.empty(_SAMPLE, dtype=np.float64)
    for s in range(_SAMPLE):
        state, bits = _splitmix64(state)
        r = np.int64(bits % np.uint64(remaining))
        row = np.searchsorted(ends, r, side="right")
        start = ends[row - 1] if row > 0 else 0
        sample[s] = x_sorted[row] - y_desc[low[row] + (r - start)]
    sample.sort()
    return sample, state


@kernel
def kth_pairwise_difference(x_sorted, y_sorted, k):
    """The ``k``-th smallest (0-based) of the ``n * m`` differences ``x[i] - y[j]``.

    ``x_sorted`` and ``y_sorted`` are ascending. Selection in the implicitly sorted matrix
    ``x[i] - y[m - 1 - j]`` (increasing along rows and columns) without materialising it, in the
    manner of Floyd and Rivest: each round samples candidates, takes two sample quantiles that
    bracket the target rank as pivots, counts the differences below and at each pivot with one
    O(n + m) walk, and keeps per row only the columns between them. Each round shrinks the
    candidates about twentyfold, so a few rounds of O(n + m) work and O(n + m) memory suffice.
    """
    n = x_sorted.size
    m = y_sorted.size
    y_desc = y_sorted[::-1].copy()
    low = np.zeros(n, dtype=np.int64)  # candidate columns of row i are [low[i], high[i])
    high = np.full(n, m, dtype=np.int64)
    counts = np.empty((4, n), dtype=np.int64)
    state = np.uint64(0x5EED)
    spread = 3.0 * math.sqrt(_SAMPLE)
    while True:
        remaining = 0
        skipped = 0
        for i in range(n):
            remaining += high[i] - low[i]
            skipped += low[i]
        if remaining <= _POOL:
            pool = np.empty(remaining, dtype=np.float64)
            filled = 0
            for i in range(n):
                for j in range(low[i], high[i]):
                    pool[filled] = x_sorted[i] - y_desc[j]
                    filled += 1
            pool.sort()
            return pool[k - skipped]
        sample, state = _sample_candidates(x_sorted, y_desc, low, high, remaining, state)
        target = (k - skipped + 0.5) / remaining * _SAMPLE
        lo = sample[min(max(int(target - spread), 0), _SAMPLE - 1)]
        hi = sample[min(max(int(target + spread), 0), _SAMPLE - 1)]
        below_lo, at_most_lo = _count_below(x_sorted, y_desc, lo, counts[0], counts[1])
        below_hi, at_most_hi = _count_below(x_sorted, y_desc, hi, counts[2], counts[3])
        if below_lo <= k < at_most_lo:
            return lo
        if below_hi <= k < at_most_hi:
            return hi
        # Keep the candidates strictly between the pivots that bracket the target; each pivot is
        # itself a candidate, so every round removes at least one.
        for i in range(n):
            if k < below_lo:
                high[i] = min(high[i], counts[0, i])
            elif k < below_hi:
                low[i] = max(low[i], counts[1, i])
                high[i] = min(high[i], counts[2, i])
            else:
                low[i] = max(low[i], counts[3, i])


@kernel
def shifted_rank_sum(x_sorted, y_sorted, shift):
    """Rank sum of ``x - shift`` in the combined sample with ``y`` (mid-ranks for ties), and the
    tie term ``sum(t^3 - t)`` over groups of equal values; one O(n + m) merge of sorted arrays.
    """
    n = x_sorted.size
    m = y_sorted.size
    i = 0
    j = 0
    position = 0.0
    rank_sum = 0.0
    ties = 0.0
    while i < n or j < m:
        take_x = j >= m or (i < n and x_sorted[i] - shift <= y_sorted[j])
        value = x_sorted[i] - shift if take_x else y_sorted[j]
        a = 0
        while i < n and x_sorted[i] - shift == value:
            i += 1
            a += 1
        b = 0
        while j < m and y_sorted[j] == value:
            j += 1
            b += 1
        g = float(a + b)
        rank_sum += a * (position + (g + 1.0) / 2.0)
        ties += g * g * g - g
        position += g
    return rank_sum, ties
