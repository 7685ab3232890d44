"""Midranks and DeLong's placement values: the one implementation of each.

Used by the signed-rank test (:mod:`abkit.shadow.paired`), the AUC tests
(:mod:`abkit.shadow.auc`), the canary judge's rank check (:mod:`abkit.rollout.judge`) and
Kayenta's CLES (:mod:`abkit.rollout.kayenta`).

The placement value of ``x[i]`` against a sample ``y`` is the share of ``y`` below it, ties
counting one half (DeLong, DeLong and Clarke-Pearson, 1988); the mean placement is the AUC,
``P(X > Y) + P(X = Y) / 2``. They come from three midrank vectors (pooled, ``x`` only, ``y``
only) after one sort (Sun and Xu, 2014): the pooled midrank of ``x[i]`` less its midrank within
``x`` is the number of ``y`` below it plus half the number equal to it. Midranks are integers or
halves, so the counts are exact (below 2**52 values) and do not depend on the sort.

Examples
--------
>>> counts_x, counts_y = placement_counts(np.array([1.0, 3.0]), np.array([0.0, 1.0, 2.0]))
>>> counts_x.tolist(), counts_y.tolist()
([1.5, 3.0], [0.0, 0.5, 1.0])
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def tie_runs(sorted_values: FloatArray) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Start positions and lengths of the runs of equal values in a sorted array.

    >>> starts, lengths = tie_runs(np.array([1.0, 2.0, 2.0, 5.0]))
    >>> starts.tolist(), lengths.tolist()
    ([0, 1, 3], [1, 2, 1])
    """
    size = sorted_values.size
    starts = np.flatnonzero(np.concatenate(([True], sorted_values[1:] != sorted_values[:-1])))
    return starts, np.diff(np.append(starts, size))


def midranks_and_run_lengths(sorted_values: FloatArray) -> tuple[FloatArray, npt.NDArray[np.int64]]:
    """1-based midranks of an already sorted array and the lengths of its runs of ties.

    >>> ranks, lengths = midranks_and_run_lengths(np.array([1.0, 2.0, 2.0, 5.0]))
    >>> ranks.tolist(), lengths.tolist()
    ([1.0, 2.5, 2.5, 4.0], [1, 2, 1])
    """
    starts, lengths = tie_runs(sorted_values)
    return np.repeat(starts + (lengths + 1) / 2.0, lengths), lengths


def midranks(sorted_values: FloatArray) -> FloatArray:
    """1-based midranks of an already sorted array (ties share their average rank).

    >>> midranks(np.array([1.0, 2.0, 2.0, 5.0])).tolist()
    [1.0, 2.5, 2.5, 4.0]
    """
    return midranks_and_run_lengths(sorted_values)[0]


def placement_counts(x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
    """For each ``x[i]`` the number of ``y`` below it plus half the number equal to it, and for
    each ``y[j]`` the same count of ``x``; both in input order.

    ``counts_x.sum()`` is the Mann-Whitney U of ``x`` and ``counts_x.sum() + counts_y.sum()``
    is ``len(x) * len(y)``.

    >>> counts_x, counts_y = placement_counts(np.array([2.0, 2.0]), np.array([1.0, 2.0, 3.0]))
    >>> counts_x.tolist(), counts_y.tolist()
    ([1.5, 1.5], [0.0, 1.0, 2.0])
    """
    pooled = np.concatenate((x, y))
    in_x = np.zeros(pooled.size, dtype=bool)
    in_x[: x.size] = True
    order = np.argsort(pooled)  # any sort works: midranks depend on the values only
    sorted_pooled = pooled[order]
    sorted_in_x = in_x[order]
    overall = midranks(sorted_pooled)
    counts = np.empty(pooled.size)
    counts[sorted_in_x] = overall[sorted_in_x] - midranks(sorted_pooled[sorted_in_x])
    counts[~sorted_in_x] = overall[~sorted_in_x] - midranks(sorted_pooled[~sorted_in_x])
    in_input_order = np.empty(pooled.size)
    in_input_order[order] = counts
    return in_input_order[: x.size], in_input_order[x.size:]


def placements(x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
    """DeLong's placement values (structural components), in input order.

    ``V10[i]``: the share of ``y`` below ``x[i]``; ``V01[j]``: the share of ``x`` above ``y[j]``;
    ties count one half. Both means are ``P(X > Y) + P(X = Y) / 2`` (the AUC when ``x`` holds
    the positives' scores and ``y`` the negatives'), and DeLong's variance of that mean is
    ``var(V10) / len(x) + var(V01) / len(y)``.

    >>> v10, v01 = placements(np.array([0.9, 0.4]), np.array([0.1, 0.4, 0.8]))
    >>> v10.tolist(), v01.tolist()
    ([1.0, 0.5], [1.0, 0.75, 0.5])
    """
    counts_x, counts_y = placement_counts(x, y)
    return counts_x / y.size, 1.0 - counts_y / x.size
