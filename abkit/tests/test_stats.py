"""Sufficient statistics: construction, validation, aggregates and exact merging."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from abkit import BivariateStats, MeanStats, ProportionStats

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
samples = arrays(np.float64, st.integers(2, 60), elements=finite)


def close(a: float, b: float, scale: float) -> bool:
    # Merging by Chan's update and computing directly round differently; 1e-9 relative to the
    # data's scale (squared for variances) is far above double rounding for n <= 60.
    return abs(a - b) <= 1e-9 * scale


# ---------------------------------------------------------------- ProportionStats


def test_proportion_stats_fields_and_rate() -> None:
    s = ProportionStats(30, 400)
    assert (s.successes, s.n, s.rate) == (30, 400, 0.075)
    assert math.isnan(ProportionStats.empty().rate)


def test_proportion_from_samples_accepts_bool_and_int() -> None:
    assert ProportionStats.from_samples([True, False, True]) == ProportionStats(2, 3)
    assert ProportionStats.from_samples(np.array([1, 0, 0, 0])) == ProportionStats(1, 4)
    assert ProportionStats.from_samples([1, np.nan, 0], nan_policy="omit") == ProportionStats(1, 2)


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        ((5, 4), ValueError, r"`successes` must be at most `n` \(4\); got 5\."),
        ((-1, 4), ValueError, r"`successes` must be at least 0; got -1\."),
        ((1, -4), ValueError, r"`n` must be at least 0; got -4\."),
        ((1.5, 4), ValueError, r"`successes` must be a whole number; got 1\.5\."),
        (("1", 4), TypeError, r"`successes` must be an integer; got '1'\."),
        ((1, math.nan), ValueError, r"`n` must be a whole number; got nan\."),
    ],
)
def test_proportion_stats_rejects_bad_values(args, error, message) -> None:
    with pytest.raises(error, match=message):
        ProportionStats(*args)


def test_proportion_from_samples_rejects_non_binary_and_nan() -> None:
    with pytest.raises(ValueError, match=r"`values` must contain only 0 and 1; got 2\.0\."):
        ProportionStats.from_samples([0, 1, 2])
    with pytest.raises(ValueError, match=r"`values` must not contain NaN; got 1 NaN value\(s\)"):
        ProportionStats.from_samples([0, 1, np.nan])


@given(st.lists(st.booleans(), min_size=0, max_size=50), st.integers(0, 50))
def test_proportion_merge_of_split_equals_whole(values, cut) -> None:
    cut = min(cut, len(values))
    left = ProportionStats.from_samples(np.array(values[:cut], dtype=float))
    right = ProportionStats.from_samples(np.array(values[cut:], dtype=float))
    assert left.merge(right) == ProportionStats.from_samples(np.array(values, dtype=float))


# ---------------------------------------------------------------- MeanStats


def test_mean_stats_from_samples_matches_numpy() -> None:
    x = np.random.default_rng(3).normal(5, 2, 101)
    s = MeanStats.from_samples(x)
    assert s.n == 101
    assert s.mean == pytest.approx(x.mean(), rel=1e-15)
    assert s.var == pytest.approx(x.var(ddof=1), rel=1e-15)
    assert s.sd == pytest.approx(x.std(ddof=1), rel=1e-15)


def test_mean_stats_from_aggregates_matches_samples() -> None:
    x = np.random.default_rng(4).exponential(3, 500)
    a = MeanStats.from_aggregates(n=x.size, total=x.sum(), total_sq=(x * x).sum())
    s = MeanStats.from_samples(x)
    assert a.n == s.n
    assert a.mean == pytest.approx(s.mean, rel=1e-13)
    # sums of squares lose a few digits to cancellation (documented); 1e-10 is ample here
    assert a.var == pytest.approx(s.var, rel=1e-10)


def test_mean_stats_small_n_conventions() -> None:
    assert MeanStats.from_samples([]) == MeanStats.empty() == MeanStats(0, 0.0, 0.0)
    assert MeanStats.from_samples([2.5]) == MeanStats(1, 2.5, 0.0)
    assert MeanStats.from_aggregates(n=1, total=2.5, total_sq=6.25) == MeanStats(1, 2.5, 0.0)


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        ((10, 1.0, -0.5), ValueError, r"`var` must be at least 0; got -0\.5\."),
        ((10, math.nan, 1.0), ValueError, r"`mean` must be finite; got nan\."),
        ((10, 1.0, math.inf), ValueError, r"`var` must be finite; got inf\."),
        ((1, 1.0, 2.0), ValueError, r"`var` must be 0 when `n` < 2 \(n = 1\); got 2\.0\."),
        ((0, 1.0, 0.0), ValueError, r"`mean` must be 0 when `n` is 0; got 1\.0\."),
        ((10, "a", 1.0), TypeError, r"`mean` must be a real number; got 'a'\."),
    ],
)
def test_mean_stats_rejects_bad_values(args, error, message) -> None:
    with pytest.raises(error, match=message):
        MeanStats(*args)


def test_mean_from_samples_rejects_inf_and_2d() -> None:
    with pytest.raises(ValueError, match=r"`values` must be finite; got 1 infinite value\(s\)\."):
        MeanStats.from_samples([1.0, np.inf])
    with pytest.raises(ValueError, match=r"`values` must be 1-D; got an array of shape \(2, 2\)\."):
        MeanStats.from_samples(np.ones((2, 2)))
    with pytest.raises(TypeError, match=r"`values` must be a 1-D array of numbers; got 'abc'\."):
        MeanStats.from_samples("abc")


@given(samples, st.integers(0, 60))
def test_mean_merge_of_split_equals_whole(x, cut) -> None:
    cut = min(cut, x.size)
    merged = MeanStats.from_samples(x[:cut]).merge(MeanStats.from_samples(x[cut:]))
    whole = MeanStats.from_samples(x)
    scale = float(np.max(np.abs(x))) + 1.0
    assert merged.n == whole.n
    assert close(merged.mean, whole.mean, scale)
    assert close(merged.var, whole.var, scale * scale)


def test_mean_merge_is_associative_over_many_parts() -> None:
    x = np.random.default_rng(5).normal(1e3, 1.0, 1000)
    parts = np.array_split(x, 17)
    merged = MeanStats.empty()
    for part in parts:
        merged = merged.merge(MeanStats.from_samples(part))
    whole = MeanStats.from_samples(x)
    assert merged.mean == pytest.approx(whole.mean, rel=1e-14)
    # a large mean relative to the spread is where naive sums of squares fail; Chan's update
    # keeps the variance to ~1e-10 here
    assert merged.var == pytest.approx(whole.var, rel=1e-9)


def test_merge_refuses_other_type() -> None:
    with pytest.raises(TypeError, match=r"`other` must be a MeanStats to merge; got ProportionStats\."):
        MeanStats(2, 1.0, 0.5).merge(ProportionStats(1, 2))  # type: ignore[arg-type]


def test_update_adds_values() -> None:
    s = MeanStats.from_samples([1.0, 2.0]).update(3.0).update([4.0, 5.0])
    assert s == MeanStats.from_samples([1.0, 2.0, 3.0, 4.0, 5.0])
    assert ProportionStats(1, 2).update([1, 1]) == ProportionStats(3, 4)


# ---------------------------------------------------------------- BivariateStats


def test_bivariate_from_samples_matches_numpy() -> None:
    rng = np.random.default_rng(6)
    x = rng.normal(size=200)
    y = 0.5 * x + rng.normal(size=200)
    s = BivariateStats.from_samples(x, y)
    cov = np.cov(x, y, ddof=1)
    assert s.var_x == pytest.approx(cov[0, 0], rel=1e-13)
    assert s.var_y == pytest.approx(cov[1, 1], rel=1e-13)
    assert s.cov == pytest.approx(cov[0, 1], rel=1e-13)
    assert s.correlation == pytest.approx(np.corrcoef(x, y)[0, 1], rel=1e-13)
    assert s.x.var == pytest.approx(MeanStats.from_samples(x).var, rel=1e-13)


def test_bivariate_from_aggregates_matches_samples() -> None:
    rng = np.random.default_rng(7)
    x = rng.poisson(3, 300).astype(float)
    y = x + rng.poisson(5, 300)
    a = BivariateStats.from_aggregates(
        n=300, sum_x=x.sum(), sum_y=y.sum(), sum_xx=(x * x).sum(), sum_yy=(y * y).sum(),
        sum_xy=(x * y).sum(),
    )
    s = BivariateStats.from_samples(x, y)
    for field in ("mean_x", "mean_y", "var_x", "var_y", "cov"):
        # integer-valued sums are exact in double precision, so only the final division rounds
        assert getattr(a, field) == pytest.approx(getattr(s, field), rel=1e-12)


@given(samples, st.integers(0, 60), st.floats(-3, 3))
def test_bivariate_merge_of_split_equals_whole(x, cut, slope) -> None:
    y = slope * x + np.cos(np.arange(x.size))
    cut = min(cut, x.size)
    merged = BivariateStats.from_samples(x[:cut], y[:cut]).merge(
        BivariateStats.from_samples(x[cut:], y[cut:])
    )
    whole = BivariateStats.from_samples(x, y)
    scale = float(np.max(np.abs(x))) * 4 + 4.0
    for field in ("mean_x", "mean_y"):
        assert close(getattr(merged, field), getattr(whole, field), scale)
    for field in ("var_x", "var_y", "cov"):
        assert close(getattr(merged, field), getattr(whole, field), scale * scale)


def test_bivariate_validation_messages() -> None:
    with pytest.raises(ValueError, match=r"`x` and `y` must have the same length; got 3 and 2\."):
        BivariateStats.from_samples([1.0, 2.0, 3.0], [1.0, 2.0])
    with pytest.raises(ValueError, match=r"`cov` must satisfy \|`cov`\| <= sqrt\(`var_x` \* `var_y`\) = 1\.0; got 2\.0\."):
        BivariateStats(10, 0.0, 0.0, 1.0, 1.0, 2.0)
    with pytest.raises(ValueError, match=r"`var_y` must be at least 0; got -1\.0\."):
        BivariateStats(10, 0.0, 0.0, 1.0, -1.0, 0.0)


def test_bivariate_nan_omit_drops_incomplete_pairs() -> None:
    s = BivariateStats.from_samples([1.0, np.nan, 3.0, 4.0], [2.0, 5.0, np.nan, 8.0], nan_policy="omit")
    assert s == BivariateStats.from_samples([1.0, 4.0], [2.0, 8.0])
    with pytest.raises(ValueError, match=r"`y` must not contain NaN"):
        BivariateStats.from_samples([1.0, 2.0], [np.nan, 1.0])


@pytest.mark.parametrize(
    "stats",
    [ProportionStats(3, 10), MeanStats(5, 1.5, 0.25), BivariateStats(4, 1.0, 2.0, 1.0, 4.0, 1.5)],
)
def test_to_dict_round_trips_through_json(stats) -> None:
    restored = type(stats)(**json.loads(json.dumps(stats.to_dict())))
    assert restored == stats
