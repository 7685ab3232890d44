"""The rollout plot."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

from abkit.plotting.rollout import plot_rollout
from abkit.rollout import CanaryJudge, CanaryRollout

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def test_plot_rollout_has_a_panel_per_metric_and_marks_the_rollback() -> None:
    rng = np.random.default_rng(2)
    judge = CanaryJudge([CanaryJudge.error_rate("errors", margin=0.01),
                         CanaryJudge.latency("latency", quantile=0.99, margin=0.05)], planned_looks=4)
    rollout = CanaryRollout(judge, steps=(5, 25, 100))
    n = 3000
    while rollout.status == "running":
        rollout.observe({"errors": rng.random(n) < 0.01, "latency": rng.lognormal(4.6, 0.5, n)},
                        {"errors": rng.random(n) < 0.01, "latency": rng.lognormal(4.6, 0.5, n) * 1.3})
        n *= 2
    assert rollout.status == "rolled_back"
    fig = plot_rollout(rollout)
    try:
        assert len(fig.axes) == 3
        assert fig.axes[2].get_ylabel().startswith("latency")
        red = [line for line in fig.axes[0].get_lines() if line.get_linestyle() == "--"]
        assert len(red) == 1  # the rollback look
    finally:
        plt.close(fig)


def test_plot_rollout_rejects_other_objects() -> None:
    with pytest.raises(TypeError, match=r"`controller` must be an abkit\.rollout controller"):
        plot_rollout(object())


def test_plot_other_controllers() -> None:
    from abkit import ProportionStats
    from abkit.rollout import BlueGreen, RollingUpdate

    judge = CanaryJudge([CanaryJudge.error_rate("e", margin=0.01)], planned_looks=4)
    good = ({"e": ProportionStats(100, 10_000)}, {"e": ProportionStats(98, 10_000)})
    bad = ({"e": ProportionStats(100, 10_000)}, {"e": ProportionStats(200, 10_000)})
    bg = BlueGreen(judge)
    bg.validate(*good)
    bg.watch(*bad)
    ru = RollingUpdate(judge, n_instances=4, batch_size=2)
    ru.observe(*good)
    for controller, expected in ((bg, [0.0, 100.0]), (ru, [50.0, 100.0])):
        fig = plot_rollout(controller)
        try:
            # The share line: before the first look, then after each look.
            share_line = fig.axes[0].get_lines()[0]
            assert list(share_line.get_ydata())[:2] == expected
        finally:
            plt.close(fig)
