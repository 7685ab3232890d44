"""adjust_pvalues against statsmodels' multipletests."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from statsmodels.stats.multitest import multipletests

from abkit import adjust_pvalues
from abkit.tests.conftest import reference_cases

STATSMODELS_NAME = {"bonferroni": "bonferroni", "holm": "holm", "hochberg": "simes-hochberg",
                    "bh": "fdr_bh", "by": "fdr_by"}


@pytest.mark.parametrize("case", reference_cases("ab_fixed", area="adjust_pvalues"))
def test_reference(case) -> None:
    i, e = case["inputs"], case["expected"]
    adjusted = adjust_pvalues(i["pvalues"], method=i["method"])
    np.testing.assert_allclose(adjusted, e["adjusted"], rtol=case["tolerance"]["rel"])
    assert list(adjusted <= i["alpha"]) == e["reject"]


@given(st.lists(st.floats(0, 1), min_size=1, max_size=30), st.sampled_from(sorted(STATSMODELS_NAME)))
def test_equals_statsmodels(pvalues, method) -> None:
    p = np.array(pvalues)
    reject, adjusted, _, _ = multipletests(p, alpha=0.05, method=STATSMODELS_NAME[method])
    ours = adjust_pvalues(p, method=method)
    np.testing.assert_allclose(ours, adjusted, rtol=1e-12, atol=1e-300)
    assert np.array_equal(ours <= 0.05, reject)


@given(st.lists(st.floats(0, 1), min_size=1, max_size=30), st.sampled_from(sorted(STATSMODELS_NAME)))
def test_adjusted_never_below_raw_and_order_preserved(pvalues, method) -> None:
    p = np.array(pvalues)
    adjusted = adjust_pvalues(p, method=method)
    assert np.all(adjusted >= p - 1e-15) and np.all(adjusted <= 1.0)
    order = np.argsort(p, kind="stable")
    assert np.all(np.diff(adjusted[order]) >= -1e-15)


@pytest.mark.parametrize(
    ("pvalues", "kwargs", "error", "message"),
    [
        ([0.1, 1.2], {}, ValueError, r"`pvalues` must be in \[0, 1\]; got 1\.2\."),
        ([], {}, ValueError, r"`pvalues` must have at least 1 value\(s\); got 0\."),
        ([0.1, np.nan], {}, ValueError, r"`pvalues` must not contain NaN"),
        ([0.1], {"method": "fdr_bh"}, ValueError,
         r"`method` must be one of 'bonferroni', 'holm', 'hochberg', 'bh', 'by'; got 'fdr_bh'\."),
    ],
)
def test_bad_input(pvalues, kwargs, error, message) -> None:
    with pytest.raises(error, match=message):
        adjust_pvalues(pvalues, **kwargs)


# --- Dunnett's many-to-one adjustment ------------------------------------------------------------

def test_dunnett_equals_the_multivariate_normal_probability() -> None:
    from scipy import stats

    from abkit.multiple import dunnett_pvalues

    share = np.array([0.5, 0.3, 0.9, 0.05])
    lam = np.sqrt(share)
    corr = np.outer(lam, lam)
    np.fill_diagonal(corr, 1.0)
    mvn = stats.multivariate_normal(np.zeros(4), corr, abseps=1e-9, releps=1e-9, maxpts=10**6)
    pvalues = np.array([0.3, 0.04, 0.001, 0.7])
    expected = [1.0 - mvn.cdf(np.full(4, c), lower_limit=np.full(4, -c))
                for c in stats.norm.isf(pvalues / 2)]
    # Genz's randomised lattice rule (scipy) reaches about 1e-7 absolute here (its abseps is a
    # target, not a bound; an adaptive quad of the same integral agrees with abkit to 1e-15).
    np.testing.assert_allclose(dunnett_pvalues(pvalues, share), expected, rtol=0, atol=5e-7)
    one_sided = [1.0 - mvn.cdf(np.full(4, c)) for c in stats.norm.isf(pvalues)]
    for alternative in ("greater", "less"):
        np.testing.assert_allclose(dunnett_pvalues(pvalues, share, alternative=alternative),
                                   one_sided, rtol=0, atol=5e-7)


def test_dunnett_limits() -> None:
    from abkit.multiple import dunnett_pvalues

    p = np.array([0.02, 0.3, 1e-9])
    # Independent comparisons: Sidak's 1 - (1 - p)^k, exactly.
    # Fixed-order quadrature: 1e-7 relative at p = 1e-9 (1e-12 at p above 0.01).
    np.testing.assert_allclose(dunnett_pvalues(p, [0.0] * 3), -np.expm1(3 * np.log1p(-p)), rtol=1e-6)
    # Perfectly correlated (treatments without variance): no adjustment.
    np.testing.assert_allclose(dunnett_pvalues(p, [1.0] * 3), p, rtol=1e-6)
    assert dunnett_pvalues([0.04], [0.5]).tolist() == [0.04]
    # Between Sidak and no adjustment, increasing in p.
    mid = dunnett_pvalues(p, [0.5] * 3)
    assert np.all(mid > p) and np.all(mid < -np.expm1(3 * np.log1p(-p)))


@pytest.mark.parametrize(
    ("pvalues", "share", "kwargs", "message"),
    [
        ([0.1, 1.2], [0.5, 0.5], {}, r"`pvalues` must be in \[0, 1\]; got 1\.2\."),
        ([0.1, 0.2], [0.5], {}, r"`control_share` must have one value per p-value \(2\); got 1\."),
        ([0.1, 0.2], [0.5, 1.5], {}, r"`control_share` must be in \[0, 1\]; got 1\.5\."),
        ([0.1, 0.2], [0.5, 0.5], {"alternative": "both"}, r"`alternative` must be one of"),
    ],
)
def test_dunnett_bad_input(pvalues, share, kwargs, message) -> None:
    from abkit.multiple import dunnett_pvalues

    with pytest.raises(ValueError, match=message):
        dunnett_pvalues(pvalues, share, **kwargs)
