"""Shadow comparison at warehouse scale: DuckDB aggregates vs the in-memory path vs bare SQL.

Writes a long-layout Parquet shadow log (2 models, ``rows`` rows = ``rows / 2`` requests, every
request labelled, with latency), then, each in a fresh subprocess so the peak resident memory
it adds is its own:

- ``engine``: ``abkit.frame.compare_models(path, metrics=["auc", "log_loss", "latency"])``
  (DuckDB reads the file; only aggregates reach Python; DuckDB's memory limit
  ``--memory-limit``, default abkit's ``DUCKDB_MEMORY_LIMIT``, beyond which it spills to disk);
- ``bare``: one hand-written DuckDB query computing the same aggregates (the join, per-request
  losses, midrank placements and their per-class moments, log-latency moments), on a
  connection with the same settings (memory limit, spill directory, no insertion order);
- ``memory``: ``load_shadow_log`` then the core ``abkit.shadow.compare_models`` (skipped above
  ``--max-memory-rows``).

Usage::

    python benchmarks/bench_shadow_engine.py --rows 1000000 10000000 [--repeats 3] [--memory-limit 512MB]

Prints, per size and path, the median wall time, the peak RSS added (ru_maxrss minus the RSS
after imports), the log's in-memory size (its Arrow table's bytes) and the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

METRICS = ["auc", "log_loss", "latency"]
CHUNK = 1_000_000  # requests per written row group batch

BARE_SQL = """
WITH a AS (SELECT request_id, score AS sa, label AS y, latency AS la FROM read_parquet('{path}')
           WHERE model = 'champion'),
     b AS (SELECT request_id, score AS sb, latency AS lb FROM read_parquet('{path}')
           WHERE model = 'challenger'),
     j AS (SELECT * FROM a JOIN b USING (request_id) WHERE y IS NOT NULL),
     m AS (SELECT count(*) FILTER (WHERE y = 1) AS pos, count(*) FILTER (WHERE y = 0) AS neg FROM j),
     p AS (SELECT y,
             CASE WHEN y = 1 THEN (rank_a - rank_ay) / m.neg ELSE 1 - (rank_a - rank_ay) / m.pos END AS va,
             CASE WHEN y = 1 THEN (rank_b - rank_by) / m.neg ELSE 1 - (rank_b - rank_by) / m.pos END AS vb
           FROM (SELECT y, (rank() OVER (ORDER BY sa) + rank() OVER (ORDER BY sa)
                            + count(*) OVER (PARTITION BY sa) - 1) / 2.0 AS rank_a,
                        (rank() OVER (PARTITION BY y ORDER BY sa) + rank() OVER (PARTITION BY y ORDER BY sa)
                            + count(*) OVER (PARTITION BY y, sa) - 1) / 2.0 AS rank_ay,
                        (rank() OVER (ORDER BY sb) + rank() OVER (ORDER BY sb)
                            + count(*) OVER (PARTITION BY sb) - 1) / 2.0 AS rank_b,
                        (rank() OVER (PARTITION BY y ORDER BY sb) + rank() OVER (PARTITION BY y ORDER BY sb)
                            + count(*) OVER (PARTITION BY y, sb) - 1) / 2.0 AS rank_by
                 FROM j), m)
SELECT (SELECT list(struct_pack(y, n, ma, mb, vaa, vbb, cab)) FROM
          (SELECT y, count(*) AS n, avg(va) AS ma, avg(vb) AS mb, var_samp(va) AS vaa,
                  var_samp(vb) AS vbb, covar_samp(va, vb) AS cab FROM p GROUP BY y)) AS delong,
       (SELECT struct_pack(n := count(*), la := avg(l_a), lb := avg(l_b), d := avg(l_b - l_a),
                           v := var_samp(l_b - l_a)) FROM
          (SELECT -(y * ln(greatest(least(sa, 1 - 1e-15), 1e-15))
                    + (1 - y) * ln(1 - greatest(least(sa, 1 - 1e-15), 1e-15))) AS l_a,
                  -(y * ln(greatest(least(sb, 1 - 1e-15), 1e-15))
                    + (1 - y) * ln(1 - greatest(least(sb, 1 - 1e-15), 1e-15))) AS l_b FROM j)) AS loss,
       (SELECT struct_pack(n := count(*), a := avg(ln(la)), b := avg(ln(lb)),
                           v := var_samp(ln(lb) - ln(la))) FROM a JOIN b USING (request_id)) AS latency
"""


def write_log(path: Path, rows: int, seed: int = 0) -> int:
    """A long-layout shadow log: ``rows / 2`` requests answered by ``champion`` and ``challenger``;
    returns its in-memory (Arrow) size in bytes."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    requests = rows // 2
    writer, nbytes = None, 0
    for start in range(0, requests, CHUNK):
        size = min(CHUNK, requests - start)
        ids = np.arange(start, start + size, dtype=np.int64)
        y = rng.integers(0, 2, size).astype(float)
        for name, signal in (("champion", 1.0), ("challenger", 1.2)):
            score = 1.0 / (1.0 + np.exp(-(2 * y - 1) * signal - rng.normal(0, 1.5, size)))
            latency = rng.lognormal(3.5, 0.4, size)
            table = pa.table({"request_id": ids, "model": pa.array([name] * size).dictionary_encode(),
                              "score": score, "label": y, "latency": latency})
            if writer is None:
                writer = pq.ParquetWriter(str(path), table.schema)
            writer.write_table(table)
            nbytes += table.nbytes
    assert writer is not None
    writer.close()
    return nbytes


def log_bytes(path: Path) -> int:
    """The in-memory (Arrow) size of a written log, read one row group at a time."""
    import pyarrow.parquet as pq

    file = pq.ParquetFile(str(path))
    return sum(file.read_row_group(i).nbytes for i in range(file.num_row_groups))


def _rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def run_one(kind: str, path: str, memory_limit: str) -> dict[str, float]:
    """One timed run in this process: seconds and peak RSS added (MiB)."""
    import duckdb  # noqa: F401  (imported before the baseline, as every path needs it)
    import pyarrow  # noqa: F401  (narwhals collects DuckDB results through Arrow)

    import abkit.frame
    import abkit.shadow
    from abkit.frame.shadow_log import duckdb_connection

    baseline = _rss_kib()
    start = time.perf_counter()
    if kind == "engine":
        abkit.frame.compare_models(path, champion="champion", challengers=["challenger"], metrics=METRICS,
                                   min_requests=2, memory_limit=memory_limit)
    elif kind == "memory":
        log = abkit.frame.load_shadow_log(path)
        abkit.shadow.compare_models(log, champion="champion", challengers=["challenger"], metrics=METRICS,
                                    min_requests=2)
    else:
        duckdb_connection(memory_limit).sql(BARE_SQL.format(path=path)).fetchall()
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {"seconds": seconds, "rss_added_mib": max(peak - baseline, 0) / 1024}


def measure(kind: str, path: str, repeats: int, memory_limit: str) -> dict[str, float]:
    runs = []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, __file__, "--child", kind, path, memory_limit], check=True,
                             capture_output=True, text=True, env={**os.environ, "TQDM_DISABLE": "1"})
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {"seconds": statistics.median(r["seconds"] for r in runs),
            "rss_added_mib": max(r["rss_added_mib"] for r in runs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-memory-rows", type=int, default=10_000_000)
    parser.add_argument("--dir", default=None, help="where to write the logs (default: a temp dir)")
    parser.add_argument("--memory-limit", default=None, help="DuckDB's memory limit (default: abkit's)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(*args.child)))
        return
    if args.memory_limit is None:
        from abkit.frame.shadow_log import DUCKDB_MEMORY_LIMIT

        args.memory_limit = DUCKDB_MEMORY_LIMIT
    folder = Path(args.dir or tempfile.mkdtemp(prefix="abkit_bench_shadow_"))
    print(f"DuckDB memory limit {args.memory_limit}", flush=True)
    print(f"{'rows':>12} {'path':>7} {'seconds':>9} {'RSS MiB':>9} {'vs bare':>8} {'file MiB':>9} "
          f"{'log MiB':>9} {'RSS/log':>8}", flush=True)
    for rows in args.rows:
        path = folder / f"shadow_{rows}.parquet"
        size = (write_log(path, rows) if not path.exists() else log_bytes(path)) / 2**20
        kinds = ["bare", "engine"] + (["memory"] if rows <= args.max_memory_rows else [])
        results: dict[str, dict[str, float]] = {}
        for kind in kinds:
            r = results[kind] = measure(kind, str(path), args.repeats, args.memory_limit)
            ratio = r["seconds"] / results["bare"]["seconds"]
            print(f"{rows:>12,} {kind:>7} {r['seconds']:>9.2f} {r['rss_added_mib']:>9.0f} {ratio:>7.2f}x "
                  f"{path.stat().st_size / 2**20:>9.0f} {size:>9.0f} {r['rss_added_mib'] / size:>7.0%}",
                  flush=True)


if __name__ == "__main__":
    main()
