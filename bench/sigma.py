"""Sigma benchmark: the 114 SigmaHQ cloud rules in ../shared/data/sigma on a 1 M-event CloudTrail
case, through ``forensics sigma`` (pySigma -> the kit's DuckDB backend over ``events.raw``, findings
and coverage written), side by side with the same rules compiled by pySigma's SQLite backend
(``pysigma-backend-sqlite``) and run in SQLite over the same records, flattened Zircolite-style into
one table whose columns are the rules' field names (``COLLATE NOCASE``, as Zircolite builds it).

    python bench/sigma.py                   # 1 M events
    python bench/sigma.py --events 200000   # a shared machine

Building the case and the SQLite table is set-up, not measured. Each method then runs once in its
own process; CPU seconds (user + system) come from wait4. SQLite runs the 57 aws/cloudtrail rules
only (it has no logsource routing; the others would name columns the table lacks); the kit reads all
114 and states the coverage of the rest. Both print the events each rule matched: the totals must
agree. Numbers, not assertions.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
from pathlib import Path

from _measure import measure

# this file is named sigma.py: take its folder off the path so that ``import sigma`` finds pySigma
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

REPO = Path(__file__).resolve().parent.parent
RULES = REPO.parent / "shared" / "data" / "sigma" / "rules"

#: (eventSource, eventName) pairs: common reads plus the writes several rules look for
NAMES = [
    ("s3.amazonaws.com", "GetObject"),
    ("ec2.amazonaws.com", "DescribeInstances"),
    ("iam.amazonaws.com", "ListUsers"),
    ("sts.amazonaws.com", "GetCallerIdentity"),
    ("sts.amazonaws.com", "AssumeRole"),
    ("s3.amazonaws.com", "PutObject"),
    ("cloudtrail.amazonaws.com", "StopLogging"),
    ("s3.amazonaws.com", "DeleteBucket"),
    ("iam.amazonaws.com", "CreateAccessKey"),
    ("ec2.amazonaws.com", "AuthorizeSecurityGroupIngress"),
    ("guardduty.amazonaws.com", "DeleteDetector"),
    ("signin.amazonaws.com", "ConsoleLogin"),
    ("s3.amazonaws.com", "ListBuckets"),
    ("kms.amazonaws.com", "ImportKeyMaterial"),
]

GEN_SQL = """
INSERT INTO events (event_id, time, source, category, action, actor, src_ip, outcome, evidence_sha256,
                    evidence_record, raw)
SELECT md5('e' || i), TIMESTAMPTZ '2026-03-01 00:00:00+00' + to_microseconds(i * 250000), 'cloudtrail', 'audit',
       n.src || ':' || n.name, 'arn:aws:iam::111122223333:user/user-' || (i % 5000), ip, 'success',
       'bench', i,
       json_object('eventVersion', '1.09',
         'userIdentity', json_object('type', CASE WHEN i % 1000 = 0 THEN 'Root' ELSE 'IAMUser' END,
                                     'arn', 'arn:aws:iam::111122223333:user/user-' || (i % 5000),
                                     'accountId', '111122223333', 'userName', 'user-' || (i % 5000)),
         'eventTime', strftime(TIMESTAMPTZ '2026-03-01 00:00:00+00' + to_microseconds(i * 250000), '%Y-%m-%dT%H:%M:%SZ'),
         'eventSource', n.src, 'eventName', n.name, 'awsRegion', 'us-east-1', 'sourceIPAddress', ip,
         'userAgent', CASE WHEN i % 5000 = 7 THEN 'TruffleHog' ELSE 'aws-cli/2.15.0 Python/3.11.6 Linux/6.1' END,
         'errorCode', CASE WHEN i % 97 = 0 THEN 'AccessDenied' END,
         'requestParameters', json_object('bucketName', 'bucket-' || (i % 300), 'key', 'data/part-' || i),
         'responseElements', CASE WHEN n.name = 'ConsoleLogin' THEN json_object('ConsoleLogin', 'Success') END,
         'additionalEventData', CASE WHEN n.name = 'ConsoleLogin' THEN json_object('MFAUsed', 'No') END,
         'eventID', md5('e' || i), 'eventType', 'AwsApiCall')
FROM (SELECT i, '198.51.' || (i % 200) || '.' || (i % 250) AS ip, i % {k} AS j FROM range({n}) t(i)) r
JOIN (SELECT * FROM (VALUES {names}) v(src, name, j)) n USING (j)
"""

KIT = """
import sys, forensics
case = forensics.open_case(sys.argv[1])
cov = case.sigma(sys.argv[2])
print(sum(c.matches for c in cov), sum(c.status in ('matched', 'no_match') for c in cov))
"""

SQLITE = """
import re, sqlite3, sys
from sigma.collection import SigmaCollection
from sigma.backends.sqlite import sqliteBackend
con = sqlite3.connect(sys.argv[1])
con.create_function('regexp', 2, lambda p, v: v is not None and re.search(p, v) is not None, deterministic=True)
rules = SigmaCollection.load_ruleset([sys.argv[2]])
backend = sqliteBackend()
total = ran = 0
for rule in rules.rules:
    for q in backend.convert_rule(rule):
        total += con.execute(f'SELECT count(*) FROM ({q})').fetchone()[0]
        ran += 1
print(total, ran)
"""


def build(workdir: Path, n: int) -> tuple[Path, Path]:
    import forensics
    from forensics.sigma import shape
    from forensics.sigma.rules import load_rules

    case_path = workdir / "sigma.duckdb"
    names = ", ".join(f"('{s}', '{e}', {j})" for j, (s, e) in enumerate(NAMES))
    with forensics.open_case(case_path) as case:
        case.con.execute(GEN_SQL.format(n=n, k=len(NAMES), names=names))
        fields = sorted(
            {f for lr in load_rules([RULES / "cloud" / "aws"]) for f in shape.rule_fields(lr.rule)}
        )
        paths = ", ".join("'$." + ".".join(f'"{k}"' for k in f.split(".")) + "'" for f in fields)
        rows = case.con.execute(f"SELECT json_extract_string(raw, [{paths}]) FROM events").fetchall()
    db = workdir / "sigma.sqlite"
    con = sqlite3.connect(db)
    cols = ", ".join(f'"{f}" TEXT COLLATE NOCASE' for f in fields)
    con.execute(f"CREATE TABLE logs ({cols})")
    con.executemany(f"INSERT INTO logs VALUES ({', '.join('?' * len(fields))})", (r[0] for r in rows))
    con.commit()
    con.close()
    return case_path, db


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    args = ap.parse_args()
    if not RULES.is_dir():
        print(f"no rules at {RULES}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        case_path, db = build(Path(tmp), args.events)
        _, kit_cpu, kit_rss, kit_out = measure(KIT, str(case_path), str(RULES.parent))
        _, sq_cpu, sq_rss, sq_out = measure(SQLITE, str(db), str(RULES / "cloud" / "aws"))
    # the last line is the method's answer (DuckDB may draw a progress bar on stdout before it)
    kit_matches, kit_ran = kit_out.splitlines()[-1].split()
    sq_matches, sq_ran = sq_out.splitlines()[-1].split()
    print(f"{args.events} CloudTrail events")
    print(
        f"kit (DuckDB, 114 rules read, {kit_ran} ran): {kit_cpu:.1f} CPU s, peak {kit_rss / 2**20:.0f} MB, {kit_matches} matches"
    )
    print(
        f"pySigma sqlite backend ({sq_ran} rules): {sq_cpu:.1f} CPU s, peak {sq_rss / 2**20:.0f} MB, {sq_matches} matches"
    )
    print(f"CPU ratio kit / sqlite: {kit_cpu / sq_cpu:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
