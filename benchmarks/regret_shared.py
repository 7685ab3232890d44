"""Regret of a bandit shared by 4 processes through one SQLite store vs one process (issue 14).

The same total number of pulls of a 3-arm Bernoulli bandit (means 0.3, 0.4, 0.5) is made either
by one process (one ``BanditRouter``, every reward learnt at once) or by 4 forked processes of
``pulls / 4`` each, each with its own ``BanditRouter`` on one SQLite file, exchanging rewards
every ``sync_interval`` seconds (0.1) while pulling as fast as they can (the most pulls between
two exchanges). Regret is the pseudo-regret (sum of the gaps of the arms pulled), averaged over
seeds; the ratio shared / one has a 95% interval by the delta method (independent seeds).

    python benchmarks/regret_shared.py --pulls 4000 --seeds 200 --policies ThompsonBernoulli UCB1

Figures: benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from abkit.tests.adapters._regret import MEANS, POLICIES, one_process, shared


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pulls", type=int, default=4000)
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--sync-interval", type=float, default=0.1)
    parser.add_argument("--policies", nargs="+", default=["ThompsonBernoulli", "UCB1"],
                        choices=sorted(POLICIES))
    args = parser.parse_args()
    print(f"means {MEANS}, {args.pulls} pulls, {args.seeds} seeds, {args.processes} processes, "
          f"sync_interval {args.sync_interval} s")
    print("| policy | one process: mean regret (SE) | 4 processes: mean regret (SE) | ratio [95% CI] | "
          "pulls/s per process | pulls per process per sync |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for policy in args.policies:
            started = time.perf_counter()
            one = np.array([one_process(policy, args.pulls, seed) for seed in range(args.seeds)])
            runs = [shared(policy, args.pulls, seed, folder, processes=args.processes,
                           sync_interval=args.sync_interval) for seed in range(args.seeds)]
            many = np.array([r for r, _ in runs])
            rate = float(np.median([x for _, x in runs]))
            m1, m4 = one.mean(), many.mean()
            s1, s4 = one.std(ddof=1) / np.sqrt(len(one)), many.std(ddof=1) / np.sqrt(len(many))
            ratio = m4 / m1
            se = ratio * np.hypot(s1 / m1, s4 / m4)
            print(f"| {policy} | {m1:.1f} ({s1:.1f}) | {m4:.1f} ({s4:.1f}) | {ratio:.3f} "
                  f"[{ratio - 1.96 * se:.3f}, {ratio + 1.96 * se:.3f}] | {rate:.0f} | "
                  f"{rate * args.sync_interval:.0f} |", flush=True)
            print(f"  ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
