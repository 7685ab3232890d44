"""abkit.shadow against ../abkit/tests/reference/shadow.json (R pROC, stats, forecast; numpy).

Every case's inputs name the first model ``a`` (champion) and the second ``b`` (challenger) and
report ``a - b``; abkit orients everything ``challenger - champion``, so signs flip and
one-sided alternatives swap at the call sites below. Tolerances are the cases' own.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from abkit.shadow import (
    auc_ci,
    delong_test,
    diebold_mariano_test,
    latency_quantiles,
    mann_whitney_test,
    mcnemar_test,
    paired_t_test,
    wilcoxon_test,
)
from abkit.tests.conftest import REFERENCE_DIR, reference_cases

FLIP = {"two-sided": "two-sided", "greater": "less", "less": "greater", "two.sided": "two-sided"}


def _data(case: dict[str, Any]) -> pd.DataFrame:
    return pd.read_csv(REFERENCE_DIR / case["inputs"]["data"])


def _close(actual: float, expected: float, tol: dict[str, float], key: str = "rel") -> None:
    np.testing.assert_allclose(actual, expected, rtol=tol.get(key, 0.0), atol=tol.get("abs", 0.0))


@pytest.mark.parametrize("case", reference_cases("shadow", area="delong_paired_auc"))
def test_delong_matches_proc(case: dict[str, Any]) -> None:
    inputs, expected, tol = case["inputs"], case["expected"], case["tolerance"]
    data = _data(case)
    y = data[inputs["label_column"]] == inputs["positive_label"]
    alternative = FLIP[inputs.get("alternative", "two-sided").split(" ")[0]]
    r = delong_test(y, data[inputs["score_a"]], data[inputs["score_b"]], alternative=alternative,
                    confidence_level=inputs.get("conf_level", 0.95))
    _close(r.statistic, -expected["z"], tol)
    _close(r.pvalue, expected["p_value"], tol)
    if "auc_a" in expected:
        _close(r.champion_auc, expected["auc_a"], tol)
        _close(r.challenger_auc, expected["auc_b"], tol)
        _close(r.champion_variance, expected["var_auc_a"], tol)
        _close(r.challenger_variance, expected["var_auc_b"], tol)
        _close(r.covariance, expected["cov_ab"], tol)
        low, high = expected["ci_auc_diff_a_minus_b"]
        _close([r.ci.low, r.ci.high], [-high, -low], tol)
    if "p_value_less" in expected:  # H1: AUC_a < AUC_b, i.e. the challenger is better
        greater = delong_test(y, data[inputs["score_a"]], data[inputs["score_b"]], alternative="greater")
        _close(greater.pvalue, expected["p_value_less"], tol)
    if "ci_auc_a" in expected:
        _close(list(auc_ci(y, data[inputs["score_a"]]).ci), expected["ci_auc_a"], tol)
        _close(list(auc_ci(y, data[inputs["score_b"]]).ci), expected["ci_auc_b"], tol)
        assert (r.n_positive, r.n_negative) == (expected["n_pos"], expected["n_neg"])


@pytest.mark.parametrize("case", reference_cases("shadow", area="delong_auc_ci"))
def test_auc_ci_matches_proc(case: dict[str, Any]) -> None:
    inputs, expected, tol = case["inputs"], case["expected"], case["tolerance"]
    data = _data(case)
    r = auc_ci(data[inputs["label_column"]], data[inputs["score"]], confidence_level=inputs["conf_level"])
    _close([r.ci.low, r.auc, r.ci.high], [expected["ci_lower"], expected["auc"], expected["ci_upper"]], tol)


def test_auc_ci_is_clipped_to_unit_interval_as_proc() -> None:
    # Nearly separable scores: the raw normal interval passes 1, pROC's ci.auc clips it.
    y = [0, 0, 0, 1, 1, 1, 0, 1]
    r = auc_ci(y, [0.1, 0.2, 0.3, 0.8, 0.9, 0.7, 0.75, 0.6])
    assert r.ci.high == 1.0
    assert r.auc + 1.959963984540054 * np.sqrt(r.variance) > 1.0


def _mcnemar_arrays(table: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    # rows: model A (champion) correct/wrong; columns: model B (challenger) correct/wrong
    (both, only_a), (only_b, neither) = table
    champion = np.repeat([1, 1, 0, 0], [both, only_a, only_b, neither])
    challenger = np.repeat([1, 0, 1, 0], [both, only_a, only_b, neither])
    return champion, challenger


@pytest.mark.parametrize("case", reference_cases("shadow", area="mcnemar"))
def test_mcnemar_matches_r(case: dict[str, Any]) -> None:
    expected, rtol = case["expected"], case["tolerance"]["rel"]
    champion, challenger = _mcnemar_arrays(case["inputs"]["table_2x2"])
    pairs = {"chi2-corrected": ("chi2_continuity_corrected", "p_continuity_corrected"),
             "chi2": ("chi2_uncorrected", "p_uncorrected"),
             "exact": (None, "p_exact_binomial_two_sided"), "mid-p": (None, "p_mid_p")}
    for method, (chi2_key, p_key) in pairs.items():
        r = mcnemar_test(champion, challenger, method=method)
        assert (r.b, r.c) == (expected["b"], expected["c"])
        np.testing.assert_allclose(r.pvalue, expected[p_key], rtol=rtol)
        if chi2_key is not None:
            np.testing.assert_allclose(r.chi2, expected[chi2_key], rtol=rtol, atol=1e-12)
            np.testing.assert_allclose(r.statistic**2, expected[chi2_key], rtol=rtol, atol=1e-12)


def _paired(case: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    inputs = case["inputs"]
    if "data" in inputs and str(inputs["data"]).endswith(".csv"):
        data = _data(case)
        return data[inputs["a"]].to_numpy(), data[inputs["b"]].to_numpy()
    return np.asarray(inputs["a"]), np.asarray(inputs["b"])


@pytest.mark.parametrize("case", reference_cases("shadow", area="paired_t"))
def test_paired_t_matches_r(case: dict[str, Any]) -> None:
    expected, rtol = case["expected"], case["tolerance"]["rel"]
    a, b = _paired(case)
    r = paired_t_test(b, a)  # effect = a - b, as the case's t.test(a, b, paired = TRUE)
    np.testing.assert_allclose(r.statistic, expected["t"], rtol=rtol)
    np.testing.assert_allclose(r.pvalue, expected["p_value"], rtol=rtol)
    np.testing.assert_allclose(r.effect, expected["mean_diff_a_minus_b"], rtol=rtol)
    np.testing.assert_allclose(list(r.ci), expected["ci95_mean_diff"], rtol=rtol)
    assert r.df == expected["df"]


@pytest.mark.parametrize("case", reference_cases("shadow", area="wilcoxon_signed_rank"))
def test_wilcoxon_matches_r(case: dict[str, Any]) -> None:
    expected, tol = case["expected"], case["tolerance"]
    a, b = _paired(case)
    correction = "NO continuity" not in case["inputs"].get("variant", "")
    r = wilcoxon_test(b, a, correction=correction, method="approx")  # differences a - b, as the case
    assert r.rank_sum_positive == expected["V_positive_rank_sum"]
    np.testing.assert_allclose(r.pvalue, expected["p_value"], rtol=tol["rel"])
    if "hodges_lehmann_pseudomedian" in expected:
        # abkit follows R's own root finder, so it agrees far inside the case's abs_ci = 1e-4
        # (R's uniroot tolerance); 1e-9 checks that the same path is taken.
        np.testing.assert_allclose(r.effect, expected["hodges_lehmann_pseudomedian"], rtol=1e-9)
        np.testing.assert_allclose(list(r.ci), expected["ci95_pseudomedian"], rtol=1e-9)


def test_wilcoxon_v_relates_to_scipy_statistic() -> None:
    # R reports V = R+, scipy min(R+, R-); the p-values agree (correction=True, approx).
    from scipy import stats

    rng = np.random.default_rng(4)
    champion, challenger = rng.normal(size=40), rng.normal(0.3, 1.0, 40)
    r = wilcoxon_test(champion, challenger, method="approx")
    s = stats.wilcoxon(challenger - champion, correction=True, method="approx")
    total = r.n * (r.n + 1) / 2
    assert s.statistic == min(r.rank_sum_positive, total - r.rank_sum_positive)
    np.testing.assert_allclose(r.pvalue, s.pvalue, rtol=1e-10)


@pytest.mark.parametrize("case", reference_cases("shadow", area="latency_paired_shift"))
def test_latency_wilcoxon_matches_r(case: dict[str, Any]) -> None:
    inputs, expected, tol = case["inputs"], case["expected"], case["tolerance"]
    data = _data(case)
    # a - b = challenger - champion: abkit's own orientation, no flip
    r = wilcoxon_test(data[inputs["b"]], data[inputs["a"]], confidence_level=inputs["conf_level"],
                      method="approx")
    assert r.rank_sum_positive == expected["V"]
    np.testing.assert_allclose(r.pvalue, expected["p_value"], rtol=tol["rel"])
    np.testing.assert_allclose(r.effect, expected["pseudomedian_ms"], rtol=1e-9)  # same root path as R
    np.testing.assert_allclose(list(r.ci), expected["ci95_ms"], rtol=1e-9)


@pytest.mark.parametrize("case", reference_cases("shadow", area="diebold_mariano"))
def test_diebold_mariano_matches_forecast(case: dict[str, Any]) -> None:
    inputs, expected, rtol = case["inputs"], case["expected"], case["tolerance"]["rel"]
    data = _data(case)
    power = inputs["power"]
    loss_a = np.abs(data[inputs["e1"]].to_numpy()) ** power
    loss_b = np.abs(data[inputs["e2"]].to_numpy()) ** power
    r = diebold_mariano_test(loss_a, loss_b, horizon=inputs["h"],
                             variance=inputs.get("varestimator", "acf"),
                             alternative=FLIP[inputs["alternative"]])
    np.testing.assert_allclose(r.statistic, -expected["dm_statistic"], rtol=rtol)
    np.testing.assert_allclose(r.pvalue, expected["p_value"], rtol=rtol)
    assert r.df == len(data) - 1


@pytest.mark.parametrize("case", reference_cases("shadow", area="quantile_definition"))
def test_latency_quantiles_are_r_type_6(case: dict[str, Any]) -> None:
    inputs, expected, rtol = case["inputs"], case["expected"], case["tolerance"]["rel"]
    data = _data(case)
    for column, key in zip(inputs["columns"], ("champion", "challenger"), strict=True):
        rows = latency_quantiles(data[column], quantiles=inputs["probs"]).rows
        np.testing.assert_allclose([row.estimate for row in rows], expected[key], rtol=rtol)


@pytest.mark.parametrize("case", reference_cases("shadow", area="mann_whitney_hl_ci"))
def test_mann_whitney_shift_matches_r_and_kayenta(case: dict[str, Any]) -> None:
    inputs, expected, tol = case["inputs"], case["expected"], case["tolerance"]
    if "data" in inputs:
        data = _data(case)
        x, y = data[inputs["x"]], data[inputs["y"]]
    else:
        x, y = inputs["x_experiment"], inputs["y_control"]
    # shift x - y: x is the challenger (abkit's treatment); R's W is the treatment's U
    r = mann_whitney_test(y, x, confidence_level=inputs["conf_level"], ci_method="uniroot")
    rel, abs_ = tol.get("rel", 0.0), tol.get("abs", 0.0)
    np.testing.assert_allclose(r.statistic, expected["W"], rtol=rel, atol=abs_)
    np.testing.assert_allclose(r.pvalue, expected["p_value"], rtol=rel or 1e-9, atol=abs_)
    # ci_method="uniroot" follows R's own root finder, so the interval matches far inside the
    # tolerance; abkit's effect is the exact median of the pairwise differences, which R's
    # search reports to within its 1e-4 tolerance
    np.testing.assert_allclose(r.effect, expected["estimate"], rtol=0, atol=max(abs_, 1e-4))
    np.testing.assert_allclose(list(r.ci), expected["ci"], rtol=1e-9, atol=abs_)


def test_every_reference_area_is_checked() -> None:
    from abkit.tests.conftest import load_reference

    checked = {"delong_paired_auc", "delong_auc_ci", "mcnemar", "paired_t", "wilcoxon_signed_rank",
               "latency_paired_shift", "diebold_mariano", "quantile_definition", "mann_whitney_hl_ci"}
    assert {case["area"] for case in load_reference("shadow")} == checked
