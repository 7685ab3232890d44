"""Per-request cost of assignment: abkit's routers against GrowthBook's Python SDK.

Run: ``python benchmarks/bench_assignment.py [--requests 100000] [--repeats 7]``

Each request is a new unit id. abkit: ``router.route(unit)`` and ``route`` + ``record(unit, outcome)``
on a ``FixedSplitRouter`` (50/50), for GrowthBook hash versions 2 and 1 and Optimizely's
MurmurHash3. GrowthBook: ``gb.set_attributes({"id": unit})`` then ``gb.run(experiment)`` on one
``GrowthBook`` instance (the SDK's assignment; it records nothing), and its bare ``gbhash`` +
``chooseVariation``. Both sides must agree on every assignment. Medians over the repeats, in
microseconds per request, of the process's CPU time (``time.process_time``): on a shared machine
wall time also counts the time spent waiting for a core.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from collections.abc import Callable

from abkit.adapters import FixedSplitRouter

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from growthbook import Experiment, GrowthBook
    from growthbook.core import chooseVariation, gbhash, getBucketRanges

KEY = "checkout-button"


def _per_request(work: Callable[[], None], n: int, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.process_time()
        work()
        times.append((time.process_time() - start) / n * 1e6)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    n, repeats = args.requests, args.repeats
    units = [f"user-{i}" for i in range(n)]

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
    experiments = {version: Experiment(key=KEY, variations=[0, 1], hashVersion=version) for version in (2, 1)}
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
        results[f"GrowthBook SDK gbhash + chooseVariation, v{version}"] = _per_request(sdk_hash, n, repeats)

    width = max(len(k) for k in results)
    print(f"{n} requests x {repeats} repeats; median CPU microseconds per request")
    for name, value in results.items():
        print(f"  {name.ljust(width)}  {value:8.2f}")
    for version in (2, 1):
        sdk = results[f"GrowthBook SDK set_attributes + run, v{version}"]
        ours = results[f"abkit route + record, growthbook v{version}"]
        print(f"GrowthBook run / abkit route+record (v{version}): {sdk / ours:.1f}x")


if __name__ == "__main__":
    main()
