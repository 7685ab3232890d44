"""Contextual bandits: regret of abkit's LinUCB / LinTS / LogisticTS against MABWiser's, same streams.

Environments (seeded; the same in notebooks/04_bandits.ipynb): ``K = 5`` arms, ``d = 5``
features, contexts ``x ~ N(0, I_d)``, coefficients ``theta_k ~ N(0, I_d / d)`` drawn with seed
2026 (times 2 for the logistic environment).

* ``linear``: reward ``x' theta_k + N(0, 1)``;
* ``logistic``: reward ``Bernoulli(sigmoid(x' theta_k))``.

Regret is ``sum_t max_k mu_k(x_t) - mu_{A_t}(x_t)`` (pseudo-regret). Policies: LinUCB with
``alpha = 1`` and LinTS with ``v = 1`` (MABWiser ``alpha = 1``), both with ``l2 = 1``; abkit's
LogisticTS (``l2 = 1``) and the non-contextual ThompsonGaussian as references.

Three parts (run from the repository root)::

    PYTHONPATH=. python benchmarks/regret_contextual.py abkit    # abkit online: 100 runs x 100,000 steps
    PYTHONPATH=. python benchmarks/regret_contextual.py batched  # abkit and MABWiser, batches of 100
    PYTHONPATH=. python benchmarks/regret_contextual.py online   # both, one decision at a time

``--runs`` and ``--horizon`` override the defaults. MABWiser takes about 5 ms per online
decision on this machine (``predict`` + ``partial_fit``), so its online part is short; in the
batched part both libraries choose 100 requests with ``predict`` / ``select_many`` and then learn
them with ``partial_fit`` / ``update_batch``. Paired parts give both libraries the same contexts
and the same noise in every run. Output: one line per policy, mean final regret with a 95%
normal interval over runs.
"""

from __future__ import annotations

import argparse
import math
import time
import warnings
from typing import Any

import numpy as np

from abkit.bandits import (
    LinTS,
    LinUCB,
    LogisticTS,
    ThompsonBernoulli,
    ThompsonGaussian,
    simulate_contextual,
    warmup,
)

K, D, SEED = 5, 5, 2026


def coefs(environment: str) -> np.ndarray:
    """The environment's coefficient matrix ``(K, D)``."""
    theta = np.random.default_rng(SEED).normal(0.0, 1.0 / math.sqrt(D), size=(K, D))
    return theta * (2.0 if environment == "logistic" else 1.0)


def stream(environment: str, run: int, horizon: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Contexts ``(horizon, D)``, true mean rewards ``(horizon, K)`` and one draw per step.

    The draw is the noise of a linear reward, or the uniform a Bernoulli reward compares with
    the chosen arm's mean: see :func:`rewards`.
    """
    rng = np.random.default_rng([SEED, run])
    x = rng.standard_normal((horizon, D))
    score = x @ coefs(environment).T
    if environment == "logistic":
        return x, 1.0 / (1.0 + np.exp(-score)), rng.random(horizon)
    return x, score, rng.standard_normal(horizon)


def rewards(environment: str, mean: np.ndarray, draw: np.ndarray) -> np.ndarray:
    """Rewards of the chosen arms with true means ``mean`` and the steps' draws."""
    if environment == "logistic":
        return (draw < mean).astype(float)
    return mean + draw


def abkit_policy(name: str, run: int) -> Any:
    if name == "LinUCB":
        return LinUCB(K, D, alpha=1.0, l2=1.0, rng=run)
    if name == "LinTS":
        return LinTS(K, D, v=1.0, l2=1.0, rng=run)
    return LogisticTS(K, D, l2=1.0, rng=run)


def mabwiser_policy(name: str, run: int) -> Any:
    from mabwiser.mab import MAB, LearningPolicy

    learning = (
        LearningPolicy.LinUCB(alpha=1.0, l2_lambda=1.0)
        if name == "LinUCB"
        else LearningPolicy.LinTS(alpha=1.0, l2_lambda=1.0)
    )
    return MAB(arms=list(range(K)), learning_policy=learning, seed=run)


def play(library: str, name: str, environment: str, run: int, horizon: int, batch: int) -> float:
    """Final pseudo-regret of one paired run; the first batch is uniformly random for both."""
    x, means, draw = stream(environment, run, horizon)
    first = np.random.default_rng([SEED, run, 1]).integers(0, K, size=batch)
    policy = abkit_policy(name, run) if library == "abkit" else mabwiser_policy(name, run)
    chosen = np.empty(horizon, dtype=np.int64)
    for start in range(0, horizon, batch):
        rows = np.arange(start, min(start + batch, horizon))
        block = x[rows]
        if start == 0:
            arms = first[: rows.size]
        elif library == "mabwiser":
            arms = np.atleast_1d(np.asarray(policy.predict(block), dtype=np.int64))
        elif batch == 1:
            arms = np.array([policy.select(block[0])])
        else:
            arms = policy.select_many(block)
        chosen[rows] = arms
        got = rewards(environment, means[rows, arms], draw[rows])
        if library == "mabwiser":
            learn = policy.fit if start == 0 else policy.partial_fit
            learn(decisions=arms, rewards=got, contexts=block)
        elif batch == 1:
            policy.update(int(arms[0]), float(got[0]), block[0])
        else:
            policy.update_batch(arms, got, block)
    return float((means.max(axis=1) - means[np.arange(horizon), chosen]).sum())


def play_noncontextual(environment: str, run: int, horizon: int) -> float:
    """Final regret of non-contextual Thompson sampling on the same stream, online.

    ThompsonBernoulli on the logistic environment, ThompsonGaussian with a unit prior on the
    linear one: both ignore the context.
    """
    _, means, draw = stream(environment, run, horizon)
    if environment == "logistic":
        policy: Any = ThompsonBernoulli(K, rng=run)
    else:
        policy = ThompsonGaussian(K, prior=(0.0, 1.0, 1.0, 1.0), rng=run)
    chosen = np.empty(horizon, dtype=np.int64)
    for t in range(horizon):
        arm = policy.select()
        chosen[t] = arm
        policy.update(arm, float(rewards(environment, means[t, arm], draw[t])))
    return float((means.max(axis=1) - means[np.arange(horizon), chosen]).sum())


def summary(values: list[float]) -> dict[str, float]:
    array = np.asarray(values)
    se = float(array.std(ddof=1) / math.sqrt(array.size)) if array.size > 1 else math.nan
    mean = float(array.mean())
    return {"mean": mean, "low": mean - 1.96 * se, "high": mean + 1.96 * se, "runs": int(array.size)}


def show(label: str, result: dict[str, float], seconds: float) -> None:
    print(
        f"{label:<36} {result['mean']:10.1f}  [{result['low']:9.1f}, {result['high']:9.1f}]"
        f"  runs {result['runs']:3d}  {seconds:7.1f} s"
    )


def part_abkit(runs: int, horizon: int) -> None:
    for environment in ("linear", "logistic"):
        names = ("LinUCB", "LinTS") + (("LogisticTS",) if environment == "logistic" else ())
        for name in names:
            start = time.perf_counter()
            regret = simulate_contextual(
                abkit_policy(name, 0),
                coefs(environment),
                horizon=horizon,
                n_runs=runs,
                rng=SEED,
                environment=environment,
                progress=False,
            )
            result = summary(regret[:, -1].tolist())
            show(f"{environment:<9} abkit {name}", result, time.perf_counter() - start)
        start = time.perf_counter()
        result = summary([play_noncontextual(environment, run, horizon) for run in range(runs)])
        show(f"{environment:<9} non-contextual Thompson", result, time.perf_counter() - start)


def part_paired(runs: int, horizon: int, batch: int) -> None:
    for environment in ("linear", "logistic"):
        for name in ("LinUCB", "LinTS"):
            for library in ("abkit", "mabwiser"):
                start = time.perf_counter()
                values = [play(library, name, environment, run, horizon, batch) for run in range(runs)]
                result = summary(values)
                show(f"{environment:<9} {library:<8} {name}", result, time.perf_counter() - start)
        if environment == "logistic":
            start = time.perf_counter()
            values = [play("abkit", "LogisticTS", environment, run, horizon, batch) for run in range(runs)]
            result = summary(values)
            show(f"{environment:<9} abkit    LogisticTS", result, time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("part", choices=("abkit", "batched", "online"))
    parser.add_argument("--runs", type=int)
    parser.add_argument("--horizon", type=int)
    args = parser.parse_args()
    defaults = {"abkit": (100, 100_000), "batched": (20, 100_000), "online": (5, 5_000)}
    runs, horizon = defaults[args.part]
    runs, horizon = args.runs or runs, args.horizon or horizon
    warnings.filterwarnings("ignore")
    warmup()
    print(f"part {args.part}: {runs} runs x {horizon:,} steps; final regret, mean [95% CI]")
    if args.part == "abkit":
        part_abkit(runs, horizon)
    else:
        part_paired(runs, horizon, 100 if args.part == "batched" else 1)


if __name__ == "__main__":
    main()
