"""Regenerate thompson_reference.json: Beta-Bernoulli Thompson sampling's regret, computed independently.

A plain NumPy implementation (no numba, no abkit), vectorised over runs with
``Generator.beta``, on the issue's arms (0.10, 0.11, 0.12, 0.15) with Beta(1, 1) priors::

    cd abkit/tests/bandits/data && python make_thompson_reference.py > thompson_reference.json
"""

from __future__ import annotations

import json

import numpy as np

SEED = 97
MEANS = (0.10, 0.11, 0.12, 0.15)
HORIZON = 100_000
N_RUNS = 400
CHECKPOINTS = (1_000, 10_000, 100_000)


def main() -> None:
    rng = np.random.default_rng(SEED)
    means = np.array(MEANS)
    gaps = means.max() - means
    alpha = np.ones((N_RUNS, means.size))
    beta = np.ones((N_RUNS, means.size))
    regret = np.zeros(N_RUNS)
    rows = np.arange(N_RUNS)
    summary = {}
    for t in range(1, HORIZON + 1):
        arms = rng.beta(alpha, beta).argmax(axis=1)
        success = rng.random(N_RUNS) < means[arms]
        alpha[rows, arms] += success
        beta[rows, arms] += ~success
        regret += gaps[arms]
        if t in CHECKPOINTS:
            summary[str(t)] = {"mean": float(regret.mean()), "sd": float(regret.std(ddof=1))}
    print(
        json.dumps(
            {
                "source": (
                    f"independent NumPy {np.__version__} implementation in make_thompson_reference.py "
                    f"(Beta(1, 1) priors, Generator.beta, seed {SEED}), {N_RUNS} runs; cumulative "
                    "pseudo-regret sum_t (max mu - mu_arm)"
                ),
                "means": list(MEANS),
                "n_runs": N_RUNS,
                "regret": summary,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
