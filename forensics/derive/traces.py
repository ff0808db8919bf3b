"""Span rules that need more than one span, rebuilt after every ingest (docs/traces.md).

1. Outcome refinement: a client span that failed while the server span answering it completed
   successfully is a ``timeout`` (the client gave up; the work happened). Every other span keeps
   the per-span outcome its loader gave it (``base_outcome``).
2. Clock skew: for each trace, pairs of a parent and a child in another service where the child
   falls outside its parent's interval give a correction for the child's service
   (``trace_skew``); ``spans.skew_us`` and ``start_corrected``/``end_corrected`` carry it, raw
   times stay as they were.
3. Retries: ``retry_of_span_id`` links a client span to the failed call it repeats (the rule of
   ``queries/traces/retries.sql`` with a 60 s window).
4. The timeline events promoted from spans take the refined outcome.

Idempotent: every step starts again from the loaders' columns.
"""

from __future__ import annotations

ORDER = 20
READS = ("spans",)

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

SKEW = """
INSERT INTO trace_skew
WITH s AS (
    SELECT trace_id, span_id, parent_span_id, service, kind, epoch_us(start) AS st, epoch_us("end") AS en,
           base_outcome IN ('success', 'failure') AS answered
    FROM spans WHERE start IS NOT NULL AND "end" IS NOT NULL),
-- parent/child pairs: by parent id, and Zipkin's shared client/server spans; equality joins only,
-- so a trace with many spans stays a hash join
linked AS (
    SELECT c.trace_id, c.span_id, c.parent_span_id, c.service, c.kind, c.st, c.en,
           p.service AS p_service, p.kind AS p_kind, p.st AS p_st, p.en AS p_en, p.answered AS p_answered
    FROM s c JOIN s p ON p.trace_id = c.trace_id AND p.span_id = c.parent_span_id
    UNION ALL
    SELECT c.trace_id, c.span_id, c.parent_span_id, c.service, c.kind, c.st, c.en,
           p.service, p.kind, p.st, p.en, p.answered
    FROM s c JOIN s p ON p.trace_id = c.trace_id AND p.span_id = c.span_id
    WHERE p.kind = 'client' AND c.kind = 'server'),
pairs AS (
    SELECT trace_id, service, p_service AS reference_service,
           CASE WHEN p_kind = 'client' AND kind = 'server' AND p_answered
                THEN (p_st + ((p_en - p_st) - (en - st)) // 2) - st
                WHEN st < p_st THEN p_st - st
                ELSE p_en - en END AS correction,
           CASE WHEN p_kind = 'client' AND kind = 'server' AND p_answered THEN 'client/server midpoint'
                ELSE 'child outside parent' END AS method
    FROM linked c
    WHERE service IS DISTINCT FROM p_service
      -- a parent that timed out or never ended may legitimately end before its child: only the
      -- child starting before its parent is then evidence of skew
      AND (st < p_st OR (en > p_en AND p_answered))
      -- a child whose parent id also names a span of its own service belongs to that span
      AND NOT EXISTS (SELECT 1 FROM s l WHERE l.trace_id = c.trace_id AND l.span_id = c.parent_span_id
                      AND l.service IS NOT DISTINCT FROM c.service AND c.parent_span_id <> c.span_id))
-- a client/server pair measures the skew directly; other pairs only bound it
SELECT trace_id, service, reference_service,
       CAST(coalesce(median(correction) FILTER (WHERE method = 'client/server midpoint'), median(correction)) AS BIGINT) AS skew_us,
       CAST(count(*) AS INTEGER) AS pairs,
       CASE WHEN bool_or(method = 'client/server midpoint') THEN 'client/server midpoint' ELSE 'child outside parent' END AS method
FROM pairs GROUP BY trace_id, service, reference_service
"""

APPLY_SKEW = """
UPDATE spans SET skew_us = k.skew_us,
       start_corrected = start + to_microseconds(k.skew_us),
       end_corrected = "end" + to_microseconds(k.skew_us)
FROM (SELECT trace_id, service, arg_max(skew_us, pairs) AS skew_us FROM trace_skew GROUP BY ALL) k
WHERE spans.trace_id = k.trace_id AND spans.service IS NOT DISTINCT FROM k.service
"""

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


def derive(con) -> None:
    con.execute("DELETE FROM trace_skew")
    if not con.execute("SELECT count(*) FROM spans").fetchone()[0]:
        return
    for sql in (RESET, CLIENT_TIMEOUT, SKEW, APPLY_SKEW, RETRIES, EVENTS):
        con.execute(sql)
