"""A/A calibration of each check's fixed-sample tests (spending mode) at one look: the harm test's type-I error and the
non-inferiority test's error at the margin stay inside a 99.9% binomial band around alpha."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from scipy import stats

from abkit import ProportionStats
from abkit.rollout import CanaryJudge, MetricCheck

ALPHA = 0.05
REPS = 800


def _band() -> tuple[float, float]:
    return stats.binom.ppf(0.0005, REPS, ALPHA), stats.binom.ppf(0.9995, REPS, ALPHA)


def _rejections(check: MetricCheck, draw: Callable[[np.random.Generator], tuple[Any, Any]], seed: int,
                field: str) -> int:
    judge = CanaryJudge([check], alpha=ALPHA, planned_looks=1, validity="spending")
    rng = np.random.default_rng(seed)
    count = 0
    for _ in range(REPS):
        base, canary = draw(rng)
        m = judge.judge({"x": base}, {"x": canary}).metric["x"]
        count += getattr(m, field) <= ALPHA
    return count


CHECKS = {
    "error_rate": (CanaryJudge.error_rate("x", margin=0.01),
                   lambda r: (ProportionStats(int(r.binomial(4000, 0.02)), 4000),
                              ProportionStats(int(r.binomial(4000, 0.02)), 4000))),
    "latency p99": (CanaryJudge.latency("x", quantile=0.99),
                    lambda r: (r.lognormal(4.6, 0.5, 5000), r.lognormal(4.6, 0.5, 5000))),
    "latency p50": (CanaryJudge.latency("x", quantile=0.5),
                    lambda r: (r.lognormal(4.6, 0.5, 2000), r.lognormal(4.6, 0.5, 2000))),
    "mean": (CanaryJudge.mean("x"), lambda r: (r.gamma(2.0, 50.0, 500), r.gamma(2.0, 50.0, 500))),
    "rank": (CanaryJudge.rank("x"), lambda r: (r.exponential(1.0, 400), r.exponential(1.0, 400))),
}


@pytest.mark.parametrize("name", list(CHECKS))
def test_harm_test_type_one_error(name: str) -> None:
    check, draw = CHECKS[name]
    low, high = _band()
    assert low <= _rejections(check, draw, seed=31, field="pvalue_harm") <= high


@pytest.mark.parametrize(("name", "check", "draw"), [
    # True p99 exactly 5% higher (a scaled log-normal): the margin's boundary.
    ("latency p99", CanaryJudge.latency("x", quantile=0.99, margin=0.05),
     lambda r: (r.lognormal(4.6, 0.5, 5000), 1.05 * r.lognormal(4.6, 0.5, 5000))),
    ("mean", CanaryJudge.mean("x", margin=0.05),
     lambda r: (r.gamma(2.0, 50.0, 500), 1.05 * r.gamma(2.0, 50.0, 500))),
    ("error_rate", CanaryJudge.error_rate("x", margin=0.01),
     lambda r: (ProportionStats(int(r.binomial(4000, 0.02)), 4000),
                ProportionStats(int(r.binomial(4000, 0.03)), 4000))),
])
def test_noninferiority_at_the_margin(name: str, check: MetricCheck,
                                      draw: Callable[[np.random.Generator], tuple[Any, Any]]) -> None:
    low, high = _band()
    assert low <= _rejections(check, draw, seed=32, field="pvalue_noninferiority") <= high
