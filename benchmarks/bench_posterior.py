"""Which arm is best, for many arms: abkit's shared-panel quadrature against Monte Carlo.

``prob_best`` and ``expected_loss`` of ``n`` Beta posteriors (Thompson sampling's allocation and
stopping rule) for ``n`` from 10 to 10,000. Arms as after a test that gave every arm about
1,000 trials at rates between 4% and 6% (every arm can still be best: the hard case for the
shared grid; far-behind arms are dropped and cost nothing). The peer a user would otherwise
pick is Monte Carlo: draw every posterior ``draws`` times and count the winners (NumPy,
vectorised); its error is about ``sqrt(p / draws)`` against abkit's 1e-10. Also reported: the
deviation of abkit's probabilities from 1 in total, and from the same rule on panels halved
(``refine=1``), as a check of accuracy at sizes where the adaptive rule is too slow.

Run from the repository root: ``PYTHONPATH=. python benchmarks/bench_posterior.py`` (medians of
``--repeats`` runs, CPU time of the process).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

from abkit.bandits import _posterior


def arms(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    rate = rng.uniform(0.04, 0.06, n)
    trials = 1_000.0
    return 1.0 + trials * rate, 1.0 + trials * (1.0 - rate)


def cpu_median(work: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.process_time()
        work()
        times.append(time.process_time() - start)
    return statistics.median(times)


def monte_carlo(a: np.ndarray, b: np.ndarray, draws: int, rng: np.random.Generator) -> np.ndarray:
    wins = np.zeros(a.size)
    block = max(1, 2_000_000 // a.size)
    for start in range(0, draws, block):
        size = min(block, draws - start)
        sample = rng.beta(a, b, size=(size, a.size))
        wins += np.bincount(sample.argmax(axis=1), minlength=a.size)
    return wins / draws


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--arms", type=int, nargs="*", default=[10, 100, 1_000, 10_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--draws", type=int, default=10_000)
    args = parser.parse_args()
    print(f"{'arms':>6} {'prob_best s':>12} {'expected_loss s':>16} {'MC prob_best s':>15} {'ratio':>7} "
          f"{'|sum - 1|':>10} {'vs refined':>10} {'MC max err':>10}")
    for n in args.arms:
        a, b = arms(n)
        marginals = _posterior.beta_marginals(a, b)
        p = _posterior.prob_best(marginals)
        t_p = cpu_median(lambda m=marginals: _posterior.prob_best(m), args.repeats)
        t_l = cpu_median(lambda m=marginals: _posterior.expected_loss(m), args.repeats)
        rng = np.random.default_rng(1)
        t_mc = cpu_median(lambda a=a, b=b, r=rng: monte_carlo(a, b, args.draws, r), args.repeats)
        refined = _posterior._fixed_rule(marginals, refine=1, moment=False)[0]
        mc_error = float(np.abs(monte_carlo(a, b, args.draws, rng) - p).max())
        print(f"{n:>6} {t_p:>12.4f} {t_l:>16.4f} {t_mc:>15.4f} {t_mc / t_p:>7.1f} {abs(p.sum() - 1):>10.1e} "
              f"{float(np.abs(p - refined).max()):>10.1e} {mc_error:>10.1e}")


if __name__ == "__main__":
    main()
