"""Extreme but valid input across the core (issue 15): a clear error naming the argument the
caller passed, or a right answer; never an internal error or a message naming another argument."""

from __future__ import annotations

import math

import pytest

from abkit.bandits import UCB1
from abkit.bandits.simulate import lai_robbins_bound
from abkit.rollout import CanaryJudge
from abkit.shadow.decision import ShadowMetric
from abkit.stats import MeanStats


def test_mean_stats_update_beyond_the_float_range_names_values():
    stats = MeanStats(5, 1.0, 2.0)
    with pytest.raises(ValueError, match=r"^`values` put the merged variance beyond the float range"):
        stats.update([1e300])
    with pytest.raises(ValueError, match=r"^`other` put the merged variance beyond the float range"):
        stats.merge(MeanStats(1, -1e300, 0.0))
    # Large but representable: the exact merged moments (closed form for {1e150} joined to 5 ones).
    merged = MeanStats(5, 1.0, 0.0).update([1e150])
    assert merged.mean == pytest.approx((5 + 1e150) / 6, rel=1e-15)
    assert merged.var == pytest.approx(((1e150 - 1) ** 2 * 5 / 6) / 5, rel=1e-12)


def test_bandit_batch_and_simulation_arguments_are_named():
    with pytest.raises(ValueError, match=r"^`rewards` must not be NaN"):
        UCB1(2).update_batch([0, 1], [1.0, math.nan])
    with pytest.raises(ValueError, match=r"^`sd` must be one number or one per arm \(2\); got shape \(0,\)\.$"):
        lai_robbins_bound([0.2, 0.5], 100, arms="gaussian", sd=[])


def test_latency_check_quantile_needing_absurd_samples_names_quantile():
    with pytest.raises(ValueError, match=r"^`quantile` 1e-300 needs 1e\+301 samples per arm"):
        CanaryJudge.latency("latency_ms", quantile=1e-300)
    assert CanaryJudge.latency("latency_ms", quantile=1e-300, min_samples=50).min_samples == 50
    assert CanaryJudge.latency("latency_ms", quantile=0.99).min_samples == 1000  # ceil(10 / 0.01)


def test_builtin_metric_names_its_argument():
    with pytest.raises(TypeError, match=r"^`name` must be a string"):
        ShadowMetric.builtin(0.5)  # type: ignore[arg-type]
