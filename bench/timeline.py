"""A 1-hour window over 10 M events: ``Case.timeline(start, end)`` warm, against DuckDB alone running
the same window query (same columns, same order) on the same case file, and the same window with
``raw=True``. The events are generated straight into a case's ``events`` table with DuckDB SQL, in time
order (the order the kit inserts in), each with a ~300-byte ``raw`` record like an audit log's.

    python bench/timeline.py                          # 10 M events, 40 calls of each method
    python bench/timeline.py --events 1000000 --calls 20
    python bench/timeline.py --workdir /tmp/tl        # keeps the case there and reuses it next time

Each method is called alternately (A B C A B C ...) in one process on one read-only connection after a
warm-up call; the table gives min, median and max wall milliseconds per call and the process CPU
seconds each method used (``time.process_time`` around its calls). Numbers, not assertions.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

GEN_SQL = """
INSERT INTO events (event_id, time, time_raw, source, category, action, actor, src_ip, user_agent, service,
                    outcome, outcome_reason, evidence_sha256, evidence_record, evidence_line, event_seq, raw)
SELECT 'bench0000000000:' || i || ':0',
       TIMESTAMPTZ '2026-03-01 00:00:00+00' + to_microseconds(i * 250000),
       strftime(TIMESTAMPTZ '2026-03-01 00:00:00+00' + to_microseconds(i * 250000), '%Y-%m-%dT%H:%M:%S.%fZ'),
       'bench', 'audit',
       ['GetObject','DescribeInstances','ListUsers','GetCallerIdentity','PutObject'][1 + i % 5],
       'arn:aws:iam::111122223333:user/user-' || (i % 5000),
       '10.' || (i % 200) || '.' || (i % 250) || '.' || (i % 7),
       'aws-cli/2.15.0 Python/3.11',
       ['s3','ec2','iam','sts'][1 + i % 4],
       CASE WHEN i % 11 = 0 THEN 'failure' ELSE 'success' END,
       CASE WHEN i % 11 = 0 THEN 'errorCode=AccessDenied' ELSE 'no errorCode' END,
       'bench0000000000000000000000000000000000000000000000000000000000', i, i + 1, 0,
       '{"eventTime":"' || strftime(TIMESTAMPTZ '2026-03-01 00:00:00+00' + to_microseconds(i * 250000),
                                    '%Y-%m-%dT%H:%M:%S.%fZ')
         || '","eventName":"GetObject","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/user-'
         || (i % 5000) || '","accessKeyId":"AKIA' || lpad((i % 7000)::VARCHAR, 16, '0')
         || '"},"sourceIPAddress":"10.0.0.1","userAgent":"aws-cli/2.15.0","requestID":"' || md5(i::VARCHAR)
         || '","eventID":"' || i || '"}'
FROM range(?) t(i) ORDER BY 2
"""


def build(path: Path, n: int) -> None:
    import forensics

    with forensics.open_case(path) as case:
        case.con.execute(GEN_SQL, [n])
        case.con.execute("CHECKPOINT")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--calls", type=int, default=40, help="timed calls of each method (default 40)")
    ap.add_argument("--workdir", default=None, help="where the case is kept (default: a temp dir)")
    args = ap.parse_args()
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="forensics-bench-timeline-"))
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"timeline-{args.events}.duckdb"
    if not path.exists():
        t0, c0 = time.perf_counter(), time.process_time()
        build(path, args.events)
        print(
            f"generated {args.events:,} events in {time.perf_counter() - t0:.1f} s "
            f"({time.process_time() - c0:.1f} CPU s) at {path}",
            file=sys.stderr,
        )
    import forensics
    from forensics.case import TIMELINE_ORDER

    with forensics.open_case(path, read_only=True) as case:
        lo, hi = case.time_range()
        start = lo + (hi - lo) / 2
        end = start + timedelta(hours=1)
        cols = [c for c in case.timeline(start=start, end=start + timedelta(seconds=1)).columns]
        alone_sql = (
            f"SELECT {', '.join(cols)} FROM events WHERE time >= $a AND time < $b ORDER BY {TIMELINE_ORDER}"
        )
        cur = case.con.cursor()
        methods = {
            "Case.timeline(start, end)": lambda: case.timeline(start=start, end=end),
            "DuckDB alone, same columns and order (.pl())": lambda: cur.sql(
                alone_sql, params={"a": start, "b": end}
            ).pl(),
            "Case.timeline(start, end, raw=True)": lambda: case.timeline(start=start, end=end, raw=True),
        }
        heights = {name: f().height for name, f in methods.items()}  # warm every method
        walls: dict[str, list[float]] = {name: [] for name in methods}
        cpus = dict.fromkeys(methods, 0.0)
        for _ in range(args.calls):
            for name, f in methods.items():
                c0, t0 = time.process_time(), time.perf_counter()
                f()
                walls[name].append(time.perf_counter() - t0)
                cpus[name] += time.process_time() - c0
    load = os.getloadavg()
    print(
        f"\n1-hour window over {args.events:,} events ({heights[next(iter(methods))]:,} rows), "
        f"{args.calls} alternating calls each, {os.cpu_count()} cores, load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}\n"
    )
    print("| method | rows | ms min | ms median | ms max | CPU ms per call |")
    print("|---|---|---|---|---|---|")
    for name, w in walls.items():
        print(
            f"| {name} | {heights[name]:,} | {min(w) * 1000:.1f} | {statistics.median(w) * 1000:.1f} "
            f"| {max(w) * 1000:.1f} | {cpus[name] / len(w) * 1000:.1f} |"
        )


if __name__ == "__main__":
    main()
