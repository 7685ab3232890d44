"""abkit's three-metric experiment with and without a quantile metric and segments, in pandas and DuckDB.

The issue's bar: adding ``Quantile("revenue", 0.9)`` and 3 segments (``by="country"``, three
values) keeps the analysis within 2x of the three metrics alone. Same table as
``bench_frame.py`` plus a ``country`` column; medians of ``--repeats`` runs in one process. The
three analyses take turns within each repeat, so a change in the machine's load (it is shared)
reaches all three alike; the ratios are also given in process CPU time (every engine thread),
which moves less with the load than wall time does.

    python benchmarks/bench_frame_quantile.py            # 10 million rows; --rows 1e6 for a quick run
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_frame import make_table

import abkit

BASE = {"conversion": abkit.Proportion("converted"), "revenue": abkit.Mean("revenue"),
        "clicks_per_session": abkit.RatioOfMeans("clicks", "sessions")}


def three(table: Any) -> list[float]:
    return [r.effect for r in abkit.Experiment(**BASE).analyze(table, control=0).rows]


def with_quantile(table: Any) -> list[float]:
    experiment = abkit.Experiment(**BASE, revenue_p90=abkit.Quantile("revenue", 0.9))
    return [r.effect for r in experiment.analyze(table, control=0).rows]


def with_segments(table: Any) -> list[float]:
    experiment = abkit.Experiment(**BASE, revenue_p90=abkit.Quantile("revenue", 0.9))
    return [r.effect for r in experiment.analyze(table, control=0, by="country").rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=float, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    table = make_table(int(args.rows))
    rng = np.random.default_rng(1)
    country = np.array(["US", "DE", "IN"])[rng.integers(0, 3, table.num_rows)]
    table = table.append_column("country", pa.array(country))
    inputs = {"pandas in memory": table.to_pandas(), "DuckDB (Arrow in memory)": duckdb.from_arrow(table)}
    print(f"{int(args.rows):,} rows; medians of {args.repeats} runs (wall seconds; ratios in wall "
          f"and CPU time)")
    print(f"{'path':<26}{'3 metrics (s)':>15}{'+ p90 (s)':>12}{'ratio':>8}{'cpu':>6}"
          f"{'+ p90 + 3 segments (s)':>25}{'ratio':>8}{'cpu':>6}")
    runs = (three, with_quantile, with_segments)
    for name, data in inputs.items():
        with_segments(data)  # warm-up (imports, numba)
        wall: list[list[float]] = [[] for _ in runs]
        cpu: list[list[float]] = [[] for _ in runs]
        for _ in range(args.repeats):
            for i, run in enumerate(runs):
                start, start_cpu = time.perf_counter(), time.process_time()
                run(data)
                wall[i].append(time.perf_counter() - start)
                cpu[i].append(time.process_time() - start_cpu)
        base, quantile, segments = (statistics.median(t) for t in wall)
        base_cpu, quantile_cpu, segments_cpu = (statistics.median(t) for t in cpu)
        print(f"{name:<26}{base:>15.3f}{quantile:>12.3f}{quantile / base:>8.2f}"
              f"{quantile_cpu / base_cpu:>6.2f}{segments:>25.3f}{segments / base:>8.2f}"
              f"{segments_cpu / base_cpu:>6.2f}", flush=True)

if __name__ == "__main__":
    main()
