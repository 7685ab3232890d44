"""Midranks of sorted data, shared by the signed-rank test and DeLong's placements."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def tie_runs(sorted_values: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Start positions and lengths of the runs of equal values in a sorted array."""
    size = sorted_values.size
    starts = np.flatnonzero(np.concatenate(([True], sorted_values[1:] != sorted_values[:-1])))
    return starts, np.diff(np.append(starts, size))


def midranks(sorted_values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """1-based midranks of an already sorted array (ties share their average rank).

    >>> midranks(np.array([1.0, 2.0, 2.0, 5.0])).tolist()
    [1.0, 2.5, 2.5, 4.0]
    """
    starts, lengths = tie_runs(sorted_values)
    return np.repeat(starts + (lengths + 1) / 2.0, lengths)
