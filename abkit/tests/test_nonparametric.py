"""Mann-Whitney with the Hodges-Lehmann shift: scipy, R (wilcox.test) and brute force."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import special
from scipy import stats as sps

from abkit import DegenerateDataWarning, mann_whitney_test
from abkit._kernels import kth_pairwise_difference, shifted_rank_sum
from abkit.tests.conftest import reference_cases

ALTERNATIVES = ["two-sided", "greater", "less"]


def _arms(reference_dir, case):
    data = np.genfromtxt(reference_dir / case["inputs"]["data"], delimiter=",", names=True, dtype=None,
                         encoding="utf-8")
    return data["y"][data["group"] == "control"], data["y"][data["group"] == "treatment"]


@pytest.mark.parametrize("case", reference_cases("ab_fixed", area="mann_whitney_test"))
def test_reference_mw(case, reference_dir):
    control, treatment = _arms(reference_dir, case)
    expected = case["expected"]
    r = mann_whitney_test(control, treatment, alternative=case["inputs"]["alternative"],
                          confidence_level=case["inputs"]["confidence_level"])
    assert r.statistic == expected["statistic_U_treatment"]
    # scipy and R p-values agree with each other to 1e-14; tolerance as the reference file.
    assert r.pvalue == pytest.approx(expected["pvalue"], rel=1e-6)
    assert r.pvalue == pytest.approx(expected["pvalue_R"], rel=1e-6)
    # R's estimate and interval come from uniroot(tol = 1e-4) on a step function whose jumps
    # are the pairwise differences; abkit returns the jump points themselves, so R's values lie
    # within R's root tolerance of them (and the exact ones are checked by brute force below).
    assert r.effect == pytest.approx(expected["hodges_lehmann_shift"], abs=1e-4)
    assert r.ci.low == pytest.approx(expected["shift_ci"][0], abs=1e-4)
    assert r.ci.high == pytest.approx(expected["shift_ci"][1], abs=1e-4)
    assert r.effect == np.median(np.subtract.outer(treatment, control))
    # Equal up to the rounding of t_i - c_j (pairs equal in exact arithmetic can differ by an ulp).
    assert (r.ci.low, r.ci.high) == pytest.approx(
        _r_interval_brute_force(treatment, control, "two-sided", 0.95), rel=1e-12, abs=1e-12
    )
    # R's own search path reproduces R's printed interval (tolerance as the reference file).
    s = mann_whitney_test(control, treatment, ci_method="uniroot")
    assert tuple(s.ci) == pytest.approx(tuple(expected["shift_ci"]), rel=1e-6)
    assert (s.effect, s.pvalue) == (r.effect, r.pvalue)


def _r_statistic(treatment, control, d, alternative, correct=True):
    """R's W(d) from .wilcox_test_two_cint_asymp, transcribed: the corrected normal score of
    the rank sum of ``treatment - d`` against ``control``."""
    n, m = treatment.size, control.size
    ranks = sps.rankdata(np.concatenate([treatment - d, control]))
    dz = ranks[:n].sum() - n * (n + 1) / 2 - n * m / 2
    _, ties = np.unique(ranks, return_counts=True)
    sigma = math.sqrt(n * m / 12 * ((n + m + 1) - np.sum(ties**3 - ties) / ((n + m) * (n + m - 1))))
    correction = {"two-sided": np.sign(dz) * 0.5, "greater": 0.5, "less": -0.5}[alternative] if correct else 0
    return (dz - correction) / sigma


def _r_interval_brute_force(treatment, control, alternative, confidence_level):
    """The roots R's uniroot converges to, located exactly by scanning W between all jumps."""
    jumps = np.unique(np.subtract.outer(treatment, control))
    probes = np.concatenate([[jumps[0] - 1.0], (jumps[:-1] + jumps[1:]) / 2, [jumps[-1] + 1.0]])
    w = np.array([_r_statistic(treatment, control, d, alternative) for d in probes])
    alpha = 1 - confidence_level
    tail = alpha / 2 if alternative == "two-sided" else alpha
    low, high = -math.inf, math.inf
    if alternative != "less":
        below = np.flatnonzero(w <= special.ndtri(1 - tail))  # W decreases in d
        low = jumps[-1] if below.size == 0 else jumps[max(below[0] - 1, 0)]
    if alternative != "greater":
        above = np.flatnonzero(w >= special.ndtri(tail))
        high = jumps[0] if above.size == 0 else jumps[min(above[-1], jumps.size - 1)]
    return float(low), float(high)


@pytest.mark.parametrize("alternative", ALTERNATIVES)
@pytest.mark.parametrize("seed", range(8))
def test_interval_matches_r_roots_exactly(seed, alternative):
    gen = np.random.default_rng(seed)
    n, m = gen.integers(2, 30, size=2)
    # Odd seeds: heavy ties (values on a coarse grid); even seeds: continuous values.
    control = np.round(gen.normal(10, 2, m), 0 if seed % 2 else 6)
    treatment = np.round(gen.normal(10.7, 2, n), 0 if seed % 2 else 6)
    level = [0.8, 0.9, 0.95, 0.99][seed % 4]
    r = mann_whitney_test(control, treatment, alternative=alternative, confidence_level=level)
    # Equal up to the rounding of t_i - c_j (pairs equal in exact arithmetic can differ by an ulp).
    assert (r.ci.low, r.ci.high) == pytest.approx(
        _r_interval_brute_force(treatment, control, alternative, level), rel=1e-12, abs=1e-12
    )


@pytest.mark.parametrize("alternative", ALTERNATIVES)
@pytest.mark.parametrize("seed", range(6))
def test_uniroot_interval_is_within_r_tolerance_of_exact_roots(seed, alternative):
    # R's search stops within tol = 1e-4 of a jump of its step function; the exact roots are
    # those jumps (W(d) itself is checked against scipy's ranks in test_shifted_rank_sum...).
    gen = np.random.default_rng(200 + seed)
    control = np.round(gen.normal(10, 2, gen.integers(2, 40)), 1 if seed % 2 else 5)
    treatment = np.round(gen.normal(10.6, 2, gen.integers(2, 40)), 1 if seed % 2 else 5)
    exact = mann_whitney_test(control, treatment, alternative=alternative)
    r = mann_whitney_test(control, treatment, alternative=alternative, ci_method="uniroot")
    assert tuple(r.ci) == pytest.approx(tuple(exact.ci), abs=1e-4)


@pytest.mark.parametrize("alternative", ALTERNATIVES)
@pytest.mark.parametrize("seed", range(4))
def test_pvalue_and_u_match_scipy(seed, alternative):
    gen = np.random.default_rng(100 + seed)
    control = gen.integers(1, 8, 40).astype(float)  # many ties
    treatment = gen.integers(1, 9, 55).astype(float)
    r = mann_whitney_test(control, treatment, alternative=alternative)
    expected = sps.mannwhitneyu(treatment, control, alternative=alternative, method="asymptotic",
                                use_continuity=True)
    assert r.statistic == expected.statistic
    assert r.pvalue == pytest.approx(expected.pvalue, rel=1e-12)
    assert r.probability_of_superiority == pytest.approx(
        np.mean(np.greater.outer(treatment, control)) + 0.5 * np.mean(np.equal.outer(treatment, control)),
        rel=1e-12,
    )
    assert r.rank_biserial == pytest.approx(2 * r.probability_of_superiority - 1, rel=1e-12)


@pytest.mark.parametrize("alternative", ALTERNATIVES)
@pytest.mark.parametrize(("n", "m"), [(4, 4), (7, 12), (30, 25), (1, 9)])
def test_exact_pvalue_matches_scipy(n, m, alternative):
    gen = np.random.default_rng(n * m)
    control, treatment = gen.normal(10, 1, m), gen.normal(10.8, 1, n)
    r = mann_whitney_test(control, treatment, alternative=alternative, method="exact")
    expected = sps.mannwhitneyu(treatment, control, alternative=alternative, method="exact")
    assert r.pvalue == pytest.approx(expected.pvalue, rel=1e-10)
    assert r.method == "exact"


@pytest.mark.parametrize("level", [0.8, 0.95, 0.99])
@pytest.mark.parametrize(("n", "m"), [(6, 9), (15, 20), (40, 30)])
def test_exact_interval_is_dual_to_scipy_exact_pvalue(n, m, level):
    # R's exact interval (qwilcox-based order statistics of the differences) is the set of shifts
    # d whose exact two-sided p-value for (treatment - d, control) is at least 1 - level: just
    # inside each end the p-value reaches it, just outside it does not.
    gen = np.random.default_rng(n + m)
    control, treatment = gen.normal(10, 1, m), gen.normal(10.5, 1, n)
    r = mann_whitney_test(control, treatment, method="exact", confidence_level=level)

    def pvalue(d):
        return sps.mannwhitneyu(treatment - d, control, method="exact").pvalue

    gaps = np.diff(np.unique(np.subtract.outer(treatment, control)))
    eps = gaps.min() / 4
    assert pvalue(r.ci.low + eps) >= 1 - level > pvalue(r.ci.low - eps)
    assert pvalue(r.ci.high - eps) >= 1 - level > pvalue(r.ci.high + eps)


def test_shifted_rank_sum_matches_scipy_ranks():
    gen = np.random.default_rng(9)
    for _ in range(50):
        x = np.sort(gen.integers(0, 6, gen.integers(1, 20)).astype(float))
        y = np.sort(gen.integers(0, 6, gen.integers(1, 20)).astype(float))
        d = float(gen.integers(-3, 3)) + 0.5 * gen.integers(0, 2)
        ranks = sps.rankdata(np.concatenate([x - d, y]))
        _, ties = np.unique(ranks, return_counts=True)
        assert shifted_rank_sum(x, y, d) == (ranks[: x.size].sum(), float(np.sum(ties**3 - ties)))


def test_exact_needs_small_samples_without_ties():
    with pytest.raises(ValueError, match="method='exact' needs data without ties; got 1 repeated value"):
        mann_whitney_test([1.0, 2.0, 3.0], [3.0, 4.0], method="exact")
    with pytest.raises(ValueError, match=r"n_control \* n_treatment <= 10000; got 10100\."):
        mann_whitney_test(np.arange(100.0), np.arange(101.0) + 0.5, method="exact")


def test_selection_matches_sorting_large():
    gen = np.random.default_rng(5)
    x = np.sort(gen.standard_t(3, 700))
    y = np.sort(np.round(gen.normal(size=900), 1))
    differences = np.sort(np.subtract.outer(x, y).ravel())
    for k in [0, 1, 12345, differences.size // 2, differences.size - 2, differences.size - 1]:
        assert kth_pairwise_difference(x, y, k) == differences[k]


def test_shift_interval_coverage():
    # Coverage of the 95% shift interval for a true shift of 1 (continuous data): 400 seeded
    # data sets, inside the 99.9% binomial band around the nominal level.
    gen = np.random.default_rng(2024)
    sims = 400
    covered = sum(
        mann_whitney_test(gen.exponential(1, 25), gen.exponential(1, 30) + 1.0).ci.contains(1.0)
        for _ in range(sims)
    )
    low, high = sps.binom.ppf([0.0005, 0.9995], sims, 0.95)
    assert low <= covered <= high


# Positive integers: control medians are positive (no relative-effect warning) and every
# difference is exact in floating point.
small_arrays = st.lists(st.integers(1, 40).map(float), min_size=1, max_size=15)


def _all_tied(*arrays):
    return np.unique(np.concatenate(arrays)).size == 1


@given(small_arrays, small_arrays)
def test_swapping_arms_flips_shift_and_keeps_pvalue(control, treatment):
    control, treatment = np.array(control), np.array(treatment)
    if _all_tied(control, treatment):
        return  # all tied: the p-value is NaN by design (tested below)
    r = mann_whitney_test(control, treatment)
    s = mann_whitney_test(treatment, control)
    assert s.effect == -r.effect
    assert (s.ci.low, s.ci.high) == (-r.ci.high, -r.ci.low)
    assert s.pvalue == pytest.approx(r.pvalue, rel=1e-12)
    assert s.statistic == control.size * treatment.size - r.statistic
    assert r.effect == np.median(np.subtract.outer(treatment, control))


@given(small_arrays, small_arrays, st.integers(-50, 50))
def test_shift_equivariance(control, treatment, shift):
    # Integer data and shifts: every difference is exact, so equality is exact.
    control, treatment = np.array(control), np.array(treatment)
    if _all_tied(control, treatment) or _all_tied(control, treatment + shift):
        return
    base = mann_whitney_test(control, treatment)
    moved = mann_whitney_test(control, treatment + shift)
    assert moved.effect == base.effect + shift
    assert (moved.ci.low, moved.ci.high) == (base.ci.low + shift, base.ci.high + shift)


def test_all_tied_gives_nan_pvalue_with_warning():
    with pytest.warns(DegenerateDataWarning, match="All observations are tied"):
        r = mann_whitney_test([2.0, 2.0, 2.0], [2.0, 2.0])
    assert math.isnan(r.pvalue)
    assert r.effect == 0.0
    assert (r.ci.low, r.ci.high) == (0.0, 0.0)


def test_relative_effect_needs_positive_control_median():
    r = mann_whitney_test([1.0, 2.0, 3.0], [2.0, 3.0, 4.0])
    assert r.relative_effect == pytest.approx(r.effect / 2.0)
    with pytest.warns(DegenerateDataWarning, match="positive control median; got -1.0"):
        r = mann_whitney_test([-2.0, -1.0, 0.0], [1.0, 2.0, 3.0])
    assert math.isnan(r.relative_effect)


def test_nan_policy_omit():
    r = mann_whitney_test([1.0, np.nan, 3.0], [2.0, 5.0], nan_policy="omit")
    assert r.n_control == 2 and r.statistic == mann_whitney_test([1.0, 3.0], [2.0, 5.0]).statistic


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"alternative": "bigger"}, ValueError, "`alternative` must be one of"),
        ({"method": "permutation"}, ValueError, "must be one of 'asymptotic', 'exact'; got 'permutation'"),
        ({"ci_method": "brent"}, ValueError, "`ci_method` must be one of 'exact', 'uniroot'; got 'brent'."),
        ({"ci_method": "uniroot", "method": "exact"}, ValueError, "'uniroot' needs method='asymptotic'"),
        ({"confidence_level": 1.0}, ValueError, r"`confidence_level` must be in \(0, 1\); got 1.0."),
        ({"control": [1.0, np.nan]}, ValueError, "`control` must not contain NaN"),
        ({"treatment": []}, ValueError, r"`treatment` must have at least 1 value\(s\); got 0."),
        ({"treatment": "abc"}, TypeError, "`treatment` must be a 1-D array of numbers"),
        ({"control": [[1.0, 2.0]]}, ValueError, r"`control` must be 1-D; got an array of shape \(1, 2\)."),
    ],
)
def test_bad_input(kwargs, error, message):
    arguments = {"control": [1.0, 2.0, 3.0], "treatment": [2.0, 4.0]} | kwargs
    control, treatment = arguments.pop("control"), arguments.pop("treatment")
    with pytest.raises(error, match=message):
        mann_whitney_test(control, treatment, **arguments)
