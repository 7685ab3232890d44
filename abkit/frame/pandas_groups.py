"""The main aggregation query's group-by for a pandas table, on integer group codes.

pandas' own group-by on several keys (the variant and the segment columns) factorises each key,
combines the codes and hashes the combination again; on a 10-million-row table with a string
segment column that grouping cost half as much as the three-metric analysis itself. Here each
key column is factorised once (:func:`group_codes`), the codes are combined arithmetically into
one group number per row (``variant_code * n_segments + segment_code``, compressed to the
observed combinations only when the product of the keys' cardinalities exceeds the row count),
and the aggregates run through pandas' group-by on a categorical of those numbers
(:func:`group_aggregates`), which reads the numbers as they are: the same cython kernels over
the same rows in the same order, so every aggregate is bit-for-bit the one pandas' group-by on
the key columns gives. A quantile metric's band counts (values below and above each band,
:mod:`abkit.frame.quantile_bands`) are one ``np.bincount`` of the group numbers and each value's
place among the bands (:func:`band_counts`) instead of two derived columns and two grouped sums
per band, and the count of non-null values of a column that cannot hold nulls (numpy integers
and booleans) is the group's size.

Null keys are not handled here: :func:`group_codes` returns ``None`` and the caller runs the
generic narwhals query, whose group-by keeps null keys as groups so that the analysis can name
them in its error (``dropna=False``).

Examples
--------
>>> import pandas as pd
>>> table = pd.DataFrame({"variant": ["a", "b", "a", "b"], "country": ["US", "US", "DE", "US"],
...                       "y": [1.0, 2.0, 3.0, 4.0]})
>>> groups = group_codes(table, ["variant", "country"])
>>> groups.codes.tolist(), groups.keys.to_dict("list")
([0, 2, 1, 2], {'variant': ['a', 'a', 'b', 'b'], 'country': ['US', 'DE', 'US', 'DE']})
>>> group_aggregates(table, groups, [("len", None, "n"), ("mean", "y", "m")]).to_dict("list")
{'n': [1, 1, 2, 0], 'm': [1.0, 3.0, 3.0, nan]}
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__: list[str] = []

#: Aggregates :func:`group_aggregates` runs: the pandas group-by method of each.
OPERATIONS = {"len": "size", "count": "count", "sum": "sum", "mean": "mean", "var": "var"}


@dataclasses.dataclass(frozen=True)
class Groups:
    """Every row's group number (``codes``, ``0 <= code < len(keys)``) and each group's key
    values (``keys``, one row per group number, in the key columns' own dtypes). A group may
    have no rows (a combination of key values that does not occur)."""

    codes: np.ndarray
    keys: pd.DataFrame


def group_codes(table: pd.DataFrame, keys: Sequence[str]) -> Groups | None:
    """The groups of ``table`` by the columns ``keys``, or ``None`` if a key holds a null.

    Each key column is factorised once (``pd.factorize``); a row's group number combines its
    keys' codes (the first key varies slowest).
    """
    if not len(table):
        return None
    codes = np.zeros(0, dtype=np.intp)
    size = 1
    parts: list[np.ndarray] = []  # for each key, its code in each group
    uniques: list[pd.Index] = []
    for key in keys:
        column_codes, column_uniques = pd.factorize(table[key])
        if column_codes.min() < 0:
            return None  # a null key
        width = len(column_uniques)
        if uniques:
            codes *= width
            codes += column_codes
        else:
            codes = column_codes.astype(np.intp, copy=False)
        parts = [np.repeat(part, width) for part in parts] + [np.tile(np.arange(width), size)]
        size *= width
        uniques.append(column_uniques)
        if size > max(len(table), 1):  # keep the numbers below the row count: the observed ones
            codes, observed = pd.factorize(codes)
            parts = [part[observed] for part in parts]
            size = len(observed)
    frame = pd.DataFrame({key: values.take(part) for key, values, part in zip(keys, uniques, parts,
                                                                             strict=True)})
    return Groups(codes, frame)


def group_aggregates(table: pd.DataFrame, groups: Groups,
                     specs: Sequence[tuple[str, str | None, str]],
                     complete: Collection[str] = ()) -> pd.DataFrame:
    """Aggregates of ``table``'s columns by group: one row per group number, one column per
    ``(operation, column, name)`` of ``specs`` (operations: ``"len"``, ``"count"``, ``"sum"``,
    ``"mean"``, ``"var"``, the sample variance; ``"len"`` takes no column). The count of a
    column of ``complete`` (known to hold no nulls) is the group's size, without a pass."""
    size = len(groups.keys)
    # observed=False: pandas takes a categorical's codes as the group numbers, no hashing.
    grouper = pd.Categorical.from_codes(groups.codes, categories=pd.RangeIndex(size))
    # sort=True: results in the categories' order, the group numbers (sort=False would put
    # them in order of first appearance); the reindex only makes sure of it.
    grouped = table.groupby(grouper, observed=False, sort=True)  # type: ignore[call-overload]
    numbers = pd.RangeIndex(size)
    out: dict[str, Any] = {}
    sizes = np.bincount(groups.codes, minlength=size)
    for operation, column, name in specs:
        if operation == "len" or (operation == "count" and column in complete):
            out[name] = sizes
        else:
            result = getattr(grouped[column], OPERATIONS[operation])()
            out[name] = result.reindex(numbers).to_numpy()
    return pd.DataFrame(out, index=pd.RangeIndex(size))


def band_counts(values: np.ndarray, groups: Groups, bands: Sequence[tuple[float, float]]
                ) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each band ``(low, high)``: each group's count of ``values`` below ``low`` and above
    ``high``.

    ``bands`` must be sorted and disjoint (``low <= high < next low``), as
    :func:`abkit.frame.quantile_bands.bands` gives them; then a value's place (how many of the
    bands' ends ``low_0, high_0, low_1, ...`` it is past) says where it lies relative to every
    band, and one ``np.bincount`` of (group, place) counts them all. A NaN value is past no end
    (the caller rejects NaN values before it reads these counts).

    >>> groups = Groups(np.array([0, 0, 1, 1, 1]), pd.DataFrame({"g": ["a", "b"]}))
    >>> band_counts(np.array([1.0, 5.0, 2.0, 3.0, 9.0]), groups, [(2.0, 4.0)])
    [(array([1, 0]), array([1, 1]))]
    """
    size = len(groups.keys)
    places = 2 * len(bands) + 1
    place = np.zeros(values.shape, dtype=np.int8 if places < 128 else np.intp)
    for low, high in bands:
        place += values >= low
        place += values > high
    counts = np.bincount(groups.codes * places + place, minlength=size * places).reshape(size, places)
    cumulative = np.cumsum(counts, axis=1)
    total = cumulative[:, -1]
    return [(cumulative[:, 2 * j], total - cumulative[:, 2 * j + 1]) for j in range(len(bands))]
