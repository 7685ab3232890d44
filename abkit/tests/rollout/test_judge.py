"""The canary judge: its tests against independent computations, bad input, properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from abkit import MeanStats, ProportionStats, adjust_pvalues, means_test, proportions_test
from abkit._bootstrap import percentile_interval
from abkit.rollout import CanaryJudge, MetricCheck


def _judge(*checks: MetricCheck, looks: int = 1, alpha: float = 0.05) -> CanaryJudge:
    """A fixed-sample judge (spending mode): the always-valid mode is tested in test_validity.py."""
    return CanaryJudge(list(checks), alpha=alpha, planned_looks=looks, validity="spending")


def test_error_rate_uses_proportions_test() -> None:
    base, canary = ProportionStats(100, 10_000), ProportionStats(135, 10_000)
    verdict = _judge(CanaryJudge.error_rate("e", margin=0.01)).judge({"e": base}, {"e": canary})
    m = verdict.metric["e"]
    assert m.pvalue_harm == proportions_test(base, canary, alternative="greater").pvalue
    assert m.pvalue_noninferiority == proportions_test(base, canary, alternative="less", margin=0.01).pvalue
    assert m.effect == pytest.approx(0.0035, abs=1e-15)
    assert verdict.decision == "rollback"  # p = 0.0086 < 0.05: the canary is worse


def test_mean_check_against_means_test_and_delta_method() -> None:
    rng = np.random.default_rng(4)
    base, canary = rng.gamma(4.0, 25.0, 500), rng.gamma(4.0, 25.0, 500)
    m = _judge(CanaryJudge.mean("m", margin=0.05)).judge({"m": base}, {"m": canary}).metric["m"]
    assert m.pvalue_harm == means_test(base, canary, alternative="greater").pvalue
    # Delta method on log(mean ratio), written out independently.
    lr = math.log(canary.mean() / base.mean())
    se = math.sqrt(base.var(ddof=1) / (500 * base.mean() ** 2)
                   + canary.var(ddof=1) / (500 * canary.mean() ** 2))
    assert m.pvalue_noninferiority == pytest.approx(stats.norm.cdf((lr - math.log(1.05)) / se), rel=1e-12)


def test_rank_check_probability_matches_scipy() -> None:
    rng = np.random.default_rng(5)
    base, canary = rng.normal(0, 1, 300).round(1), rng.normal(0.1, 1, 250).round(1)
    m = _judge(CanaryJudge.rank("r", margin=0.1)).judge({"r": base}, {"r": canary}).metric["r"]
    u = stats.mannwhitneyu(canary, base).statistic
    assert m.effect == pytest.approx(u / (300 * 250) - 0.5, abs=1e-12)
    # DeLong's variance and the null (tie-corrected) variance of U are close near the null:
    # the z statistics agree within 5%.
    z_scipy = stats.norm.isf(stats.mannwhitneyu(canary, base, alternative="greater").pvalue)
    assert stats.norm.isf(m.pvalue_harm) == pytest.approx(z_scipy, rel=0.05)


def test_latency_interval_agrees_with_bootstrap() -> None:
    rng = np.random.default_rng(6)
    base, canary = rng.lognormal(4.6, 0.5, 5000), rng.lognormal(4.65, 0.5, 5000)
    judge = _judge(CanaryJudge.latency("l", quantile=0.99), alpha=0.1)
    m = judge.judge({"l": base}, {"l": canary}).metric["l"]
    # Percentile bootstrap of the p99 ratio, the reference for the order-statistic interval.
    boot = np.empty(2000)
    for i in range(boot.size):
        b = rng.choice(base, base.size)
        c = rng.choice(canary, canary.size)
        boot[i] = np.quantile(c, 0.99) / np.quantile(b, 0.99) - 1.0
    ref = percentile_interval(boot, 0.9, "two-sided")
    assert m.effect == pytest.approx(np.quantile(canary, 0.99) / np.quantile(base, 0.99) - 1, rel=1e-12)
    # Two different interval methods on 5000 draws: ends within 0.03 (about 15% of the width).
    assert m.ci.low == pytest.approx(ref.low, abs=0.03)
    assert m.ci.high == pytest.approx(ref.high, abs=0.03)


def test_holm_across_metrics_and_minimum_sample() -> None:
    rng = np.random.default_rng(7)
    judge = _judge(CanaryJudge.error_rate("e", margin=0.01), CanaryJudge.mean("m", margin=0.1),
                   CanaryJudge.latency("l", quantile=0.99))
    base = {"e": rng.random(800) < 0.02, "m": rng.gamma(4, 25, 800), "l": rng.lognormal(4.6, 0.5, 800)}
    canary = {"e": rng.random(800) < 0.03, "m": rng.gamma(4, 26, 800), "l": rng.lognormal(4.6, 0.5, 800)}
    verdict = judge.judge(base, canary)
    latency = verdict.metric["l"]
    assert latency.decision == "inconclusive" and "needs at least 1000 units" in latency.reason
    assert math.isnan(latency.pvalue_harm_adjusted)
    tested = [verdict.metric["e"], verdict.metric["m"]]
    expected = adjust_pvalues([m.pvalue_harm for m in tested], method="holm")
    assert [m.pvalue_harm_adjusted for m in tested] == expected.tolist()
    assert verdict.decision in ("inconclusive", "rollback")
    assert len(verdict.reasons) == 3


def test_alpha_spending() -> None:
    judge = CanaryJudge([CanaryJudge.error_rate("e")], alpha=0.05, planned_looks=4,
                        spending=[0.1, 0.2, 0.3, 0.4], validity="spending")
    assert [judge.look_alpha(k) for k in range(1, 5)] == pytest.approx([0.005, 0.01, 0.015, 0.02])
    verdict = judge.judge({"e": ProportionStats(10, 1000)}, {"e": ProportionStats(10, 1000)}, look=3)
    assert verdict.alpha_spent == pytest.approx(0.03)
    with pytest.raises(ValueError, match=r"`look` must be at most planned_looks \(4\); got 5"):
        judge.look_alpha(5)
    with pytest.raises(ValueError, match="`spending` must be positive and sum to 1"):
        CanaryJudge([CanaryJudge.error_rate("e")], planned_looks=2, spending=[0.5, 0.6], validity="spending")


def test_worse_lower_flips_the_direction() -> None:
    base, canary = ProportionStats(900, 1000), ProportionStats(850, 1000)  # success rate drops
    judge = _judge(CanaryJudge.error_rate("ok", margin=0.01, worse="lower"))
    assert judge.judge({"ok": base}, {"ok": canary}).decision == "rollback"
    assert judge.judge({"ok": canary}, {"ok": base}).decision == "pass"


def test_bad_input() -> None:
    with pytest.raises(ValueError, match=r"`margin` must be greater than 0; got -0\.01"):
        CanaryJudge.error_rate("e", margin=-0.01)
    with pytest.raises(ValueError, match=r"`margin` must be greater than 0; got 0\.0"):
        CanaryJudge.latency("l", margin=0.0)
    with pytest.raises(ValueError, match=r"`margin` must be in \(0, 1\) for an error rate"):
        CanaryJudge.error_rate("e", margin=5.0)
    with pytest.raises(ValueError, match="`quantile` must be in"):
        CanaryJudge.latency("l", quantile=99)
    with pytest.raises(ValueError, match="`checks` must have unique names"):
        CanaryJudge([CanaryJudge.error_rate("e"), CanaryJudge.mean("e")])
    with pytest.raises(TypeError, match="`checks` must be a non-empty list"):
        CanaryJudge([])
    judge = _judge(CanaryJudge.mean("m"))
    with pytest.raises(ValueError, match="`canary` must have data for metric 'm'"):
        judge.judge({"m": [1.0, 2.0]}, {"x": [1.0]})
    with pytest.raises(ValueError, match=r"`canary\['m'\]` must not contain NaN"):
        judge.judge({"m": [1.0, 2.0]}, {"m": [1.0, np.nan]})
    lenient = CanaryJudge([CanaryJudge.mean("m", min_samples=2)], planned_looks=1, nan_policy="omit")
    assert lenient.judge({"m": [1.0, 2.0, 3.0]}, {"m": [1.0, np.nan, 2.0, 3.0]}).metric["m"].n_canary == 3


def test_degenerate_data_is_inconclusive_not_a_crash() -> None:
    judge = _judge(CanaryJudge.error_rate("e", min_samples=2), CanaryJudge.latency("l", quantile=0.5,
                                                                                    min_samples=20))
    verdict = judge.judge({"e": ProportionStats(0, 500), "l": np.full(50, 3.0)},
                          {"e": ProportionStats(0, 500), "l": np.full(50, 3.0)})
    assert verdict.metric["e"].decision == "pass"  # no errors anywhere: well within one point
    assert verdict.metric["l"].decision == "inconclusive"
    negative = judge.judge({"e": ProportionStats(0, 500), "l": -np.ones(50)},
                           {"e": ProportionStats(0, 500), "l": np.ones(50)})
    assert "must be positive" in negative.metric["l"].reason


@given(seed=st.integers(0, 1000), kind=st.sampled_from(["latency", "mean", "rank"]))
def test_swapping_arms_flips_the_sign(seed: int, kind: str) -> None:
    rng = np.random.default_rng(seed)
    a, b = rng.lognormal(4.6, 0.5, 1200), rng.lognormal(4.62, 0.5, 1200)
    check = {"latency": CanaryJudge.latency("x", quantile=0.9), "mean": CanaryJudge.mean("x"),
             "rank": CanaryJudge.rank("x")}[kind]
    judge = _judge(check)
    ab, ba = judge.judge({"x": a}, {"x": b}).metric["x"], judge.judge({"x": b}, {"x": a}).metric["x"]
    if kind == "rank":
        assert ab.effect == pytest.approx(-ba.effect, abs=1e-12)
    else:  # relative effects: (1 + r)(1 + r') = 1
        assert (1 + ab.effect) * (1 + ba.effect) == pytest.approx(1.0, rel=1e-12)
    assert ab.pvalue_harm == pytest.approx(1 - ba.pvalue_harm, abs=1e-9 if kind != "mean" else 1e-6)


@given(margin=st.floats(0.01, 0.4), bigger=st.floats(0.001, 0.2))
def test_a_wider_margin_is_easier_to_pass(margin: float, bigger: float) -> None:
    rng = np.random.default_rng(11)
    a, b = rng.lognormal(4.6, 0.5, 2000), rng.lognormal(4.6, 0.5, 2000)
    p = [_judge(CanaryJudge.latency("x", quantile=0.95, margin=mg)).judge({"x": a}, {"x": b})
         .metric["x"].pvalue_noninferiority for mg in (margin, margin + bigger)]
    assert p[1] <= p[0]


def test_verdict_to_dict() -> None:
    verdict = _judge(CanaryJudge.mean("m", min_samples=2)).judge({"m": MeanStats(100, 10.0, 4.0)},
                                                                 {"m": MeanStats(100, 10.1, 4.0)})
    d = verdict.to_dict()
    assert d["decision"] == verdict.decision and d["metrics"][0]["name"] == "m"
