"""Regret of a Bernoulli bandit served by one process, or by several processes sharing a store.

Used by ``test_bandit_regret.py`` (a small, loose check in the suite) and by
``benchmarks/regret_shared.py`` (the full measurement). Regret is the *pseudo-regret*
``sum over pulls of (best mean - mean of the arm pulled)``: the expected loss of the decisions
made, free of the noise of the reward draws themselves (the usual measure in bandit papers).

The processes are forked (``multiprocessing`` "fork"), each opens its own connection to one
SQLite file and runs its own :class:`abkit.adapters.BanditRouter` on it, pulling as fast as it
can: the fastest request rate, so the most pulls between two exchanges of ``sync_interval``
seconds (the hardest case for sharing).
"""

from __future__ import annotations

import multiprocessing
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from abkit.adapters import BanditRouter
from abkit.adapters.stores import SQLiteStore
from abkit.bandits import KLUCB, UCB1, EpsilonGreedy, ThompsonBernoulli

__all__ = ["MEANS", "POLICIES", "one_process", "shared"]

MEANS = (0.3, 0.4, 0.5)
POLICIES: dict[str, Any] = {  # (number of arms, rng) -> a policy with no data
    "ThompsonBernoulli": lambda arms, rng: ThompsonBernoulli(arms, rng=rng),
    "UCB1": lambda arms, rng: UCB1(arms),
    "KLUCB": lambda arms, rng: KLUCB(arms),
    "EpsilonGreedy": lambda arms, rng: EpsilonGreedy(arms, epsilon=0.1, rng=rng),
}
FORK = multiprocessing.get_context("fork")  # a fresh interpreter would spend seconds importing


def _pull(router: BanditRouter, n: int, rng: np.random.Generator, prefix: str, means: Sequence[float]) -> float:
    """``n`` route+record pairs; the pseudo-regret of the arms pulled."""
    gaps = max(means) - np.asarray(means)
    regret = 0.0
    for i in range(n):
        route = router.route(f"{prefix}{i}")
        arm = route.variant_index
        regret += gaps[arm]
        router.record(route.unit_id, float(rng.random() < means[arm]))
    return float(regret)


def one_process(policy: str, pulls: int, seed: int, *, means: Sequence[float] = MEANS) -> float:
    """Pseudo-regret of ``pulls`` pulls by one router in this process (no store: immediate updates)."""
    router = BanditRouter("one", POLICIES[policy](len(means), np.random.default_rng([seed, 1])),
                          rng=np.random.default_rng([seed, 2]))
    return _pull(router, pulls, np.random.default_rng([seed, 3]), "u", means)


def _worker(path: str, experiment: str, policy: str, pulls: int, seed: int, worker: int, means: Sequence[float],
            sync: dict[str, Any], barrier: Any, results: Any) -> None:
    store = SQLiteStore(path)
    router = BanditRouter(experiment, POLICIES[policy](len(means), np.random.default_rng([seed, worker, 1])),
                          store=store, rng=np.random.default_rng([seed, worker, 2]), **sync)
    rng = np.random.default_rng([seed, worker, 3])
    barrier.wait(60)  # every worker starts together, from an empty store
    started = time.perf_counter()
    regret = _pull(router, pulls, rng, f"w{worker}-", means)
    seconds = time.perf_counter() - started
    exchanges = router._pushes  # pushes of new rewards (one per exchange that had some)
    router.sync()
    results.put((worker, regret, seconds, exchanges))
    store.close()


def shared(policy: str, pulls: int, seed: int, folder: str | Path, *, processes: int = 4,
           sync_interval: float = 0.1, sync_updates: int | None = None,
           sync_fraction: float | None = None, means: Sequence[float] = MEANS) -> tuple[float, float, float]:
    """Pseudo-regret of ``pulls`` pulls split evenly over ``processes`` forked processes sharing one
    SQLite store, the pulls per process per second they achieved and their mean number of
    exchanges (the router's ``sync_*`` options as given)."""
    path = str(Path(folder) / f"regret-{policy}-{seed}-{uuid.uuid4().hex}.db")  # a new, empty store
    barrier, results = FORK.Barrier(processes), FORK.Queue()
    share = pulls // processes
    sync = {"sync_interval": sync_interval, "sync_updates": sync_updates, "sync_fraction": sync_fraction}
    workers = [FORK.Process(target=_worker, args=(path, f"regret-{seed}", policy, share, seed, w, means, sync,
                                                  barrier, results))
               for w in range(processes)]
    for w in workers:
        w.start()
    out = [results.get(timeout=600) for _ in workers]
    for w in workers:
        w.join(60)
        if w.exitcode != 0:
            raise RuntimeError(f"a regret worker exited with {w.exitcode}")
    return (sum(r for _, r, _, _ in out), share / float(np.mean([s for _, _, s, _ in out])),
            float(np.mean([e for *_, e in out])))
