"""DeLong's test on 1,000,000 requests x 2 models against scikit-learn and a paired bootstrap.

Run: ``python benchmarks/bench_shadow.py [n_requests] [repeats] [bootstrap_resamples_timed]``

Three ways to compare two models' ROC AUCs on the same requests, in one process:

1. ``abkit.shadow.delong_test``: both AUCs, their DeLong covariance, the test and the interval
   (Sun and Xu's midrank algorithm, one sort per model);
2. scikit-learn's ``roc_auc_score`` called twice: the two AUCs alone, no inference;
3. a paired bootstrap of 1,000 resamples (``abkit.shadow.paired_bootstrap`` with
   ``roc_auc_score`` as the metric), what one would otherwise run for an interval. At this size
   it takes minutes, so a few resamples are timed and the per-resample median is scaled to
   1,000 (the cost is linear in the number of resamples).

Medians of ``repeats`` runs are printed with the ratios.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable

import numpy as np
from sklearn.metrics import roc_auc_score

from abkit.shadow import delong_test, paired_bootstrap


def median_seconds(run: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 7
    timed_resamples = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, n)
    shared = rng.normal(size=n)
    champion = y + shared + rng.normal(size=n)
    challenger = 1.1 * y + shared + rng.normal(size=n)

    result = delong_test(y, champion, challenger)
    auc_a, auc_b = roc_auc_score(y, champion), roc_auc_score(y, challenger)
    assert abs(result.champion_auc - auc_a) < 1e-12 and abs(result.challenger_auc - auc_b) < 1e-12

    t_delong = median_seconds(lambda: delong_test(y, champion, challenger), repeats)
    t_sklearn = median_seconds(lambda: (roc_auc_score(y, champion), roc_auc_score(y, challenger)), repeats)
    t_boot = median_seconds(
        lambda: paired_bootstrap(roc_auc_score, champion, challenger, y_true=y,
                                 n_resamples=timed_resamples, rng=1), 3
    ) / timed_resamples * 1000

    print(f"n_requests = {n:,}, 2 models, medians of {repeats} runs")
    print(f"abkit delong_test (AUCs + covariance + test + CI): {t_delong:8.3f} s")
    print(f"sklearn roc_auc_score x 2 (AUCs only):             {t_sklearn:8.3f} s")
    print(f"paired bootstrap, 1,000 resamples (scaled from {timed_resamples}): {t_boot:8.1f} s")
    print(f"ratio delong / sklearn:   {t_delong / t_sklearn:.2f}x (goal < 1.5x)")
    print(f"ratio bootstrap / delong: {t_boot / t_delong:,.0f}x")
    print(f"DeLong: AUC difference {result.effect:.5f}, 95% CI [{result.ci.low:.5f}, {result.ci.high:.5f}], "
          f"p = {result.pvalue:.3g}")


if __name__ == "__main__":
    main()
