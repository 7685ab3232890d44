"""Bandit figures draw what they claim (Agg backend)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from abkit.bandits import UCB1, ThompsonBernoulli, lai_robbins_bound, simulate
from abkit.plotting.bandits import plot_policy, plot_regret


def test_plot_regret_draws_means_bands_and_the_bound() -> None:
    regrets = {
        "UCB1": simulate(UCB1(2), [0.1, 0.3], horizon=300, n_runs=4, rng=0),
        "Thompson": simulate(ThompsonBernoulli(2), [0.1, 0.3], horizon=300, n_runs=4, rng=0),
    }
    fig = plot_regret(regrets, means=[0.1, 0.3], log_x=True)
    ax = fig.axes[0]
    labels = [line.get_label() for line in ax.lines]
    assert labels == ["UCB1", "Thompson", "Lai-Robbins bound"]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), regrets["UCB1"].mean(axis=0))
    np.testing.assert_allclose(ax.lines[2].get_ydata(), lai_robbins_bound([0.1, 0.3], 300))
    assert len(ax.collections) == 2  # one band per policy
    plt.close(fig)


def test_plot_policy_panels() -> None:
    policy = ThompsonBernoulli(2)
    policy.warm_start([200, 200], [0.1, 0.15])
    fig = plot_policy(policy, labels=["control", "model-b"])
    heights = [patch.get_height() for patch in fig.axes[1].patches]
    np.testing.assert_allclose(heights, policy.prob_best())
    plt.close(fig)
    with pytest.raises(ValueError, match="`labels` must name 2 arms; got 1"):
        plot_policy(policy, labels=["only"])
