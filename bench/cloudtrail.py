"""CloudTrail benchmark: S3-delivered ``{"Records": [...]}`` ``.json.gz`` files through the kit's
cloudtrail loader (lossless: every record mapped, reconciled, de-duplicated on eventID), side by
side with DuckDB's ``read_json`` + ``unnest`` alone (no mapping, no ledger), on the same files.

    python bench/cloudtrail.py                      # 10 files x 100k events = 1 M events
    python bench/cloudtrail.py --files 2            # 200k events (a shared machine)
    python bench/cloudtrail.py --per-file 50000

Each method runs in its own process; peak RSS comes from wait4(). Numbers, not assertions.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import duckdb
from _measure import run

GEN_SQL = """
COPY (
  SELECT list({
    'eventVersion': '1.09',
    'userIdentity': {'type': 'IAMUser', 'principalId': 'AIDA' || lpad((i % 5000)::VARCHAR, 16, '0'),
                     'arn': 'arn:aws:iam::111122223333:user/user-' || (i % 5000), 'accountId': '111122223333',
                     'accessKeyId': 'AKIA' || lpad((i % 7000)::VARCHAR, 16, '0'), 'userName': 'user-' || (i % 5000)},
    'eventTime': strftime(TIMESTAMPTZ '2026-03-01 00:00:00+00' + to_microseconds(i * 250000), '%Y-%m-%dT%H:%M:%SZ'),
    'eventSource': ['s3.amazonaws.com', 'ec2.amazonaws.com', 'iam.amazonaws.com', 'sts.amazonaws.com'][1 + i % 4],
    'eventName': ['GetObject', 'DescribeInstances', 'ListUsers', 'GetCallerIdentity', 'PutObject'][1 + i % 5],
    'awsRegion': 'us-east-1',
    'sourceIPAddress': '198.51.' || (i % 200) || '.' || (i % 250),
    'userAgent': 'aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64.debian.12 prompt/off command/s3.cp',
    'errorCode': CASE WHEN i % 97 = 0 THEN 'AccessDenied' END,
    'requestParameters': {'bucketName': 'bucket-' || (i % 300), 'key': 'data/part-' || i || '.parquet'},
    'responseElements': NULL,
    'requestID': md5(i::VARCHAR), 'eventID': md5('e' || i::VARCHAR),
    'readOnly': true, 'eventType': 'AwsApiCall', 'managementEvent': true, 'recipientAccountId': '111122223333',
    'eventCategory': 'Management'} ORDER BY i) AS "Records"
  FROM range({lo}, {hi}) t(i)
) TO '{path}' (FORMAT json, COMPRESSION gzip)
"""

METHODS = {
    "DuckDB read_json + unnest, explicit columns (no ledger)": textwrap.dedent("""
        import duckdb, sys
        con = duckdb.connect(sys.argv[2])
        con.execute('SET enable_progress_bar = false')
        con.execute(\"\"\"CREATE TABLE t AS
            SELECT r.eventTime::TIMESTAMPTZ AS time, r.eventSource || ':' || r.eventName AS action,
                   r.userIdentity.arn AS actor, r.userIdentity.accessKeyId AS credential_id,
                   r.sourceIPAddress AS src_ip, r.userAgent AS user_agent, r.errorCode AS error, r.eventID AS uid
            FROM (SELECT unnest(\"Records\") AS r
                  FROM read_json(?, maximum_object_size = 1000000000))\"\"\", [sys.argv[1] + '/*.json.gz'])
        print(con.execute('SELECT count(*) FROM t').fetchall()[0][0])
    """),
    "forensics ingest, cloudtrail loader (lossless)": textwrap.dedent("""
        import sys
        import forensics
        with forensics.open_case(sys.argv[2]) as case:
            case.con.execute('SET enable_progress_bar = false')
            results = case.ingest([sys.argv[1]])
        assert all(r.reconciled and r.loader == 'cloudtrail' for r in results), results
        print(sum(r.records_loaded for r in results), sum(r.records_rejected for r in results))
    """),
}


def make_files(folder: Path, files: int, per_file: int) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    for k in range(files):
        path = folder / f"111122223333_CloudTrail_us-east-1_20260301T{k:04d}Z_bench{k:08d}.json.gz"
        sql = GEN_SQL.replace("{lo}", str(k * per_file)).replace("{hi}", str((k + 1) * per_file))
        con.execute(sql.replace("{path}", str(path)))
    return files * per_file


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=10, help="number of .json.gz files (default 10)")
    ap.add_argument("--per-file", type=int, default=100_000, help="events per file (default 100000)")
    ap.add_argument("--workdir", default=None, help="where to write the files (default: a temp dir)")
    args = ap.parse_args()
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="forensics-bench-ct-"))
    data = workdir / "AWSLogs"
    t0 = time.perf_counter()
    n = make_files(data, args.files, args.per_file)
    size = sum(p.stat().st_size for p in data.iterdir())
    print(f"generated {n} events in {args.files} files, {size / 1e6:.0f} MB gzip, in {time.perf_counter() - t0:.1f} s",
          file=sys.stderr)
    rows = []
    for name, code in METHODS.items():
        db = workdir / f"{abs(hash(name))}.duckdb"
        for p in (db, Path(str(db) + ".wal")):
            p.unlink(missing_ok=True)
        elapsed, rss, out = run(code, str(data), str(db))
        rows.append((name, elapsed, rss, out))
        print(f"{name}: {elapsed:.2f} s, {n / elapsed:,.0f} events/s, peak RSS {rss / 1e6:.0f} MB ({out})", file=sys.stderr)
    base = rows[0][1]
    print(f"\n{n:,} CloudTrail events in {args.files} Records .json.gz files ({size / 1e6:.0f} MB), {os.cpu_count()} cores\n")
    print("| method | seconds | events/s | peak RSS (MB) | time vs DuckDB alone |")
    print("|---|---|---|---|---|")
    for name, elapsed, rss, _ in rows:
        print(f"| {name} | {elapsed:.2f} | {n / elapsed:,.0f} | {rss / 1e6:.0f} | {elapsed / base:.2f}x |")


if __name__ == "__main__":
    main()
