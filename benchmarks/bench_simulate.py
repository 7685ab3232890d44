"""Experiment.simulate on make_experiment data: seconds for n_simulations re-randomisations.

    PYTHONPATH=. python benchmarks/bench_simulate.py --users 1e6 --simulations 100
"""

from __future__ import annotations

import argparse
import time

import abkit
from abkit.datasets import make_experiment


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=float, default=1_000_000)
    parser.add_argument("--simulations", type=int, default=100)
    args = parser.parse_args()
    table = make_experiment(int(args.users), rng=1)
    experiment = abkit.Experiment(conversion=abkit.Proportion("converted"),
                                  revenue=abkit.Mean("revenue"))
    experiment.simulate(table.head(1000), n_simulations=2, rng=0)  # imports, warm-up
    start = time.perf_counter()
    experiment.simulate(table, n_simulations=args.simulations, rng=1)
    seconds = time.perf_counter() - start
    print(f"{int(args.users):,} users x {args.simulations} simulations x 2 metrics: {seconds:.2f} s "
          f"({seconds / args.simulations * 1000:.0f} ms per simulation)")


if __name__ == "__main__":
    main()
