"""Many small JSON Lines files: Kubernetes audit logs as a cluster's log shipper leaves them (one small
file per node and interval), read by the kit's k8s_audit loader (lossless: every line accounted for,
each event kept whole in ``raw``, stages de-duplicated, credentials and secret scan rebuilt after),
side by side with DuckDB alone reading the same files with ``read_json`` and the columns given (no
ledger, no raw record).

    python bench/small_files.py                     # 500 files x 200 events = 100k events
    python bench/small_files.py --files 2000 --per-file 50

Each method runs in its own process (peak RSS from the child itself, CPU seconds from wait4).
Numbers, not assertions.
"""

from __future__ import annotations

import json
import os
import random
import sys
import textwrap
from pathlib import Path

from _measure import file_set, fresh_db, measure

METHODS = {
    "DuckDB read_json, columns given (no ledger, no raw)": textwrap.dedent("""
        import duckdb, sys
        con = duckdb.connect(sys.argv[2])
        con.execute('SET enable_progress_bar = false')
        con.execute(\"\"\"CREATE TABLE t AS
            SELECT requestReceivedTimestamp::TIMESTAMPTZ AS time, verb || ' ' || objectRef.resource AS action,
                   "user".username AS actor, sourceIPs[1] AS src_ip, userAgent AS user_agent,
                   responseStatus.code AS code, auditID AS uid
            FROM read_json(?, format = 'newline_delimited', columns = {
                'requestReceivedTimestamp': 'VARCHAR', 'verb': 'VARCHAR', 'auditID': 'VARCHAR',
                'user': 'STRUCT(username VARCHAR)', 'sourceIPs': 'VARCHAR[]', 'userAgent': 'VARCHAR',
                'objectRef': 'STRUCT(resource VARCHAR)', 'responseStatus': 'STRUCT(code INTEGER)'})\"\"\",
            [sys.argv[1] + '/*.log'])
        print(con.execute('SELECT count(*) FROM t').fetchall()[0][0])
    """),
    "forensics ingest, k8s_audit loader (lossless)": textwrap.dedent("""
        import sys
        import forensics
        with forensics.open_case(sys.argv[2]) as case:
            results = case.ingest([sys.argv[1]])
        assert all(r.reconciled and r.loader == 'k8s_audit' for r in results), results
        print(sum(r.records_loaded for r in results))
    """),
}


def make_files(folder: Path, files: int, per_file: int) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    rnd = random.Random(1)
    for f in range(files):
        with open(folder / f"audit-{f:05d}.log", "w", encoding="utf-8") as out:
            for i in range(per_file):
                n = f * per_file + i
                t = f"2026-03-01T{(n // 3600) % 24:02d}:{(n // 60) % 60:02d}:{n % 60:02d}.{n % 1000000:06d}Z"
                out.write(
                    json.dumps(
                        {
                            "kind": "Event",
                            "apiVersion": "audit.k8s.io/v1",
                            "level": "Metadata",
                            "auditID": f"{n:08x}-aaaa-bbbb-cccc-000000000000",
                            "stage": "ResponseComplete",
                            "requestURI": f"/api/v1/namespaces/prod/pods/p{n % 97}",
                            "verb": rnd.choice(["get", "list", "watch", "create", "delete"]),
                            "user": {
                                "username": f"system:serviceaccount:ci:runner-{n % 13}",
                                "groups": ["system:serviceaccounts"],
                            },
                            "sourceIPs": [f"10.0.{n % 200}.{n % 250}"],
                            "userAgent": "kubectl/v1.29.0",
                            "objectRef": {
                                "resource": "pods",
                                "namespace": "prod",
                                "name": f"p{n % 97}",
                                "apiVersion": "v1",
                            },
                            "responseStatus": {"metadata": {}, "code": 200},
                            "requestReceivedTimestamp": t,
                            "stageTimestamp": t,
                            "annotations": {
                                "authorization.k8s.io/decision": "allow",
                                "authorization.k8s.io/reason": "RBAC",
                            },
                        }
                    )
                    + "\n"
                )
    return files * per_file


def main() -> None:
    workdir, data, files, n, size = file_set(
        __doc__,
        files=500,
        per_file=200,
        prefix="forensics-bench-small-",
        folder="audit",
        make_files=make_files,
    )
    rows = []
    for name, code in METHODS.items():
        db = fresh_db(workdir, name)
        elapsed, cpu, rss, out = measure(code, str(data), str(db))
        assert int(out) == n, out
        rows.append((name, elapsed, cpu, rss))
        print(
            f"{name}: {elapsed:.2f} s, {n / elapsed:,.0f} events/s, CPU {cpu:.2f} s, peak RSS {rss / 1e6:.0f} MB",
            file=sys.stderr,
        )
    base = rows[0][1]
    print(
        f"\n{n:,} Kubernetes audit events in {files} JSON Lines files ({size / 1e6:.0f} MB), {os.cpu_count()} cores\n"
    )
    print("| method | seconds | events/s | files/s | CPU seconds | peak RSS (MB) | time vs DuckDB alone |")
    print("|---|---|---|---|---|---|---|")
    for name, elapsed, cpu, rss in rows:
        print(
            f"| {name} | {elapsed:.2f} | {n / elapsed:,.0f} | {files / elapsed:,.0f} | {cpu:.2f} | {rss / 1e6:.0f} "
            f"| {elapsed / base:.2f}x |"
        )


if __name__ == "__main__":
    main()
