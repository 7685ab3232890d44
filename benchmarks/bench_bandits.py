"""Bandits: abkit against MABWiser and river on the same work, in one process.

1. Per-decision latency of ``select()`` + ``update()`` from Python, 10-arm Beta-Bernoulli
   Thompson sampling and UCB1 (the same reward stream for every library).
2. Throughput of a 1,000,000-step Thompson simulation against a bare numba loop doing the same
   draws (NumPy's ``Generator.beta`` per arm and step, one uniform per reward).
3. Start-up: ``abkit.bandits.warmup()`` in a fresh interpreter (numba's on-disk cache warm).
4. Contextual: ``select(x)`` + ``update(arm, reward, x)`` with 10 features and 10 arms, abkit's
   LinUCB / LinTS against MABWiser's ``predict`` + ``partial_fit`` on the same stream; and a
   100,000-step LinTS simulation against a bare numba loop (``_linear_kernels.lints_bare``).

Run from the repository root: ``python benchmarks/bench_bandits.py`` (needs ``pip install
mabwiser river``, the ``bench`` extra); ``--contextual`` runs section 4 alone (MABWiser only).
Timings are medians of repeated blocks.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable

import numpy as np

from abkit.bandits import UCB1, LinTS, LinUCB, ThompsonBernoulli, simulate, simulate_contextual, warmup
from abkit.bandits import _kernels as kernels
from abkit.bandits import _linear_kernels as linear_kernels

N_ARMS = 10
Pair = tuple[Callable[[], int], Callable[[int, float], None]]
MEANS = np.linspace(0.05, 0.14, N_ARMS)


def _decisions(select: Callable[[], int], update: Callable[[int, float], None], n: int, seed: int) -> float:
    uniforms = np.random.default_rng(seed).random(n).tolist()
    means = MEANS.tolist()
    start = time.perf_counter()
    for u in uniforms:
        arm = select()
        update(arm, 1.0 if u < means[arm] else 0.0)
    return (time.perf_counter() - start) / n * 1e6


def latency(make: Callable[[], Pair], n: int, repeats: int) -> float:
    """Median microseconds per select + update over ``repeats`` blocks of ``n`` decisions."""
    select, update = make()
    _decisions(select, update, min(n, 200), 0)  # warm caches
    return statistics.median(_decisions(select, update, n, seed) for seed in range(1, repeats + 1))


def abkit_policy(kind: str) -> Pair:
    policy = ThompsonBernoulli(N_ARMS, rng=1) if kind == "thompson" else UCB1(N_ARMS, rng=1)
    return policy.select, policy.update


def mabwiser_policy(kind: str) -> Pair:
    from mabwiser.mab import MAB, LearningPolicy

    learning = LearningPolicy.ThompsonSampling() if kind == "thompson" else LearningPolicy.UCB1(alpha=1.0)
    mab = MAB(arms=list(range(N_ARMS)), learning_policy=learning, seed=1)
    mab.fit(decisions=list(range(N_ARMS)), rewards=[0] * N_ARMS)

    def update(arm: int, reward: float) -> None:
        mab.partial_fit(decisions=[arm], rewards=[reward])

    return mab.predict, update


def river_policy(kind: str) -> Pair:
    from river import bandit, proba

    if kind == "thompson":
        policy = bandit.ThompsonSampling(reward_obj=proba.Beta(), seed=1)
    else:
        policy = bandit.UCB(delta=1.0, seed=1)
    arms = list(range(N_ARMS))
    return (lambda: policy.pull(arms)), policy.update


def simulation(repeats: int = 5, horizon: int = 1_000_000) -> tuple[float, float]:
    """Median seconds of a 1,000,000-step 10-arm Thompson run: abkit.simulate and the bare loop."""
    ours, bare = [], []
    for seed in range(repeats):
        start = time.perf_counter()
        simulate(ThompsonBernoulli(N_ARMS), MEANS, horizon=horizon, n_runs=1, rng=seed, progress=False)
        ours.append(time.perf_counter() - start)
        rng = np.random.default_rng(seed)
        start = time.perf_counter()
        kernels.thompson_bernoulli_bare(MEANS, horizon, rng)
        bare.append(time.perf_counter() - start)
    return statistics.median(ours), statistics.median(bare)


N_FEATURES = 10
COEFS = np.random.default_rng(2026).normal(0.0, 1.0 / np.sqrt(N_FEATURES), size=(N_ARMS, N_FEATURES))
ContextualPair = tuple[Callable[[np.ndarray], int], Callable[[int, float, np.ndarray], None]]


def _contextual_decisions(make: Callable[[], ContextualPair], n: int, seed: int) -> float:
    select, update = make()
    rng = np.random.default_rng(seed)
    contexts = rng.standard_normal((n, N_FEATURES))
    means = contexts @ COEFS.T
    noise = rng.standard_normal(n).tolist()
    rows = [contexts[j : j + 1] for j in range(n)]  # (1, d) views, the shape MABWiser takes
    start = time.process_time()  # CPU time: the shared machine's load inflates wall time
    for j in range(n):
        arm = select(rows[j])
        update(arm, means[j, arm] + noise[j], rows[j])
    return (time.process_time() - start) / n * 1e6


def contextual_latency(make: Callable[[], ContextualPair], n: int, repeats: int) -> float:
    """Median CPU microseconds per contextual select + update over ``repeats`` blocks of ``n``."""
    return statistics.median(_contextual_decisions(make, n, seed) for seed in range(1, repeats + 1))


def abkit_contextual(kind: str, warm: int = 1000) -> ContextualPair:
    policy = (
        LinUCB(N_ARMS, N_FEATURES, alpha=1.0, rng=1) if kind == "linucb" else LinTS(N_ARMS, N_FEATURES, rng=1)
    )
    rng = np.random.default_rng(0)
    contexts = rng.standard_normal((warm, N_FEATURES))
    arms = rng.integers(0, N_ARMS, warm)
    policy.update_batch(arms, (contexts * COEFS[arms]).sum(axis=1), contexts)

    def select(x: np.ndarray) -> int:
        return policy.select(x[0])

    def update(arm: int, reward: float, x: np.ndarray) -> None:
        policy.update(arm, float(reward), x[0])

    return select, update


def mabwiser_contextual(kind: str, warm: int = 1000) -> ContextualPair:
    from mabwiser.mab import MAB, LearningPolicy

    if kind == "linucb":
        learning = LearningPolicy.LinUCB(alpha=1.0, l2_lambda=1.0)
    else:
        learning = LearningPolicy.LinTS(alpha=1.0, l2_lambda=1.0)
    mab = MAB(arms=list(range(N_ARMS)), learning_policy=learning, seed=1)
    rng = np.random.default_rng(0)
    contexts = rng.standard_normal((warm, N_FEATURES))
    arms = rng.integers(0, N_ARMS, warm)
    mab.fit(decisions=arms, rewards=(contexts * COEFS[arms]).sum(axis=1), contexts=contexts)

    def update(arm: int, reward: float, x: np.ndarray) -> None:
        mab.partial_fit(decisions=[arm], rewards=[reward], contexts=x)

    return mab.predict, update


def contextual_simulation(repeats: int = 3, horizon: int = 100_000) -> tuple[float, float]:
    """Median seconds of a 100,000-step LinTS run (10 arms, 10 features): simulate and bare loop."""
    ours, bare = [], []
    for seed in range(repeats):
        start = time.perf_counter()
        simulate_contextual(
            LinTS(N_ARMS, N_FEATURES), COEFS, horizon=horizon, n_runs=1, rng=seed, progress=False
        )
        ours.append(time.perf_counter() - start)
        rng = np.random.default_rng(seed)
        start = time.perf_counter()
        linear_kernels.lints_bare(COEFS, 1.0, 1.0, 1.0, horizon, rng)
        bare.append(time.perf_counter() - start)
    return statistics.median(ours), statistics.median(bare)


def startup() -> float:
    code = (
        "import time; t = time.perf_counter(); from abkit.bandits import warmup; warmup(); "
        "print(time.perf_counter() - t)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def main() -> None:
    if "--contextual" in sys.argv[1:]:
        warmup()
        contextual()
        return
    warnings.filterwarnings("ignore", module="mabwiser")
    warmup()
    print(f"10 arms; medians; Python {sys.version.split()[0]}")
    print("\nselect() + update() latency, microseconds per decision")
    header = ("policy", "abkit", "MABWiser", "river", "MABWiser/abkit", "river/abkit")
    print("{:<10} {:>8} {:>10} {:>8} {:>15} {:>12}".format(*header))
    for kind in ("thompson", "ucb1"):
        ours = latency(lambda kind=kind: abkit_policy(kind), 20_000, 7)
        mab = latency(lambda kind=kind: mabwiser_policy(kind), 300, 5)
        riv = latency(lambda kind=kind: river_policy(kind), 5_000, 5)
        print(f"{kind:<10} {ours:8.2f} {mab:10.1f} {riv:8.1f} {mab / ours:15.0f} {riv / ours:12.1f}")
    ours_s, bare_s = simulation()
    print("\n1,000,000-step Thompson simulation (10 arms), seconds")
    print(f"abkit.simulate {ours_s:.3f}  bare numba loop {bare_s:.3f}  ratio {ours_s / bare_s:.2f}")
    print(f"steps per second: abkit {1e6 / ours_s:,.0f}, bare {1e6 / bare_s:,.0f}")
    print(f"\nwarmup() in a fresh interpreter (numba cache warm): {startup():.2f} s")
    contextual()


def contextual() -> None:
    """Section 4 (alone: ``python benchmarks/bench_bandits.py --contextual``)."""
    warnings.filterwarnings("ignore", module="mabwiser")
    print(f"\nContextual select(x) + update(arm, reward, x), {N_FEATURES} features, CPU microseconds")
    print("{:<10} {:>8} {:>10} {:>15}".format("policy", "abkit", "MABWiser", "MABWiser/abkit"))
    for kind in ("linucb", "lints"):
        ours = contextual_latency(lambda kind=kind: abkit_contextual(kind), 20_000, 7)
        mab = contextual_latency(lambda kind=kind: mabwiser_contextual(kind), 200, 3)
        print(f"{kind:<10} {ours:8.2f} {mab:10.1f} {mab / ours:15.0f}")
    ours_s, bare_s = contextual_simulation()
    print("\n100,000-step LinTS simulation (10 arms, 10 features), seconds")
    print(
        f"abkit.simulate_contextual {ours_s:.3f}  bare numba loop {bare_s:.3f}  ratio {ours_s / bare_s:.2f}"
    )


if __name__ == "__main__":
    main()
