"""Engine aggregates that no real numbers can have are refused (issue 15); rounding is not."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from abkit import BivariateStats, MeanStats


def test_sum_of_squares_below_the_square_of_the_sum_is_refused() -> None:
    message = "`total_sq` must be at least `total`**2 / `n` = 25 (a sum of squares of 4 real values with that sum); got 1.0."
    with pytest.raises(ValueError, match=re.escape(message)):
        MeanStats.from_aggregates(n=4, total=10, total_sq=1)
    with pytest.raises(ValueError, match=re.escape("`total_sq` must equal `total`**2")):
        MeanStats.from_aggregates(n=1, total=3, total_sq=10)
    assert MeanStats.from_aggregates(n=1, total=3, total_sq=9) == MeanStats(1, 3.0, 0.0)


def test_bivariate_aggregates_are_checked_per_column_and_by_cauchy_schwarz() -> None:
    good = {"n": 3, "sum_x": 3.0, "sum_y": 3.0, "sum_xx": 5.0, "sum_yy": 5.0, "sum_xy": 5.0}
    assert BivariateStats.from_aggregates(**good).cov == pytest.approx(1.0, rel=1e-15)
    with pytest.raises(ValueError, match=re.escape("`sum_yy` must be at least `sum_y`**2 / `n` = 3")):
        BivariateStats.from_aggregates(**{**good, "sum_yy": 2.0})
    with pytest.raises(ValueError, match=re.escape("`sum_xy` must be within 2 of `sum_x` * `sum_y` / `n` = 3")):
        BivariateStats.from_aggregates(**{**good, "sum_xy": 10.0})


finite = st.floats(-1e6, 1e6, allow_nan=False)


@settings(max_examples=100, deadline=None)
@given(st.lists(finite, min_size=1, max_size=60))
@example([0.0, 3.710958265615914e-83])  # variances whose product underflows (hypothesis found it)
def test_aggregates_of_real_data_are_accepted_even_when_constant(values: list[float]) -> None:
    x = np.asarray(values)
    for data in (x, np.full(x.size, x[0])):  # constant columns sit exactly on the boundary
        stats = MeanStats.from_aggregates(n=data.size, total=float(data.sum()), total_sq=float((data**2).sum()))
        assert stats.var >= 0.0 and math.isfinite(stats.var)
        y = data[::-1] * 0.5 + 1.0
        BivariateStats.from_aggregates(n=data.size, sum_x=float(data.sum()), sum_y=float(y.sum()),
                                       sum_xx=float((data**2).sum()), sum_yy=float((y**2).sum()),
                                       sum_xy=float((data * y).sum()))
        BivariateStats.from_aggregates(n=data.size, sum_x=float(data.sum()), sum_y=float(data.sum()),
                                       sum_xx=float((data**2).sum()), sum_yy=float((data**2).sum()),
                                       sum_xy=float((data * data).sum()))


def test_tiny_variances_keep_their_covariance() -> None:
    # var_x * var_y underflows to 0 here; the covariance (equal to both variances) must survive.
    v = 3.710958265615914e-83
    stats = BivariateStats.from_samples([0.0, v], [0.0, v])
    assert stats.cov == pytest.approx(stats.var_x, rel=1e-12) and stats.cov > 0
