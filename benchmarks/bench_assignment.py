"""Per-request cost of assignment: abkit's routers against GrowthBook's Python SDK.

Run: ``python benchmarks/bench_assignment.py [--requests 100000] [--repeats 7] [--bandit-requests 20000]
[--evaluation-requests 20000] [--only assignment|evaluation|bandit]``

Each request is a new unit id. abkit: ``router.route(unit)`` and ``route`` + ``record(unit, outcome)``
on a ``FixedSplitRouter`` (50/50), for GrowthBook hash versions 2 and 1 and Optimizely's
MurmurHash3. GrowthBook: ``gb.set_attributes({"id": unit})`` then ``gb.run(experiment)`` on one
``GrowthBook`` instance (the SDK's assignment; it records nothing), and its bare ``gbhash`` +
``chooseVariation``. Both sides must agree on every assignment. Medians over the repeats, in
microseconds per request, of the process's CPU time (``time.process_time``): on a shared machine
wall time also counts the time spent waiting for a core.

GrowthBook evaluation (``abkit.flags``): per unit, ``evaluate_condition`` against the SDK's
``evalCondition`` on a targeting condition (``$in``, ``$gte``, ``$vgte``, ``$regex``);
``run_experiment`` on an experiment with that condition against ``set_attributes`` + ``run``;
``evaluate_feature`` on a feature with a force rule and an experiment rule against
``set_attributes`` + ``eval_feature``. The compiled paths too: ``compile_condition(condition)``
called per unit, ``run_experiment`` on a prebuilt ``ExperimentSpec`` (its condition compiled and
cached on the spec), and ``FeatureSet(features).evaluate``, each against the same SDK call. Both
sides must agree on every unit.

Bandit router (``BanditRouter``, 3 arms, Bernoulli rewards 4/5/6%): ``route`` + ``record`` per
request for epsilon-greedy, UCB1 and Thompson sampling (default ``refresh=0.01``), from a policy
warm-started with 100,000 rewards (steady state) and, for Thompson, from an empty one (every
quadrature refresh of the early phase included); against the bare policy's ``select`` +
``update`` (no propensity, no pending map, no log). The Thompson allocation is ``prob_best()``:
its fixed Gauss-Legendre rule is timed against the adaptive quadrature it falls back to, on the
router's posteriors after 300 and 100,000 rewards.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from collections.abc import Callable

import numpy as np

from abkit.adapters import BanditRouter, FixedSplitRouter
from abkit.bandits import UCB1, BasePolicy, EpsilonGreedy, ThompsonBernoulli, _posterior, warmup
from abkit.flags import (
    ExperimentSpec,
    FeatureSet,
    compile_condition,
    evaluate_condition,
    evaluate_feature,
    run_experiment,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from growthbook import Experiment, GrowthBook
    from growthbook.core import chooseVariation, evalCondition, gbhash, getBucketRanges

KEY = "checkout-button"


def _per_request(work: Callable[[], None], n: int, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.process_time()
        work()
        times.append((time.process_time() - start) / n * 1e6)
    return statistics.median(times)


def _bandit_results(n: int, repeats: int) -> dict[str, float]:
    rates = np.array([0.04, 0.05, 0.06])
    rewards = (np.random.default_rng(0).random((n, 3)) < rates).astype(float).tolist()
    requests = [f"req-{i}" for i in range(n)]

    def warm(policy: BasePolicy) -> BasePolicy:
        policy.warm_start(counts=[33_334, 33_333, 33_333], means=rates, variances=rates * (1 - rates))
        return policy

    makers = {
        "epsilon-greedy": lambda: warm(EpsilonGreedy(3, epsilon=0.1)),
        "UCB1": lambda: warm(UCB1(3)),
        "Thompson": lambda: warm(ThompsonBernoulli(3)),
        "Thompson, empty start": lambda: ThompsonBernoulli(3),
    }
    warmup()  # compile the policies' kernels before timing
    results: dict[str, float] = {}
    for name, make in makers.items():
        times = []
        for _ in range(repeats if name != "Thompson, empty start" else 1):
            router = BanditRouter("bench", make(), rng=1)
            route, record = router.route, router.record
            start = time.process_time()
            for request, reward in zip(requests, rewards, strict=True):
                record(request, reward[route(request).variant_index])
            times.append((time.process_time() - start) / n * 1e6)
        results[f"abkit BanditRouter route + record, {name}"] = statistics.median(times)
        if name != "Thompson, empty start":
            policy = make()

            def bare(policy: BasePolicy = policy) -> None:
                for reward in rewards:
                    arm = policy.select()
                    policy.update(arm, reward[arm])

            results[f"bare policy select + update, {name}"] = _per_request(bare, n, repeats)
    return results


CONDITION = {"country": {"$in": ["NZ", "AU", "US"]}, "age": {"$gte": 18},
             "app_version": {"$vgte": "2.4.0"}, "email": {"$regex": "@example\\.(com|org)$"}}
FEATURES = {"new-ranker": {"defaultValue": "old", "rules": [
    {"id": "staff", "condition": {"email": {"$regex": "@staff\\.example\\.com$"}}, "force": "new"},
    {"id": "test", "key": "ranker-test", "hashVersion": 2, "variations": ["old", "new"],
     "weights": [0.5, 0.5], "condition": CONDITION}]}}


EVALUATION_PAIRS = [
    ("abkit evaluate_condition", "GrowthBook SDK evalCondition"),
    ("abkit compile_condition(...)(attributes)", "GrowthBook SDK evalCondition"),
    ("abkit run_experiment (prebuilt ExperimentSpec)", "GrowthBook SDK set_attributes + run"),
    ("abkit run_experiment (GrowthBook JSON per call)", "GrowthBook SDK set_attributes + run"),
    ("abkit evaluate_feature (force + experiment rule)", "GrowthBook SDK set_attributes + eval_feature"),
    ("abkit FeatureSet.evaluate (force + experiment rule)", "GrowthBook SDK set_attributes + eval_feature"),
]


def _evaluation_results(units: list[str], repeats: int) -> dict[str, float]:
    countries = ["NZ", "AU", "US", "FR"]
    people = [{"id": unit, "country": countries[i % 4], "age": 15 + i % 40,
               "app_version": f"2.{i % 7}.{i % 3}", "email": f"{unit}@example.{'com' if i % 5 else 'net'}"}
              for i, unit in enumerate(units)]
    # Both sides build their experiment once (abkit also takes GrowthBook's JSON, at ~3 µs a call).
    experiment = ExperimentSpec(key="ranker-test", variations=[0, 1], hash_version=2, condition=CONDITION)
    gb_experiment = Experiment(key="ranker-test", variations=[0, 1], hashVersion=2, condition=CONDITION)
    gb = GrowthBook(attributes=people[0], features=FEATURES)
    matches, feature_set = compile_condition(CONDITION), FeatureSet(FEATURES)  # built once
    for attributes in people:  # same answers on every unit, interpreted and compiled
        gb.set_attributes(attributes)
        ours = (evaluate_condition(CONDITION, attributes),
                run_experiment(experiment, attributes).variation_id,
                evaluate_feature("new-ranker", FEATURES, attributes).to_dict())
        compiled = (matches(attributes), ours[1], feature_set.evaluate("new-ranker", attributes).to_dict())
        sdk_feature_result = gb.eval_feature("new-ranker")
        theirs = (evalCondition(attributes, CONDITION), gb.run(gb_experiment).variationId,
                  sdk_feature_result.value)
        if (ours[0], ours[1], ours[2]["value"]) != theirs or compiled != ours:
            raise AssertionError(f"abkit and GrowthBook differ for {attributes}: {ours} != {theirs}")

    def abkit_condition() -> None:
        for attributes in people:
            evaluate_condition(CONDITION, attributes)

    def sdk_condition() -> None:
        for attributes in people:
            evalCondition(attributes, CONDITION)

    def abkit_run() -> None:
        for attributes in people:
            run_experiment(experiment, attributes)

    def sdk_run() -> None:
        for attributes in people:
            gb.set_attributes(attributes)
            gb.run(gb_experiment)

    def abkit_feature() -> None:
        for attributes in people:
            evaluate_feature("new-ranker", FEATURES, attributes)

    def compiled_condition() -> None:
        for attributes in people:
            matches(attributes)

    def compiled_feature() -> None:
        evaluate = feature_set.evaluate
        for attributes in people:
            evaluate("new-ranker", attributes)

    def sdk_feature() -> None:
        for attributes in people:
            gb.set_attributes(attributes)
            gb.eval_feature("new-ranker")

    def abkit_run_json() -> None:
        for attributes in people:
            run_experiment(experiment_json, attributes)

    experiment_json = experiment.to_dict()
    n = len(people)
    work = {
        "abkit evaluate_condition": abkit_condition,
        "abkit compile_condition(...)(attributes)": compiled_condition,
        "GrowthBook SDK evalCondition": sdk_condition,
        "abkit run_experiment (prebuilt ExperimentSpec)": abkit_run,
        "abkit run_experiment (GrowthBook JSON per call)": abkit_run_json,
        "GrowthBook SDK set_attributes + run": sdk_run,
        "abkit evaluate_feature (force + experiment rule)": abkit_feature,
        "abkit FeatureSet.evaluate (force + experiment rule)": compiled_feature,
        "GrowthBook SDK set_attributes + eval_feature": sdk_feature,
    }
    # Interleaved: each repeat times every row once, so load drifts hit all rows alike.
    times: dict[str, list[float]] = {name: [] for name in work}
    for _ in range(repeats):
        for name, run in work.items():
            times[name].append(_per_request(run, n, 1))
    return {name: statistics.median(values) for name, values in times.items()}


def _prob_best_results(repeats: int) -> dict[str, float]:
    # milliseconds per prob_best() on Beta(1 + s, 1 + n - s) posteriors of the 4/5/6% arms
    results: dict[str, float] = {}
    for total in (300, 100_000):
        n = np.full(3, total / 3)
        successes = np.round(n * np.array([0.04, 0.05, 0.06]))
        marginals = _posterior.beta_marginals(1.0 + successes, 1.0 + n - successes)
        fixed, adaptive = _posterior._fixed_rule(marginals)[0], _posterior._adaptive(marginals)[0]
        assert np.abs(fixed - adaptive).max() < 1e-10
        for name, work in (("fixed rule", _posterior.prob_best), ("adaptive", _posterior._adaptive)):
            times = []
            for _ in range(repeats):
                start = time.process_time()
                for _ in range(20):
                    work(marginals)
                times.append((time.process_time() - start) / 20 * 1e3)
            results[f"prob_best {name}, {total:,} rewards"] = statistics.median(times)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--bandit-requests", type=int, default=20_000)
    parser.add_argument("--evaluation-requests", type=int, default=20_000)
    parser.add_argument("--only", choices=["assignment", "evaluation", "bandit"],
                        help="run one block of the three")
    args = parser.parse_args()
    blocks = {args.only} if args.only else {"assignment", "evaluation", "bandit"}
    n, repeats = args.requests, args.repeats
    units = [f"user-{i}" for i in range(n)]

    if "assignment" in blocks:
        routers = {
            "growthbook v2": FixedSplitRouter(KEY, hash_version=2),
            "growthbook v1": FixedSplitRouter(KEY, hash_version=1),
            "optimizely": FixedSplitRouter(KEY, hashing="optimizely"),
        }
        results: dict[str, float] = {}
        for name, router in routers.items():
            route, record = router.route, router.record

            def route_only(route=route) -> None:
                for unit in units:
                    route(unit)

            def route_and_record(route=route, record=record) -> None:
                for unit in units:
                    route(unit)
                    record(unit, 1)

            results[f"abkit route, {name}"] = _per_request(route_only, n, repeats)
            results[f"abkit route + record, {name}"] = _per_request(route_and_record, n, repeats)

        ranges = getBucketRanges(2, 1.0, None)
        experiments = {version: Experiment(key=KEY, variations=[0, 1], hashVersion=version)
                       for version in (2, 1)}
        gb = GrowthBook(attributes={"id": units[0]})
        for version, experiment in experiments.items():
            # Same assignments as abkit's router (checked on every unit).
            router = routers[f"growthbook v{version}"]
            for unit in units:
                gb.set_attributes({"id": unit})
                if gb.run(experiment).variationId != router.route(unit).variant_index:
                    raise AssertionError(f"assignments differ for {unit!r} (version {version})")

            def sdk_run(experiment=experiment) -> None:
                for unit in units:
                    gb.set_attributes({"id": unit})
                    gb.run(experiment)

            def sdk_hash(version=version) -> None:
                for unit in units:
                    chooseVariation(gbhash(KEY, unit, version), ranges)  # type: ignore[arg-type]

            results[f"GrowthBook SDK set_attributes + run, v{version}"] = _per_request(sdk_run, n, repeats)
            results[f"GrowthBook SDK gbhash + chooseVariation, v{version}"] = _per_request(
                sdk_hash, n, repeats)

        width = max(len(k) for k in results)
        print(f"{n} requests x {repeats} repeats; median CPU microseconds per request")
        for name, value in results.items():
            print(f"  {name.ljust(width)}  {value:8.2f}")
        for version in (2, 1):
            sdk = results[f"GrowthBook SDK set_attributes + run, v{version}"]
            ours = results[f"abkit route + record, growthbook v{version}"]
            print(f"GrowthBook run / abkit route+record (v{version}): {sdk / ours:.1f}x")

    if "evaluation" in blocks:
        evaluation = _evaluation_results(units[: args.evaluation_requests], max(3, repeats // 2))
        width = max(len(k) for k in evaluation)
        print(f"\nGrowthBook evaluation: {args.evaluation_requests} units; median CPU microseconds per unit")
        for name, value in evaluation.items():
            print(f"  {name.ljust(width)}  {value:8.2f}")
        for ours, theirs in EVALUATION_PAIRS:
            print(f"  {theirs} / {ours}: {evaluation[theirs] / evaluation[ours]:.1f}x")

    if "bandit" in blocks:
        bandit = _bandit_results(args.bandit_requests, max(3, repeats // 2))
        width = max(len(k) for k in bandit)
        print(f"\nBandit router: {args.bandit_requests} requests; median CPU microseconds per request")
        for name, value in bandit.items():
            print(f"  {name.ljust(width)}  {value:8.2f}")
        quadrature = _prob_best_results(max(3, repeats // 2))
        width = max(len(k) for k in quadrature)
        print("\nThompson allocation, 3 arms; median CPU milliseconds per prob_best()")
        for name, value in quadrature.items():
            print(f"  {name.ljust(width)}  {value:8.3f}")
        for total in ("300", "100,000"):
            ratio = quadrature[f"prob_best adaptive, {total} rewards"]
            ratio /= quadrature[f"prob_best fixed rule, {total} rewards"]
            print(f"  speed-up at {total} rewards: {ratio:.1f}x")


if __name__ == "__main__":
    main()
