"""The sequential SRM Bayes factor stays exact at huge counts (issue 15).

Reference: the Dirichlet-multinomial Bayes factor written with log-gammas, evaluated in 60-digit
arithmetic with mpmath (``log B(k theta + x) - log B(k theta) - sum x log theta``), at the same
float64 counts and shares.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from abkit.sequential import SequentialSRM, sequential_srm_test


def _reference(counts: list[float], weights: list[float], concentration: float) -> float:
    with mpmath.workdps(60):
        x = [mpmath.mpf(c) for c in counts]
        w = [mpmath.mpf(v) for v in weights]
        theta = [v / sum(w) for v in w]
        prior = [mpmath.mpf(concentration) * t for t in theta]

        def log_beta(a: list[mpmath.mpf]) -> mpmath.mpf:
            return sum(mpmath.loggamma(v) for v in a) - mpmath.loggamma(sum(a))

        value = log_beta([p + c for p, c in zip(prior, x, strict=True)]) - log_beta(prior)
        return float(value - sum(c * mpmath.log(t) for c, t in zip(x, theta, strict=True)))


# Absolute 1e-9 plus 1e-12 relative: the terms are each right to rounding, summed with fsum.
def _close(value: float, reference: float) -> bool:
    return abs(value - reference) <= 1e-9 + 1e-12 * abs(reference)


def test_equal_counts_up_to_1e18_are_no_mismatch() -> None:
    for n in (10**15, 3 * 10**15, 57_900_000_000_000_000, 10**18):
        r = sequential_srm_test([n, n])
        assert r.pvalue == 1.0 and not r.mismatch
        assert _close(r.log_bayes_factor, _reference([n, n], [1.0, 1.0], 100.0))


def test_a_real_mismatch_at_1e18_is_found_and_a_tiny_one_is_not() -> None:
    # 1e-6 relative at 1e18 units is 1e12 units: a z of about 1000.
    r = sequential_srm_test([10**18 + 10**12, 10**18 - 10**12])
    assert r.pvalue == 0.0 and r.mismatch
    assert _close(r.log_bayes_factor, _reference([1e18 + 1e12, 1e18 - 1e12], [1.0, 1.0], 100.0))
    r = sequential_srm_test([10**18 + 10**9, 10**18 - 10**9])  # z about 1.4
    assert r.pvalue == 1.0


counts = st.integers(0, 10**18).map(float)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(counts, min_size=2, max_size=4),
    st.lists(st.floats(0.05, 20.0), min_size=4, max_size=4),
    st.floats(1e-3, 1e6),
)
def test_log_bayes_factor_matches_60_digit_arithmetic(x: list[float], w: list[float], k: float) -> None:
    weights = w[: len(x)]
    r = sequential_srm_test(x, weights, concentration=k)
    assert _close(r.log_bayes_factor, _reference(x, weights, k))


@settings(max_examples=40, deadline=None)
@given(st.integers(10**12, 10**18), st.integers(0, 10**6), st.floats(1.0, 1e4))
def test_near_balanced_large_counts_match(n: int, delta: int, k: float) -> None:
    # The regime where the old log-gamma difference failed: huge, nearly equal counts.
    x = [float(n + delta), float(n)]
    r = sequential_srm_test(x, concentration=k)
    assert _close(r.log_bayes_factor, _reference(x, [1.0, 1.0], k))


def test_small_counts_are_unchanged() -> None:
    # Lindon and Malek's example values (the module's doctest) and tiny priors.
    assert sequential_srm_test([5050, 4950], concentration=100).log_bayes_factor == pytest.approx(
        -1.814928850324159, abs=1e-12)
    for x, w, k in (([0, 5], [1, 1], 0.01), ([5, 0, 0], [1, 1, 1], 1e-3), ([1, 2, 3], [0.1, 0.2, 0.7], 1e-3)):
        assert _close(sequential_srm_test(x, w, concentration=k).log_bayes_factor, _reference(x, w, k))
    assert sequential_srm_test([0, 0]).log_bayes_factor == 0.0


def test_streaming_at_huge_counts() -> None:
    srm = SequentialSRM()
    for _ in range(3):
        r = srm.update([3 * 10**17, 3 * 10**17])
    assert srm.counts == (9 * 10**17, 9 * 10**17) and srm.pvalue == 1.0
    assert math.isfinite(r.log_bayes_factor)
    assert np.isfinite(sequential_srm_test([0, 10**18]).log_bayes_factor)

