"""Benchmark: per-key cardinality over span attributes, DuckDB (exact and HyperLogLog, the kit's
``cardinality/attribute_keys`` query) side by side with polars ``n_unique`` and Python sets.

    .venv/bin/python bench/cardinality.py --rows 10000000          # all methods, one process each
    .venv/bin/python bench/cardinality.py --rows 2000000 --method duckdb

Synthetic spans carry six attributes each: http.request.method (5 values), http.route (50),
http.response.status_code (10), net.peer.ip (65,536), user.id (rows/60) and request.id (unique).
Each method runs in its own process so that its peak RSS (ru_maxrss) is its own.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KEYS = 6


def build(case_path: Path, rows: int) -> None:
    import forensics

    spans = rows // KEYS
    with forensics.open_case(case_path) as c:
        c.con.execute(
            """INSERT INTO spans (trace_id, span_id, service, name, start, outcome, outcome_reason, source,
                                  evidence_sha256, evidence_record)
               SELECT printf('%032x', i // 8), printf('%016x', i), 'svc' || (i % 7), 'op',
                      TIMESTAMPTZ '2026-03-14 08:00:00+00' + to_microseconds(i * 1000), 'unknown', 'bench', 'bench',
                      'bench', i
               FROM range(?) t(i)""", [spans]).fetchall()
        c.con.execute(
            """INSERT INTO span_attributes
               SELECT printf('%032x', i // 8), printf('%016x', i), 'span', k.key,
                      CASE k.n WHEN 0 THEN ['GET','POST','PUT','DELETE','PATCH'][1 + i % 5]
                               WHEN 1 THEN '/api/v1/r' || (hash(i) % 50)
                               WHEN 2 THEN CAST(200 + hash(i + 1) % 10 AS VARCHAR)
                               WHEN 3 THEN '10.0.' || (hash(i + 2) % 256) || '.' || (hash(i + 3) % 256)
                               WHEN 4 THEN 'user-' || (hash(i + 4) % greatest(? // 10, 1))
                               ELSE printf('%016x', hash(i + 5)) END,
                      'bench'
               FROM range(?) t(i),
                    (VALUES (0, 'http.request.method'), (1, 'http.route'), (2, 'http.response.status_code'),
                            (3, 'net.peer.ip'), (4, 'user.id'), (5, 'request.id')) k(n, key)""",
            [spans, spans]).fetchall()


def run(method: str, case_path: Path) -> dict:
    import forensics

    c = forensics.open_case(case_path, read_only=True)
    t0 = time.perf_counter()
    if method == "duckdb":
        df = c.query("cardinality/attribute_keys", signal="spans")
        result = {r["key"]: (r["distinct_exact"], r["distinct_approx"], r["approx_error_pct"]) for r in df.iter_rows(named=True)}
    elif method == "duckdb-direct":
        df = c.sql("""SELECT key, count(DISTINCT value) AS e, approx_count_distinct(value) AS a
                      FROM span_attributes GROUP BY key""")
        result = {k: (e, a) for k, e, a in df.iter_rows()}
    elif method == "polars":
        import polars as pl

        frame = c.sql("SELECT key, value FROM span_attributes")
        t_load = time.perf_counter() - t0
        df = frame.group_by("key").agg(pl.col("value").n_unique().alias("n"))
        result = dict(df.iter_rows())
        result["_load_seconds"] = round(t_load, 2)
    elif method == "pyset":
        sets: dict[str, set] = {}
        cur = c.con.execute("SELECT key, value FROM span_attributes")
        while batch := cur.fetchmany(100_000):
            for k, v in batch:
                sets.setdefault(k, set()).add(v)
        result = {k: len(v) for k, v in sets.items()}
    else:
        raise SystemExit(f"unknown method {method}")
    seconds = time.perf_counter() - t0
    rows = c.sql("SELECT count(*) FROM span_attributes").item()
    c.close()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"method": method, "rows": rows, "seconds": round(seconds, 3), "peak_rss_mb": round(peak_mb), "result": result}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000_000, help="attribute rows (spans x 6); default 10M")
    ap.add_argument("--method", default="all", help="duckdb | duckdb-direct | polars | pyset | all")
    ap.add_argument("--case", type=Path, help="(internal) an already built case")
    ap.add_argument("--skip-pyset-above", type=int, default=3_000_000, help="Python sets only up to this many rows")
    args = ap.parse_args()
    if args.case is not None:  # one method on a built case, in its own process (called below)
        print(json.dumps(run(args.method, args.case)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        case_path = Path(tmp) / "bench.duckdb"
        t0 = time.perf_counter()
        build(case_path, args.rows)
        print(f"built {args.rows:,} attribute rows in {time.perf_counter() - t0:.1f} s")
        methods = ["duckdb", "duckdb-direct", "polars"] + (["pyset"] if args.rows <= args.skip_pyset_above else [])
        if args.method != "all":
            methods = [args.method]
        exact = None
        for m in methods:
            out = subprocess.run([sys.executable, __file__, "--method", m, "--case", str(case_path)],
                                 check=True, capture_output=True, text=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            res = r["result"]
            if m == "duckdb":
                exact = {k: v[0] for k, v in res.items()}
                worst = max(v[2] for v in res.values())
                note = f"max HLL error {worst}% ({', '.join(f'{k}: {v[2]}%' for k, v in sorted(res.items()))})"
            else:
                counts = {k: (v[0] if isinstance(v, list) else v) for k, v in res.items() if not k.startswith("_")}
                agree = exact is not None and all(counts.get(k) == n for k, n in exact.items())
                note = "exact counts agree with DuckDB" if agree else f"counts: {counts}"
                if "_load_seconds" in res:
                    note += f"; of which loading into polars {res['_load_seconds']} s"
            print(f"{m:14s} {r['seconds']:8.2f} s  peak RSS {r['peak_rss_mb']:6d} MB  {note}")


if __name__ == "__main__":
    main()
