"""Small files by the thousand, of several formats, read with a field mapping by the generic loader
(lossless: every record in ``events`` or the rejects ledger, each file its evidence row, sha256 and
mapping): JSON Lines, CSV and JSON-array files of ``--per-file`` records each, in alternating runs
(min-median-max of each), files/s from the wall time. ``farm-bench`` gives the whole-process figure:

    python bench/small_formats.py                         # 2,000 files of each format, 3 runs
    python bench/small_formats.py --files 20000 --runs 3
    farm-bench -n 3 -- sh -c 'rm -f /tmp/c.duckdb*; exec forensics ingest DIR/jsonl --mapping DIR/mapping.toml --case /tmp/c.duckdb'

Each run is its own process (CPU seconds from wait4). Numbers, not assertions.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import tempfile
from pathlib import Path

from _measure import fresh_db, measure

MAPPING = """name = "app"
category = "audit"
[fields]
time = "ts"
action = "op"
actor = "who"
src_ip = "ip"
event_uid = "id"
[outcome]
field = "status"
success = ["ok"]
failure = ["error"]
"""

INGEST = """
import sys
import forensics
with forensics.open_case(sys.argv[2]) as case:
    results = case.ingest([sys.argv[1]], mapping=sys.argv[3])
assert all(r.reconciled and r.status == 'ingested' for r in results), [r for r in results if not r.reconciled]
print(sum(r.records_loaded for r in results))
"""


def make_files(folder: Path, kind: str, files: int, per: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for f in range(files):
        recs = []
        for i in range(per):
            n = f * per + i
            t = f"2026-03-01T{(n // 3600) % 24:02d}:{(n // 60) % 60:02d}:{n % 60:02d}.{n % 1000000:06d}Z"
            recs.append(
                {
                    "ts": t,
                    "op": ["read", "write", "delete"][n % 3],
                    "who": f"user-{n % 17}",
                    "ip": f"10.0.{n % 200}.{n % 250}",
                    "status": ["ok", "error"][n % 7 == 0],
                    "id": f"{n:012d}",
                }
            )
        path = folder / f"app-{f:05d}.{kind}"
        if kind == "jsonl":
            path.write_text("".join(json.dumps(r) + "\n" for r in recs))
        elif kind == "json":
            path.write_text(json.dumps(recs))
        else:
            with open(path, "w", newline="") as out:
                w = csv.DictWriter(out, fieldnames=list(recs[0]))
                w.writeheader()
                w.writerows(recs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--per-file", type=int, default=10)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workdir", default=None)
    args = ap.parse_args()
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="forensics-bench-formats-"))
    mapping = workdir / "mapping.toml"
    workdir.mkdir(parents=True, exist_ok=True)
    mapping.write_text(MAPPING)
    kinds = ["jsonl", "csv", "json"]
    for kind in kinds:
        if not (workdir / kind).exists():
            make_files(workdir / kind, kind, args.files, args.per_file)
    runs: dict[str, list[tuple[float, float]]] = {k: [] for k in kinds}
    for _ in range(args.runs):  # alternating: jsonl csv json jsonl csv json ...
        for kind in kinds:
            db = fresh_db(workdir, kind)
            elapsed, cpu, _, out = measure(INGEST, str(workdir / kind), str(db), str(mapping))
            assert int(out) == args.files * args.per_file, out
            runs[kind].append((elapsed, cpu))
    load = os.getloadavg()
    print(
        f"\n{args.files:,} files of {args.per_file} records per format, load {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}\n"
    )
    print("| format | wall s min-median-max | CPU s min-median-max | files/s (median wall) |")
    print("|---|---|---|---|")
    for kind, rs in runs.items():
        w, c = sorted(r[0] for r in rs), sorted(r[1] for r in rs)
        print(
            f"| {kind} | {w[0]:.1f}-{statistics.median(w):.1f}-{w[-1]:.1f} "
            f"| {c[0]:.1f}-{statistics.median(c):.1f}-{c[-1]:.1f} | {args.files / statistics.median(w):,.0f} |"
        )


if __name__ == "__main__":
    main()
