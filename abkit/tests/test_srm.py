"""srm_test against R's chisq.test and scipy.stats.chisquare."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from abkit import srm_test
from abkit.tests.conftest import binomial_band, reference_cases


@pytest.mark.parametrize("case", reference_cases("ab_fixed", function_kind="srm_chi_square_goodness_of_fit"))
def test_reference_r_chisq_test(case) -> None:
    r = srm_test(case["inputs"]["counts"], case["inputs"]["expected_proportions"])
    assert r.statistic == pytest.approx(case["expected"]["chi_squared"], rel=1e-9)
    assert r.df == case["expected"]["df"]
    assert r.pvalue == pytest.approx(case["expected"]["p_value"], rel=1e-9)
    assert r.mismatch  # p = 7.5e-5 < 0.001


@given(st.lists(st.integers(0, 10_000), min_size=2, max_size=6),
       st.lists(st.floats(0.05, 1.0), min_size=6, max_size=6))
def test_equals_scipy_chisquare(counts, raw_weights) -> None:
    if sum(counts) == 0:
        return
    weights = np.array(raw_weights[: len(counts)])
    r = srm_test(counts, weights)
    ref = stats.chisquare(counts, f_exp=sum(counts) * weights / weights.sum())
    assert r.statistic == pytest.approx(ref.statistic, rel=1e-9, abs=1e-12)
    assert r.pvalue == pytest.approx(ref.pvalue, rel=1e-9, abs=1e-300)
    assert sum(r.expected_shares) == pytest.approx(1.0)


def test_equal_split_by_default_and_json_safe() -> None:
    r = srm_test([5000, 5150])
    assert r.expected_shares == (0.5, 0.5)
    assert not r.mismatch
    assert r.to_dict()["observed"] == [5000, 5150]


def test_aa_calibration() -> None:
    rng = np.random.default_rng(3)
    counts = rng.multinomial(20_000, [0.5, 0.3, 0.2], size=2000)
    rejections = sum(srm_test(c, [0.5, 0.3, 0.2], alpha=0.05).mismatch for c in counts)
    low, high = binomial_band(2000, 0.05)
    assert low <= rejections <= high


@pytest.mark.parametrize(
    ("counts", "weights", "message"),
    [
        ([10], None, r"`counts` must have at least 2 value\(s\); got 1\."),
        ([10, -1], None, r"`counts` must be non-negative integers; got \[10\. -1\.\]\."),
        ([10, 1.5], None, r"`counts` must be non-negative integers"),
        ([0, 0], None, r"`counts` must have a positive total; got 0\."),
        ([10, 20], [0.5, 0.3, 0.2], r"`counts` and `weights` must have the same length; got 2 and 3\."),
        ([10, 20], [1.0, 0.0], r"`weights` must be positive; got \[1\. 0\.\]\."),
        ([10, np.nan], None, r"`counts` must not contain NaN"),
    ],
)
def test_bad_input(counts, weights, message) -> None:
    with pytest.raises(ValueError, match=message):
        srm_test(counts, weights)


def test_bad_alpha() -> None:
    with pytest.raises(ValueError, match=r"`alpha` must be in \(0, 1\); got 1\.5\."):
        srm_test([10, 20], alpha=1.5)
    with pytest.raises(TypeError, match=r"`counts` must be a 1-D array of numbers; got 'ab'\."):
        srm_test("ab")
