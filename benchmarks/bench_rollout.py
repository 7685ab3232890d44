"""Rollout benchmarks: Kayenta's classifier (abkit's port vs a direct re-ranking port) and one
look of the canary judge.

Kayenta has no Python package, so the "peer" is Kayenta's algorithm written the way Kayenta
runs it: rank the pooled sample at every evaluation of the root finder (Apache Commons'
NaturalRanking -> scipy.stats.rankdata). abkit evaluates the same function from the distinct
values with binary searches. Both give the same classification; the script checks that.

Run: python benchmarks/bench_rollout.py
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from unittest import mock

import numpy as np
from scipy import stats

from abkit.rollout import CanaryJudge, kayenta_classify
from abkit.rollout import kayenta as kayenta_module


class RankingWilcoxon:
    """Kayenta's wilcoxonDiff, ranking the pooled sample at every call (as Kayenta does)."""

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        self.x, self.y = x, y

    def __call__(self, mu: float, quantile: float) -> float:
        m, n = self.x.size, self.y.size
        ranks = stats.rankdata(np.concatenate([self.x - mu, self.y]))
        dz = ranks[:m].sum() - m * (m + 1) / 2 - m * n / 2
        _, ties = np.unique(ranks, return_counts=True)
        ties = ties.astype(float)
        sigma = math.sqrt(m * n / 12 * ((m + n + 1) - np.sum(ties**3 - ties) / ((m + n) * (m + n - 1))))
        return (dz - np.sign(dz) * 0.5) / sigma - quantile


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main() -> None:
    rng = np.random.default_rng(0)
    print("Kayenta classifier (latencies in ms, log-normal; median of repeats, seconds)")
    print(f"{'n per arm':>10} {'abkit':>10} {'ranking port':>13} {'ratio':>7}")
    for n, repeats in ((1_000, 7), (10_000, 5), (50_000, 3)):
        control = np.exp(rng.normal(np.log(100), 0.5, n)).round(1)
        experiment = np.exp(rng.normal(np.log(101), 0.5, n)).round(1)
        ours = median_seconds(lambda c=control, e=experiment: kayenta_classify(c, e), repeats)
        with mock.patch.object(kayenta_module, "_WilcoxonShift", RankingWilcoxon):
            theirs = median_seconds(lambda c=control, e=experiment: kayenta_classify(c, e), repeats)
            slow = kayenta_classify(control, experiment)
        fast = kayenta_classify(control, experiment)
        assert fast.classification == slow.classification
        assert math.isclose(fast.estimate, slow.estimate, rel_tol=1e-9, abs_tol=1e-9)
        print(f"{n:>10} {ours:>10.4f} {theirs:>13.4f} {theirs / ours:>6.1f}x")

    checks = [CanaryJudge.error_rate("errors", margin=0.01),
              CanaryJudge.latency("latency", quantile=0.99, margin=0.05),
              CanaryJudge.mean("latency_mean", margin=0.05)]
    judges = {"always-valid": CanaryJudge(checks, planned_looks=None),
              "spending": CanaryJudge(checks, planned_looks=5, validity="spending")}
    print("\nCanaryJudge, one look with three metrics (median seconds)")
    for n in (10_000, 100_000):
        lat_b, lat_c = rng.lognormal(4.6, 0.5, n), rng.lognormal(4.6, 0.5, n)
        base = {"errors": rng.random(n) < 0.01, "latency": lat_b, "latency_mean": lat_b}
        canary = {"errors": rng.random(n) < 0.01, "latency": lat_c, "latency_mean": lat_c}
        for validity, judge in judges.items():
            seconds = median_seconds(lambda b=base, c=canary, j=judge: j.judge(b, c, look=1), 9)
            print(f"{n:>10} per arm, {validity:>12}: {seconds:.4f}")


if __name__ == "__main__":
    main()
