"""Every case of abkit/tests/reference/sequential.json, mapped to abkit's sequential API.

Sources (named in each case): R rpact 3.3.4 and Jennison & Turnbull's tables for boundaries;
Johari et al.'s closed forms and mixtureSPRT for the mSPRT; confseq 0.0.11 for uniform
boundaries; gbstats 0.8.0 for GrowthBook's sequential intervals; savvi 0.3.1 for the sequential
SRM; Wald's formulas and an exact dynamic programme for the SPRT; Armitage, McPherson and Rowe
for the type-I error of naive peeking. Tolerances are the ones written in each case.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from abkit import MeanStats, ProportionStats
from abkit.sequential import (
    SPRT,
    GroupSequentialDesign,
    bernoulli_confidence_sequence,
    beta_binomial_log_mixture,
    beta_binomial_mixture_bound,
    confidence_sequence,
    gamma_poisson_log_mixture,
    gamma_poisson_mixture_bound,
    msprt,
    msprt_tau2,
    normal_log_mixture,
    normal_mixture_bound,
    normal_mixture_rho,
    peeking_type1_error,
    poly_stitching_bound,
    sequential_srm_test,
    wang_tsiatis,
)
from abkit.sequential.always_valid import asymptotic_cs, msprt_log_likelihood_ratio
from abkit.tests.conftest import load_reference, reference_cases

ALL_KINDS = {c["function_kind"] for c in load_reference("sequential")}


def _design(inputs: dict) -> GroupSequentialDesign | object:
    alternative = "two-sided" if inputs["sided"] == 2 else "greater"
    kind = inputs["design"]
    if kind in ("OF", "P"):
        return wang_tsiatis(
            inputs["K"], alpha=inputs["alpha"], delta=0.0 if kind == "OF" else 0.5, alternative=alternative
        )
    spending = {"asOF": "obrien-fleming", "asP": "pocock"}[kind]
    return GroupSequentialDesign(
        inputs["information_fractions"], alpha=inputs["alpha"], alternative=alternative, spending=spending
    )


GSD_KINDS = (
    "gsd_boundaries_obrien_fleming",
    "gsd_boundaries_pocock",
    "gsd_boundaries_spending_ldobf",
    "gsd_boundaries_spending_ldpocock",
)


@pytest.mark.parametrize(
    "case", [p for kind in GSD_KINDS for p in reference_cases("sequential", function_kind=kind)]
)
def test_group_sequential_boundaries(case: dict) -> None:
    design = _design(case["inputs"])
    expected, tol = case["expected"], case["tolerance"]
    np.testing.assert_allclose(
        design.bounds, expected["critical_values_z"], atol=tol["critical_values_abs"], rtol=0
    )
    np.testing.assert_allclose(
        design.alpha_spent, expected["cumulative_alpha_spent"], atol=tol["alpha_spent_abs"], rtol=0
    )
    assert design.inflation_factor(0.8) == pytest.approx(
        expected["inflation_factor_power80"], abs=tol["inflation_factor_abs"]
    )
    assert design.inflation_factor(0.9) == pytest.approx(
        expected["inflation_factor_power90"], abs=tol["inflation_factor_abs"]
    )
    published = expected.get("published_jennison_turnbull_3dp")
    if published is not None:  # Jennison & Turnbull's tables, 3 dp
        assert design.constant == pytest.approx(published["constant"], abs=5e-4)
        assert design.inflation_factor(0.8) == pytest.approx(published["inflation_factor_power80"], abs=5e-4)


@pytest.mark.parametrize("case", reference_cases("sequential", function_kind="gsd_sample_size_means"))
def test_group_sequential_sample_size(case: dict) -> None:
    inputs, expected = case["inputs"], case["expected"]
    design = GroupSequentialDesign(
        inputs["information_fractions"], alpha=inputs["alpha_one_sided"], alternative="greater"
    )
    # fixed-horizon z-test sample size, both arms: 4 (z_a + z_b)^2 sd^2 / delta^2
    from scipy import stats

    z = stats.norm.ppf(1 - inputs["alpha_one_sided"]) + stats.norm.ppf(inputs["power"])
    n_fixed = 4 * z**2 * inputs["sd"] ** 2 / inputs["delta"] ** 2
    assert n_fixed == pytest.approx(expected["fixed_n_total"], rel=1e-9)
    result = design.sample_size(n_fixed, power=inputs["power"])
    rel = case["tolerance"]["rel"]
    assert result.n_max == pytest.approx(expected["max_n_total"], rel=rel)
    assert result.inflation_factor == pytest.approx(expected["inflation_factor"], rel=rel)
    assert result.expected_n_h0 == pytest.approx(expected["expected_n_H0"], rel=rel)
    assert result.expected_n_h1 == pytest.approx(expected["expected_n_H1"], rel=rel)


@pytest.mark.parametrize("case", reference_cases("sequential", function_kind="msprt_normal_two_sample"))
def test_msprt_normal(case: dict) -> None:
    inputs, expected = case["inputs"], case["expected"]
    n, s2 = inputs["n_per_arm"], inputs["sigma2_per_observation_each_arm"]
    control = MeanStats(n, 0.0, s2)
    treatment = MeanStats(n, inputs["mean_diff_treatment_minus_control"], s2)
    r = msprt(
        control,
        treatment,
        tau2=inputs["tau2_mixing_variance"],
        sigma2=s2,
        theta0=inputs["theta0"],
        alpha=inputs["alpha"],
    )
    rel = case["tolerance"]["rel"]
    assert r.log_likelihood_ratio == pytest.approx(expected["log_lambda"], rel=rel)
    assert math.exp(r.log_likelihood_ratio) == pytest.approx(expected["lambda_"], rel=rel)
    assert r.pvalue == pytest.approx(expected["always_valid_p_single_look"], rel=rel)
    assert r.reject is expected["reject_at_alpha"]
    assert r.ci.low == pytest.approx(expected["ci"][0], rel=rel)
    assert r.ci.high == pytest.approx(expected["ci"][1], rel=rel)
    assert r.ci.width / 2 == pytest.approx(expected["ci_halfwidth"], rel=rel)


@pytest.mark.parametrize("case", reference_cases("sequential", function_kind="msprt_bernoulli_two_sample"))
def test_msprt_bernoulli(case: dict) -> None:
    inputs, expected = case["inputs"], case["expected"]
    n = inputs["n_per_arm"]
    # mixtureSPRT's x and y streams; the statistic depends on the squared difference only
    r = msprt(
        ProportionStats(inputs["successes_y"], n),
        ProportionStats(inputs["successes_x"], n),
        tau2=inputs["tau2"],
    )
    rel = case["tolerance"]["rel"]
    v_n = r.se**2 * n
    assert v_n == pytest.approx(expected["V_n"], rel=rel)
    assert r.log_likelihood_ratio == pytest.approx(expected["log_lambda"], rel=rel)
    assert r.pvalue == pytest.approx(expected["always_valid_p_single_look"], rel=rel)


@pytest.mark.parametrize("case", reference_cases("sequential", function_kind="msprt_optimal_tau2"))
def test_msprt_tau2(case: dict) -> None:
    inputs = case["inputs"]
    tau2 = msprt_tau2(alpha=inputs["alpha"], sigma2=inputs["sigma"] ** 2, n_max=inputs["truncation_M"])
    assert tau2 == pytest.approx(case["expected"]["tau2"], rel=case["tolerance"]["rel"])


def _tol(case: dict) -> dict:
    tol = case["tolerance"]
    return {"abs": tol["abs"]} if "abs" in tol else {"rel": tol["rel"]}


@pytest.mark.parametrize("case", reference_cases("sequential", function_kind="confseq_normal_mixture_bound"))
def test_normal_mixture_bound(case: dict) -> None:
    i, e = case["inputs"], case["expected"]
    args = (i["v"], i["alpha"], i["v_opt"])
    if "bound" in e:
        value = normal_mixture_bound(*args, alpha_opt=i["alpha_opt"], one_sided=i["is_one_sided"])
        assert value == pytest.approx(e["bound"], **_tol(case))
        assert value == pytest.approx(e["installed_confseq_value"], rel=1e-8)
    else:
        assert normal_mixture_bound(*args, alpha_opt=i["alpha_opt"]) == pytest.approx(
            e["two_sided_bound"], **_tol(case)
        )
        assert normal_mixture_bound(*args, alpha_opt=i["alpha_opt"], one_sided=True) == pytest.approx(
            e["one_sided_bound"], **_tol(case)
        )
        assert normal_mixture_rho(i["v_opt"], i["alpha_opt"]) == pytest.approx(
            e["rho_two_sided"], **_tol(case)
        )


@pytest.mark.parametrize("case", reference_cases("sequential", function_kind="confseq_normal_log_mixture"))
def test_normal_log_mixture(case: dict) -> None:
    i = case["inputs"]
    value = normal_log_mixture(
        i["s"], i["v"], i["v_opt"], alpha_opt=i["alpha_opt"], one_sided=i["is_one_sided"]
    )
    assert value == pytest.approx(case["expected"]["log_mixture"], **_tol(case))


@pytest.mark.parametrize(
    "case", reference_cases("sequential", function_kind="confseq_gamma_poisson_log_mixture")
)
def test_gamma_poisson_log_mixture(case: dict) -> None:
    i = case["inputs"]
    value = gamma_poisson_log_mixture(i["s"], i["v"], i["v_opt"], i["c"], alpha_opt=i["alpha_opt"])
    assert value == pytest.approx(case["expected"]["log_mixture"], **_tol(case))


@pytest.mark.parametrize(
    "case", reference_cases("sequential", function_kind="confseq_gamma_poisson_mixture_bound")
)
def test_gamma_poisson_bound(case: dict) -> None:
    i = case["inputs"]
    value = gamma_poisson_mixture_bound(i["v"], i["alpha"], i["v_opt"], i["c"], alpha_opt=i["alpha_opt"])
    assert value == pytest.approx(case["expected"]["bound"], **_tol(case))


@pytest.mark.parametrize(
    "case", reference_cases("sequential", function_kind="confseq_beta_binomial_log_mixture")
)
def test_beta_binomial_log_mixture(case: dict) -> None:
    i = case["inputs"]
    value = beta_binomial_log_mixture(
        i["s"], i["v"], i["v_opt"], i["g"], i["h"], alpha_opt=i["alpha_opt"], one_sided=i["is_one_sided"]
    )
    assert value == pytest.approx(case["expected"]["log_mixture"], **_tol(case))


@pytest.mark.parametrize(
    "case", reference_cases("sequential", function_kind="confseq_beta_binomial_mixture_bound")
)
def test_beta_binomial_bound(case: dict) -> None:
    i = case["inputs"]
    value = beta_binomial_mixture_bound(
        i["v"], i["alpha"], i["v_opt"], i["g"], i["h"], alpha_opt=i["alpha_opt"], one_sided=i["is_one_sided"]
    )
    assert value == pytest.approx(case["expected"]["bound"], **_tol(case))


@pytest.mark.parametrize("case", reference_cases("sequential", function_kind="confseq_poly_stitching_bound"))
def test_poly_stitching_bound(case: dict) -> None:
    i = case["inputs"]
    value = poly_stitching_bound(i["v"], i["alpha"], i["v_min"], c=i["c"], s=i["s"], eta=i["eta"])
    assert value == pytest.approx(case["expected"]["bound"], **_tol(case))


@pytest.mark.parametrize(
    "case", reference_cases("sequential", function_kind="confseq_bernoulli_confidence_interval")
)
def test_bernoulli_confidence_sequence(case: dict) -> None:
    i = case["inputs"]
    ci = bernoulli_confidence_sequence(
        i["num_successes"], i["num_trials"], alpha=i["alpha"], t_opt=i["t_opt"], alpha_opt=i["alpha_opt"]
    )
    assert ci.low == pytest.approx(case["expected"]["lower"], **_tol(case))
    assert ci.high == pytest.approx(case["expected"]["upper"], **_tol(case))


@pytest.mark.parametrize("case", reference_cases("sequential", function_kind="growthbook_sequential_ttest"))
def test_growthbook_sequential_interval(case: dict) -> None:
    i, e = case["inputs"], case["expected"]
    assert i["kind"] == "proportion"
    r = confidence_sequence(
        ProportionStats(i["sum_a"], i["n_a"]),
        ProportionStats(i["sum_b"], i["n_b"]),
        alpha=i["alpha"],
        tuning_n=i["sequential_tuning_parameter"],
        difference=i["difference_type"],
    )
    rel = case["tolerance"]["rel"]
    assert r.effect == pytest.approx(e["point_estimate"], rel=rel)
    assert r.ci.low == pytest.approx(e["ci"][0], rel=rel)
    assert r.ci.high == pytest.approx(e["ci"][1], rel=rel)
    assert r.pvalue == pytest.approx(e["p_value"], rel=rel)
    assert r.se == pytest.approx(e["se"], rel=rel)
    assert r.rho == pytest.approx(e["rho"], rel=rel)


@pytest.mark.parametrize(
    "case", reference_cases("sequential", function_kind="srm_dirichlet_multinomial_sequential_test")
)
def test_sequential_srm(case: dict) -> None:
    i, e = case["inputs"], case["expected"]
    r = sequential_srm_test(
        i["counts"], i["theta0"], concentration=i["dirichlet_concentration_k"], alpha=i["alpha"]
    )
    rel = case["tolerance"]["rel"]
    assert r.log_bayes_factor == pytest.approx(e["log_bayes_factor"], rel=rel)
    assert math.exp(r.log_bayes_factor) == pytest.approx(e["bayes_factor"], rel=rel)
    assert r.pvalue == pytest.approx(e["anytime_p_value"], rel=rel)


@pytest.mark.parametrize("case", reference_cases("sequential", function_kind="sprt_bernoulli_boundaries"))
def test_sprt_boundaries(case: dict) -> None:
    i, e = case["inputs"], case["expected"]
    t = SPRT(i["p0"], i["p1"], alpha=i["alpha"], beta=i["beta"])
    rel = case["tolerance"]["rel"]
    assert math.exp(t.log_a) == pytest.approx(e["A"], rel=rel)
    assert math.exp(t.log_b) == pytest.approx(e["B"], rel=rel)
    assert t.log_a == pytest.approx(e["log_A"], rel=rel)
    assert t.log_b == pytest.approx(e["log_B"], rel=rel)
    assert t.accept_intercept == pytest.approx(e["h1_accept_intercept"], rel=rel)
    assert t.reject_intercept == pytest.approx(e["h2_reject_intercept"], rel=rel)
    assert t.slope == pytest.approx(e["slope"], rel=rel)
    assert t.expected_sample_size(i["p0"]) == pytest.approx(e["asn_under_p0_wald"], rel=rel)
    assert t.expected_sample_size(i["p1"]) == pytest.approx(e["asn_under_p1_wald"], rel=rel)


@pytest.mark.parametrize("case", reference_cases("sequential", function_kind="sprt_bernoulli_llr"))
def test_sprt_llr_and_decision(case: dict) -> None:
    i, e = case["inputs"], case["expected"]
    t = SPRT(i["p0"], i["p1"], alpha=i["alpha"], beta=i["beta"])
    atol = case["tolerance"]["abs"]
    assert t.llr(i["successes"], i["n"]) == pytest.approx(e["llr"], abs=atol)
    assert t.log_a == pytest.approx(e["log_A"], abs=atol)
    assert t.log_b == pytest.approx(e["log_B"], abs=atol)
    words = {"reject_H0": "reject", "accept_H0": "accept", "continue": "continue"}
    assert t.decision(i["successes"], i["n"]) == words[e["decision"]]


@pytest.mark.parametrize(
    "case", reference_cases("sequential", function_kind="sprt_bernoulli_exact_operating_characteristics")
)
def test_sprt_exact_operating_characteristics(case: dict) -> None:
    i, e = case["inputs"], case["expected"]
    t = SPRT(i["p0"], i["p1"], alpha=i["alpha"], beta=i["beta"])
    atol = case["tolerance"]["abs"]
    for p, tag in ((i["p0"], "p0"), (i["p1"], "p1")):
        oc = t.exact_operating_characteristics(p, n_max=i["truncation_nmax"])
        assert oc.prob_reject == pytest.approx(e[f"P_reject_H0_under_{tag}"], abs=atol)
        assert oc.prob_accept == pytest.approx(e[f"P_accept_H0_under_{tag}"], abs=atol)
        assert oc.prob_undecided == pytest.approx(e[f"P_undecided_under_{tag}"], abs=atol)
        assert oc.expected_n == pytest.approx(e[f"expected_n_under_{tag}"], abs=atol)


@pytest.mark.parametrize(
    "case", reference_cases("sequential", function_kind="repeated_significance_test_type1_exact")
)
def test_naive_peeking_type1_exact(case: dict) -> None:
    k = case["inputs"]["looks_K"]
    value = peeking_type1_error(k, alpha=0.05)
    assert value == pytest.approx(case["expected"]["type1_error"], abs=case["tolerance"]["abs"])
    assert value == pytest.approx(case["expected"]["published_armitage_mcpherson_rowe_1969"], abs=5e-4)


@pytest.mark.parametrize("case", reference_cases("sequential", function_kind="peeking_simulation_type1"))
def test_peeking_simulation_bernoulli(case: dict) -> None:
    """Re-run the reference's seeded simulation with abkit's mSPRT and confidence-sequence kernels."""
    i, e, tol = case["inputs"], case["expected"], case["tolerance"]
    rng = np.random.default_rng(20240502)
    naive_any = naive_final = msprt_any = gb_any = 0
    reps = 0
    batch, looks, chunks, chunk_size, p = 100, i["looks"], 10, 10_000, 0.1
    rho = confidence_sequence(ProportionStats(1, 10), ProportionStats(1, 10), tuning_n=5000).rho
    n = batch * np.arange(1, looks + 1)
    for _ in range(chunks):
        sa = np.cumsum(rng.binomial(batch, p, size=(chunk_size, looks)), axis=1)
        sb = np.cumsum(rng.binomial(batch, p, size=(chunk_size, looks)), axis=1)
        pa, pb = sa / n, sb / n
        pooled = (sa + sb) / (2 * n)
        se_pooled = np.sqrt(pooled * (1 - pooled) * 2 / n)
        z = np.divide(pb - pa, se_pooled, out=np.zeros_like(pa), where=se_pooled > 0)
        naive_any += int(np.any(np.abs(z) > 1.959964, axis=1).sum())
        naive_final += int((np.abs(z[:, -1]) > 1.959964).sum())
        var = (pa * (1 - pa) + pb * (1 - pb)) / n
        with np.errstate(divide="ignore", invalid="ignore"):
            log_lr = msprt_log_likelihood_ratio(pb - pa, var, 1e-4, 0.0)
            _, gb_p = asymptotic_cs(pb - pa, var, 2 * n, rho, 0.05)
        msprt_any += int(np.any(np.nan_to_num(log_lr, nan=-np.inf) >= math.log(20), axis=1).sum())
        gb_any += int(np.any(np.nan_to_num(gb_p, nan=1.0) <= 0.05, axis=1).sum())
        reps += chunk_size
    assert naive_any / reps == pytest.approx(e["naive_any_look"], abs=tol["abs_naive_any_look"])
    assert naive_final / reps == pytest.approx(e["naive_final_look_only"], abs=tol["abs_naive_final"])
    assert msprt_any / reps == pytest.approx(e["msprt_any_look"], abs=tol["abs_msprt"])
    assert gb_any / reps == pytest.approx(e["growthbook_sequential_any_look"], abs=tol["abs_growthbook"])
    assert msprt_any / reps <= 0.05
    assert gb_any / reps <= 0.05


def test_every_function_kind_is_covered() -> None:
    covered = {
        *GSD_KINDS,
        "gsd_sample_size_means",
        "msprt_normal_two_sample",
        "msprt_bernoulli_two_sample",
        "msprt_optimal_tau2",
        "confseq_normal_mixture_bound",
        "confseq_normal_log_mixture",
        "confseq_gamma_poisson_log_mixture",
        "confseq_gamma_poisson_mixture_bound",
        "confseq_beta_binomial_log_mixture",
        "confseq_beta_binomial_mixture_bound",
        "confseq_poly_stitching_bound",
        "confseq_bernoulli_confidence_interval",
        "growthbook_sequential_ttest",
        "srm_dirichlet_multinomial_sequential_test",
        "sprt_bernoulli_boundaries",
        "sprt_bernoulli_llr",
        "sprt_bernoulli_exact_operating_characteristics",
        "repeated_significance_test_type1_exact",
        "peeking_simulation_type1",
    }
    assert covered == ALL_KINDS
