"""Hypothesis hunts bad input: every public test either answers or raises a clear error.

"Clear" means ``TypeError``/``ValueError`` whose message names an argument in backticks; an
answer must have a p-value in [0, 1] or NaN with a ``DegenerateDataWarning``.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from abkit import (
    BivariateStats,
    DegenerateDataWarning,
    MeanStats,
    ProportionStats,
    cuped_test,
    means_test,
    proportions_test,
    ratio_test,
)

anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=3),
    st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=5),
    st.lists(st.integers(-2, 2), max_size=5),
)
options = st.fixed_dictionaries(
    {},
    optional={
        "alternative": st.one_of(st.sampled_from(["two-sided", "less", "greater"]), anything),
        "confidence_level": st.one_of(st.floats(0.01, 0.99), anything),
        "margin": st.one_of(st.floats(-0.5, 0.5), anything),
    },
)


def check_outcome(call) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = call()
        except (TypeError, ValueError) as exc:
            assert "`" in str(exc), f"unclear message: {exc}"
            return
    if math.isnan(result.pvalue):
        assert any(issubclass(w.category, DegenerateDataWarning) for w in caught)
    else:
        assert 0.0 <= result.pvalue <= 1.0
        assert not math.isnan(result.effect)


@given(st.one_of(anything, st.builds(ProportionStats, st.integers(0, 5), st.integers(5, 10))),
       st.one_of(anything, st.builds(ProportionStats, st.integers(0, 5), st.integers(5, 10))),
       options)
def test_proportions_test_never_crashes_unclearly(control, treatment, kwargs) -> None:
    check_outcome(lambda: proportions_test(control, treatment, **kwargs))


mean_stats = st.builds(
    lambda n, mean, var: MeanStats(n, mean if n else 0.0, var if n > 1 else 0.0),
    st.integers(0, 5), st.floats(-10, 10), st.floats(0, 10),
)


@given(st.one_of(anything, mean_stats), st.one_of(anything, mean_stats), options)
def test_means_test_never_crashes_unclearly(control, treatment, kwargs) -> None:
    check_outcome(lambda: means_test(control, treatment, **kwargs))


bivariate = st.builds(
    lambda n, mx, my: BivariateStats(n, mx, my, 1.0 if n > 1 else 0.0, 2.0 if n > 1 else 0.0, 0.5 if n > 1 else 0.0),
    st.integers(2, 6), st.floats(-5, 5), st.floats(-5, 5),
)
pairs = st.tuples(st.lists(st.floats(-5, 5), min_size=0, max_size=4),
                  st.lists(st.one_of(st.floats(-5, 5), st.just(math.nan)), min_size=0, max_size=4))


@given(st.one_of(anything, bivariate, pairs), st.one_of(anything, bivariate, pairs), options,
       st.sampled_from([ratio_test, cuped_test]))
def test_bivariate_tests_never_crash_unclearly(control, treatment, kwargs, test) -> None:
    check_outcome(lambda: test(control, treatment, **kwargs))


def test_numpy_scalars_are_accepted() -> None:
    r = proportions_test(ProportionStats(np.int64(10), np.int32(100)), ProportionStats(12, 100),
                         confidence_level=np.float64(0.9))
    assert 0 < r.pvalue < 1
