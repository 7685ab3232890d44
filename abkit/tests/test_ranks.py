"""abkit._ranks: the one implementation of midranks and DeLong's placements, against scipy and
the O(m n) pairwise definition. Counts are integers or halves, so those comparisons are exact."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from abkit._ranks import midranks, midranks_and_run_lengths, placement_counts, placements


@pytest.mark.parametrize("decimals", [None, 0, 1])
def test_midranks_equal_scipy_rankdata(decimals: int | None) -> None:
    values = np.sort(np.random.default_rng(3).normal(size=500))
    if decimals is not None:
        values = np.round(values, decimals)
    np.testing.assert_array_equal(midranks(values), stats.rankdata(values))
    _, lengths = midranks_and_run_lengths(values)
    np.testing.assert_array_equal(lengths, np.unique(values, return_counts=True)[1])


@pytest.mark.parametrize("decimals", [None, 0, 1])
def test_placements_equal_the_pairwise_definition(decimals: int | None) -> None:
    rng = np.random.default_rng(11)
    x, y = rng.normal(0.5, size=70), rng.normal(size=90)
    if decimals is not None:
        x, y = np.round(x, decimals), np.round(y, decimals)
    pairs = (x[:, None] > y[None, :]) + 0.5 * (x[:, None] == y[None, :])
    v10, v01 = placements(x, y)
    np.testing.assert_array_equal(v10, pairs.sum(axis=1) / y.size)
    # 1 - count / m against (m - count) / m: one rounding apart
    np.testing.assert_allclose(v01, pairs.sum(axis=0) / x.size, rtol=0, atol=2e-16)
    counts_x, counts_y = placement_counts(x, y)
    np.testing.assert_array_equal(counts_x, pairs.sum(axis=1))
    np.testing.assert_array_equal(counts_y, (1.0 - pairs).sum(axis=0))
    # the U statistic of x is the sum of its counts
    u = stats.mannwhitneyu(x, y, method="asymptotic").statistic
    assert float(counts_x.sum()) == u


def test_placements_keep_input_order() -> None:
    x, y = np.array([3.0, 1.0, 2.0]), np.array([2.0, 0.0])
    v10, v01 = placements(x, y)
    assert v10.tolist() == [1.0, 0.5, 0.75]
    assert v01.tolist() == [0.5, 1.0]
