"""Seeded simulations over many canaries: abkit's judge against Kayenta's rule.

A service's canary ramps over four looks; at each look both rules see the same cumulative
data (2,000 -> 20,000 requests per arm). abkit's judge checks the error rate (margin one point)
and the p99 latency (margin 5%), with Holm across the two and alpha = 0.05 over all looks, in
both modes: always valid (the default) and spent in equal parts over the four looks. Kayenta's rule gets what it is usually given: the error rate per one-minute
interval (30 intervals per look) and the request latencies, classified by its Mann-Whitney
classifier and scored by its weighted scorer (a score under 75 fails the canary). Latencies are
recorded to the millisecond, as services log them.

Scenarios: a good canary; errors +50% (1% -> 1.5%); p99 latency +20% with the median unchanged;
latency variance doubled with the median unchanged.

Kayenta's result depends on the metric it is given: fed a per-minute p99 series instead of the
request latencies, it catches the two latency regressions too (notebooks/07_rollouts.ipynb shows
both); the error-rate gap remains.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from abkit.rollout import (
    CanaryJudge,
    CanaryRollout,
    kayenta_classify,
    kayenta_score,
    kayenta_score_classification,
)

SIZES = (2_000, 5_000, 10_000, 20_000)
INTERVALS_PER_LOOK = 30
Z99 = stats.norm.ppf(0.99)
LOG_MEDIAN, SIGMA = np.log(100.0), 0.5
# Log-scale sd whose lognormal has twice the variance of the baseline's with the same median.
SIGMA_DOUBLED = float(np.sqrt(np.log((1 + np.sqrt(1 + 8 * (np.exp(SIGMA**2) - 1) * np.exp(SIGMA**2))) / 2)))


def _latency(rng: np.random.Generator, n: int, scenario: str) -> np.ndarray:
    z = rng.standard_normal(n)
    if scenario == "tail":  # p99 x 1.2, median unchanged: stretch only the upper half
        log = LOG_MEDIAN + SIGMA * z + np.log(1.2) * np.maximum(z, 0.0) ** 2 / Z99**2
    elif scenario == "variance":
        log = LOG_MEDIAN + SIGMA_DOUBLED * z
    else:
        log = LOG_MEDIAN + SIGMA * z
    return np.exp(log).round()


VALIDITIES = ("always-valid", "spending")


def _judge(validity: str) -> CanaryJudge:
    return CanaryJudge([CanaryJudge.error_rate("errors", margin=0.01),
                        CanaryJudge.latency("latency", quantile=0.99, margin=0.05)],
                       alpha=0.05, planned_looks=len(SIZES), validity=validity)


def _kayenta_fails(base: dict[str, np.ndarray], canary: dict[str, np.ndarray], look: int) -> bool:
    bounds = zip((0, *SIZES[:look - 1]), SIZES[:look], strict=True)
    starts = np.concatenate([np.linspace(lo, hi, INTERVALS_PER_LOOK, endpoint=False)
                             for lo, hi in bounds]).astype(int)
    lengths = np.diff(np.r_[starts, SIZES[look - 1]])
    rates = [np.add.reduceat(arm["errors"][:SIZES[look - 1]].astype(float), starts) / lengths
             for arm in (base, canary)]
    n = SIZES[look - 1]
    labels = [kayenta_classify(rates[0], rates[1]).classification,
              kayenta_classify(base["latency"][:n], canary["latency"][:n]).classification]
    score = kayenta_score([{"name": name, "classification": label, "groups": ["service"]}
                           for name, label in zip(("errors", "latency"), labels, strict=True)], {})
    return kayenta_score_classification(score.summary_score) == "Fail"


def _simulate(scenario: str, n_canaries: int, seed: int, *, kayenta: bool) -> dict[str, float]:
    """Share of canaries rolled back by abkit's judge in each mode (through CanaryRollout, on the
    same canaries) and by Kayenta's rule."""
    rng = np.random.default_rng(seed)
    judges = {v: _judge(v) for v in VALIDITIES}
    rollbacks = dict.fromkeys((*VALIDITIES, "kayenta"), 0)
    n = SIZES[-1]
    for _ in range(n_canaries):
        base = {"errors": rng.random(n) < 0.01, "latency": _latency(rng, n, "good")}
        canary = {"errors": rng.random(n) < (0.015 if scenario == "errors" else 0.01),
                  "latency": _latency(rng, n, scenario)}
        for validity, judge in judges.items():
            rollout = CanaryRollout(judge, steps=(1, 5, 25, 50, 100))
            while rollout.status == "running":
                m = SIZES[rollout.look]
                verdict = rollout.observe({k: v[:m] for k, v in base.items()},
                                          {k: v[:m] for k, v in canary.items()})
            rollbacks[validity] += verdict.decision == "rollback"
        if kayenta:
            rollbacks["kayenta"] += any(_kayenta_fails(base, canary, look) for look in range(1, len(SIZES) + 1))
    return {k: v / n_canaries for k, v in rollbacks.items()}


def test_good_canaries_are_falsely_rolled_back_at_most_alpha() -> None:
    n = 600
    shares = _simulate("good", n, seed=20, kayenta=False)
    # False rollbacks over all four looks of every ramp: within the 99.9% binomial band of alpha.
    # Observed (seed 20): 0.3% always valid (conservative: each one-sided test uses the
    # sequence's two-sided p-value), 4.0% spending.
    for validity in VALIDITIES:
        assert shares[validity] * n <= stats.binom.ppf(0.999, n, 0.05)


@pytest.mark.parametrize(("scenario", "kayenta_at_most"),
                         [("errors", 0.65), ("tail", 0.25), ("variance", 0.25)])
def test_bad_canaries_caught_far_more_often_than_by_kayenta(scenario: str, kayenta_at_most: float) -> None:
    shares = _simulate(scenario, 50, seed=21, kayenta=True)
    # Observed (seed 21, 50 canaries): Kayenta's rule rolls back 22%, 6%, 0%; abkit spending
    # 98%, 100%, 100%; abkit always valid 78%, 100%, 100% (87% of 200 canaries for the errors:
    # with four looks known in advance, spending is a little more powerful there). The bounds
    # leave more than 3 binomial standard deviations of room.
    assert shares["spending"] >= 0.85
    assert shares["always-valid"] >= (0.7 if scenario == "errors" else 0.85)
    assert shares["kayenta"] <= kayenta_at_most
    assert min(shares["spending"], shares["always-valid"]) - shares["kayenta"] >= 0.3
