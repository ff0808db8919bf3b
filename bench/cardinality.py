"""Benchmark: per-key cardinality over span attributes, DuckDB (exact and HyperLogLog, the kit's
``cardinality/attribute_keys`` query) side by side with polars ``n_unique`` and Python sets.

The kit reads ``attribute_value_counts``, which ingest keeps (``forensics/derive/cardinality.py``);
the build step runs that derivation as an ingest would and reports its time apart. The baselines
read every row of ``span_attributes``.

    .venv/bin/python bench/cardinality.py --rows 10000000          # all methods, one process each
    .venv/bin/python bench/cardinality.py --rows 2000000 --method duckdb
    .venv/bin/python bench/cardinality.py --rows 60000000 --keep /tmp/c60.duckdb --repeat 3 \
        --method duckdb,duckdb-rows,duckdb-direct,explosions,unbounded_keys,top_values

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


def build(case_path: Path, rows: int) -> float:
    """Write the spans and their attributes, then count them as ingest does; returns the seconds
    the counting (the derivation) took."""
    import forensics
    from forensics.db import memory_budget
    from forensics.derive import cardinality as derive_cardinality

    spans = rows // KEYS
    with forensics.open_case(case_path) as c:
        c.con.execute(
            """INSERT INTO spans (trace_id, span_id, service, name, start, outcome, outcome_reason, source,
                                  evidence_sha256, evidence_record)
               SELECT printf('%032x', i // 8), printf('%016x', i), 'svc' || (i % 7), 'op',
                      TIMESTAMPTZ '2026-03-14 08:00:00+00' + to_microseconds(i * 1000), 'unknown', 'bench', 'bench',
                      'bench', i
               FROM range(?) t(i)""",
            [spans],
        ).fetchall()
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
            [spans, spans],
        ).fetchall()
        t0 = time.perf_counter()
        with memory_budget(c.con):  # as Case.rederive runs it after an ingest
            derive_cardinality.derive(c.con)
        return time.perf_counter() - t0


def run(method: str, case_path: Path) -> dict:
    import forensics

    c = forensics.open_case(case_path, read_only=True)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    t0, cpu0 = time.perf_counter(), usage.ru_utime + usage.ru_stime
    if method == "duckdb":
        from forensics import cardinality

        df = cardinality.attribute_keys(c, signal="spans")
        result = {
            r["key"]: (r["distinct_exact"], r["distinct_approx"], r["approx_error_pct"])
            for r in df.iter_rows(named=True)
        }
    elif method in ("explosions", "unbounded_keys", "top_values"):  # the report's other per-key analyses
        from forensics import cardinality

        df = getattr(cardinality, method)(c)
        result = {"_rows": df.height}
    elif method == "duckdb-rows":  # the same analysis over every occurrence, as the kit did before
        df = c.query(
            "cardinality/attribute_keys_over_rows", signal="spans"
        )  # the kit before the counts table
        result = {k: (e, a) for k, e, a in df.select("key", "distinct_exact", "distinct_approx").iter_rows()}
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
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime - cpu0
    rows = c.sql("SELECT count(*) FROM span_attributes").item()
    c.close()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "method": method,
        "rows": rows,
        "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu, 2),
        "peak_rss_mb": round(peak_mb),
        "result": result,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000_000, help="attribute rows (spans x 6); default 10M")
    ap.add_argument(
        "--method",
        default="all",
        help="duckdb | duckdb-rows | duckdb-direct | polars | pyset | all, or a comma-separated list; "
        "also explosions | unbounded_keys | top_values (the kit's other per-key analyses)",
    )
    ap.add_argument("--case", type=Path, help="(internal) an already built case")
    ap.add_argument(
        "--keep", type=Path, help="build the case here (or reuse it if it exists) instead of a temporary one"
    )
    ap.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="runs per method (each in a fresh process); the fastest is shown",
    )
    ap.add_argument(
        "--skip-pyset-above", type=int, default=3_000_000, help="Python sets only up to this many rows"
    )
    args = ap.parse_args()
    if args.case is not None:  # one method on a built case, in its own process (called below)
        if args.method == "build":
            print(json.dumps({"counting": build(args.case, args.rows)}))
        else:
            print(json.dumps(run(args.method, args.case)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        case_path = args.keep or Path(tmp) / "bench.duckdb"
        if case_path.exists():
            print(f"reusing {case_path}")
        else:
            t0 = time.perf_counter()
            # in a process of its own too: a child inherits its parent's peak RSS on Linux, so a
            # build in this process would inflate every method's figure
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--method",
                    "build",
                    "--case",
                    str(case_path),
                    "--rows",
                    str(args.rows),
                ],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            counting = json.loads(out.strip().splitlines()[-1])["counting"]
            print(
                f"built {args.rows:,} attribute rows in {time.perf_counter() - t0:.1f} s, of which counting them "
                f"into attribute_value_counts (the ingest derivation) {counting:.1f} s"
            )
        methods = ["duckdb", "duckdb-rows", "duckdb-direct", "polars"] + (
            ["pyset"] if args.rows <= args.skip_pyset_above else []
        )
        if args.method != "all":
            methods = args.method.split(",")
        exact, kit = None, None
        for m in methods:
            runs = []
            for _ in range(max(args.repeat, 1)):
                out = subprocess.run(
                    [sys.executable, __file__, "--method", m, "--case", str(case_path)],
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout
                runs.append(json.loads(out.strip().splitlines()[-1]))
            r = min(runs, key=lambda x: x["seconds"])
            res = r["result"]
            if "_rows" in res:
                print(
                    f"{m:14s} {r['seconds']:8.2f} s  cpu {r['cpu_seconds']:6.2f} s  peak RSS {r['peak_rss_mb']:6d} MB  "
                    f"{res['_rows']} rows"
                )
                continue
            if m == "duckdb":
                exact, kit = {k: v[0] for k, v in res.items()}, r["seconds"]
                worst = max(v[2] for v in res.values())
                note = (
                    f"max HLL error {worst}% ({', '.join(f'{k}: {v[2]}%' for k, v in sorted(res.items()))})"
                )
            else:
                counts = {
                    k: (v[0] if isinstance(v, list) else v) for k, v in res.items() if not k.startswith("_")
                }
                agree = exact is not None and all(counts.get(k) == n for k, n in exact.items())
                note = "exact counts agree with the kit" if agree else f"counts: {counts}"
                if "_load_seconds" in res:
                    note += f"; of which loading into polars {res['_load_seconds']} s"
            ratio = f"{r['seconds'] / kit:6.1f}x kit" if kit else " " * 10
            spread = f" (of {', '.join(str(x['seconds']) for x in runs)})" if len(runs) > 1 else ""
            print(
                f"{m:14s} {r['seconds']:8.2f} s{spread}  cpu {r['cpu_seconds']:6.2f} s  {ratio}  "
                f"peak RSS {r['peak_rss_mb']:6d} MB  {note}"
            )


if __name__ == "__main__":
    main()
