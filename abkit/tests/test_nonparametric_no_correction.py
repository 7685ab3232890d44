"""Mann-Whitney without the continuity correction (``correction=False``).

References: scipy's ``mannwhitneyu(treatment, control, use_continuity=False,
method="asymptotic")`` for the p-value, and R's ``wilcox.test(treatment, control,
conf.int = TRUE, exact = FALSE, correct = FALSE)`` for the interval, whose definition (the
root in ``d`` of the uncorrected, tie-corrected normal score of ``treatment - d`` against
``control``) is evaluated here by brute force from scipy's p-values at every gap between the
pairwise differences, independently of abkit's order-statistic search.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from abkit import mann_whitney_test
from abkit.errors import DegenerateDataWarning

ALTERNATIVES = ("two-sided", "less", "greater")


def _score(treatment: np.ndarray, control: np.ndarray) -> float:
    """R's uncorrected normal score of the rank sum, signed, from scipy's two-sided p-value."""
    r = stats.mannwhitneyu(treatment, control, use_continuity=False, method="asymptotic")
    return float(np.sign(r.statistic - treatment.size * control.size / 2.0) * stats.norm.isf(r.pvalue / 2.0))


def _brute_interval(t: np.ndarray, c: np.ndarray, alternative: str, level: float) -> tuple[float, float]:
    diffs = np.unique((t[:, None] - c[None, :]).ravel())
    gaps = np.concatenate([[diffs[0] - 1.0], (diffs[:-1] + diffs[1:]) / 2.0, [diffs[-1] + 1.0]])
    scores = np.array([_score(t - d, c) for d in gaps])  # decreasing in d; gaps[k] lies below diffs[k]
    tail = (1.0 - level) / (2.0 if alternative == "two-sided" else 1.0)
    low, high = -np.inf, np.inf
    if alternative != "less":  # first difference after which the score is at most z_{1 - tail}
        k = int(np.argmax(scores <= stats.norm.isf(tail)))
        low = diffs[k - 1]
    if alternative != "greater":  # first difference after which the score is below z_tail
        k = int(np.argmax(scores < stats.norm.ppf(tail)))
        high = diffs[k - 1]
    return float(low), float(high)


def _quiet(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateDataWarning)  # relative shift needs a positive median
        return mann_whitney_test(*args, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("alternative", ALTERNATIVES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pvalue_matches_scipy_without_continuity(alternative: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    control = np.round(rng.normal(size=30), 1)  # rounding makes ties
    treatment = np.round(rng.normal(0.4, size=25), 1)
    r = _quiet(control, treatment, alternative=alternative, correction=False)
    ref = stats.mannwhitneyu(treatment, control, alternative=alternative, use_continuity=False, method="asymptotic")
    assert r.pvalue == pytest.approx(ref.pvalue, rel=1e-12)
    assert r.statistic == ref.statistic
    corrected = _quiet(control, treatment, alternative=alternative)
    assert corrected.pvalue >= r.pvalue  # the correction is conservative


@pytest.mark.parametrize("alternative", ALTERNATIVES)
@pytest.mark.parametrize("seed", [3, 4])
def test_interval_matches_r_definition(alternative: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    control = np.round(rng.exponential(size=14), 1)
    treatment = np.round(rng.exponential(size=11) + 0.3, 1)
    r = _quiet(control, treatment, alternative=alternative, correction=False, confidence_level=0.9)
    low, high = _brute_interval(treatment, control, alternative, 0.9)
    assert (r.ci.low, r.ci.high) == pytest.approx((low, high), abs=1e-12)
    # R's own uniroot(tol = 1e-4) search lands within 1e-4 of those ends.
    u = _quiet(control, treatment, alternative=alternative, correction=False, confidence_level=0.9,
               ci_method="uniroot")
    assert (u.ci.low, u.ci.high) == pytest.approx((low, high), abs=1e-4)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 9), min_size=3, max_size=15), st.lists(st.integers(0, 9), min_size=3, max_size=15),
       st.sampled_from(ALTERNATIVES))
def test_pvalue_matches_scipy_on_tied_integers(c: list[int], t: list[int], alternative: str) -> None:
    control, treatment = np.asarray(c, dtype=float), np.asarray(t, dtype=float)
    if np.unique(np.concatenate([control, treatment])).size == 1:
        return  # all tied: degenerate, covered elsewhere
    r = _quiet(control, treatment, alternative=alternative, correction=False)
    ref = stats.mannwhitneyu(treatment, control, alternative=alternative, use_continuity=False, method="asymptotic")
    assert r.pvalue == pytest.approx(ref.pvalue, rel=1e-9, abs=1e-15)


def test_exact_method_ignores_the_correction() -> None:
    a = mann_whitney_test([1.1, 2.3, 2.9, 4.0], [3.1, 4.4, 5.0, 6.3], method="exact", correction=False)
    b = mann_whitney_test([1.1, 2.3, 2.9, 4.0], [3.1, 4.4, 5.0, 6.3], method="exact")
    assert a.pvalue == b.pvalue and a.ci == b.ci


def test_correction_must_be_a_bool() -> None:
    with pytest.raises(TypeError, match=re.escape("`correction` must be True or False; got 0.")):
        mann_whitney_test([1.0, 2.0], [3.0, 4.0], correction=0)  # type: ignore[arg-type]
