"""Figures for bandits: regret curves against the Lai-Robbins bound, and where traffic goes.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> from abkit.bandits import UCB1, simulate
>>> regret = simulate(UCB1(2), [0.1, 0.2], horizon=200, n_runs=3, rng=0)
>>> fig = plot_regret({"UCB1": regret}, means=[0.1, 0.2])
>>> len(fig.axes[0].lines)
2
>>> import matplotlib.pyplot as plt
>>> plt.close(fig)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from abkit.plotting import require_matplotlib

__all__ = ["plot_policy", "plot_regret"]


def plot_regret(
    regrets: Mapping[str, Any],
    *,
    means: Sequence[float] | None = None,
    arms: str = "bernoulli",
    sd: Any = 1.0,
    band: float = 0.8,
    log_x: bool = False,
    ax: Any = None,
) -> Any:
    """Mean cumulative regret per policy with a ``band`` quantile band over runs.

    ``regrets`` maps a label to ``simulate`` output (``n_runs x horizon``). With ``means``, the
    Lai-Robbins asymptotic lower bound is drawn for reference. Returns the figure.
    """
    plt = require_matplotlib()
    from abkit.bandits.simulate import lai_robbins_bound

    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 4))
    else:
        fig = ax.figure
    horizon = 1
    for label, regret in regrets.items():
        array = np.atleast_2d(np.asarray(regret, dtype=np.float64))
        steps = np.arange(1, array.shape[1] + 1)
        horizon = max(horizon, array.shape[1])
        (line,) = ax.plot(steps, array.mean(axis=0), label=label)
        if array.shape[0] > 1 and band > 0:
            low, high = np.quantile(array, [(1 - band) / 2, (1 + band) / 2], axis=0)
            ax.fill_between(steps, low, high, color=line.get_color(), alpha=0.15, linewidth=0)
    if means is not None:
        bound = lai_robbins_bound(means, horizon, arms=arms, sd=sd)
        ax.plot(np.arange(1, horizon + 1), bound, "k--", linewidth=1, label="Lai-Robbins bound")
    if log_x:
        ax.set_xscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("cumulative regret")
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    return fig


def plot_policy(policy: Any, *, labels: Sequence[str] | None = None) -> Any:
    """Three bars per arm: traffic share, probability of being best, and expected loss.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from abkit.bandits import ThompsonBernoulli
    >>> policy = ThompsonBernoulli(2)
    >>> policy.warm_start([100, 100], [0.1, 0.2])
    >>> fig = plot_policy(policy, labels=["A", "B"])
    >>> len(fig.axes)
    3
    >>> import matplotlib.pyplot as plt
    >>> plt.close(fig)
    """
    plt = require_matplotlib()
    names = list(labels) if labels is not None else [f"arm {i}" for i in range(policy.n_arms)]
    if len(names) != policy.n_arms:
        raise ValueError(f"`labels` must name {policy.n_arms} arms; got {len(names)}.")
    panels = (
        ("traffic share", policy.allocation()),
        ("P(best)", policy.prob_best()),
        ("expected loss", policy.expected_loss()),
    )
    fig, axes = plt.subplots(1, 3, figsize=(10, 3))
    for ax, (title, values) in zip(axes, panels, strict=True):
        ax.bar(names, np.nan_to_num(values))
        ax.set_title(title)
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig
