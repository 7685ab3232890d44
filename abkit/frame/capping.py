"""Capping (winsorising) a :class:`~abkit.frame.Mean` before aggregation, inside the engine.

GrowthBook's capping: every value above a threshold becomes the threshold. ``("absolute", x)``
uses ``x``; ``("percentile", p)`` takes the ``p`` quantile (R's type 7, ``interpolation=
"linear"``) of the column pooled over every variant of the table, from one aggregate query. The
capped values are a new column of the query, so the one group-by that follows aggregates them
like any other; with segments (``analyze(by=...)``) every segment uses the same, whole-table
threshold, so a metric means the same thing in every block of rows.

Examples
--------
>>> import narwhals as nw, pandas as pd
>>> from abkit.frame.metrics import Mean
>>> lazy = nw.from_native(pd.DataFrame({"y": [1.0, 2.0, 3.0, 100.0]})).lazy()
>>> capped, metrics, thresholds = apply_caps(lazy, {"y": Mean("y", cap=("absolute", 5.0))})
>>> thresholds, capped.collect()[metrics["y"].column].to_list()
({'y': 5.0}, [1.0, 2.0, 3.0, 5.0])
"""

from __future__ import annotations

from typing import Any

import narwhals as nw

from abkit.frame._engine import alias, python_value
from abkit.frame.metrics import Mean, Metric

__all__: list[str] = []


def apply_caps(lazy: Any, metrics: dict[str, Metric]) -> tuple[Any, dict[str, Metric], dict[str, float]]:
    """Capped metrics read a new, capped column; the thresholds come from one query if needed."""
    capped = {name: m for name, m in metrics.items() if isinstance(m, Mean) and m.cap is not None}
    if not capped:
        return lazy, metrics, {}
    thresholds: dict[str, float] = {}
    pooled = [(name, m) for name, m in capped.items() if m.cap is not None and m.cap[0] == "percentile"]
    if pooled:
        row = lazy.select(*[
            nw.col(m.column).cast(nw.Float64).quantile(m.cap[1], interpolation="linear")  # type: ignore[index]
            .alias(alias("t", i)) for i, (name, m) in enumerate(pooled)]).collect().rows()[0]
        thresholds.update({name: float(python_value(v)) for (name, _), v in zip(pooled, row, strict=True)})
    renamed, exprs = dict(metrics), []
    for i, (name, m) in enumerate(capped.items()):
        assert m.cap is not None
        threshold = thresholds.setdefault(name, m.cap[1])
        source = nw.col(m.column).cast(nw.Float64)
        # NaN > t and null > t are not true, so missing values stay missing (and are reported).
        exprs.append(nw.when(source > threshold).then(nw.lit(threshold)).otherwise(source)
                     .alias(alias("cap", i)))
        renamed[name] = Mean(alias("cap", i), m.covariate, method=m.method,
                             relative_method=m.relative_method)
    return lazy.with_columns(*exprs), renamed, thresholds
