"""The public surface: curated names, results' behaviour, shared checks (layers: test_layers.py)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import abkit
from abkit import ConfidenceInterval, ProportionStats, proportions_test
from abkit._validation import check_int, check_rng


def test_all_is_sorted_and_complete() -> None:
    assert abkit.__all__ == sorted(abkit.__all__)
    assert len(set(abkit.__all__)) == len(abkit.__all__)
    for name in abkit.__all__:
        assert hasattr(abkit, name), name


def test_foundation_public_names() -> None:
    for name in ("ProportionStats", "MeanStats", "BivariateStats", "proportions_test", "means_test",
                 "ratio_test", "cuped_test", "srm_test", "adjust_pvalues"):
        assert name in abkit.__all__


def test_result_to_dict_is_strict_json_and_repr_is_a_table() -> None:
    r = proportions_test(ProportionStats(100, 1000), ProportionStats(130, 1000), alternative="greater")
    text = json.dumps(r.to_dict(), allow_nan=False)  # infinite interval ends become strings
    restored = json.loads(text)
    assert restored["relative_ci"]["high"] == "inf"
    assert restored["pvalue"] == pytest.approx(r.pvalue)
    lines = repr(r).splitlines()
    assert lines[0] == "ProportionsTestResult"
    assert any(line.split()[0] == "pvalue" for line in lines[1:])
    html = r._repr_html_()
    assert html.startswith("<table>") and "pvalue" in html


def test_results_are_frozen() -> None:
    r = proportions_test(ProportionStats(100, 1000), ProportionStats(130, 1000))
    with pytest.raises(AttributeError):
        r.pvalue = 0.5  # type: ignore[misc]


def test_confidence_interval_helpers() -> None:
    ci = ConfidenceInterval(-1.0, math.inf)
    assert ci.contains(5.0) and not ci.contains(-2.0)
    assert ci.width == math.inf
    low, high = ci
    assert (low, high) == (-1.0, math.inf)


def test_rng_normalisation() -> None:
    assert check_rng(5).random() == np.random.default_rng(5).random()
    generator = np.random.default_rng(1)
    assert check_rng(generator) is generator
    with pytest.raises(TypeError, match=r"`rng` must be an int seed, a numpy.random.Generator or None; got 'a'\."):
        check_rng("a")
    with pytest.raises(ValueError, match=r"`rng` must be a non-negative seed; got -1\."):
        check_rng(-1)


def test_integers_accept_numpy_and_integral_floats() -> None:
    assert check_int("n", np.int64(5)) == 5
    assert check_int("n", 5.0) == 5
    with pytest.raises(TypeError, match=r"`n` must be an integer; got True\."):
        check_int("n", True)
