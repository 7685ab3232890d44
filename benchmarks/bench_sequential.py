"""Group-sequential boundaries for K = 10 looks: abkit against spotify-confidence, in one process.

spotify-confidence (``pip install spotify-confidence``) ports R's ldbounds and supports the
power-family spending function ``alpha t**rho`` only, so both compute the same design: K = 10
equal looks, two-sided alpha 0.05 (0.025 per side), rho = 3. abkit's default Lan-DeMets
O'Brien-Fleming design is timed too. spotify-confidence pins pandas < 3, so install it in a
separate virtual environment that sees abkit's dependencies:

    python -m venv --system-site-packages /tmp/bench && /tmp/bench/bin/pip install spotify-confidence
    PYTHONPATH=$PWD /tmp/bench/bin/python benchmarks/bench_sequential.py
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np

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


def main() -> None:
    t_obf, obf = timed(abkit_obf)
    t_abkit, ours = timed(abkit_power)
    print(f"abkit LD-O'Brien-Fleming K={K}: median {t_obf * 1e3:.2f} ms; bounds {np.round(obf, 4)}")
    print(f"abkit power rho={RHO} K={K}:       median {t_abkit * 1e3:.2f} ms")
    try:
        from spotify_confidence.analysis.frequentist import sequential_bound_solver as sbs
    except ImportError:
        raise SystemExit(
            "spotify-confidence is not installed (pip install spotify-confidence; it needs pandas < 3, "
            "so use a separate virtual environment)."
        ) from None

    def spotify_power() -> np.ndarray:
        return np.asarray(sbs.bounds(FRACTIONS, ALPHA, RHO, 8.0, 2).bounds, dtype=float)

    t_peer, peer = timed(spotify_power)
    name = "spotify-confidence 4.1 (ldbounds port)"
    print(f"{name}: median {t_peer * 1e3:.2f} ms")
    print(f"ratio peer / abkit: {t_peer / t_abkit:.1f}x")
    print(f"max |bound difference|: {np.max(np.abs(ours - peer)):.2e}")


if __name__ == "__main__":
    main()
