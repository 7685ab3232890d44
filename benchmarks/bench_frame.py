"""abkit vs tea-tasting: one experiment of 3 metrics on N rows, in pandas and in DuckDB on Parquet.

Both libraries analyse the same table with the same metric definitions: a conversion rate, revenue
per user and clicks per session (a ratio of means), plus the sample-ratio check. Timings are
medians over ``--repeats`` runs in this one process (pandas) or in one fresh child process per
library (DuckDB on a Parquet file, so each child's peak memory is its own). The DuckDB children
report the peak resident memory they added while analysing, to compare with the in-memory size
of the file's data.

Run::

    python benchmarks/bench_frame.py              # 10 million rows
    python benchmarks/bench_frame.py --rows 1e6   # quicker
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

DATA_DIR = Path(__file__).resolve().parent / "_data"


def make_table(rows: int, seed: int = 0) -> pa.Table:
    """Users with a variant (0 control, 1 treatment), a conversion flag, revenue, sessions and clicks."""
    rng = np.random.default_rng(seed)
    variant = (rng.random(rows) < 0.5).astype(np.int64)
    sessions = 1 + rng.poisson(3.0, rows)
    clicks = rng.binomial(sessions, 0.08 * (1 + 0.03 * variant))
    converted = (rng.random(rows) < 0.10 * (1 + 0.02 * variant)).astype(np.int64)
    revenue = rng.lognormal(3.0, 1.0, rows) * (1 + 0.01 * variant)
    return pa.table({"variant": variant, "converted": converted, "revenue": revenue,
                     "sessions": sessions.astype(np.int64), "clicks": clicks.astype(np.int64)})


def abkit_run(table: Any) -> list[float]:
    import abkit

    experiment = abkit.Experiment(
        conversion=abkit.Proportion("converted"),
        revenue=abkit.Mean("revenue"),
        clicks_per_session=abkit.RatioOfMeans("clicks", "sessions"),
    )
    result = experiment.analyze(table, control=0)
    return [r.effect for r in result.rows]


def tea_tasting_run(table: Any) -> list[float]:
    import tea_tasting as tt

    experiment = tt.Experiment(
        conversion=tt.Mean("converted"),
        revenue=tt.Mean("revenue"),
        clicks_per_session=tt.RatioOfMeans("clicks", "sessions"),
        sample_ratio=tt.SampleRatio(),
    )
    result = experiment.analyze(table, control=0)
    return [result[name].effect_size for name in ("conversion", "revenue", "clicks_per_session")]


RUNNERS = {"abkit": abkit_run, "tea-tasting": tea_tasting_run}


def time_runs(run: Any, table: Any, repeats: int) -> tuple[float, list[float]]:
    times, effects = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        effects = run(table)
        times.append(time.perf_counter() - start)
    return statistics.median(times), effects


def rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize()


def peak_rss_bytes() -> int:
    """This process's resident high-water mark (``VmHWM``; Linux).

    ``getrusage``'s ``ru_maxrss`` would not do: Linux carries it over ``exec`` from the forked
    parent, which holds the whole table in memory.
    """
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("VmHWM not found in /proc/self/status")


def reset_peak_rss() -> None:
    """Reset ``VmHWM`` to the current resident size (Linux >= 4.0)."""
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")


def child(library: str, path: str, repeats: int) -> None:
    """Analyse the Parquet file with DuckDB; print JSON with the median time and peak memory."""
    import duckdb

    RUNNERS[library](duckdb.connect().read_parquet(path).limit(1000))  # imports and warm-up
    reset_peak_rss()
    before = rss_bytes()
    relation = duckdb.connect().read_parquet(path)
    median, effects = time_runs(RUNNERS[library], relation, repeats)
    print(json.dumps({"median": median, "effects": effects, "added_peak": peak_rss_bytes() - before}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=float, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", nargs=2, metavar=("LIBRARY", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.repeats)
        return
    rows = int(args.rows)
    table = make_table(rows)
    DATA_DIR.mkdir(exist_ok=True)
    path = DATA_DIR / f"bench_frame_{rows}.parquet"
    pq.write_table(table, path)
    frame = table.to_pandas()
    memory = table.nbytes
    print(f"{rows:,} rows x 3 metrics (conversion, revenue, clicks per session) + SRM; "
          f"in-memory size {memory / 2**20:,.0f} MiB; Parquet file {path.stat().st_size / 2**20:,.0f} MiB")

    pandas_times: dict[str, float] = {}
    effects: dict[str, list[float]] = {}
    for library, run in RUNNERS.items():
        run(frame.iloc[:1000])  # imports and warm-up
        pandas_times[library], effects[library] = time_runs(run, frame, args.repeats)
    gap = max(abs(a / b - 1) for a, b in zip(effects["abkit"], effects["tea-tasting"], strict=True))
    print(f"pandas: effects agree to {gap:.1e} relative")

    duck: dict[str, dict[str, Any]] = {}
    for library in RUNNERS:
        out = subprocess.run([sys.executable, __file__, "--child", library, str(path),
                              "--repeats", str(args.repeats)],
                             check=True, capture_output=True, text=True).stdout
        duck[library] = json.loads(out.strip().splitlines()[-1])

    print(f"\n{'path':<22}{'abkit (s)':>11}{'tea-tasting (s)':>17}{'ratio tt/abkit':>16}")
    a, t = pandas_times["abkit"], pandas_times["tea-tasting"]
    print(f"{'pandas in memory':<22}{a:>11.3f}{t:>17.3f}{t / a:>16.2f}")
    a, t = duck["abkit"]["median"], duck["tea-tasting"]["median"]
    print(f"{'DuckDB on Parquet':<22}{a:>11.3f}{t:>17.3f}{t / a:>16.2f}")
    print("\nDuckDB path, peak resident memory added while analysing (vs the data's "
          f"{memory / 2**20:,.0f} MiB in memory):")
    for library in RUNNERS:
        added = duck[library]["added_peak"]
        print(f"  {library:<12}{added / 2**20:>8,.0f} MiB  ({added / memory:.0%} of the data)")


if __name__ == "__main__":
    main()
