"""Multiple-testing families of :meth:`abkit.frame.Experiment.analyze`.

A family is the set of rows whose p-values are adjusted together. Without segments it is every
row (metrics x treatments). With segments (``by=``), ``family="segment"`` makes the overall
block and each segment's block a family of its own (a segment's rows are adjusted as if that
segment had been analysed alone), while ``family="all"`` puts every row of every block in one
family.

Within a family, ``adjust`` is one of :func:`abkit.adjust_pvalues`' methods (Holm, Bonferroni,
Hochberg, BH, BY), ``"none"``, or ``"dunnett"``: Dunnett's many-to-one adjustment
(:func:`abkit.multiple.dunnett_pvalues`) of each metric's treatments against the shared
control, which uses the correlation the shared control induces (so it is less conservative
than Bonferroni over the treatments), followed by Bonferroni across the metrics (and, with
``family="all"``, the blocks) of the family, since the correlation between different metrics is
not known. The control's share of each comparison's variance comes from the arms' sufficient
statistics: ``p (1 - p) / n`` for a proportion, ``var / n`` for a mean, the CUPED-adjusted or
delta-method per-unit variance for a covariate or a ratio, the order-statistic standard error
for a quantile. For means with one variance this is Dunnett's classical test in its
large-sample form (checked against :func:`scipy.stats.dunnett`).

NaN p-values (degenerate rows, already warned about) stay NaN and do not count as tests.

Examples
--------
>>> from abkit.stats import MeanStats
>>> c = Comparison(segment=(), metric="m", pvalue=0.02, alternative="two-sided", kind="mean",
...                control=MeanStats(100, 0.0, 1.0), treatment=MeanStats(100, 0.3, 1.0))
>>> round(adjust_family([c, dataclasses.replace(c, pvalue=0.3)], method="dunnett",
...                     family="segment")[0], 4)
0.0374
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from abkit.frame.quantile import QuantileStats
from abkit.multiple import adjust_pvalues, dunnett_pvalues
from abkit.stats import BivariateStats, MeanStats, ProportionStats

__all__: list[str] = []

#: Values of ``analyze(..., family=)``.
FAMILIES = ("segment", "all")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Comparison:
    """One row to adjust: where it belongs, its raw p-value and its arms' statistics."""

    segment: tuple[Any, ...]
    metric: str
    pvalue: float
    alternative: str
    kind: str
    control: Any
    treatment: Any


def _variance(kind: str, arm: Any, pooled: BivariateStats | None) -> float:
    """Variance of one arm's estimate (per-unit variance over n)."""
    if isinstance(arm, ProportionStats):
        return arm.rate * (1.0 - arm.rate) / arm.n
    if isinstance(arm, MeanStats):
        return arm.var / arm.n
    if isinstance(arm, QuantileStats):
        return arm.se**2
    assert isinstance(arm, BivariateStats)
    if kind == "ratio":
        if arm.mean_y == 0.0:
            return math.nan
        r = arm.mean_x / arm.mean_y
        var = (arm.var_x - 2.0 * r * arm.cov + r * r * arm.var_y) / arm.mean_y**2
    else:  # CUPED, with theta from both arms as cuped_test
        assert pooled is not None
        theta = pooled.cov / pooled.var_y if pooled.var_y > 0.0 else 0.0
        var = arm.var_x - 2.0 * theta * arm.cov + theta * theta * arm.var_y
    return max(var, 0.0) / arm.n


def control_share(comparison: Comparison) -> float:
    """The control's share of the variance of the comparison's effect, in [0, 1] (NaN if
    unknown).

    >>> c = Comparison(segment=(), metric="m", pvalue=0.5, alternative="two-sided", kind="mean",
    ...                control=MeanStats(100, 0.0, 1.0), treatment=MeanStats(300, 0.0, 1.0))
    >>> control_share(c)
    0.75
    """
    pooled = None
    if comparison.kind == "cuped":
        pooled = comparison.control.merge(comparison.treatment)
    vc = _variance(comparison.kind, comparison.control, pooled)
    vt = _variance(comparison.kind, comparison.treatment, pooled)
    total = vc + vt
    return vc / total if total > 0.0 and math.isfinite(total) else math.nan


def _dunnett(rows: list[Comparison], indices: list[int], out: np.ndarray) -> None:
    """Dunnett within each metric of the family, Bonferroni across its metrics."""
    by_metric: dict[tuple[Any, str], list[int]] = {}
    for i in indices:
        if not math.isnan(rows[i].pvalue):
            by_metric.setdefault((rows[i].segment, rows[i].metric), []).append(i)
    for members in by_metric.values():
        shares = [control_share(rows[i]) for i in members]
        pvalues = [rows[i].pvalue for i in members]
        if any(math.isnan(s) for s in shares):  # no correlation known: Bonferroni in the metric
            adjusted = np.minimum(np.array(pvalues) * len(members), 1.0)
        else:
            adjusted = dunnett_pvalues(pvalues, shares, alternative=rows[members[0]].alternative)
        out[members] = np.minimum(adjusted * len(by_metric), 1.0)


def adjust_family(rows: Sequence[Comparison], *, method: str, family: str) -> list[float]:
    """Adjusted p-values of ``rows`` (in their order) by ``method`` within each family."""
    p = np.array([r.pvalue for r in rows], dtype=float)
    out = p.copy()
    if method == "none":
        return [float(v) for v in out]
    families: dict[Any, list[int]] = {}
    for i, row in enumerate(rows):
        families.setdefault(row.segment if family == "segment" else None, []).append(i)
    rows = list(rows)
    for indices in families.values():
        if method == "dunnett":
            _dunnett(rows, indices, out)
            continue
        members = [i for i in indices if not math.isnan(p[i])]
        if members:
            out[members] = adjust_pvalues(p[members], method=method)
    return [float(v) for v in out]
