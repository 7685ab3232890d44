"""Regret of a bandit shared by 4 processes through one SQLite store vs one process (issue 14).

The same total number of pulls of a 3-arm Bernoulli bandit (means 0.3, 0.4, 0.5) is made either
by one process (one ``BanditRouter``, every reward learnt at once) or by 4 forked processes of
``pulls / 4`` each, each with its own ``BanditRouter`` on one SQLite file, exchanging rewards
every ``sync_interval`` seconds (0.1) and, by default, whenever its unshared rewards reach
``sync_fraction`` (0.02) of the data, while pulling as fast as they can (the most pulls between
two timed exchanges). Regret is the pseudo-regret (sum of the gaps of the arms pulled), averaged
over seeds; the ratio shared / one has a 95% interval by the delta method (independent seeds).
``--sync-fraction none`` measures the timed exchanges alone.

    python benchmarks/regret_shared.py --pulls 4000 --seeds 600 --policies ThompsonBernoulli
    python benchmarks/regret_shared.py --pulls 4000 --seeds 600 --policies ThompsonBernoulli \\
        --sync-fraction none

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


def _fraction(text: str) -> float | None:
    return None if text.lower() == "none" else float(text)


def _mean_se(values: np.ndarray) -> tuple[float, float]:
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(len(values)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pulls", type=int, default=4000)
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--sync-interval", type=float, default=0.1)
    parser.add_argument("--sync-fraction", type=_fraction, default=0.02, help="a fraction, or none")
    parser.add_argument("--policies", nargs="+", default=["ThompsonBernoulli", "UCB1"],
                        choices=sorted(POLICIES))
    parser.add_argument("--raw", help="write every seed's regrets to this .npz file")
    args = parser.parse_args()
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    print(f"means {MEANS}, {args.pulls} pulls, seeds {seeds.start}-{seeds.stop - 1}, {args.processes} "
          f"processes, sync_interval {args.sync_interval} s, sync_fraction {args.sync_fraction}")
    print("| policy | one process: mean regret (SE) | shared: mean regret (SE) | ratio [95% CI] | "
          "medians one / shared | pulls/s per process | exchanges per process |")
    print("|---|---|---|---|---|---|---|")
    raw = {}
    with tempfile.TemporaryDirectory() as folder:
        for policy in args.policies:
            started = time.perf_counter()
            one, many, rates, exchanges = [], [], [], []
            for seed in seeds:  # interleaved: a change of the machine's load hits both alike
                one.append(one_process(policy, args.pulls, seed))
                regret, rate, count = shared(policy, args.pulls, seed, folder, processes=args.processes,
                                             sync_interval=args.sync_interval,
                                             sync_fraction=args.sync_fraction)
                many.append(regret)
                rates.append(rate)
                exchanges.append(count)
            a, b = np.array(one), np.array(many)
            raw[f"{policy}_one"], raw[f"{policy}_shared"] = a, b
            (m1, s1), (m4, s4) = _mean_se(a), _mean_se(b)
            ratio = m4 / m1
            se = ratio * np.hypot(s1 / m1, s4 / m4)
            print(f"| {policy} | {m1:.1f} ({s1:.1f}) | {m4:.1f} ({s4:.1f}) | {ratio:.3f} "
                  f"[{ratio - 1.96 * se:.3f}, {ratio + 1.96 * se:.3f}] | {np.median(a):.1f} / "
                  f"{np.median(b):.1f} | {np.median(rates):.0f} | {np.mean(exchanges):.0f} |", flush=True)
            print(f"  ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
    if args.raw:
        np.savez(args.raw, **raw)


if __name__ == "__main__":
    main()
