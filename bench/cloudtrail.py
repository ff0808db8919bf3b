"""CloudTrail benchmark: S3-delivered ``{"Records": [...]}`` ``.json.gz`` files through the kit's
cloudtrail loader (lossless: every record mapped, kept whole in ``raw``, reconciled, de-duplicated on
eventID, the credential inventory and secret scan rebuilt after), side by side with DuckDB alone on
the same files (no mapping, no ledger):

* ``read_json`` with the Records type given (``format = 'unstructured'``, ``records = true``,
  ``columns``): the fastest DuckDB reading found, the baseline;
* the same with each record also kept whole as JSON, as the kit keeps it;
* ``read_json`` left to detect the format and the types (it samples the one huge object: several
  times slower, and out of memory at 10 files on a 24 GB machine).

    python bench/cloudtrail.py                      # 10 files x 100k events = 1 M events
    python bench/cloudtrail.py --files 2            # 200k events (a shared machine)
    python bench/cloudtrail.py --per-file 50000

Each method runs in its own process; peak RSS comes from wait4(), CPU seconds from the process
itself (steadier than seconds on a shared machine). Numbers, not assertions.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from _measure import file_set, fresh_db, run

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

#: The fields the baseline reads, declared so that DuckDB neither samples nor infers anything.
RECORD_JSON = (
    '{"eventTime": "VARCHAR", "eventSource": "VARCHAR", "eventName": "VARCHAR", '
    '"userIdentity": {"arn": "VARCHAR", "accessKeyId": "VARCHAR"}, "sourceIPAddress": "VARCHAR", '
    '"userAgent": "VARCHAR", "errorCode": "VARCHAR", "eventID": "VARCHAR"}'
)
RECORD_TYPE = (
    "STRUCT(eventTime VARCHAR, eventSource VARCHAR, eventName VARCHAR, "
    "userIdentity STRUCT(arn VARCHAR, accessKeyId VARCHAR), sourceIPAddress VARCHAR, "
    "userAgent VARCHAR, errorCode VARCHAR, eventID VARCHAR)"
)
SELECT_COLUMNS = """r.eventTime::TIMESTAMPTZ AS time, r.eventSource || ':' || r.eventName AS action,
                   r.userIdentity.arn AS actor, r.userIdentity.accessKeyId AS credential_id,
                   r.sourceIPAddress AS src_ip, r.userAgent AS user_agent, r.errorCode AS error, r.eventID AS uid"""


def duckdb_alone(source: str, *, raw: bool = False) -> str:
    """A child that reads the files with DuckDB alone into a table of the mapped columns (and the
    record whole, with ``raw``); ``source`` yields a column ``r`` (and ``raw``) from the files, named ``?``."""
    return textwrap.dedent(f"""
        import duckdb, sys
        from resource import RUSAGE_SELF, getrusage
        con = duckdb.connect(sys.argv[2])
        con.execute('SET enable_progress_bar = false')
        con.execute(\"\"\"CREATE TABLE t AS SELECT {SELECT_COLUMNS}{", raw" if raw else ""} FROM ({source})\"\"\",
                    [sys.argv[1] + '/*.json.gz'])
        usage = getrusage(RUSAGE_SELF)
        print(con.execute('SELECT count(*) FROM t').fetchall()[0][0], usage.ru_utime + usage.ru_stime)
    """)


METHODS = {
    # the fastest DuckDB reading found: one Records object per file, its type given, nothing detected
    "DuckDB read_json + unnest, Records type given (no ledger)": duckdb_alone(f"""
        SELECT unnest("Records") AS r
        FROM read_json(?, format = 'unstructured', records = true, maximum_object_size = 1000000000,
                       columns = {{'Records': '{RECORD_TYPE}[]'}})"""),
    # the same, each record also kept whole as JSON (the kit keeps it in events.raw)
    "DuckDB read_json + unnest, Records type given, raw record kept (no ledger)": duckdb_alone(
        f"""
        SELECT raw, json_transform(raw, '{RECORD_JSON}') AS r
        FROM (SELECT unnest("Records") AS raw
              FROM read_json(?, format = 'unstructured', records = true, maximum_object_size = 1000000000,
                             columns = {{'Records': 'JSON[]'}}))""",
        raw=True,
    ),
    # read_json left to detect the format and the types (the baseline before: 4-7x slower)
    "DuckDB read_json + unnest, types detected (no ledger)": duckdb_alone("""
        SELECT unnest("Records") AS r FROM read_json(?, maximum_object_size = 1000000000)"""),
    "forensics ingest, cloudtrail loader (lossless)": textwrap.dedent("""
        import sys, time
        from resource import RUSAGE_SELF, getrusage
        import forensics
        from forensics.derive import credentials
        from forensics.ingest.batch import RecordBatch as Batch
        spent = {"Batch.insert_events": 0.0, "derive: credentials": 0.0, "derive: all": 0.0}
        def timed(key, fn):
            def wrapper(*args, **kwargs):
                t0 = time.perf_counter()
                try:
                    return fn(*args, **kwargs)
                finally:
                    spent[key] += time.perf_counter() - t0
            return wrapper
        Batch.insert_events = timed("Batch.insert_events", Batch.insert_events)
        credentials.derive = timed("derive: credentials", credentials.derive)
        forensics.case.Case.rederive = timed("derive: all", forensics.case.Case.rederive)
        with forensics.open_case(sys.argv[2]) as case:
            case.con.execute('SET enable_progress_bar = false')
            results = case.ingest([sys.argv[1]])
        assert all(r.reconciled and r.loader == 'cloudtrail' for r in results), results
        usage = getrusage(RUSAGE_SELF)
        print(sum(r.records_loaded for r in results), usage.ru_utime + usage.ru_stime,
              "; ".join(f"{k} {v:.2f} s" for k, v in spent.items()))
    """),
}


GEN_CODE = textwrap.dedent("""
    import duckdb, sys
    folder, files, per_file, sql = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    for k in range(files):
        path = f"{folder}/111122223333_CloudTrail_us-east-1_20260301T{k:04d}Z_bench{k:08d}.json.gz"
        con.execute(sql.replace("{lo}", str(k * per_file)).replace("{hi}", str((k + 1) * per_file)).replace("{path}", path))
""")


def make_files(folder: Path, files: int, per_file: int) -> int:
    """Write the files in a process of their own: a child's peak RSS as wait4() reports it includes
    its parent's resident size when it was started, so the parent stays small."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.json.gz"):
        old.unlink()
    subprocess.run(
        [sys.executable, "-c", GEN_CODE, str(folder), str(files), str(per_file), GEN_SQL], check=True
    )
    return files * per_file


def main() -> None:
    workdir, data, files, n, size = file_set(
        __doc__,
        files=10,
        per_file=100_000,
        prefix="forensics-bench-ct-",
        folder="AWSLogs",
        make_files=make_files,
    )
    rows = []
    for name, code in METHODS.items():
        db = fresh_db(workdir, name)
        try:
            elapsed, rss, out = run(code, str(data), str(db))
        except RuntimeError as e:  # the detected-types reading runs out of memory on large runs
            lines = str(e).strip().splitlines()
            print(
                f"{name}: failed: {next((ln for ln in lines if 'Error:' in ln), lines[-1])[:200]}",
                file=sys.stderr,
            )
            continue
        count, cpu, *split = out.split(" ", 2)
        assert int(count) == n, out
        rows.append((name, elapsed, float(cpu), rss, split))
        print(
            f"{name}: {elapsed:.2f} s, {n / elapsed:,.0f} events/s, CPU {float(cpu):.2f} s, peak RSS {rss / 1e6:.0f} MB",
            file=sys.stderr,
        )
    base = rows[0][1]
    print(
        f"\n{n:,} CloudTrail events in {files} Records .json.gz files ({size / 1e6:.0f} MB), {os.cpu_count()} cores\n"
    )
    print("| method | seconds | events/s | CPU seconds | peak RSS (MB) | time vs DuckDB alone |")
    print("|---|---|---|---|---|---|")
    for name, elapsed, cpu, rss, _ in rows:
        print(
            f"| {name} | {elapsed:.2f} | {n / elapsed:,.0f} | {cpu:.2f} | {rss / 1e6:.0f} | {elapsed / base:.2f}x |"
        )
    print(f"\nInside the kit's time: {rows[-1][4][0]}.")


if __name__ == "__main__":
    main()
