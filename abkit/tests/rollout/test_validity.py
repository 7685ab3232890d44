"""The judge's always-valid mode: its tests against abkit.sequential and closed forms, and seeded
simulations over 50 looks, a number of looks nobody has to plan for."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from abkit import MeanStats, ProportionStats
from abkit.rollout import CanaryJudge, CanaryRollout, MetricCheck
from abkit.sequential import confidence_sequence

ALPHA = 0.05
LOOKS, STEP = 50, 400  # look k sees the first 400 k requests of each arm (up to 20,000)
N = LOOKS * STEP


def _av(*checks: MetricCheck, planned_looks: int | None = None, tuning_n: float = 10_000.0) -> CanaryJudge:
    return CanaryJudge(list(checks), alpha=ALPHA, planned_looks=planned_looks, tuning_n=tuning_n)


def _growthbook_pvalue(effect: float, var: float, total: int, tuning_n: float) -> float:
    """GrowthBook's always-valid p-value written out (Waudby-Smith et al. 2023, eq. 9)."""
    rho = math.sqrt((-2 * math.log(ALPHA) + math.log(1 - 2 * math.log(ALPHA))) / tuning_n)
    scale = total * rho**2 + 1
    return min(1.0, math.sqrt(scale) * math.exp(-(rho**2) * total * effect**2 / (2 * var * scale)))


# -- the tests of one look ----------------------------------------------------------------------

def test_error_rate_is_growthbooks_confidence_sequence() -> None:
    base, canary = ProportionStats(100, 10_000), ProportionStats(160, 10_000)
    judge = _av(CanaryJudge.error_rate("e", margin=0.01), tuning_n=5000)
    m = judge.judge({"e": base}, {"e": canary}).metric["e"]
    cs = confidence_sequence(base, canary, alpha=ALPHA, tuning_n=5000)
    assert m.effect == pytest.approx(0.006, abs=1e-15)
    assert m.pvalue_harm == cs.pvalue and (m.ci.low, m.ci.high) == (cs.ci.low, cs.ci.high)
    # Non-inferiority: the variance at the margin (canary rate 1% + 1 point), as written out here.
    var_at_margin = 0.01 * 0.99 / 10_000 + 0.02 * 0.98 / 10_000
    expected = _growthbook_pvalue(0.006 - 0.01, var_at_margin, 20_000, 5000)
    assert m.pvalue_noninferiority == pytest.approx(expected, rel=1e-12)
    assert m.decision == "rollback" and m.pvalue_harm < 0.01


def test_mean_is_the_relative_confidence_sequence() -> None:
    base, canary = MeanStats(4000, 100.0, 900.0), MeanStats(4000, 101.0, 900.0)
    m = _av(CanaryJudge.mean("m", margin=0.05)).judge({"m": base}, {"m": canary}).metric["m"]
    cs = confidence_sequence(base, canary, alpha=ALPHA, tuning_n=10_000, difference="relative")
    assert m.effect == pytest.approx(0.01, rel=1e-12)
    assert (m.ci.low, m.ci.high) == (cs.ci.low, cs.ci.high)
    assert m.pvalue_harm == cs.pvalue
    expected = _growthbook_pvalue(0.01 - 0.05, cs.se**2, 8000, 10_000)
    assert m.pvalue_noninferiority == pytest.approx(expected, rel=1e-12)
    assert m.decision == "pass"


def test_latency_uses_the_same_sequence_on_the_log_quantile_ratio() -> None:
    rng = np.random.default_rng(11)
    base, canary = rng.lognormal(4.6, 0.5, 5000), rng.lognormal(4.6, 0.5, 5000) * 1.1
    av = _av(CanaryJudge.latency("l", quantile=0.99)).judge({"l": base}, {"l": canary}).metric["l"]
    fixed = CanaryJudge([CanaryJudge.latency("l", quantile=0.99)], planned_looks=1, validity="spending",
                        alpha=ALPHA / 2).judge({"l": base}, {"l": canary}).metric["l"]
    assert av.effect == fixed.effect  # the same estimate in both modes
    # The fixed-sample interval at 1 - alpha has half-width z * se on the log scale: recover se.
    se = (math.log1p(fixed.ci.high) - math.log1p(fixed.ci.low)) / (2 * stats.norm.ppf(1 - ALPHA / 2))
    log_ratio = math.log1p(av.effect)
    assert av.pvalue_harm == pytest.approx(_growthbook_pvalue(log_ratio, se**2, 10_000, 10_000), rel=1e-9)
    # The always-valid interval is wider than the fixed-sample one at the same level.
    assert av.ci.low < fixed.ci.low and av.ci.high > fixed.ci.high


def test_rho_is_growthbooks() -> None:
    judge = _av(CanaryJudge.error_rate("e"), tuning_n=7000)
    cs = confidence_sequence(ProportionStats(10, 100), ProportionStats(12, 100), alpha=ALPHA, tuning_n=7000)
    assert judge._rho == pytest.approx(cs.rho, rel=1e-14)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 300), st.integers(0, 300), st.integers(1000, 5000), st.sampled_from(["higher", "lower"]))
def test_decisions_match_the_interval(base_errors: int, canary_errors: int, n: int, worse: str) -> None:
    """Rollback exactly when the sequence excludes 0 on the bad side; swapping the arms of a
    'higher is worse' check gives the verdict of the 'lower is worse' check."""
    check = CanaryJudge.error_rate("e", margin=0.02, worse=worse)
    base, canary = ProportionStats(base_errors, n), ProportionStats(canary_errors, n)
    m = _av(check).judge({"e": base}, {"e": canary}).metric["e"]
    bad_side = m.ci.low > 0 if worse == "higher" else m.ci.high < 0
    assert (m.decision == "rollback") == bad_side
    assert 0.0 <= m.pvalue_noninferiority <= 1.0
    flipped = _av(CanaryJudge.error_rate("e", margin=0.02, worse="lower" if worse == "higher" else "higher"))
    swapped = flipped.judge({"e": canary}, {"e": base}).metric["e"]
    assert swapped.effect == -m.effect and swapped.pvalue_harm == pytest.approx(m.pvalue_harm, rel=1e-12)


def test_no_errors_can_still_pass() -> None:
    judge = _av(CanaryJudge.error_rate("e", margin=0.01))
    m = judge.judge({"e": ProportionStats(0, 20_000)}, {"e": ProportionStats(0, 20_000)}).metric["e"]
    assert m.decision == "pass" and m.pvalue_harm == 1.0


def test_modes_and_bad_input() -> None:
    judge = _av(CanaryJudge.error_rate("e"))
    assert judge.validity == "always-valid" and judge.planned_looks is None
    verdict = judge.judge({"e": ProportionStats(10, 1000)}, {"e": ProportionStats(10, 1000)}, look=500)
    assert (verdict.look, verdict.alpha_look, verdict.alpha_spent, verdict.validity) == (500, ALPHA, ALPHA,
                                                                                       "always-valid")
    with pytest.raises(ValueError, match="`validity` must be one of"):
        CanaryJudge([CanaryJudge.error_rate("e")], validity="bonferroni")
    with pytest.raises(ValueError, match="`planned_looks` must be a whole number >= 1 with validity='spending'"):
        CanaryJudge([CanaryJudge.error_rate("e")], planned_looks=None, validity="spending")
    with pytest.raises(ValueError, match="`spending` applies only to validity='spending'"):
        CanaryJudge([CanaryJudge.error_rate("e")], planned_looks=2, spending=[0.5, 0.5])
    with pytest.raises(ValueError, match="`tuning_n` must be greater than 0; got -1"):
        CanaryJudge([CanaryJudge.error_rate("e")], tuning_n=-1)
    capped = _av(CanaryJudge.error_rate("e"), planned_looks=3)
    with pytest.raises(ValueError, match=r"`look` must be at most planned_looks \(3\); got 4"):
        capped.look_alpha(4)


# -- 50 looks -----------------------------------------------------------------------------------

def _ramp_judge(validity: str) -> CanaryJudge:
    checks = [CanaryJudge.error_rate("errors", margin=0.01), CanaryJudge.mean("cost", margin=0.05),
              CanaryJudge.latency("latency", quantile=0.99, margin=0.05)]
    if validity == "spending":
        return CanaryJudge(checks, alpha=ALPHA, planned_looks=LOOKS, validity="spending")
    return CanaryJudge(checks, alpha=ALPHA, planned_looks=None)


def _service(rng: np.random.Generator, scenario: str = "good") -> dict[str, np.ndarray]:
    """One arm's 20,000 requests: errors (1%), a cost per request, latency (log-normal, p99 ~ 320)."""
    z = rng.standard_normal(N)
    if scenario == "tail":  # p99 x 1.2 with the median unchanged: stretch only the upper half
        z = z + math.log(1.2) / 0.5 * np.maximum(z, 0.0) ** 2 / stats.norm.ppf(0.99) ** 2
    sigma = 0.5
    if scenario == "variance":  # variance doubled, median unchanged
        sigma = math.sqrt(math.log((1 + math.sqrt(1 + 8 * math.expm1(0.25) * math.exp(0.25))) / 2))
    return {"errors": rng.random(N) < (0.015 if scenario == "errors" else 0.01),
            "cost": rng.gamma(2.0, 50.0, N), "latency": np.exp(math.log(100.0) + sigma * z)}


def _looks(arm: dict[str, np.ndarray]) -> list[dict[str, object]]:
    """The cumulative data of each look (Stats from running sums, raw latencies)."""
    errors, cost, cost_sq = np.cumsum(arm["errors"]), np.cumsum(arm["cost"]), np.cumsum(arm["cost"] ** 2)
    out = []
    for k in range(1, LOOKS + 1):
        m = k * STEP
        out.append({"errors": ProportionStats(int(errors[m - 1]), m),
                    "cost": MeanStats.from_aggregates(n=m, total=float(cost[m - 1]), total_sq=float(cost_sq[m - 1])),
                    "latency": arm["latency"][:m]})
    return out


def _first_rollback(judge: CanaryJudge, base: list[dict[str, object]], canary: list[dict[str, object]],
                    fixed_sample: bool = False) -> int:
    """The first look (1-based) at which the judge says rollback, 0 if none of the 50 does.

    ``fixed_sample`` judges every look as if it were the only one (naive peeking)."""
    for k, (b, c) in enumerate(zip(base, canary, strict=True), start=1):
        if judge.judge(b, c, look=1 if fixed_sample else k).decision == "rollback":
            return k
    return 0


def test_good_canaries_over_50_unplanned_looks() -> None:
    """False rollbacks over 50 looks stay at most alpha without planning the looks; peeking at
    fixed-sample tests (the same judge, each look as if it were the only one) does not."""
    n = 160
    rng = np.random.default_rng(50)
    judge = _ramp_judge("always-valid")
    naive = CanaryJudge(judge.checks[:2], alpha=ALPHA, planned_looks=1, validity="spending")
    valid = peeking = 0
    for _ in range(n):
        base, canary = _looks(_service(rng)), _looks(_service(rng))
        valid += _first_rollback(judge, base, canary) > 0
        peeking += _first_rollback(naive, base, canary, fixed_sample=True) > 0
    # Observed (seed 50): 0 of 160 always valid (conservative: each one-sided test uses the
    # sequence's two-sided p-value, and Holm spans three metrics); 41 of 160 (26%) for naive
    # peeking at the error rate and the mean alone. The band's top is 18 (11%).
    assert valid <= stats.binom.ppf(0.999, n, ALPHA)
    assert peeking > stats.binom.ppf(0.999, n, ALPHA)


@pytest.mark.parametrize("scenario", ["errors", "tail", "variance"])
def test_bad_canaries_over_50_looks_in_both_modes(scenario: str) -> None:
    """Detection over 50 looks: always valid (no plan) against spending told of all 50 looks."""
    n = 40
    rng = np.random.default_rng(51)
    judges = {v: _ramp_judge(v) for v in ("always-valid", "spending")}
    caught = dict.fromkeys(judges, 0)
    for _ in range(n):
        base, canary = _looks(_service(rng)), _looks(_service(rng, scenario))
        for validity, judge in judges.items():
            caught[validity] += _first_rollback(judge, base, canary) > 0
    # Observed (seed 51, 40 canaries): errors +50% 38 always valid, 38 spending; p99 +20% and
    # variance doubled 40 and 40. The bounds leave about 3 binomial standard deviations of room.
    low = 0.75 if scenario == "errors" else 0.95
    assert caught["always-valid"] >= low * n and caught["spending"] >= low * n


def test_ramp_held_until_decided_needs_no_look_budget() -> None:
    """A ramp holds each step until the judge decides, so nobody knows the number of looks. With
    spending, running out of planned looks must end in a rollback; always valid, it never does."""
    n, cap = 60, 40
    rng = np.random.default_rng(52)
    checks = [CanaryJudge.error_rate("errors", margin=0.004)]
    judges = {"always-valid": CanaryJudge(checks, alpha=ALPHA, planned_looks=None),
              "spending": CanaryJudge(checks, alpha=ALPHA, planned_looks=8, validity="spending")}
    harm = dict.fromkeys(judges, 0)
    out_of_looks = dict.fromkeys(judges, 0)
    promoted = dict.fromkeys(judges, 0)
    for _ in range(n):
        base, canary = (np.cumsum(rng.random(cap * 1000) < 0.01) for _ in range(2))
        for validity, judge in judges.items():
            rollout = CanaryRollout(judge, steps=(1, 5, 25, 50, 100))
            while rollout.status == "running" and rollout.look < cap:
                m = 1000 * (rollout.look + 1)
                verdict = rollout.observe({"errors": ProportionStats(int(base[m - 1]), m)},
                                          {"errors": ProportionStats(int(canary[m - 1]), m)})
            harm[validity] += verdict.decision == "rollback"
            out_of_looks[validity] += rollout.status == "rolled_back" and verdict.decision != "rollback"
            promoted[validity] += rollout.status == "promoted"
    # Observed (seed 52, 60 good canaries, at most 40 looks): always valid 1 harm rollback, 56
    # promoted; spending over 8 planned looks 1 harm rollback, 41 rolled back for lack of looks,
    # 18 promoted.
    assert harm["always-valid"] <= stats.binom.ppf(0.999, n, ALPHA)
    assert out_of_looks["always-valid"] == 0
    assert promoted["always-valid"] >= 0.75 * n
    assert out_of_looks["spending"] >= 0.5 * n


@pytest.mark.parametrize(("quantile", "scale", "field"), [
    (0.99, 1.0, "pvalue_harm"), (0.99, 1.05, "pvalue_noninferiority"),
    (0.5, 1.0, "pvalue_harm"), (0.5, 1.05, "pvalue_noninferiority"),
])
def test_sequential_quantile_comparison_over_50_looks(quantile: float, scale: float, field: str) -> None:
    """The latency check's sequence is asymptotic (Bahadur's representation of the quantile):
    over 50 looks from 200 to 10,000 requests per arm, false rollbacks of an unchanged quantile
    and false passes of one exactly 5% worse (the margin) stay within the binomial band of alpha."""
    n, step = 200, 200
    rng = np.random.default_rng(53)
    judge = _av(CanaryJudge.latency("l", quantile=quantile, margin=0.05))
    errors = 0
    for _ in range(n):
        base, canary = rng.lognormal(4.6, 0.5, 50 * step), scale * rng.lognormal(4.6, 0.5, 50 * step)
        for k in range(1, 51):
            if getattr(judge.judge({"l": base[:k * step]}, {"l": canary[:k * step]}).metric["l"], field) <= ALPHA:
                errors += 1
                break
    # Observed (seed 53, 200 runs): p99 1 false rollback, 2 false passes; p50 1 and 3 (at most
    # 1.5%, against a band up to 10.5%; each one-sided test uses a two-sided p-value).
    assert errors <= stats.binom.ppf(0.999, n, ALPHA)
