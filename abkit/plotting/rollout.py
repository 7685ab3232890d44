"""Plots of a rollout: traffic share and each metric's interval at every look, with decisions.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import numpy as np
>>> from abkit.rollout import CanaryJudge, CanaryRollout
>>> judge = CanaryJudge([CanaryJudge.error_rate("errors", margin=0.02)], planned_looks=3)
>>> rollout = CanaryRollout(judge, steps=(10, 100))
>>> rng = np.random.default_rng(1)
>>> _ = rollout.observe({"errors": rng.random(3000) < 0.01}, {"errors": rng.random(3000) < 0.01})
>>> fig = plot_rollout(rollout)
>>> len(fig.axes)
2
>>> import matplotlib.pyplot as plt; plt.close(fig)
"""

from __future__ import annotations

from typing import Any

from abkit.plotting import require_matplotlib

__all__ = ["plot_rollout"]

_COLOURS = {"pass": "tab:green", "rollback": "tab:red", "inconclusive": "tab:orange"}
_UNITS = {"error_rate": "points", "latency": "relative", "mean": "relative", "rank": "P - 1/2"}


def _new_share(event: dict[str, Any], share: float, n_instances: int) -> float:
    """The new version's traffic share after ``event`` (``share`` before it)."""
    if "new_share" in event:
        return float(event["new_share"])
    if "share" in event:
        return float(event["share"])
    if "live" in event:  # blue-green
        return 1.0 if event["live"] == "green" else 0.0
    if "updated" in event:  # rolling update
        return event["updated"] / n_instances
    if "downtime_seconds" in event:  # recreate: all or nothing
        return 0.0 if event["phase"] in ("old_running", "rolled_back") else 1.0
    return share


def _look_shares(controller: Any) -> list[tuple[dict[str, Any], float, float]]:
    """Each look event with the new version's share before and after it."""
    events = getattr(controller, "events", None)
    if not isinstance(events, list):
        raise TypeError(f"`controller` must be an abkit.rollout controller; got {type(controller).__name__}.")
    n_instances = getattr(controller, "n_instances", 1)
    share, rows = 0.0, []
    for event in events:
        after = _new_share(event, share, n_instances)
        if "look" in event and "metrics" in event:
            rows.append((event, share, after))
        share = after
    return rows


def plot_rollout(controller: Any, *, title: str | None = None) -> Any:
    """Traffic share (top) and each metric's effect with its interval and margin (below).

    Parameters
    ----------
    controller
        A rollout controller after some looks: :class:`~abkit.rollout.CanaryRollout` (canary
        share), :class:`~abkit.rollout.BlueGreen` and :class:`~abkit.rollout.Recreate` (0 or
        100%), or :class:`~abkit.rollout.RollingUpdate` (share of new instances).
    title
        Figure title; defaults to the controller's kind and final phase.

    Returns
    -------
    matplotlib.figure.Figure
        One panel for the canary's traffic share and one per metric; points are coloured by
        the metric's decision at that look, and a red line marks a rollback.
    """
    plt = require_matplotlib()
    rows = _look_shares(controller)
    looks = [event for event, _, _ in rows]
    names: list[str] = []
    for event in looks:
        for metric in event["metrics"]:
            if metric["name"] not in names:
                names.append(metric["name"])
    fig, axes = plt.subplots(len(names) + 1, 1, figsize=(7.0, 2.2 * (len(names) + 1)), sharex=True,
                             squeeze=False, layout="constrained")
    axes = axes[:, 0]
    x = [e["look"] for e in looks]
    share_before = [100.0 * before for _, before, _ in rows]
    share_after = [100.0 * after for _, _, after in rows]
    top = axes[0]
    top.step([0, *x], [share_before[0] if rows else 0.0, *share_after], where="post", color="tab:blue")
    top.scatter(x, share_before, c=[_COLOURS[e["decision"]] for e in looks], zorder=3)
    top.set_ylabel("new version's traffic (%)")
    for event, before, after in rows:
        if event["decision"] == "rollback" or (after == 0.0 and before > 0.0):
            for ax in axes:
                ax.axvline(event["look"], color="tab:red", linestyle="--", linewidth=1)
    for ax, name in zip(axes[1:], names, strict=True):
        for event in looks:
            metric = next((m for m in event["metrics"] if m["name"] == name), None)
            if metric is None or metric["effect"] is None or metric["low"] is None:
                continue
            ax.errorbar(event["look"], metric["effect"],
                        yerr=[[metric["effect"] - metric["low"]], [metric["high"] - metric["effect"]]],
                        fmt="o", color=_COLOURS[metric["decision"]], capsize=3)
        kinds = [m for e in looks for m in e["metrics"] if m["name"] == name]
        margin = kinds[0]["margin"] * (-1.0 if kinds[0].get("worse") == "lower" else 1.0)
        ax.axhline(0.0, color="grey", linewidth=0.8)
        ax.axhline(margin, color="black", linestyle=":", linewidth=1, label=f"margin {margin:g}")
        ax.set_ylabel(f"{name}\n({_UNITS.get(kinds[0]['kind'], '')})")
        ax.legend(loc="upper left", fontsize="small")
    axes[-1].set_xlabel("look")
    axes[-1].set_xticks(range(0, max(x, default=0) + 1))
    fig.align_ylabels(axes)
    fig.suptitle(title or f"{type(controller).__name__}: {controller.phase}")
    return fig
