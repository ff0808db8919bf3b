"""Checklist benchmark: the DuckDB secret scan and checklist query against a Python ``re`` loop over
the same event text, side by side on one synthetic case.

    python bench/checklist.py                 # 200,000 events, 0.5 % of them carrying a secret
    python bench/checklist.py --events 1000000

Events are generated in SQL straight into ``events`` (ingest has its own benchmark). Numbers, not
assertions: nothing here fails on speed.
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from pathlib import Path

import forensics
from forensics import checklist, secrets

GEN = """
INSERT INTO events (event_id, time, source, category, action, actor, credential_id, src_ip, user_agent,
                    target, outcome, evidence_sha256, evidence_line, evidence_record, raw)
SELECT 'b:' || i, TIMESTAMPTZ '2026-03-14 08:00:00+00' + to_microseconds(i * 10000),
       'bench', 'audit', 's3:GetObject', 'arn:aws:iam::1:user/u' || (i % 50),
       'AKIABENCH' || lpad(CAST(i % 200 AS VARCHAR), 11, '0'), '10.0.' || (i % 250) || '.1', 'aws-cli/2',
       'bucket/key-' || (i % 5000), CASE WHEN i % 97 = 0 THEN 'failure' ELSE 'success' END,
       'benchsha', i, i,
       json_object('eventName', 'GetObject', 'requestID', md5(CAST(i AS VARCHAR)),
                   'message', CASE WHEN i % 200 = 0 THEN 'export AWS_SECRET_ACCESS_KEY=' || left(md5(CAST(i AS VARCHAR)) || upper(md5(CAST(i + 1 AS VARCHAR))), 40)
                                   WHEN i % 200 = 1 THEN 'token ghp_' || left(md5(CAST(i AS VARCHAR)) || md5('x'), 36)
                                   ELSE 'request ok commit ' || sha256(CAST(i AS VARCHAR)) END)
FROM range($n) t(i)
"""

PY_PATTERNS = [
    (
        "aws_secret_access_key",
        re.compile(r"(?i:aws_?secret_?(?:access_?)?key)[\"']?\s*[:=]\s*[\"']?([A-Za-z0-9/+]{40})"),
    ),
    ("github_token", re.compile(r"(?:^|[^A-Za-z0-9_])((?:ghp|gho|ghs|ghu|ghr)_[A-Za-z0-9]{36,251})")),
    ("github_fine_grained_pat", re.compile(r"(github_pat_[A-Za-z0-9_]{22,255})")),
    ("gitlab_pat", re.compile(r"(glpat-[A-Za-z0-9_-]{20,})")),
    ("slack_token", re.compile(r"(xox[abposr]-[A-Za-z0-9-]{10,})")),
    ("jwt", re.compile(r"(eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})")),
    ("private_key_pem", re.compile(r"(-----BEGIN [A-Z ]*PRIVATE KEY-----)")),
]


def python_baseline(case) -> int:
    """What a responder writes by hand: fetch every raw record and loop over the patterns."""
    found = 0
    cur = case.con.execute("SELECT CAST(raw AS VARCHAR) FROM events")
    while rows := cur.fetchmany(50_000):
        for (text,) in rows:
            for _, pat in PY_PATTERNS:
                found += len(pat.findall(text))
    return found


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=200_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        case = forensics.open_case(Path(tmp) / "bench.duckdb")
        t0 = time.perf_counter()
        case.con.execute(GEN, {"n": args.events})
        gen = time.perf_counter() - t0
        t0 = time.perf_counter()
        n_sql = secrets.scan(case.con)
        scan = time.perf_counter() - t0
        t0 = time.perf_counter()
        n_py = python_baseline(case)
        py = time.perf_counter() - t0
        t0 = time.perf_counter()
        rows = checklist.build(case, checklist.Scope.of(ips=["10.0.7.1"]), scan=False)
        build = time.perf_counter() - t0
        t0 = time.perf_counter()
        everything = checklist.build(case, scan=False)
        build_all = time.perf_counter() - t0
        case.close()
    print(f"| {args.events:,} events (generated in {gen:.1f} s) | seconds | found |")
    print("|---|---|---|")
    print(f"| DuckDB secret scan (all patterns, field-level, with pairing) | {scan:.2f} | {n_sql:,} |")
    print(f"| Python re loop over raw text (7 patterns, no fields, no pairing) | {py:.2f} | {n_py:,} |")
    print(f"| checklist, scoped by one address | {build:.2f} | {rows.height} credentials |")
    print(f"| checklist, every credential | {build_all:.2f} | {everything.height} credentials |")


if __name__ == "__main__":
    main()
