"""Forest plot of an experiment's effects and their intervals.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import matplotlib.pyplot as plt
>>> import abkit
>>> from abkit.datasets import make_experiment
>>> from abkit.plotting.effects import plot_effects
>>> result = abkit.Experiment(conversion=abkit.Proportion("converted")).analyze(
...     make_experiment(2000, rng=0), control="control")
>>> fig = plot_effects(result)
>>> len(fig.axes)
1
>>> plt.close(fig)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from abkit.plotting import require_matplotlib

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from abkit.frame import ExperimentResult, MetricResult

__all__ = ["plot_effects"]


def plot_effects(
    result: ExperimentResult | Sequence[MetricResult],
    *,
    relative: bool = True,
    alpha: float = 0.05,
    ax: Axes | None = None,
) -> Figure:
    """One line per metric and treatment: the effect, its interval, and the adjusted p-value.

    Parameters
    ----------
    result
        An :class:`abkit.frame.ExperimentResult` or a sequence of its rows.
    relative
        Plot ``relative_effect`` in percent (default) or the absolute ``effect``.
    alpha
        Rows with ``pvalue_adjusted < alpha`` are drawn in colour, the others in grey.
    ax
        Axes to draw on; a new figure when ``None``.

    Returns
    -------
    matplotlib.figure.Figure
        One-sided intervals are drawn to the edge of the axes.
    """
    plt = require_matplotlib()
    rows: list[MetricResult] = list(result.rows if hasattr(result, "rows") else result)  # type: ignore[arg-type]
    if any(hasattr(r, "chance_to_win") for r in rows):
        raise TypeError("`result` must hold frequentist rows (engine='frequentist'); got Bayesian "
                        "rows, which have no p-values.")
    if not rows:
        raise ValueError("`result` must have at least one row; got none.")
    if ax is None:
        fig, ax = plt.subplots(figsize=(7.0, 0.6 * len(rows) + 1.2))
    else:
        fig = ax.figure
    scale = 100.0 if relative else 1.0
    several = len({r.treatment for r in rows}) > 1
    points = [(r.relative_effect if relative else r.effect) * scale for r in rows]
    intervals = [r.relative_ci if relative else r.ci for r in rows]
    finite = [v * scale for ci in intervals for v in ci if math.isfinite(v)]
    finite += [p for p in points if math.isfinite(p)] + [0.0]
    span = max(finite) - min(finite) or 1.0
    left, right = min(finite) - 0.1 * span, max(finite) + 0.1 * span
    for i, (row, point, ci) in enumerate(zip(rows, points, intervals, strict=True)):
        y = len(rows) - 1 - i
        color = "tab:blue" if row.pvalue_adjusted < alpha else "tab:gray"
        low = ci.low * scale if math.isfinite(ci.low) else left
        high = ci.high * scale if math.isfinite(ci.high) else right
        ax.plot([low, high], [y, y], color=color, linewidth=2.5, solid_capstyle="butt")
        ax.plot([point], [y], "o", color=color, markersize=7)
        ax.annotate(f"p adj. = {row.pvalue_adjusted:.3g}", (right, y), xytext=(4, 0),
                    textcoords="offset points", va="center", fontsize=9)
    labels = [f"{r.metric} ({r.treatment})" if several else r.metric for r in rows]
    ax.set_yticks(range(len(rows)), labels[::-1])
    ax.axvline(0.0, color="black", linewidth=0.8)
    ax.set_xlim(left, right)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    level = rows[0].confidence_level
    ax.set_xlabel(("relative effect (%)" if relative else "effect (treatment - control)")
                  + f", {level:.0%} interval")
    fig.tight_layout()
    return fig
