"""Off-policy evaluation from a Parquet decision log in DuckDB: time and peak memory added.

Writes a decision log (``rows`` rounds, 3 arms: action, propensity, reward, the target's and a
reward model's per-arm columns, a target action), then, each in a fresh subprocess so the peak
resident memory it adds is its own:

- ``engine``: ``abkit.frame.evaluate_policy(path, ...)``, all five estimators (DuckDB reads the
  file; two aggregate scans; only aggregates reach Python);
- ``memory``: read the columns into NumPy (pyarrow) and call the five in-memory estimators
  (skipped above ``--max-memory-rows``).

Usage::

    python benchmarks/bench_offpolicy_engine.py --rows 1000000 10000000 [--repeats 3]

Prints the median seconds, the peak RSS added (ru_maxrss minus the RSS after imports) and the
log's in-memory size (its Arrow table's bytes).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ARMS = 3
CHUNK = 1_000_000
COLUMNS = {"target": [f"p{k}" for k in range(ARMS)], "q_hat": [f"q{k}" for k in range(ARMS)],
           "target_action": "best"}


def write_log(path: Path, rows: int, seed: int = 0) -> int:
    """The decision log as Parquet; returns its in-memory (Arrow) size in bytes."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    writer, size = None, 0
    for start in range(0, rows, CHUNK):
        n = min(CHUNK, rows - start)
        logging = rng.dirichlet(np.ones(ARMS), n)
        actions = (rng.random(n)[:, None] > logging.cumsum(axis=1)).sum(axis=1).clip(0, ARMS - 1)
        target = rng.dirichlet(np.ones(ARMS), n)
        data = {"action": actions.astype(np.int64), "propensity": logging[np.arange(n), actions],
                "reward": (rng.random(n) < 0.3).astype(float), "best": target.argmax(axis=1).astype(np.int64)}
        for k in range(ARMS):
            data[f"p{k}"], data[f"q{k}"] = target[:, k], rng.random(n)
        table = pa.table(data)
        size += table.nbytes
        if writer is None:
            writer = pq.ParquetWriter(str(path), table.schema)
        writer.write_table(table)
    assert writer is not None
    writer.close()
    return size


def _rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def run_one(kind: str, path: str) -> dict[str, float]:
    import duckdb  # noqa: F401  (imported before the baseline, as the engine path needs it)
    import pyarrow.parquet as pq

    import abkit.frame
    from abkit.bandits import offpolicy

    baseline = _rss_kib()
    start = time.perf_counter()
    if kind == "engine":
        abkit.frame.evaluate_policy(path, **COLUMNS)
    else:
        table = pq.read_table(path)
        col = {name: table.column(name).to_numpy() for name in table.column_names}
        target = np.column_stack([col[c] for c in COLUMNS["target"]])
        q_hat = np.column_stack([col[c] for c in COLUMNS["q_hat"]])
        logged = (col["reward"], col["action"], col["propensity"], target)
        offpolicy.ips(*logged)
        offpolicy.snips(*logged)
        offpolicy.direct_method(target, q_hat)
        offpolicy.doubly_robust(*logged, q_hat)
        offpolicy.replay(col["reward"], col["action"], col["best"])
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"seconds": seconds, "rss_added_mib": max(peak - baseline, 0) / 1024}


def measure(kind: str, path: str, repeats: int) -> dict[str, float]:
    runs = []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, __file__, "--child", kind, path], check=True,
                             capture_output=True, text=True)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {"seconds": statistics.median(r["seconds"] for r in runs),
            "rss_added_mib": max(r["rss_added_mib"] for r in runs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-memory-rows", type=int, default=10_000_000)
    parser.add_argument("--dir", default=None, help="where to write the logs (default: a temp dir)")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(*args.child)))
        return
    folder = Path(args.dir or tempfile.mkdtemp(prefix="abkit_bench_ope_"))
    print(f"{'rows':>12} {'path':>7} {'seconds':>9} {'RSS MiB':>9} {'log MiB':>9} {'RSS/log':>8}")
    for rows in args.rows:
        path = folder / f"decisions_{rows}.parquet"
        size = write_log(path, rows) / 2**20
        kinds = ["engine"] + (["memory"] if rows <= args.max_memory_rows else [])
        for kind in kinds:
            r = measure(kind, str(path), args.repeats)
            print(f"{rows:>12,} {kind:>7} {r['seconds']:>9.2f} {r['rss_added_mib']:>9.0f} {size:>9.0f} "
                  f"{r['rss_added_mib'] / size:>7.0%}", flush=True)


if __name__ == "__main__":
    main()
