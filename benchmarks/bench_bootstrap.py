"""abkit's bootstrap and Mann-Whitney against scipy (and tea-tasting's bootstrap) on the same work.

Run: ``python benchmarks/bench_bootstrap.py`` (about three minutes). Each line prints the median
wall time of five alternating repeats for abkit and the peer, and peer / abkit (above 1: abkit is faster).
abkit's numba kernels are compiled (or loaded from the cache) by a warm-up call first.

Unbatched, the bootstrap peers draw the same resamples as abkit (same seed; abkit reproduces
scipy.stats.bootstrap's stream) and the intervals are checked to agree to 1e-9; batched (for
memory at large n), they agree up to Monte Carlo error.
"""

from __future__ import annotations

import statistics
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import scipy
import scipy.stats

import abkit
from abkit.nonparametric import hodges_lehmann

REPEATS = 5


def timed(*functions: Callable[[], Any], repeats: int = REPEATS) -> list[tuple[float, Any]]:
    """Median wall time and last result of each function, run alternately (load spikes on a
    shared machine then hit all of them alike)."""
    times: list[list[float]] = [[] for _ in functions]
    results: list[Any] = [None] * len(functions)
    for _ in range(repeats):
        for i, function in enumerate(functions):
            start = time.perf_counter()
            results[i] = function()
            times[i].append(time.perf_counter() - start)
    return [(statistics.median(t), r) for t, r in zip(times, results, strict=True)]


def report(label: str, ours: float, peer_name: str, theirs: float) -> None:
    print(f"{label:<58} abkit {ours:8.3f} s   {peer_name} {theirs:8.3f} s   ratio {theirs / ours:6.1f}x")


def scipy_bootstrap(control, treatment, function, n_resamples, method, batch):
    return scipy.stats.bootstrap(
        (control, treatment), lambda c, t, axis: function(t, axis=axis) - function(c, axis=axis),
        n_resamples=n_resamples, method=method, vectorized=True, batch=batch, rng=np.random.default_rng(1),
    )


def bench_bootstrap(
    n: int, statistic: str, function: Callable[..., Any], n_resamples: int, method: str, batch: int | None
) -> None:
    gen = np.random.default_rng(0)
    control, treatment = gen.exponential(1.0, n), gen.exponential(1.1, n)
    scipy_method = "BCa" if method == "bca" else method
    (ours, r), (theirs, s) = timed(
        lambda: abkit.bootstrap_test(control, treatment, statistic=statistic, n_resamples=n_resamples,
                                     method=method, rng=1),
        lambda: scipy_bootstrap(control, treatment, function, n_resamples, scipy_method, batch),
    )
    if batch is None:  # one draw of the whole index matrix per sample: the same resamples
        np.testing.assert_allclose(tuple(r.ci), tuple(s.confidence_interval), rtol=1e-9)
    else:  # batches interleave the two samples' draws: agreement up to Monte Carlo error
        np.testing.assert_allclose(tuple(r.ci), tuple(s.confidence_interval), atol=0.1 * r.ci.width)
    label = f"bootstrap {statistic:<6} {method:<10} n={n:>7,} x 2, B={n_resamples:,}"
    report(label, ours, "scipy", theirs)
    if n <= 10_000:
        import tea_tasting as tt

        metric = tt.Bootstrap("y", function, n_resamples=n_resamples, method=method, batch=batch, rng=1)
        tables = pa.table({"y": control}), pa.table({"y": treatment})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            (ours, _), (tea, _) = timed(
                lambda: abkit.bootstrap_test(control, treatment, statistic=statistic,
                                             n_resamples=n_resamples, method=method, rng=1),
                lambda: metric.analyze_granular(*tables),
            )
        report(label + " (tea-tasting)", ours, "tea-tasting", tea)


def bench_mann_whitney(n: int) -> None:
    gen = np.random.default_rng(2)
    control, treatment = np.round(gen.lognormal(0, 1, n), 2), np.round(gen.lognormal(0.02, 1, n), 2)
    (ours, r), (theirs, s) = timed(
        lambda: abkit.mann_whitney_test(control, treatment),
        lambda: scipy.stats.mannwhitneyu(treatment, control, method="asymptotic"),
    )
    assert r.pvalue == s.pvalue or abs(r.pvalue - s.pvalue) <= 1e-9 * s.pvalue
    report(f"mann_whitney_test (p-value + HL shift + CI) n={n:,} x 2", ours, "scipy p-value only", theirs)


def bench_hodges_lehmann(n: int) -> None:
    gen = np.random.default_rng(3)
    control, treatment = gen.normal(0, 1, n), gen.normal(0.1, 1, n)
    (ours, h), (theirs, naive) = timed(
        lambda: hodges_lehmann(treatment, control),
        lambda: float(np.median(np.subtract.outer(treatment, control))),
    )
    assert h == naive
    report(f"Hodges-Lehmann shift n={n:,} x 2 ({n * n:.1e} pairs)", ours, "numpy outer+median", theirs)


def main() -> None:
    print(f"abkit {abkit.__version__}, numpy {np.__version__}, scipy {scipy.__version__}")
    warm = np.arange(1.0, 20.0)
    for statistic in ("mean", "median"):
        abkit.bootstrap_test(warm, warm + 1, statistic=statistic, n_resamples=10, rng=0)
    abkit.mann_whitney_test(warm, warm + 1)
    bench_bootstrap(1_000, "mean", np.mean, 10_000, "bca", None)
    bench_bootstrap(1_000, "mean", np.mean, 10_000, "percentile", None)
    bench_bootstrap(1_000, "median", np.median, 10_000, "bca", None)
    bench_bootstrap(100_000, "mean", np.mean, 2_000, "percentile", 100)
    bench_mann_whitney(1_000_000)
    bench_hodges_lehmann(4_000)


if __name__ == "__main__":
    main()
