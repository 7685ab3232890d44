"""A bandit shared by 4 real processes through one SQLite store learns about as well as one process.

The issue's criterion is "regret within 10% of one process's" (``sync_interval=0.1`` s).
Measuring 10% takes hundreds of seeds: the pseudo-regret of Thompson sampling varies across
seeds by about 70% of its mean (UCB1: 12%). That measurement is ``benchmarks/regret_shared.py``,
figures in benchmarks/README.md, with the cause of Thompson sampling's gap when processes exchange
on time only (each serves from a posterior that lacks the others' last ~0.1 s of rewards: batched
Thompson sampling, whose added regret grows with the batch) and its remedy, ``sync_fraction``.

The suite runs small versions with bounds that fail when the store stops sharing (processes that
never exchange) but not by chance:

* UCB1 (means 0.3, 0.4, 0.5; 2,000 pulls, 6 seeds; exchanges every 0.1 s): processes that never
  exchange measured 1.42 times one process's regret; the ratio's standard error over 6 seeds is
  about 0.12 * sqrt(2 / 6) = 7%, so the bound 1.25 sits 3.5 SE above a working store's 1.0 and
  2.4 SE below no sharing.
* Thompson sampling with ``sync_fraction=0.02`` (means 0.2, 0.5, 0.8, where it learns fast; 1,000
  pulls, 6 seeds): one process's regret is fixed by the seeds (no timing in it); the shared runs'
  mean varies by about 0.6 / sqrt(6) = 25% of itself. Processes that never exchange measured 2.8
  times one process's regret (a vectorised model of the schedule: 3.1), a working store 0.87
  (model: 1.04); the bound 2.0 is about 4 SE above 1.04 and 2.5 SE below 2.8. It does not
  resolve 10%: that is the benchmark's job.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from abkit.tests.adapters._regret import MEANS, one_process, shared

CASES = {  # policy: (means, pulls, seeds, sync_fraction, bound)
    "UCB1": (MEANS, 2000, 6, None, 1.25),
    "ThompsonBernoulli": ((0.2, 0.5, 0.8), 1000, 6, 0.02, 2.0),
}


@pytest.mark.parametrize("policy", sorted(CASES))
def test_four_processes_on_one_store_reach_about_one_process_regret(policy: str, tmp_path: Path) -> None:
    means, pulls, seeds, fraction, bound = CASES[policy]
    alone = np.mean([one_process(policy, pulls, seed, means=means) for seed in range(seeds)])
    together = np.mean([shared(policy, pulls, seed, tmp_path, processes=4, sync_interval=0.1,
                               sync_fraction=fraction, means=means)[0] for seed in range(seeds)])
    uniform = pulls * float(np.mean(max(means) - np.asarray(means)))  # no learning at all
    assert alone < 0.5 * uniform  # the reference run learnt
    assert together <= bound * alone, (together, alone)
