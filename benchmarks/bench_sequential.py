"""Group-sequential boundaries for K = 10 looks: abkit against spotify-confidence, in one process.

spotify-confidence (``pip install spotify-confidence``) ports R's ldbounds and supports the
power-family spending function ``alpha t**rho`` only, so both compute the same design: K = 10
equal looks, two-sided alpha 0.05 (0.025 per side), rho = 3. abkit's default Lan-DeMets
O'Brien-Fleming design is timed too. Without spotify-confidence a plain-scipy baseline (the
same design by scipy's multivariate-normal CDF, as a user without a library would write it)
is used instead.

Run: ``python benchmarks/bench_sequential.py``
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np
from scipy import optimize, stats

from abkit.sequential import GroupSequentialDesign

K, ALPHA, RHO, REPEATS = 10, 0.05, 3.0, 15
FRACTIONS = np.arange(1, K + 1) / K


def timed(fn: Callable[[], np.ndarray]) -> tuple[float, np.ndarray]:
    fn()  # warm-up (imports, caches)
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def abkit_power() -> np.ndarray:
    return np.asarray(GroupSequentialDesign(K, alpha=ALPHA, spending="power", spending_param=RHO).bounds)


def abkit_obf() -> np.ndarray:
    return np.asarray(GroupSequentialDesign(K, alpha=ALPHA).bounds)


def scipy_power() -> np.ndarray:
    """Sequential root finding on multivariate-normal probabilities (one side, then mirrored)."""
    corr = np.sqrt(np.minimum.outer(FRACTIONS, FRACTIONS) / np.maximum.outer(FRACTIONS, FRACTIONS))
    spent = ALPHA / 2 * FRACTIONS**RHO
    bounds: list[float] = []
    for k in range(K):
        def no_cross(b: float, k: int = k) -> float:
            limits = np.array([*bounds, b])
            mvn = stats.multivariate_normal(np.zeros(k + 1), corr[: k + 1, : k + 1])
            # P(|Z_j| < b_j for all j <= k) by inclusion over the two sides is costly; use one side
            return float(mvn.cdf(limits)) - (1 - spent[k])
        bounds.append(optimize.brentq(no_cross, 0.5, 10.0, xtol=1e-6))
    return np.asarray(bounds)


def main() -> None:
    t_obf, obf = timed(abkit_obf)
    t_abkit, ours = timed(abkit_power)
    print(f"abkit LD-O'Brien-Fleming K={K}: median {t_obf * 1e3:.2f} ms; bounds {np.round(obf, 4)}")
    print(f"abkit power rho={RHO} K={K}:       median {t_abkit * 1e3:.2f} ms")
    try:
        from spotify_confidence.analysis.frequentist import sequential_bound_solver as sbs
    except ImportError:
        print("spotify-confidence is not installed; comparing with a plain-scipy baseline (one-sided).")
        t_peer, peer = timed(scipy_power)
        name = "plain scipy (mvn cdf)"
    else:
        def spotify_power() -> np.ndarray:
            return np.asarray(sbs.bounds(FRACTIONS, ALPHA, RHO, 8.0, 2).bounds, dtype=float)

        t_peer, peer = timed(spotify_power)
        name = "spotify-confidence 4.1 (ldbounds port)"
    print(f"{name}: median {t_peer * 1e3:.2f} ms")
    print(f"ratio peer / abkit: {t_peer / t_abkit:.1f}x")
    print(f"max |bound difference|: {np.max(np.abs(ours - peer)):.2e}")


if __name__ == "__main__":
    main()
