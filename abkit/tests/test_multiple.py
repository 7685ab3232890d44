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
