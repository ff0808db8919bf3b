"""Trace benchmark: OTLP/JSON Lines ingest by the kit against a polars baseline, and p99 latency per
endpoint per minute over many spans.

    python bench/traces.py                    # ~1 GB of collector file-exporter JSON Lines
    python bench/traces.py --gb 0.2           # smaller (what the shared 2-core machine can afford)
    python bench/traces.py --query-spans 10000000
    python bench/traces.py --gb 0.2 --profile # where the kit's time goes, statement by statement

Each ingest method runs in its own process; peak RSS and CPU seconds (user + system) come from
wait4(). On a shared machine CPU seconds are steadier than wall seconds. Results print as a
Markdown table for BENCHMARKS.md. Numbers, not assertions: nothing here fails on speed.
"""

from __future__ import annotations

import argparse
import collections
import re
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import duckdb
from _measure import measure

SPANS_PER_LINE = 20

# One collector export per line: one resource, one scope, SPANS_PER_LINE spans with 6 attributes.
GEN_SQL = """
COPY (
  SELECT [{'resource': {'attributes': [
             {'key': 'service.name', 'value': {'stringValue': 'svc-' || (i % 12)}},
             {'key': 'service.version', 'value': {'stringValue': '1.' || (i % 5) || '.0'}}]},
           'scopeSpans': [{'scope': {'name': 'io.opentelemetry.http', 'version': '1.25.0'},
             'spans': list_transform(range(@SPL@), lambda j: {
               'traceId': md5(CAST(i * @SPL@ + j AS VARCHAR)),
               'spanId': left(md5('s' || (i * @SPL@ + j)), 16),
               'parentSpanId': left(md5('p' || (i * @SPL@ + j)), 16),
               'name': 'GET /api/v1/items/{id}',
               'kind': 1 + (j % 3),
               'startTimeUnixNano': CAST(1773475200000000000 + (i * @SPL@ + j) * 5000000 AS VARCHAR),
               'endTimeUnixNano': CAST(1773475200000000000 + (i * @SPL@ + j) * 5000000 + 1000000 + (hash(i, j) % 900000000) AS VARCHAR),
               'attributes': [
                 {'key': 'http.request.method', 'value': {'stringValue': 'GET'}},
                 {'key': 'http.route', 'value': {'stringValue': '/api/v1/items/' || (j % 40)}},
                 {'key': 'http.response.status_code', 'value': {'intValue': CAST(CASE WHEN hash(i, j) % 50 = 0 THEN 503 ELSE 200 END AS VARCHAR)}},
                 {'key': 'user_agent.original', 'value': {'stringValue': 'client/' || (j % 7)}},
                 {'key': 'app.order.id', 'value': {'stringValue': 'ord-' || (i * @SPL@ + j)}},
                 {'key': 'net.peer.name', 'value': {'stringValue': 'host-' || (i % 97) || '.internal'}}],
               'status': CASE WHEN hash(i, j) % 50 = 0 THEN {'code': 2, 'message': 'upstream error'}
                              ELSE {'code': 0, 'message': ''} END})}]}] AS resourceSpans
  FROM range(@LINES@) t(i)
) TO '@PATH@' (FORMAT json)
"""

KIT = """
import sys, forensics
c = forensics.open_case(sys.argv[2])
r = c.ingest(sys.argv[1])[0]
n = c.sql("SELECT count(*) AS n FROM spans")["n"][0]
print(n, r.records_loaded, r.records_rejected)
"""

# DuckDB alone: the file's lines as text, each parsed once by json_transform with the type the loader
# gives (the faster of DuckDB's two readers here), spans and their attributes unnested into two tables of a
# case file. Lossy: no raw record, no ledger of bad lines, no resource attributes, events or outcomes.
DUCKDB = r"""
import sys, duckdb
from forensics.sources.otlp import DOCUMENT_TYPE
con = duckdb.connect(sys.argv[2])
con.execute('''CREATE TABLE spans AS
    WITH docs AS (SELECT json_transform(line, ?) AS d
                  FROM read_csv(?, columns = {'line': 'VARCHAR'}, delim = '\x01', quote = '', escape = '',
                                header = false, auto_detect = false)),
         rs AS (SELECT unnest(d.resourceSpans) AS r FROM docs),
         ss AS (SELECT unnest(r.scopeSpans) AS s FROM rs)
    SELECT unnest(s.spans, recursive := false) AS sp FROM ss''', [DOCUMENT_TYPE, sys.argv[1]])
con.execute('''CREATE TABLE span_attributes AS
    SELECT sp.traceId AS trace_id, sp.spanId AS span_id, unnest(sp.attributes, recursive := true) FROM spans''')
print(con.execute("SELECT count(*) FROM spans").fetchall()[0][0],
      con.execute("SELECT count(*) FROM span_attributes").fetchall()[0][0], 0)
"""

POLARS = """
import sys, polars as pl
df = pl.read_ndjson(sys.argv[1])
spans = (df.explode("resourceSpans").unnest("resourceSpans").explode("scopeSpans").unnest("scopeSpans")
           .explode("spans").unnest("spans"))
attrs = spans.select("traceId", "spanId", "attributes").explode("attributes").unnest("attributes")
print(spans.height, attrs.height, 0)
"""


def _gen(lines: int, path: Path) -> str:
    # constants chosen here (never evidence): safe to place in the statement
    return (
        GEN_SQL.replace("@SPL@", str(SPANS_PER_LINE))
        .replace("@LINES@", str(lines))
        .replace("@PATH@", str(path))
    )


def generate(path: Path, gb: float) -> int:
    con = duckdb.connect()
    probe = path.with_suffix(".probe")
    con.execute(_gen(100, probe))
    per_line = probe.stat().st_size / 100
    probe.unlink()
    lines = max(1, int(gb * 1e9 / per_line))
    con.execute(_gen(lines, path))
    return lines * SPANS_PER_LINE


def run(code: str, *args: str) -> tuple[float, float, float, str]:
    """Wall seconds, CPU seconds, peak RSS (MB) and the last line of stdout of ``code`` run in a fresh
    interpreter (``_measure.measure``: the child's own peak RSS, not the parent's carried across exec)."""
    try:
        secs, cpu, rss, out = measure(textwrap.dedent(code), *args)
    except RuntimeError as e:
        return 0.0, 0.0, 0.0, f"failed ({str(e).splitlines()[-1][:200]})"
    lines = out.splitlines()
    return secs, cpu, rss / 2**20, lines[-1] if lines else ""


class _TimedConnection:
    """A DuckDB connection that records the CPU seconds of each statement by the file that issued it."""

    def __init__(self, con):
        self._con = con
        self.cpu: dict[str, list] = collections.defaultdict(lambda: [0, 0.0])

    def __getattr__(self, name):
        return getattr(self._con, name)

    def execute(self, sql, *args, **kwargs):
        c0 = time.process_time()
        try:
            return self._con.execute(sql, *args, **kwargs)
        finally:
            frame = sys._getframe(1)
            while frame.f_code.co_filename.endswith("db.py"):  # db.row / db.scalar: charge their caller
                frame = frame.f_back
            head = re.sub(r"_fx_[a-z]+_\d+", "_fx_*", " ".join(sql.split())[:60])
            entry = self.cpu[f"{Path(frame.f_code.co_filename).name}:{frame.f_lineno} {head}"]
            entry[0] += 1
            entry[1] += time.process_time() - c0


def profile(path: Path, case_path: Path) -> None:
    """Ingest in this process and print CPU seconds by who issued each statement: the OTLP source
    (forensics/sources/otlp.py, _spans.py, derive/traces.py), the ingest engine (ingest.py and the
    Batch helpers in sources/contract.py), other derivations, and what is not SQL at all."""
    import forensics

    case = forensics.open_case(case_path)
    timed = _TimedConnection(case.con)
    case.con = timed
    c0, w0 = time.process_time(), time.perf_counter()
    case.ingest(str(path))
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    groups: dict[str, float] = collections.defaultdict(float)
    for key, (_, secs) in timed.cpu.items():
        name = key.split(":")[0]
        group = (
            "OTLP source SQL (otlp.py, _spans.py, derive/traces.py)"
            if name in ("otlp.py", "_spans.py", "traces.py")
            else "engine SQL (ingest.py, Batch in base.py)"
            if name in ("ingest.py", "base.py")
            else "other derivations' SQL"
        )
        groups[group] += secs
    groups["not SQL (hashing, splitting, Arrow, imports)"] = cpu - sum(groups.values())
    print(f"\nin-process ingest: {wall:.1f} s wall, {cpu:.1f} s CPU\n")
    print("| CPU seconds | share | issued by |\n|---:|---:|---|")
    for group, secs in sorted(groups.items(), key=lambda kv: -kv[1]):
        print(f"| {secs:.2f} | {secs / cpu:.0%} | {group} |")
    print("\n| CPU seconds | calls | statement (file:line, start) |\n|---:|---:|---|")
    for key, (calls, secs) in sorted(timed.cpu.items(), key=lambda kv: -kv[1][1])[:15]:
        print(f"| {secs:.2f} | {calls} | `{key}` |")
    case.close()


def query_bench(n: int) -> tuple[float, int]:
    """Seconds for p99 per endpoint per minute over ``n`` server spans held in a case."""
    import forensics

    with tempfile.TemporaryDirectory() as d:
        case = forensics.open_case(Path(d) / "q.duckdb")
        case.con.execute(
            """INSERT INTO spans (trace_id, span_id, service, name, kind, start, "end", duration_us, outcome,
                                  outcome_reason, endpoint, source, evidence_sha256, evidence_record)
               SELECT md5(CAST(i AS VARCHAR)), left(md5('s' || i), 16), 'svc-' || (i % 12), 'op', 'server',
                      TIMESTAMPTZ '2026-03-14 00:00:00+00' + to_microseconds(i * 8000),
                      TIMESTAMPTZ '2026-03-14 00:00:00+00' + to_microseconds(CAST(i * 8000 + 1000 + hash(i) % 900000 AS BIGINT)),
                      CAST(1000 + hash(i) % 900000 AS BIGINT), 'success', 'bench', '/api/v1/items/' || (i % 40), 'otlp', 'bench', i
               FROM range(?) t(i)""",
            [n],
        )
        t0 = time.perf_counter()
        rows = case.query("traces/latency", bucket_s=60).height
        secs = time.perf_counter() - t0
        case.close()
    return secs, rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--gb", type=float, default=1.0, help="size of the generated OTLP JSON Lines file (default 1 GB)"
    )
    ap.add_argument(
        "--query-spans", type=int, default=10_000_000, help="spans for the p99-per-minute query (0: skip)"
    )
    ap.add_argument("--skip-polars", action="store_true")
    ap.add_argument(
        "--profile",
        action="store_true",
        help="also ingest in this process and print CPU seconds by statement and by who issued it",
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="fx-bench-traces-") as d:
        path = Path(d) / "traces.jsonl"
        spans = generate(path, args.gb)
        size_mb = path.stat().st_size / 1e6
        print(
            f"file: {size_mb:.0f} MB, {spans:,} spans ({SPANS_PER_LINE} per line, 6 attributes each + 2 resource)\n"
        )
        print("| method | seconds | CPU seconds | spans/s | MB/s | peak RSS (MB) | result |")
        print("|---|---:|---:|---:|---:|---:|---|")
        methods = [
            ("kit: forensics ingest (DuckDB)", KIT, [str(path), str(Path(d) / "case.duckdb")]),
            (
                "DuckDB alone: json_transform, spans and attributes unnested into tables (lossy)",
                DUCKDB,
                [str(path), str(Path(d) / "duckdb.duckdb")],
            ),
        ]
        if not args.skip_polars:
            methods.append(("polars read_ndjson + explode/unnest", POLARS, [str(path)]))
        for label, code, argv in methods:
            secs, cpu, rss, out = run(code, *argv)
            print(
                f"| {label} | {secs:.1f} | {cpu:.1f} | {spans / secs:,.0f} | {size_mb / secs:.0f} | {rss:,.0f} | {out} |",
                flush=True,
            )
        if args.profile:
            profile(path, Path(d) / "profile.duckdb")
    if args.query_spans:
        secs, rows = query_bench(args.query_spans)
        print(
            f"\np99/p95/p50 per endpoint per minute (queries/traces/latency.sql over trace_requests) on "
            f"{args.query_spans:,} server spans: {secs:.2f} s ({rows:,} rows)"
        )


if __name__ == "__main__":
    main()
