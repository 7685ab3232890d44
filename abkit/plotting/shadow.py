"""Figures for champion/challenger comparisons (:func:`abkit.shadow.compare_models`).

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> from abkit.datasets import make_shadow_log
>>> from abkit.frame import compare_models
>>> result = compare_models(make_shadow_log(2000, rng=1), champion="champion",
...                         challengers=["challenger"], metrics=["auc", "log_loss"])
>>> fig = plot_comparison(result)
>>> len(fig.axes)
2
>>> import matplotlib.pyplot as plt; plt.close(fig)
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from abkit.plotting import require_matplotlib

if TYPE_CHECKING:
    from abkit.shadow import ShadowComparison

__all__ = ["plot_comparison"]

_COLORS = {"goal met": "tab:green", "goal missed": "tab:red", "undecided": "tab:gray"}


def plot_comparison(result: ShadowComparison, *, width: float = 4.5, columns: int = 2) -> Any:
    """Metric differences (challenger - champion) with intervals, one panel per metric.

    Each challenger is a row: the point is the effect, the bar its ``1 - alpha`` interval, the
    colour its status (green met, red missed, grey undecided; rows without data are labelled
    and not drawn). The solid line is 0, the dashed line the goal's threshold.

    Parameters
    ----------
    result
        A :class:`abkit.shadow.ShadowComparison`.
    width
        Width of each panel in inches.
    columns
        Panels per row.

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = require_matplotlib()
    metrics = list(dict.fromkeys(r.metric for r in result.rows))
    challengers = [v.challenger for v in result.verdicts]
    height = 1.4 + 0.5 * len(challengers)
    ncols = max(1, min(columns, len(metrics)))
    nrows = math.ceil(len(metrics) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False)
    for ax in axes.flat[len(metrics):]:
        ax.set_visible(False)
    verdict = {v.challenger: v.decision for v in result.verdicts}
    for ax, metric in zip(axes.flat, metrics, strict=False):
        rows = [r for r in result.rows if r.metric == metric]
        for position, row in enumerate(rows):
            if math.isnan(row.effect):
                ax.text(0.5, position, row.reason, transform=ax.get_yaxis_transform(), ha="center",
                        va="center", color="tab:gray", fontsize=8)
                continue
            low, high = row.ci.low, row.ci.high
            ax.errorbar([row.effect], [position], xerr=[[row.effect - low], [high - row.effect]],
                        fmt="o", color=_COLORS.get(row.reason, "tab:gray"), capsize=4)
        ax.axvline(0.0, color="black", linewidth=0.8)
        if rows and rows[0].threshold != 0.0:
            ax.axvline(rows[0].threshold, color="black", linestyle="--", linewidth=0.8)
        ax.set_yticks(range(len(rows)))
        ax.set_yticklabels([f"{r.challenger}\n({verdict[r.challenger]})" for r in rows])
        ax.set_ylim(-0.6, len(rows) - 0.4)
        direction = "higher is better" if rows and rows[0].worse == "lower" else "lower is better"
        ax.set_title(f"{metric} ({direction})")
        ax.set_xlabel("challenger - champion")
    fig.suptitle(f"Challengers vs {result.champion!r}")
    fig.tight_layout()
    return fig
