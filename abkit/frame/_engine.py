"""Small helpers every query of :mod:`abkit.frame` shares: column aliases and engine values."""

from __future__ import annotations

import decimal
import math
from collections.abc import Iterable
from typing import Any

import narwhals as nw
import numpy as np

__all__ = ["alias", "collect_rows", "count_where", "number_or_nan", "open_table", "python_value",
           "sorted_keys"]


def alias(kind: str, index: int) -> str:
    """The query's name for aggregate ``kind`` number ``index`` (never a user's column name).

    >>> alias("mean", 2)
    '__abkit_mean2'
    """
    return f"__abkit_{kind}{index}"


def collect_rows(frame: Any) -> list[dict[str, Any]]:
    """A narwhals frame's rows as dicts (a lazy frame is collected first)."""
    data = frame.collect() if isinstance(frame, nw.LazyFrame) else frame
    rows: list[dict[str, Any]] = data.rows(named=True)
    return rows


def count_where(condition: Any) -> Any:
    """How many rows meet a boolean expression (Spark does not sum booleans)."""
    return condition.cast(nw.Int64).sum()


def number_or_nan(value: Any) -> float:
    """An engine's aggregate as a float, NaN for SQL's NULL (an aggregate over no rows)."""
    return math.nan if value is None else float(value)


def python_value(value: Any) -> Any:
    """numpy scalars and Decimals (DuckDB's sum of integers) as plain Python numbers.

    >>> python_value(np.int64(3)), python_value(decimal.Decimal("2.5"))
    (3, 2.5)
    """
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, decimal.Decimal):
        return int(value) if value == int(value) else float(value)
    return value


def sorted_keys(keys: Iterable[Any]) -> list[Any]:
    """``keys`` sorted, by ``repr`` when they do not compare (mixed types).

    >>> sorted_keys([2, "a", 1])
    ['a', 1, 2]
    """
    keys = list(keys)
    try:
        return sorted(keys)
    except TypeError:
        return sorted(keys, key=repr)


def open_table(table: Any) -> Any:
    """``table`` as a narwhals LazyFrame, with a TypeError naming ``table`` if it is not one."""
    try:
        frame = nw.from_native(table)
    except TypeError as exc:
        raise TypeError("`table` must be a pandas, Polars, PyArrow, DuckDB or PySpark table; got "
                        f"{type(table).__name__}.") from exc
    return frame
