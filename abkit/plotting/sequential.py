"""Figures for sequential designs: boundaries on the z scale with the observed path.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> from abkit.sequential import GroupSequentialDesign
>>> fig = plot_boundaries(GroupSequentialDesign(4), z=[0.8, 1.9])
>>> len(fig.axes)
1
>>> import matplotlib.pyplot as plt; plt.close(fig)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from abkit._validation import as_float_array
from abkit.plotting import require_matplotlib

__all__ = ["plot_boundaries"]


def plot_boundaries(design: Any, z: Any = None, *, information: Any = None, ax: Any = None) -> Any:
    """Efficacy (and futility) boundaries of a group-sequential design, with an observed z path.

    Parameters
    ----------
    design
        A :class:`abkit.sequential.GroupSequentialDesign` or the result of
        :func:`abkit.sequential.wang_tsiatis`.
    z
        Observed z statistics at the looks so far (optional).
    information
        Information fractions of those looks; defaults to the design's planned ones.
    ax
        A matplotlib ``Axes`` to draw on; a new figure is made when ``None``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = require_matplotlib()
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.5, 4.0))
    else:
        fig = ax.figure
    t = np.asarray(design.information)
    bounds = np.asarray(design.bounds)
    ax.plot(t, bounds, "o-", color="tab:red", label="efficacy bound")
    if design.alternative == "two-sided":
        ax.plot(t, -bounds, "o-", color="tab:red")
    if design.futility_bounds is not None:
        ax.plot(t, np.asarray(design.futility_bounds), "s--", color="tab:blue", label="futility bound")
    if z is not None:
        path = as_float_array("z", z)
        looks = t[: path.size] if information is None else as_float_array("information", information)
        if looks.size != path.size:
            raise ValueError(
                f"`z` must have one value per look ({looks.size} looks); got {path.size}; "
                "pass `information` for unplanned looks."
            )
        ax.plot(looks, path, "D-", color="black", label="observed z")
    ax.axhline(0.0, color="grey", linewidth=0.8)
    ax.set_xlabel("information fraction")
    ax.set_ylabel("z statistic")
    ax.set_xlim(0.0, 1.05)
    ax.set_title(f"{type(design).__name__}: alpha = {design.alpha}, {design.alternative}")
    ax.legend(loc="best")
    return fig
