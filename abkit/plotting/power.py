"""Power curves: power against the control arm's size, one line per minimum detectable effect.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> from abkit.plotting.power import plot_power_curves
>>> fig = plot_power_curves([100, 1000, 10000], [0.01, 0.02], control_rate=0.1)
>>> len(fig.axes[0].lines)
3
>>> import matplotlib.pyplot as plt; plt.close(fig)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from abkit._validation import as_checked_array, check_open_unit
from abkit.plotting import require_matplotlib
from abkit.power import power_means, power_proportions
from abkit.power._core import PowerResult

__all__ = ["plot_power_curves"]


def plot_power_curves(
    n_control: Any,
    mdes: Any,
    *,
    control_rate: Any = None,
    sd: Any = None,
    target: float = 0.8,
    ax: Any = None,
    **options: Any,
) -> Any:
    """Power against ``n_control`` (log scale), one curve per MDE, with the target power marked.

    Parameters
    ----------
    n_control
        Control-arm sizes for the x-axis.
    mdes
        Effects to draw, one curve each (relative when ``relative=True`` is in ``options``).
    control_rate, sd
        Exactly one: ``control_rate`` draws :func:`abkit.power_proportions` curves, ``sd``
        :func:`abkit.power_means` curves.
    target
        Power drawn as a horizontal reference line.
    ax
        A matplotlib ``Axes`` to draw on; a new figure when ``None``.
    **options
        Passed to the power function (``alpha``, ``ratio``, ``method``, ``alternative``, ...).

    Returns
    -------
    matplotlib.figure.Figure
    """
    if (control_rate is None) == (sd is None):
        raise ValueError("Exactly one of `control_rate` and `sd` must be given; got "
                         f"control_rate={control_rate!r}, sd={sd!r}.")
    n = as_checked_array("n_control", n_control, "positive").ravel()
    effects = as_checked_array("mdes", mdes).ravel()
    target = check_open_unit("target", target)
    plt = require_matplotlib()
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 4.5))
    else:
        fig = ax.figure
    grid = dict(mde=effects[:, None], n_control=n[None, :], **options)
    result: PowerResult
    if control_rate is not None:
        result = power_proportions(control_rate=control_rate, **grid)
        label = "relative MDE" if options.get("relative") else "MDE"
    else:
        result = power_means(sd=sd, **grid)
        label = "MDE"
    power = np.atleast_2d(result.power)
    for effect, curve in zip(effects, power, strict=True):
        ax.plot(n, curve, label=f"{label} {effect:g}")
    ax.axhline(target, color="0.4", linestyle="--", linewidth=1, label=f"power {target:g}")
    ax.set_xscale("log")
    ax.set_ylim(0, 1)
    ax.set_xlabel("units in the control arm")
    ax.set_ylabel("power")
    ax.set_title(f"Power curves ({result.method} test, {result.alternative}, "
                 f"alpha {options.get('alpha', 0.05):g})")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right")
    return fig
