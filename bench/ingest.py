"""Ingest benchmark: the kit's lossless ingest against the I/O floor, a lossy DuckDB read, and the
pandas line loop a responder writes by hand, and the lossless minimum with DuckDB alone (the ceiling
issue 26 measures the kit against: lines numbered, one parse, rejects, raw kept, sha256), side by side
in one run on the same file, in alternating runs (min-median-max of each), with the kit's CPU ratio
to that baseline.

    python bench/ingest.py                 # ~1 GB NDJSON audit file
    python bench/ingest.py --gb 0.2        # smaller
    python bench/ingest.py --window-events 10000000   # also time a 1-hour window over 10 M events

Each method runs in its own process; its peak RSS and CPU seconds (user + system) come from wait4().
CPU seconds divided by the cores is the least wall time that method's work can take on this machine.
Results print as a Markdown
table for BENCHMARKS.md. Numbers, not assertions: nothing here fails on speed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import textwrap
import time
from datetime import timedelta
from pathlib import Path

import duckdb
from _measure import fresh_db, measure

HERE = Path(__file__).resolve().parent
MAPPING = """
name = "bench-audit"
category = "audit"
[fields]
time = "eventTime"
action = "eventName"
actor = "userIdentity.arn"
credential_id = "userIdentity.accessKeyId"
src_ip = "sourceIPAddress"
user_agent = "userAgent"
request_id = "requestID"
event_uid = "eventID"
[outcome]
field = "errorCode"
"""

GEN_SQL = """
COPY (
  SELECT
    strftime(TIMESTAMPTZ '2026-03-01 00:00:00+00' + to_microseconds(i * 250000), '%Y-%m-%dT%H:%M:%S.%fZ') AS eventTime,
    '1.08' AS eventVersion,
    {'type': 'IAMUser', 'principalId': 'AIDA' || lpad((i % 5000)::VARCHAR, 16, '0'),
     'arn': 'arn:aws:iam::111122223333:user/user-' || (i % 5000),
     'accountId': '111122223333', 'accessKeyId': 'AKIA' || lpad((i % 7000)::VARCHAR, 16, '0'),
     'userName': 'user-' || (i % 5000)} AS userIdentity,
    ['s3.amazonaws.com','ec2.amazonaws.com','iam.amazonaws.com','sts.amazonaws.com'][1 + i % 4] AS eventSource,
    ['GetObject','DescribeInstances','ListUsers','GetCallerIdentity','PutObject'][1 + i % 5] AS eventName,
    'us-east-1' AS awsRegion,
    '198.51.' || (i % 200) || '.' || (i % 250) AS sourceIPAddress,
    'aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64.debian.12 prompt/off command/s3.cp' AS userAgent,
    CASE WHEN i % 97 = 0 THEN 'AccessDenied' END AS errorCode,
    {'bucketName': 'bucket-' || (i % 300), 'key': 'data/part-' || i || '.parquet'} AS requestParameters,
    md5(i::VARCHAR) AS requestID,
    md5('e' || i::VARCHAR) AS eventID,
    true AS readOnly,
    'AwsApiCall' AS eventType,
    '111122223333' AS recipientAccountId
  FROM range({n}) t(i)
) TO '{path}' (FORMAT json)
"""

BASELINE = "DuckDB alone, lossless minimum (lines numbered, one parse, rejects, raw zstd, sha256)"
METHODS = {
    "cat (I/O floor)": "import subprocess,sys; subprocess.run(['cat', sys.argv[1]], stdout=subprocess.DEVNULL, check=True)",
    "DuckDB read_ndjson, explicit columns (lossy)": textwrap.dedent("""
        import duckdb, sys
        con = duckdb.connect(sys.argv[2])
        con.execute("SET enable_progress_bar = false")
        con.execute(\"\"\"CREATE TABLE t AS SELECT * FROM read_ndjson(?, columns={'eventTime': 'VARCHAR',
            'eventName': 'VARCHAR', 'sourceIPAddress': 'VARCHAR', 'userAgent': 'VARCHAR', 'errorCode': 'VARCHAR',
            'requestID': 'VARCHAR', 'eventID': 'VARCHAR', 'userIdentity': 'JSON'}, ignore_errors=true)\"\"\", [sys.argv[1]])
        print(con.execute('SELECT count(*) FROM t').fetchall()[0][0])
    """),
    "pandas json.loads line loop": textwrap.dedent("""
        import json, sys
        import pandas as pd
        rows = []
        with open(sys.argv[1], encoding='utf-8') as f:
            for line in f:
                try:
                    r = json.loads(line)
                except ValueError:
                    continue
                rows.append({'time': r.get('eventTime'), 'action': r.get('eventName'),
                             'actor': (r.get('userIdentity') or {}).get('arn'), 'src_ip': r.get('sourceIPAddress'),
                             'user_agent': r.get('userAgent'), 'error': r.get('errorCode'), 'raw': line})
        df = pd.DataFrame(rows)
        df['time'] = pd.to_datetime(df['time'], utc=True)
        print(len(df))
    """),
    "DuckDB one statement: lines as text, fields extracted, raw kept (no ledger, no line numbers)": textwrap.dedent("""
        import duckdb, sys
        con = duckdb.connect(sys.argv[2])
        con.execute("SET enable_progress_bar = false")
        con.execute("SET memory_limit = '1GB'")
        con.execute('''CREATE TABLE t (time TIMESTAMPTZ, action VARCHAR, actor VARCHAR, credential_id VARCHAR,
            src_ip VARCHAR, user_agent VARCHAR, request_id VARCHAR, event_uid VARCHAR, error VARCHAR,
            raw JSON USING COMPRESSION zstd)''')
        con.execute('''INSERT INTO t SELECT try_cast(f[1] AS TIMESTAMPTZ), f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9],
            CASE WHEN f IS NOT NULL THEN line END
            FROM (SELECT line, try(json_extract_string(line, ['$.eventTime', '$.eventName', '$.userIdentity.arn',
                         '$.userIdentity.accessKeyId', '$.sourceIPAddress', '$.userAgent', '$.requestID', '$.eventID',
                         '$.errorCode'])) AS f
                  FROM read_csv(?, columns = {'line': 'VARCHAR'}, delim = '\\x01', quote = '', escape = '',
                                header = false, auto_detect = false))''', [sys.argv[1]])
        print(con.execute('SELECT count(*) FROM t WHERE time IS NOT NULL').fetchall()[0][0])
    """),
    BASELINE: textwrap.dedent("""
        # The lossless minimum with DuckDB alone (issue 26): every line kept with its number, one parse
        # of the 9 mapped fields, lines that do not parse in a rejects table with a reason, raw kept in
        # the table (zstd), the file's sha256. No de-duplication, no secret scan, no derivations.
        import duckdb, hashlib, sys
        h = hashlib.sha256()
        with open(sys.argv[1], 'rb') as f:
            for chunk in iter(lambda: f.read(1 << 20), b''):
                h.update(chunk)
        con = duckdb.connect(sys.argv[2])
        con.execute("SET enable_progress_bar = false")
        con.execute("SET memory_limit = '1GB'")
        con.execute('''CREATE TABLE events (line_no BIGINT, time TIMESTAMPTZ, action VARCHAR, actor VARCHAR,
            credential_id VARCHAR, src_ip VARCHAR, user_agent VARCHAR, request_id VARCHAR, event_uid VARCHAR,
            error VARCHAR, raw VARCHAR USING COMPRESSION zstd)''')
        con.execute('CREATE TABLE rejects (line_no BIGINT, reason VARCHAR, raw VARCHAR USING COMPRESSION zstd)')
        con.execute('CREATE TABLE evidence (sha256 VARCHAR, lines BIGINT, loaded BIGINT, rejected BIGINT)')
        con.execute('''CREATE TEMP TABLE p AS
            SELECT line_no, line, try(json_transform(line, '{"eventTime": "VARCHAR", "eventName": "VARCHAR",
                "userIdentity": {"arn": "VARCHAR", "accessKeyId": "VARCHAR"}, "sourceIPAddress": "VARCHAR",
                "userAgent": "VARCHAR", "requestID": "VARCHAR", "eventID": "VARCHAR", "errorCode": "VARCHAR"}')) AS f
            FROM (SELECT row_number() OVER () AS line_no, line
                  FROM read_csv(?, columns = {'line': 'VARCHAR'}, delim = '\\x01', quote = '', escape = '',
                                header = false, auto_detect = false))''', [sys.argv[1]])
        con.execute('''INSERT INTO events SELECT line_no, try_cast(f.eventTime AS TIMESTAMPTZ), f.eventName,
            f.userIdentity.arn, f.userIdentity.accessKeyId, f.sourceIPAddress, f.userAgent, f.requestID, f.eventID,
            f.errorCode, line FROM p WHERE f IS NOT NULL AND try_cast(f.eventTime AS TIMESTAMPTZ) IS NOT NULL''')
        con.execute('''INSERT INTO rejects SELECT line_no, CASE WHEN f IS NULL THEN 'not a JSON object'
            ELSE 'no event time' END, line FROM p
            WHERE f IS NULL OR try_cast(f.eventTime AS TIMESTAMPTZ) IS NULL''')
        loaded = con.execute('SELECT count(*) FROM events').fetchall()[0][0]
        rejected = con.execute('SELECT count(*) FROM rejects').fetchall()[0][0]
        con.execute('INSERT INTO evidence VALUES (?, ?, ?, ?)', [h.hexdigest(), loaded + rejected, loaded, rejected])
        print(f"{loaded} loaded, {rejected} rejected")
    """),
    "forensics ingest (lossless)": textwrap.dedent("""
        import sys, time
        import forensics
        from forensics import case as case_module
        spent = [0.0]
        rederive = case_module.Case.rederive
        def timed(self, *a, **k):
            t0 = time.perf_counter()
            try:
                return rederive(self, *a, **k)
            finally:
                spent[0] += time.perf_counter() - t0
        case_module.Case.rederive = timed
        with forensics.open_case(sys.argv[2]) as case:
            (res,) = case.ingest([sys.argv[1]], mapping=sys.argv[3])
        assert res.reconciled
        print(f"{res.records_loaded} loaded, {res.records_rejected} rejected; derivations {spent[0]:.1f} s")
    """),
}


def make_file(path: Path, gb: float) -> int:
    per_event = 700  # bytes, measured on this generator
    n = int(gb * 1e9 / per_event)
    con = duckdb.connect()
    con.execute(GEN_SQL.replace("{n}", str(n)).replace("{path}", str(path)))
    # a sprinkling of malformed lines, as real exports have
    with open(path, "ab") as f:
        for _ in range(max(1, n // 100_000)):
            f.write(b'{"eventTime": "2026-03-01T00:00:00Z", "truncated\n')
    return n


def window_query(n: int, workdir: Path) -> tuple[float, float, int]:
    """Time a 1-hour window over n events held in time order (the order the kit inserts in)."""
    import forensics

    path = workdir / "window.duckdb"
    with forensics.open_case(path) as case:
        case.con.execute(
            """INSERT INTO events (event_id, time, source, category, outcome, evidence_sha256, evidence_record, action)
               SELECT 'e' || i, TIMESTAMPTZ '2026-03-01 00:00:00+00' + to_microseconds(i * 250000),
                      'bench', 'audit', 'success', 'x', i, 'a' || (i % 50)
               FROM range(?) t(i) ORDER BY 2""",
            [n],
        )
        case.con.execute("CHECKPOINT")
    with forensics.open_case(path, read_only=True) as case:
        lo, hi = case.time_range()
        start = lo + (hi - lo) / 2
        end = start + timedelta(hours=1)
        case.timeline(start=start, end=end)  # warm the connection
        times, count_times = [], []
        for _ in range(5):
            t0 = time.perf_counter()
            df = case.timeline(start=start, end=end)
            times.append(time.perf_counter() - t0)
            t1 = time.perf_counter()
            case.sql("SELECT count(*) FROM events WHERE time >= $a AND time < $b", {"a": start, "b": end})
            count_times.append(time.perf_counter() - t1)
        times_count = min(count_times)
    return min(times), times_count, df.height


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gb", type=float, default=1.0, help="size of the generated NDJSON file (default 1 GB)")
    ap.add_argument(
        "--window-events", type=int, default=0, help="also time a 1-hour window over this many events"
    )
    ap.add_argument("--workdir", default=None, help="where to write the files (default: a temp dir)")
    ap.add_argument("--runs", type=int, default=3, help="alternating runs of every method (default 3)")
    ap.add_argument(
        "--kit-only", action="store_true", help="run only the kit (e.g. for the 3 GB memory check)"
    )
    args = ap.parse_args()
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="forensics-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    data = workdir / "audit.jsonl"
    t0 = time.perf_counter()
    n = make_file(data, args.gb)
    size = data.stat().st_size
    print(
        f"generated {n} events, {size / 1e6:.0f} MB in {time.perf_counter() - t0:.1f} s at {data}",
        file=sys.stderr,
    )
    mapping = workdir / "mapping.toml"
    mapping.write_text(MAPPING, encoding="utf-8")
    methods = {k: v for k, v in METHODS.items() if k.startswith("forensics") or not args.kit_only}
    runs: dict[str, list[tuple[float, float, int, str]]] = {name: [] for name in methods}
    for r in range(args.runs):  # alternating: A B C ... A B C, so load changes hit every method alike
        for name, code in methods.items():
            db = fresh_db(workdir, name)
            os.system("sync")
            elapsed, cpu, rss, out = measure(code, str(data), str(db), str(mapping))
            runs[name].append((elapsed, cpu, rss, out))
            print(
                f"run {r + 1} {name}: {elapsed:.2f} s, {cpu:.1f} CPU s, peak RSS {rss / 1e6:.0f} MB ({out})",
                file=sys.stderr,
            )
    load = os.getloadavg()
    print(
        f"\n{size / 1e6:.0f} MB NDJSON, {n} events, {os.cpu_count()} cores, {args.runs} alternating runs, "
        f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}\n"
    )
    print(
        "| method | CPU s min-median-max | wall s min-median-max | MB/s (median wall) | peak RSS (MB) | CPU vs baseline |"
    )
    print("|---|---|---|---|---|---|")
    base = statistics.median(c for _, c, _, _ in runs[BASELINE]) if BASELINE in runs else None

    def spread(values: list[float]) -> str:
        return f"{min(values):.1f}-{statistics.median(values):.1f}-{max(values):.1f}"

    for name, results in runs.items():
        cpus = [c for _, c, _, _ in results]
        walls = [e for e, _, _, _ in results]
        ratio = f"{statistics.median(cpus) / base:.2f}x" if base else "-"
        print(
            f"| {name} | {spread(cpus)} | {spread(walls)} | {size / 1e6 / statistics.median(walls):.0f} "
            f"| {max(r for _, _, r, _ in results) / 1e6:.0f} | {ratio} |"
        )
    if args.window_events:
        best, count_s, height = window_query(args.window_events, workdir)
        print(
            f"\n1-hour window over {args.window_events:,} events: timeline() {best * 1000:.0f} ms "
            f"({height} rows returned); count(*) in window {count_s * 1000:.0f} ms"
        )


if __name__ == "__main__":
    main()
