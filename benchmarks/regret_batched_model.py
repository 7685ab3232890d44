"""What delayed exchanges cost Thompson sampling: a model of the shared bandit's schedule, without abkit.

``k`` workers take turns pulling a Bernoulli bandit (round robin, one pull each); each samples
Thompson sampling's Beta(1 + s, 1 + n - s) posteriors from what it knows: the store's totals at its
last exchange plus its own rewards since. An exchange (push own rewards, take the totals) comes
after ``B`` own rewards (``--batches``: a proxy for a timed exchange, ``B`` = pulls per process
per ``sync_interval``), or after ``max(1, f n)`` own rewards (``--fractions``, ``n`` the rewards
known; ``BanditRouter(sync_fraction=f)``, capped at ``--cap`` own rewards as ``sync_interval``
would). Plain numpy, vectorised over seeds: an independent check of what
``benchmarks/regret_shared.py`` measures with real processes, and the expectation to compare it
with. One process (``k = 1``, ``B = 1``) is the reference.

    python benchmarks/regret_batched_model.py --pulls 4000 --seeds 4000

Figures: benchmarks/README.md.
"""

from __future__ import annotations

import argparse

import numpy as np

MEANS = np.array([0.3, 0.4, 0.5])


def simulate(pulls: int, seeds: int, workers: int, *, batch: int | None = None, fraction: float | None = None,
             cap: int | None = None, rng: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Pseudo-regret per seed and exchanges per worker per seed."""
    gen = np.random.default_rng(rng)
    gaps = MEANS.max() - MEANS
    arms = len(MEANS)
    store = np.zeros((seeds, 2, arms))  # successes, pulls
    seen = np.zeros((seeds, workers, 2, arms))
    own = np.zeros((seeds, workers, 2, arms))
    since = np.zeros((seeds, workers))
    exchanges = np.zeros(seeds)
    regret = np.zeros(seeds)
    rows = np.arange(seeds)
    for _ in range(pulls // workers):
        for w in range(workers):
            s, n = seen[:, w, 0] + own[:, w, 0], seen[:, w, 1] + own[:, w, 1]
            arm = gen.beta(1 + s, 1 + n - s).argmax(1)
            regret += gaps[arm]
            reward = (gen.random(seeds) < MEANS[arm]).astype(float)
            own[rows, w, 0, arm] += reward
            own[rows, w, 1, arm] += 1
            since[:, w] += 1
            due = np.zeros(seeds, dtype=bool)
            if batch is not None:
                due |= since[:, w] >= batch
            if fraction is not None:
                due |= since[:, w] >= np.maximum(1.0, np.ceil(fraction * n.sum(1)))
            if cap is not None:
                due |= since[:, w] >= cap
            store[due] += own[due, w]
            own[due, w] = 0.0
            seen[due, w] = store[due]
            since[due, w] = 0
            exchanges += due
    return regret, exchanges / workers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pulls", type=int, default=4000)
    parser.add_argument("--seeds", type=int, default=4000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--batches", type=int, nargs="*", default=[1, 15, 30, 60, 100])
    parser.add_argument("--fractions", type=float, nargs="*", default=[0.01, 0.02, 0.05])
    parser.add_argument("--cap", type=int, default=60)
    args = parser.parse_args()
    one, _ = simulate(args.pulls, args.seeds, 1, batch=1, rng=1)
    m1, s1 = one.mean(), one.std(ddof=1) / np.sqrt(args.seeds)
    print(f"means {MEANS.tolist()}, {args.pulls} pulls, {args.seeds} seeds, {args.workers} workers; "
          f"one process: {m1:.2f} ({s1:.2f})")
    print("| exchange after | regret (SE) | ratio [95% CI] | exchanges per worker |")
    print("|---|---|---|---|")
    configs = [(f"B = {b} own rewards", {"batch": b}) for b in args.batches]
    configs += [(f"max(1, {f} n), at most {args.cap}", {"fraction": f, "cap": args.cap})
                for f in args.fractions]
    for i, (label, options) in enumerate(configs):
        many, exchanges = simulate(args.pulls, args.seeds, args.workers, rng=2 + i, **options)
        m, s = many.mean(), many.std(ddof=1) / np.sqrt(args.seeds)
        ratio = m / m1
        se = ratio * np.hypot(s / m, s1 / m1)
        low, high = ratio - 1.96 * se, ratio + 1.96 * se
        print(f"| {label} | {m:.2f} ({s:.2f}) | {ratio:.3f} [{low:.3f}, {high:.3f}] | "
              f"{exchanges.mean():.0f} |", flush=True)


if __name__ == "__main__":
    main()
