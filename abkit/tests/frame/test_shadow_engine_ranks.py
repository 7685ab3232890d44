"""ShadowTable.wilcoxon_test and ShadowTable.latency_quantiles: the in-memory answers (1e-9).

Reference cases from abkit/tests/reference/shadow.json (R's wilcox.test and quantile type 6;
the core matches them in abkit/tests/shadow/test_reference.py). The rank sums are exact in every
engine (sums of half-integers), so the root finder takes the same steps as in memory; the
remaining 1e-9 allows for the engines' summation order elsewhere.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from abkit.errors import DegenerateDataWarning
from abkit.frame import ShadowTable
from abkit.shadow import latency_quantiles, wilcoxon_test
from abkit.tests.conftest import REFERENCE_DIR, reference_cases
from abkit.tests.frame.test_shadow_engine import ENGINES, _assert_same, _engine, _long


def _paired(case: dict[str, Any]) -> tuple[Any, Any]:
    inputs = case["inputs"]
    if isinstance(inputs["a"], list):
        return np.asarray(inputs["a"], float), np.asarray(inputs["b"], float)
    data = pd.read_csv(REFERENCE_DIR / inputs["data"])
    return data[inputs["a"]].to_numpy(float), data[inputs["b"]].to_numpy(float)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("case", reference_cases("shadow", area="wilcoxon_signed_rank"))
def test_wilcoxon_reference_cases_in_the_engine(case: dict[str, Any], engine: str) -> None:
    a, b = _paired(case)
    table = ShadowTable(_engine(_long(b, a), engine))  # differences a - b, as the case
    correction = "NO continuity" not in case["inputs"].get("variant", "")
    result = table.wilcoxon_test("a", "b", correction=correction, method="approx")
    _assert_same(result, wilcoxon_test(b, a, correction=correction, method="approx"))
    # R's wilcox.test (the case's source)
    assert result.rank_sum_positive == case["expected"]["V_positive_rank_sum"]
    np.testing.assert_allclose(result.pvalue, case["expected"]["p_value"], rtol=case["tolerance"]["rel"])
    for alternative in ("less", "greater") if engine == "duckdb" else ():  # one engine: slow root finding
        _assert_same(table.wilcoxon_test("a", "b", alternative=alternative, confidence_level=0.9),
                     wilcoxon_test(b, a, alternative=alternative, confidence_level=0.9))


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("n", "decimals", "values"), [(200, None, "score"), (200, 1, "score"),
                                                       (30, None, "score"), (300, None, "brier")])
def test_wilcoxon_on_seeded_logs(engine: str, n: int, decimals: int | None, values: str) -> None:
    # Untied, heavily tied (rounded: ties and zeros), small (R's exact method), and a loss.
    rng = np.random.default_rng(n + (decimals or 0))
    a = rng.random(n)
    b = np.clip(a + rng.normal(0.03, 0.2, n), 0, 1)
    if decimals is not None:
        a, b = a.round(decimals), b.round(decimals)
    y = (rng.random(n) < 0.5).astype(float)
    table = ShadowTable(_engine(_long(a, b, y), engine))
    if values == "brier":
        a, b = (a - y) ** 2, (b - y) ** 2
    result = table.wilcoxon_test("a", "b", values=values)
    _assert_same(result, wilcoxon_test(a, b))
    assert result.method == ("exact" if n < 50 else "approx")


def test_wilcoxon_all_zero_differences_are_degenerate_as_in_memory() -> None:
    table = ShadowTable(_long([0.1, 0.2, 0.3], [0.1, 0.2, 0.3]))
    with pytest.warns(DegenerateDataWarning):
        result = table.wilcoxon_test("a", "b")
    with pytest.warns(DegenerateDataWarning):
        _assert_same(result, wilcoxon_test([0.1, 0.2, 0.3], [0.1, 0.2, 0.3]))


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("case", reference_cases("shadow", area="quantile_definition"))
def test_latency_quantile_reference_case_in_the_engine(case: dict[str, Any], engine: str) -> None:
    inputs = case["inputs"]
    data = pd.read_csv(REFERENCE_DIR / inputs["data"])
    a, b = data[inputs["columns"][0]], data[inputs["columns"][1]]
    table = ShadowTable(_engine(_long(a, b, column="latency").assign(score=0.5), engine))
    for model, column, key in (("a", a, "champion"), ("b", b, "challenger")):
        result = table.latency_quantiles(model, quantiles=inputs["probs"])
        _assert_same(result, latency_quantiles(column, quantiles=inputs["probs"]))
        # R's quantile(type = 6), the case's source
        np.testing.assert_allclose([r.estimate for r in result.rows], case["expected"][key],
                                   rtol=case["tolerance"]["rel"])
        for method in ("linear", "hazen", "median_unbiased", "normal_unbiased"):
            _assert_same(table.latency_quantiles(model, quantiles=(0.001, 0.3, 0.999), method=method,
                                                 confidence_level=0.9),
                         latency_quantiles(column, quantiles=(0.001, 0.3, 0.999), method=method,
                                           confidence_level=0.9))


def test_engine_rank_paths_refuse_bad_input() -> None:
    table = ShadowTable(_long([1.0, 2.0], [1.5, 2.5], column="latency").assign(score=0.5))
    with pytest.raises(ValueError, match="`method` must be one of 'weibull', 'linear'"):
        table.latency_quantiles("a", method="lower")
    with pytest.raises(ValueError, match="`quantiles` must be in"):
        table.latency_quantiles("a", quantiles=[1.5])
    with pytest.raises(ValueError, match=r"`model` must be one of the log's models \['a', 'b'\]; got 'c'."):
        table.latency_quantiles("c")
    negative = ShadowTable(_long([1.0, -2.0], [1.5, 2.5], column="latency").assign(score=0.5))
    with pytest.raises(ValueError, match=r"`latency` must be at least 0 \(a duration\); got -2.0."):
        negative.latency_quantiles("a")
    with pytest.raises(ValueError, match="The log has no latency column"):
        ShadowTable(_long([0.1], [0.2])).latency_quantiles("a")
    with pytest.raises(TypeError, match=r"`correction` must be True or False; got 1\."):
        table.wilcoxon_test("a", "b", correction=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="`method` must be one of"):
        table.wilcoxon_test("a", "b", method="exactly")
    with pytest.raises(ValueError, match="`alternative` must be"):
        table.wilcoxon_test("a", "b", alternative="bigger")
