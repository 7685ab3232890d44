"""analyze(..., engine="bayes"): every metric's posterior, equal to abkit.bayes and to references."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import abkit
from abkit import Experiment, Mean, Proportion, ProportionStats, Quantile, RatioOfMeans
from abkit.frame.result import BayesMetricResult
from abkit.tests.conftest import load_reference
from abkit.tests.frame.test_experiment import engines, three_arm_data

METRICS = {"conversion": Proportion("converted"), "revenue": Mean("revenue"),
           "cuped": Mean("revenue", "revenue_pre"), "ctr": RatioOfMeans("clicks", "sessions")}


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return three_arm_data(3000, seed=31)


def arms(data: pd.DataFrame, treatment: str, *columns: str) -> tuple[tuple[np.ndarray, ...], ...]:
    return tuple(tuple(data.loc[data["variant"] == v, c].to_numpy() for c in columns)
                 for v in ("a", treatment))


def test_rows_equal_the_bayes_primitives_and_the_z_tests(data: pd.DataFrame) -> None:
    result = Experiment(**METRICS).analyze(data, control="a", engine="bayes", confidence_level=0.9)
    assert result.engine == "bayes" and all(isinstance(r, BayesMetricResult) for r in result.rows)
    for t in ("b", "c"):
        (c,), (x,) = arms(data, t, "converted")
        conv = abkit.bayes_proportions(ProportionStats(int(c.sum()), c.size),
                                       ProportionStats(int(x.sum()), x.size), confidence_level=0.9)
        (c,), (x,) = arms(data, t, "revenue")
        rev = abkit.bayes_means(c, x, confidence_level=0.9)
        for name, ref in (("conversion", conv), ("revenue", rev)):
            row = result.row(name, t)
            # engine aggregates vs numpy: 1e-9 relative
            assert row.chance_to_win == pytest.approx(ref.chance_to_win, rel=1e-9)
            assert row.treatment_expected_loss == pytest.approx(ref.treatment_expected_loss, rel=1e-9)
            assert tuple(row.ci) == pytest.approx(tuple(ref.ci), rel=1e-9)
            assert tuple(row.relative_ci) == pytest.approx(tuple(ref.relative_ci), rel=1e-8)
        # CUPED and ratios: the flat-prior normal posterior's credible interval is the z
        # interval of cuped_test / ratio_test, and the chance to win is 1 - p("greater").
        control, treatment = arms(data, t, "revenue", "revenue_pre")
        cuped = abkit.cuped_test(control, treatment, method="z", confidence_level=0.9)
        cuped_greater = abkit.cuped_test(control, treatment, method="z", alternative="greater")
        control, treatment = arms(data, t, "clicks", "sessions")
        ratio = abkit.ratio_test(control, treatment, method="z", confidence_level=0.9)
        ratio_greater = abkit.ratio_test(control, treatment, method="z", alternative="greater")
        for name, ref, greater in (("cuped", cuped, cuped_greater), ("ctr", ratio, ratio_greater)):
            row = result.row(name, t)
            assert row.effect == pytest.approx(ref.effect, rel=1e-9)
            assert tuple(row.ci) == pytest.approx(tuple(ref.ci), rel=1e-9)
            assert row.chance_to_win == pytest.approx(1.0 - greater.pvalue, rel=1e-9)
            assert row.test == "bayes_means"


def test_chance_to_win_matches_the_closed_form_reference() -> None:
    # ab_fixed.json: R's exact closed form (Evan Miller) of P(B > A) for Beta(101, 901) vs
    # Beta(121, 881): 100 and 120 conversions out of 1,000 under the uniform prior.
    case = next(c for c in load_reference("ab_fixed") if c["id"] == "bandit_beta_pbeat_101_121")
    table = pd.DataFrame({"variant": ["A"] * 1000 + ["B"] * 1000,
                          "converted": [1] * 100 + [0] * 900 + [1] * 120 + [0] * 880})
    row = Experiment(c=Proportion("converted")).analyze(table, engine="bayes").rows[0]
    assert row.chance_to_win == pytest.approx(case["expected"]["prob_B_greater_A"],
                                              abs=case["tolerance"]["abs"])


def test_engines_agree_and_print(data: pd.DataFrame) -> None:
    experiment = Experiment(**METRICS)
    expected = experiment.analyze(data, control="a", engine="bayes").to_frame()
    actual = experiment.analyze(engines(data)["duckdb"], control="a", engine="bayes").to_frame()
    for column in ("chance_to_win", "control_expected_loss", "ci_low", "rel_ci_high"):
        np.testing.assert_allclose(actual[column], expected[column], rtol=1e-8, err_msg=column)
    text = repr(experiment.analyze(data, control="a", engine="bayes"))
    assert "chance to win" in text and "95% CrI" in text


def test_capped_means_and_priors(data: pd.DataFrame) -> None:
    result = Experiment(r=Mean("revenue", cap=("absolute", 40.0)), c=Proportion("converted")).analyze(
        data, control="a", engine="bayes", prior=(2.0, 5.0))
    (c,), (x,) = arms(data, "b", "revenue")
    ref = abkit.bayes_means(np.minimum(c, 40.0), np.minimum(x, 40.0))
    row = result.row("r", "b")
    assert row.cap_threshold == 40.0
    assert row.chance_to_win == pytest.approx(ref.chance_to_win, rel=1e-9)
    assert result.row("c", "b").details.control_alpha == 2.0 + data.loc[data.variant == "a", "converted"].sum()


def test_bad_engine_and_quantiles(data: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="`engine` must be one of"):
        Experiment(r=Mean("revenue")).analyze(data, engine="bayesian")
    with pytest.raises(ValueError, match="`engine` 'bayes' needs Proportion, Mean or RatioOfMeans "
                                         "metrics; got Quantile metric 'q'"):
        Experiment(q=Quantile("revenue", 0.5)).analyze(data, engine="bayes")
    assert not math.isnan(Experiment(r=Mean("revenue")).analyze(data, engine="bayes").rows[0].effect)
