"""A bandit shared by 4 real processes through one SQLite store learns about as well as one process.

The issue's criterion is "regret within 10% of one process's". Measuring 10% takes many seeds:
the pseudo-regret of 4,000 pulls (means 0.3, 0.4, 0.5) varies across seeds by about 40% of its
mean for Thompson sampling and 12% for UCB1, so a ratio of means known to +-5% (95%) needs about
250 seeds (Thompson), some 20 minutes on 2 cores. That measurement is
``benchmarks/regret_shared.py``, figures in benchmarks/README.md (UCB1: ratio 0.99, 95% CI
0.93-1.05; Thompson: 1.17, 1.02-1.32, and 1.09, 0.95-1.24, in a repeat; about 50-70 pulls
per process between two exchanges).

The suite runs 2,000 pulls (6 seeds of UCB1, 3 of Thompson: 27 s measured on a loaded 2-core
machine) and checks looser bounds. Reference point: 4 processes that
never exchange (each a learner of 500 pulls) measured 1.42 (UCB1) and 1.78 (Thompson) times one
process's regret here. UCB1: the ratio's standard error over 6 seeds is about
0.12 * sqrt(2 / 6) = 7%, so the bound 1.25 sits 3.5 SE above a working store's 1.0 and 2.4 SE below
no sharing at all: it fails when the store stops sharing. Thompson: about 0.4 * sqrt(2 / 3) = 33%
of the ratio; the bound 2.2 (about 2.6 SE above the measured 1.17) guards only gross faults (lost or double-counted data that
wrecks learning, crashes, hangs), not a missing exchange.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from abkit.tests.adapters._regret import MEANS, one_process, shared

PULLS = 2000
SEEDS = {"UCB1": 6, "ThompsonBernoulli": 3}
BOUNDS = {"UCB1": 1.25, "ThompsonBernoulli": 2.2}


@pytest.mark.parametrize("policy", sorted(BOUNDS))
def test_four_processes_on_one_store_reach_about_one_process_regret(policy: str, tmp_path: Path) -> None:
    alone = np.mean([one_process(policy, PULLS, seed) for seed in range(SEEDS[policy])])
    together = np.mean([shared(policy, PULLS, seed, tmp_path, processes=4, sync_interval=0.1)[0]
                        for seed in range(SEEDS[policy])])
    uniform = PULLS * float(np.mean(max(MEANS) - np.asarray(MEANS)))  # no learning at all: 200
    assert alone < 0.5 * uniform  # the reference run learnt
    assert together <= BOUNDS[policy] * alone, (together, alone)
