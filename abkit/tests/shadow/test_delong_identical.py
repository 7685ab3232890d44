"""DeLong's test on identical rankings follows pROC: z = 0, p = 1, interval collapsed at 0.

pROC (``roc.test(r1, r2, method = "delong", paired = TRUE)``) on two identical curves reports
``Z = 0, p-value = 1`` (two-sided); the one-sided p-value of z = 0 is ``pnorm(0) = 0.5``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from abkit.errors import DegenerateDataWarning
from abkit.shadow import delong_test

Y = [0, 1, 0, 1, 1, 0, 1, 0]
S = [0.1, 0.9, 0.2, 0.8, 0.4, 0.5, 0.7, 0.3]


def test_identical_scores_give_z_0_p_1_and_a_degenerate_interval() -> None:
    with pytest.warns(DegenerateDataWarning, match="identical rankings"):
        r = delong_test(Y, S, S)
    assert (r.statistic, r.pvalue, r.effect, r.se) == (0.0, 1.0, 0.0, 0.0)
    assert (r.ci.low, r.ci.high) == (0.0, 0.0)


# One-sided intervals have their open end at the range of an AUC difference, [-1, 1] (issue 19).
@pytest.mark.parametrize(("alternative", "low", "high"), [("greater", 0.0, 1.0), ("less", -1.0, 0.0)])
def test_one_sided_identical_scores_give_p_one_half(alternative: str, low: float, high: float) -> None:
    with pytest.warns(DegenerateDataWarning):
        r = delong_test(Y, S, S, alternative=alternative)
    assert r.statistic == 0.0 and r.pvalue == 0.5  # pnorm(0), exactly
    assert (r.ci.low, r.ci.high) == (low, high)


def test_a_nonzero_margin_with_zero_variance_stays_nan() -> None:
    # The null value is not the observed difference, and no variance says by how much: undefined.
    with pytest.warns(DegenerateDataWarning, match="undefined"):
        r = delong_test(Y, S, S, margin=-0.01, alternative="greater")
    assert math.isnan(r.statistic) and math.isnan(r.pvalue)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(-1e6, 1e6), min_size=4, max_size=30),
    st.floats(0.01, 100.0),
    st.floats(-100.0, 100.0),
)
def test_monotone_transforms_of_the_same_scores_are_identical_rankings(scores: list[float], scale: float,
                                                                        shift: float) -> None:
    x = np.asarray(scores)
    y = np.arange(x.size) % 2
    transformed = x * scale + shift
    if not np.array_equal(np.argsort(x, kind="stable"), np.argsort(transformed, kind="stable")) or not (
        np.array_equal(x[:, None] < x[None, :], transformed[:, None] < transformed[None, :])
        and np.array_equal(x[:, None] == x[None, :], transformed[:, None] == transformed[None, :])
    ):
        return  # rounding changed the ranking (ties made or broken): not the same curve
    with pytest.warns(DegenerateDataWarning):
        r = delong_test(y, x, transformed)
    assert (r.statistic, r.pvalue, r.effect) == (0.0, 1.0, 0.0)
