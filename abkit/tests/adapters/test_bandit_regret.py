"""A bandit shared by 4 real processes through one SQLite store learns about as well as one process.

The issue's criterion is "regret within 10% of one process's". Measuring 10% needs many seeds:
the pseudo-regret of 4,000 pulls (means 0.3, 0.4, 0.5) varies across seeds by about 40% of its
mean for Thompson sampling and 10% for UCB1, so a ratio of means known to +-3.5% (95%) needs about
250 seeds of each (Thompson), some 15 minutes on 2 cores. That measurement is
``benchmarks/regret_shared.py`` (figures in benchmarks/README.md). The suite runs a few seeds and
checks a looser bound, chosen so that the check still fails when sharing is broken: 4 processes
that never exchanged their rewards would be 4 learners of ``pulls / 4`` pulls each, about
``4 log(1000) / log(4000) = 3.3`` times one process's regret for these log-regret policies, far
above the bounds below, while a working store stays below them with room for the noise of 3
seeds (UCB1: ratio standard error about 0.1 * sqrt(2 / 3) = 8%, bound 1.1 + 3 SE = 1.35;
Thompson: about 33%, bound 2.0).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from abkit.tests.adapters._regret import MEANS, one_process, shared

PULLS = 2000
SEEDS = 3
BOUNDS = {"UCB1": 1.35, "ThompsonBernoulli": 2.0}


@pytest.mark.parametrize("policy", sorted(BOUNDS))
def test_four_processes_on_one_store_reach_about_one_process_regret(policy: str, tmp_path: Path) -> None:
    alone = np.mean([one_process(policy, PULLS, seed) for seed in range(SEEDS)])
    together = np.mean([shared(policy, PULLS, seed, tmp_path, processes=4, sync_interval=0.1)[0]
                        for seed in range(SEEDS)])
    uniform = PULLS * float(np.mean(max(MEANS) - np.asarray(MEANS)))  # no learning at all: 200
    assert alone < 0.5 * uniform  # the reference run learnt
    assert together <= BOUNDS[policy] * alone, (together, alone)
