"""Span rules that need more than one span, rebuilt after every ingest (docs/traces.md).

1. Outcome refinement: a client span that failed while the server span answering it completed
   successfully is a ``timeout`` (the client gave up; the work happened). Every other span keeps
   the per-span outcome its loader gave it (``base_outcome``).
2. Clock skew: only synchronous client/server pairs of two services are evidence; each trace's
   corrections are solved jointly over its service graph (least squares, root service fixed), with
   a sample count and a confidence (``trace_skew``); ``spans.skew_us`` and
   ``start_corrected``/``end_corrected`` carry it, raw times stay as they were. A trace the
   corrections would make worse (more cross-service children outside their parent) stays uncorrected.
3. Retries: ``retry_of_span_id`` links a client span to the failed call it repeats (the rule of
   ``queries/traces/retries.sql`` with a 60 s window).
4. The timeline events promoted from spans take the refined outcome.

0. De-duplication: a span ingested twice (same trace id, span id and content) is kept once, and
   the removed copies are counted in the ledger (``evidence.records_duplicate``) like events.

Idempotent: every step starts again from the loaders' columns.
"""

from __future__ import annotations

import duckdb

ORDER = 20
READS = ("spans",)

# Span de-duplication: copies of a span (same trace id, span id and content: the loaders' columns,
# attributes, events and links) are kept once, the copy of the earliest evidence file (then record)
# wins. A copy of a span that has a timeline event (a server or root span) was already counted as a
# duplicate when its event was; every other removed copy is counted here, in its file's
# records_duplicate. Its attribute rows go too (for a copy within one file: the repeated rows).
# Zipkin's shared client/server spans share an id but differ in kind: not copies.
DEDUP_SPANS = """
CREATE OR REPLACE TEMP TABLE _span_copies AS
WITH c AS (
    SELECT s.rowid AS rid, s.trace_id, s.span_id, s.evidence_sha256 AS sha,
           (s.kind = 'server' OR s.parent_span_id IS NULL) AND s.start IS NOT NULL AS has_event,
           md5(to_json([s.parent_span_id, s.service, s.name, s.kind, CAST(s.start AS VARCHAR), CAST(s."end" AS VARCHAR),
                        s.status_code, s.status_message, CAST(s.attributes AS VARCHAR),
                        CAST(s.resource_attributes AS VARCHAR), CAST(s.events AS VARCHAR), CAST(s.links AS VARCHAR)])) AS content,
           coalesce(e.evidence_id, 9223372036854775807) AS file_order, s.evidence_record
    FROM spans s
    SEMI JOIN (SELECT trace_id, span_id FROM spans GROUP BY ALL HAVING count(*) > 1) r
         ON r.trace_id = s.trace_id AND r.span_id = s.span_id
    LEFT JOIN evidence e ON e.sha256 = s.evidence_sha256)
SELECT *, row_number() OVER (PARTITION BY trace_id, span_id, content ORDER BY file_order, evidence_record, rid) AS rn
FROM c
"""

DEDUP_ATTRIBUTES = """
DELETE FROM span_attributes WHERE rowid IN (
    WITH gone AS (SELECT DISTINCT trace_id, span_id, sha FROM _span_copies WHERE rn > 1),
    kept AS (SELECT trace_id, span_id, sha, count(*) AS n FROM _span_copies WHERE rn = 1 GROUP BY ALL),
    rows AS (
        SELECT a.rowid AS rid, coalesce(k.n, 0) AS n,
               row_number() OVER (PARTITION BY a.trace_id, a.span_id, a.evidence_sha256, a.scope, a.key, a.value
                                  ORDER BY a.rowid) AS rn
        FROM span_attributes a
        JOIN gone g ON g.trace_id = a.trace_id AND g.span_id = a.span_id AND g.sha = a.evidence_sha256
        LEFT JOIN kept k ON k.trace_id = a.trace_id AND k.span_id = a.span_id AND k.sha = a.evidence_sha256)
    -- no copy of the file kept: all its rows go; one kept: the repeats go; more (shared ids): left as they are
    SELECT rid FROM rows WHERE n = 0 OR (n = 1 AND rn > 1))
"""

DEDUP_LEDGER = """
UPDATE evidence SET records_duplicate = records_duplicate + d.n
FROM (SELECT sha, count(*) AS n FROM _span_copies WHERE rn > 1 AND NOT has_event GROUP BY sha) d
WHERE evidence.sha256 = d.sha
"""


def _dedup_spans(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(DEDUP_SPANS)
    if con.execute("SELECT count(*) FROM _span_copies WHERE rn > 1").fetchall()[0][0]:
        con.execute(DEDUP_ATTRIBUTES)
        con.execute(DEDUP_LEDGER)
        con.execute("DELETE FROM spans WHERE rowid IN (SELECT rid FROM _span_copies WHERE rn > 1)")
    con.execute("DROP TABLE _span_copies")


# only the spans an earlier derive changed: a span just loaded already holds its loader's columns
RESET = """
UPDATE spans SET outcome = base_outcome, outcome_reason = base_outcome_reason, skew_us = NULL, retry_of_span_id = NULL,
                 start_corrected = start, end_corrected = "end"
WHERE base_outcome IS NOT NULL
  AND (outcome IS DISTINCT FROM base_outcome OR outcome_reason IS DISTINCT FROM base_outcome_reason
       OR skew_us IS NOT NULL OR retry_of_span_id IS NOT NULL
       OR start_corrected IS DISTINCT FROM start OR end_corrected IS DISTINCT FROM "end")
"""

# A client span that failed (no timeout signal of its own) while its server span completed.
CLIENT_TIMEOUT = """
UPDATE spans SET outcome = 'timeout',
       outcome_reason = 'client span failed while its server span ' || srv.span_id || ' (' || coalesce(srv.service, '?')
                        || ') completed successfully: the client gave up, the work happened'
FROM (SELECT c.trace_id AS t, c.span_id AS s, c.kind AS k, min(v.span_id) AS span_id, min(v.service) AS service
      FROM spans c JOIN spans v
        ON v.trace_id = c.trace_id AND v.kind = 'server'
       AND (v.parent_span_id = c.span_id OR (v.span_id = c.span_id AND v.service IS DISTINCT FROM c.service))
      WHERE c.kind = 'client' AND c.base_outcome = 'failure' AND v.base_outcome = 'success'
        AND c.http_status IS NULL AND c.grpc_status IS NULL  -- the client never got an answer
      GROUP BY ALL) srv
WHERE spans.trace_id = srv.t AND spans.span_id = srv.s AND spans.kind = srv.k
"""

# One row per synchronous RPC: a client span and the server span answering it (its child, or
# Zipkin's shared span with the same id), in two services. Async work (a server child of a server, a
# consumer, a child that starts after a parent that is not its client) is never evidence of skew.
# lo/hi bound the shift x of the server's clock that puts the server inside its client
# (x >= lo: it starts after the client; x <= hi: it ends before the client got its answer; a
# client that never got an answer bounds nothing above). The measurement is 0 when the pair is
# already consistent, else the client/server midpoint (the latency split evenly both ways), or lo
# when only the lower bound is known.
SKEW_PAIRS = """
CREATE OR REPLACE TEMP TABLE _skew_pairs AS
WITH s AS (
    SELECT trace_id, span_id, parent_span_id, service, kind, epoch_us(start) AS st, epoch_us("end") AS en,
           base_outcome IN ('success', 'failure') AS answered
    FROM spans WHERE start IS NOT NULL AND "end" IS NOT NULL AND kind IN ('client', 'server')),
linked AS (
    SELECT c.trace_id, c.service AS client_service, v.service AS server_service, c.st AS c_st, c.en AS c_en,
           c.answered, v.st AS v_st, v.en AS v_en
    FROM s c JOIN s v ON v.trace_id = c.trace_id AND v.parent_span_id = c.span_id
    WHERE c.kind = 'client' AND v.kind = 'server'
    UNION ALL
    SELECT c.trace_id, c.service, v.service, c.st, c.en, c.answered, v.st, v.en
    FROM s c JOIN s v ON v.trace_id = c.trace_id AND v.span_id = c.span_id
    WHERE c.kind = 'client' AND v.kind = 'server'),
b AS (
    SELECT *, c_st - v_st AS lo, CASE WHEN answered THEN c_en - v_en END AS hi
    FROM linked WHERE client_service IS NOT NULL AND server_service IS NOT NULL AND client_service <> server_service)
SELECT *, CASE WHEN lo <= 0 AND (hi IS NULL OR hi >= 0) THEN 0
               WHEN hi IS NULL THEN lo
               ELSE lo + (hi - lo) // 2 END AS measured
FROM b
"""

# per trace and service pair: the median measurement, over traces with any evidence of skew
SKEW_EDGES = """
SELECT trace_id, client_service, server_service, CAST(median(measured) AS DOUBLE) AS d, count(*) AS n
FROM _skew_pairs
WHERE trace_id IN (SELECT trace_id FROM _skew_pairs WHERE measured <> 0)
GROUP BY ALL ORDER BY trace_id, client_service, server_service
"""

# the service a trace's clock is read against: its root span's (the earliest span without a parent)
SKEW_ROOTS = """
SELECT trace_id, arg_min(service, start) AS root
FROM spans WHERE trace_id IN (SELECT trace_id FROM _skew_pairs WHERE measured <> 0)
  AND (parent_span_id IS NULL OR parent_span_id = '') AND service IS NOT NULL
GROUP BY trace_id
"""

# how far each solved correction is supported: the share of the pairs touching the service that
# the solved corrections put the server inside its client (within 1 ms)
SKEW_CONFIDENCE = """
INSERT INTO trace_skew
WITH x AS (SELECT * FROM _skew_solved),
p AS (
    SELECT p.trace_id, p.client_service, p.server_service,
           coalesce(xs.x, 0) - coalesce(xc.x, 0) AS rel, p.lo, p.hi
    FROM _skew_pairs p
    LEFT JOIN x xc ON xc.trace_id = p.trace_id AND xc.service = p.client_service
    LEFT JOIN x xs ON xs.trace_id = p.trace_id AND xs.service = p.server_service
    WHERE p.trace_id IN (SELECT trace_id FROM x)),
touch AS (
    SELECT trace_id, client_service AS service, rel, lo, hi FROM p
    UNION ALL SELECT trace_id, server_service, rel, lo, hi FROM p)
SELECT x.trace_id, x.service, x.reference_service, CAST(round(x.x) AS BIGINT) AS skew_us,
       CAST(count(*) AS INTEGER) AS pairs, 'client/server pairs, least squares over the service graph' AS method,
       avg(CAST(t.rel >= t.lo - 1000 AND (t.hi IS NULL OR t.rel <= t.hi + 1000) AS DOUBLE)) AS confidence
FROM x JOIN touch t USING (trace_id, service)
WHERE round(x.x) <> 0
GROUP BY ALL
"""

APPLY_SKEW = """
UPDATE spans SET skew_us = k.skew_us,
       start_corrected = start + to_microseconds(k.skew_us),
       end_corrected = "end" + to_microseconds(k.skew_us)
FROM trace_skew k
WHERE spans.trace_id = k.trace_id AND spans.service IS NOT DISTINCT FROM k.service
"""

# Fail closed: a trace whose corrections leave more cross-service children outside their parent
# than the raw times did is left uncorrected (its trace_skew rows are marked, not applied).
SKEW_WORSE = """
WITH s AS (SELECT trace_id, span_id, parent_span_id, service, start, "end", start_corrected, end_corrected
           FROM spans WHERE trace_id IN (SELECT trace_id FROM trace_skew) AND start IS NOT NULL AND "end" IS NOT NULL),
o AS (
    SELECT c.trace_id,
           count(*) FILTER (WHERE c.start < p.start OR c."end" > p."end") AS raw_out,
           count(*) FILTER (WHERE c.start_corrected < p.start_corrected OR c.end_corrected > p.end_corrected) AS fixed_out
    FROM s c JOIN s p ON p.trace_id = c.trace_id AND p.span_id = c.parent_span_id
    WHERE c.service IS DISTINCT FROM p.service
    GROUP BY ALL)
SELECT trace_id FROM o WHERE fixed_out > raw_out
"""


def _find(parent: list[int], i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def _solve_trace(rows: list[tuple], root: str | None) -> list[tuple[str, str, float]]:
    """(service, reference service, correction in µs) for one trace's service pairs ``rows``
    (client service, server service, median measurement, pair count): least squares, one equation
    ``x[server] - x[client] = d`` per pair of services weighted by its pair count, one service of each
    connected part fixed at 0 (the root service, else a caller that is never called, else the first)."""
    import numpy as np

    names = sorted({a for a, *_ in rows} | {b for _, b, *_ in rows})
    idx = {name: i for i, name in enumerate(names)}
    parent = list(range(len(names)))
    for a, b, *_ in rows:
        parent[_find(parent, idx[a])] = _find(parent, idx[b])
    callers = {a for a, *_ in rows} - {b for _, b, *_ in rows}
    refs: dict[int, tuple] = {}
    for name in names:
        comp = _find(parent, idx[name])
        rank = (name != root, name not in callers, name)
        if comp not in refs or rank < refs[comp][0]:
            refs[comp] = (rank, name)
    eq, rhs = [], []
    for a, b, d, n in rows:
        w = float(n) ** 0.5
        row = np.zeros(len(names))
        row[idx[b]], row[idx[a]] = w, -w
        eq.append(row)
        rhs.append(w * d)
    for _, ref in refs.values():
        row = np.zeros(len(names))
        row[idx[ref]] = 1e6
        eq.append(row)
        rhs.append(0.0)
    x = np.linalg.lstsq(np.array(eq), np.array(rhs), rcond=None)[0]
    return [(name, refs[_find(parent, idx[name])][1], float(x[idx[name]])) for name in names]


def _solve(con: duckdb.DuckDBPyConnection) -> None:
    """Solve each skewed trace's corrections jointly over its service graph (``_solve_trace``) into
    ``_skew_solved``. numpy's lstsq rather than SQL: a graph with cycles needs a linear solve, and
    only traces with evidence of skew get here (few)."""
    edges = con.execute(SKEW_EDGES).fetchall()
    roots = dict(con.execute(SKEW_ROOTS).fetchall())
    by_trace: dict[str, list] = {}
    for trace_id, a, b, d, n in edges:
        by_trace.setdefault(trace_id, []).append((a, b, d, n))
    solved = [
        (trace_id, *row)
        for trace_id, rows in by_trace.items()
        for row in _solve_trace(rows, roots.get(trace_id))
    ]
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _skew_solved (trace_id VARCHAR, service VARCHAR, reference_service VARCHAR, x DOUBLE)"
    )
    if solved:
        con.executemany("INSERT INTO _skew_solved VALUES (?, ?, ?, ?)", solved)


def _skew(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(SKEW_PAIRS)
    _solve(con)
    con.execute(SKEW_CONFIDENCE)
    con.execute(APPLY_SKEW)
    worse = [r[0] for r in con.execute(SKEW_WORSE).fetchall()]
    if worse:
        con.execute(
            """UPDATE spans SET skew_us = NULL, start_corrected = start, end_corrected = "end"
               WHERE list_contains($t, trace_id)""",
            {"t": worse},
        )
        con.execute("DELETE FROM trace_skew WHERE list_contains($t, trace_id)", {"t": worse})
    con.execute("DROP TABLE IF EXISTS _skew_pairs")
    con.execute("DROP TABLE IF EXISTS _skew_solved")


#: Seconds after a failed client call within which the same call counts as its retry.
RETRY_WINDOW_S = 60

# The same rule as queries/traces/retries.sql, with its default window, stored on the retry span.
RETRIES = f"""
UPDATE spans SET retry_of_span_id = m.failed_span_id
FROM (
    WITH c AS (
        SELECT trace_id, span_id, service, name, start, coalesce("end", start) AS done, outcome,
               coalesce(request_key, trace_id || '/' || coalesce(parent_span_id, '')) AS logical_request
        FROM spans WHERE kind = 'client' AND start IS NOT NULL)
    SELECT r.trace_id, r.span_id, arg_max(f.span_id, f.done) AS failed_span_id
    FROM c f ASOF JOIN c r
      ON r.service IS NOT DISTINCT FROM f.service AND r.name IS NOT DISTINCT FROM f.name
     AND r.logical_request = f.logical_request AND r.start >= f.done
    WHERE f.outcome IN ('timeout', 'failure') AND r.span_id <> f.span_id
      AND r.start < f.done + INTERVAL {RETRY_WINDOW_S} SECOND
    GROUP BY ALL) m
WHERE spans.trace_id = m.trace_id AND spans.span_id = m.span_id AND spans.kind = 'client'
"""

EVENTS = """
UPDATE events SET outcome = s.outcome, outcome_reason = s.outcome_reason
FROM spans s
WHERE events.category = 'trace' AND events.source = s.source AND events.trace_id = s.trace_id
  AND events.span_id = s.span_id AND events.event_uid = s.trace_id || '/' || s.span_id || '/' || s.kind
  AND events.outcome IS DISTINCT FROM s.outcome
"""


def derive(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("DELETE FROM trace_skew")
    if not con.execute("SELECT count(*) FROM spans").fetchall()[0][0]:
        return
    _dedup_spans(con)
    for sql in (RESET, CLIENT_TIMEOUT):
        con.execute(sql)
    _skew(con)
    for sql in (RETRIES, EVENTS):
        con.execute(sql)
