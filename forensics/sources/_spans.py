"""What the three trace loaders (OTLP, Zipkin, Jaeger) share: one normalized span shape, the
per-span outcome rule, and writing ``spans``, ``span_attributes`` and the timeline ``events``.

Each loader turns its records into normalized spans (``NORM_COLUMNS``) with set-based SQL. Zipkin
and Jaeger put them in a temporary table and call ``load_spans``; OTLP, where speed matters most,
builds the enriched table (``enrich``) straight from the batch in one statement and calls
``write_spans``. Everything after the normalized columns is identical for every format, so an
outcome means the same thing whichever tracer produced the span (docs/traces.md).
"""

from __future__ import annotations

import duckdb

from forensics.db import setting
from forensics.sources.contract import Batch, stage, unstage

#: Columns a loader's normalized span table must have.
NORM_COLUMNS = (
    "record_no",
    "trace_id",
    "span_id",
    "parent_span_id",
    "service",
    "name",
    "kind",
    "start_us",
    "end_us",
    "start_raw",
    "end_raw",
    "status_code",
    "status_message",
    "attrs",
    "res_attrs",
    "events",
    "links",
    "event_error_type",
)

#: The key/value list type loaders produce for attributes.
KV_LIST = "STRUCT(key VARCHAR, value VARCHAR)[]"

MACROS = r"""
CREATE OR REPLACE TEMP MACRO fx_attr(l, k) AS list_filter(l, lambda a: a.key = k)[1].value;
-- a hex id (any case, maybe missing leading zeros: padded to 16 or 32 digits) or a base64 id of
-- 8 or 16 bytes, as lowercase hex; NULL when it is neither
CREATE OR REPLACE TEMP MACRO fx_hex_id(x, nbytes) AS (
    CASE WHEN x IS NULL OR trim(x) = '' THEN NULL
         WHEN regexp_full_match(x, '[0-9a-fA-F]+') AND length(x) <= 2 * nbytes
             THEN lpad(lower(x), CASE WHEN length(x) <= 16 THEN 16 ELSE 32 END, '0')
         ELSE CASE WHEN octet_length(try(from_base64(x))) IN (8, 16)
                   THEN lower(hex(try(from_base64(x)))) END END);
-- OTLP span kinds, as numbers or enum names, to one word
CREATE OR REPLACE TEMP MACRO fx_span_kind(k) AS (
    CASE upper(replace(coalesce(CAST(k AS VARCHAR), ''), 'SPAN_KIND_', ''))
         WHEN '1' THEN 'internal' WHEN 'INTERNAL' THEN 'internal'
         WHEN '2' THEN 'server' WHEN 'SERVER' THEN 'server'
         WHEN '3' THEN 'client' WHEN 'CLIENT' THEN 'client'
         WHEN '4' THEN 'producer' WHEN 'PRODUCER' THEN 'producer'
         WHEN '5' THEN 'consumer' WHEN 'CONSUMER' THEN 'consumer'
         ELSE 'unspecified' END);
CREATE OR REPLACE TEMP MACRO fx_us_time(us) AS (
    CASE WHEN us IS NULL OR us <= 0 THEN NULL ELSE CAST(make_timestamp(CAST(us AS BIGINT)) AS TIMESTAMPTZ) END);
"""

#: The per-span outcome rule (first match wins). ``derive/traces.py`` refines it with rules that
#: need other spans (a client that errored while its server completed is a timeout).
OUTCOME_SQL = r"""
CASE
  WHEN start_us IS NULL OR start_us <= 0 THEN {'o': 'unknown', 'r': 'span has no start time'}
  WHEN end_us IS NULL OR end_us <= 0 THEN {'o': 'unknown', 'r': 'span has no end: still in flight or cut off at the capture edge'}
  WHEN end_us < start_us THEN {'o': 'unknown', 'r': 'span ends before it starts'}
  WHEN grpc_status = 4 THEN {'o': 'timeout', 'r': 'gRPC status 4 DEADLINE_EXCEEDED'}
  WHEN http_status IN (408, 504) THEN {'o': 'timeout', 'r': 'HTTP ' || http_status}
  WHEN regexp_matches(coalesce(error_type, ''), '(?i)time.?out|deadline')
       THEN {'o': 'timeout', 'r': 'error type names a timeout: ' || left(error_type, 200)}
  WHEN status_code = 'error' THEN {'o': 'failure', 'r': 'status ERROR' || coalesce(': ' || left(nullif(status_message, ''), 200), '')}
  WHEN grpc_status IS NOT NULL AND grpc_status <> 0 THEN {'o': 'failure', 'r': 'gRPC status ' || grpc_status}
  WHEN http_status >= 500 THEN {'o': 'failure', 'r': 'HTTP ' || http_status}
  WHEN http_status >= 400 AND kind = 'client' THEN {'o': 'failure', 'r': 'HTTP ' || http_status || ' seen by the client'}
  WHEN error_type IS NOT NULL THEN {'o': 'failure', 'r': 'error type ' || left(error_type, 200)}
  WHEN status_code = 'ok' THEN {'o': 'success', 'r': 'status OK'}
  ELSE {'o': 'success', 'r': 'ended with status unset and no error signal'}
END
"""


def attr(key: str, attrs: str = "attrs", keys: str = "akeys") -> str:
    """The value of the first attribute named ``key`` (a constant the kit chose, never evidence) in
    the key/value list ``attrs`` whose keys are the list ``keys``. The same as ``fx_attr(attrs, key)``,
    but one native list search instead of a filtered copy of the list for every lookup."""
    return f"{attrs}[list_position({keys}, '{key}')].value"


def keys_of(kv: str) -> str:
    """The keys of a key/value list, as a list (what ``attr`` searches)."""
    return f"list_transform({kv}, lambda a: a.key)"


def kv_json(kv: str) -> str:
    """A key/value list as one JSON object; the list itself (as JSON) when a key repeats or is NULL."""
    return f"coalesce(try(to_json(map_from_entries({kv}))), to_json({kv}))"


#: A side effect: a write to a database, or an internal span naming a money movement.
SIDE_EFFECT_SQL = rf"""(
  list_contains(['INSERT', 'UPDATE', 'DELETE', 'UPSERT', 'MERGE', 'SET', 'HSET', 'INCR'],
                upper(coalesce({attr("db.operation.name")}, {attr("db.operation")}, '')))
  OR regexp_matches(coalesce({attr("db.query.text")}, {attr("db.statement")}, ''), '(?i)^\s*(insert|update|delete|merge|upsert)\b')
  OR (kind IN ('internal', 'server') AND regexp_matches(coalesce(name, ''), '(?i)\b(capture|refund|payout|transfer)\b'))
)"""

#: What ``write_spans`` needs beyond the normalized columns: the fields read from well-known
#: attributes, the outcome and whether the span is a side effect. ``@NORM@`` is a relation with
#: ``NORM_COLUMNS``, ``line_no``, ``akeys`` (the keys of ``attrs``), and the resource's
#: ``resource_json`` and ``res_version`` (its ``service.version``), which a loader may work out
#: once per resource rather than per span.
_ENRICHED = rf"""
SELECT *, {OUTCOME_SQL} AS oc, {SIDE_EFFECT_SQL} AS side_effect
FROM (SELECT n.*,
        try_cast(coalesce({attr("http.response.status_code")}, {attr("http.status_code")}) AS INTEGER) AS http_status,
        try_cast(coalesce({attr("rpc.grpc.status_code")}, {attr("grpc.status_code")}) AS INTEGER) AS grpc_status,
        coalesce({attr("error.type")}, {attr("exception.type")}, event_error_type) AS error_type,
        coalesce({attr("http.route")}, {attr("url.template")}, name) AS endpoint,
        coalesce(res_version, {attr("service.version")}) AS service_version,
        coalesce({attr("user_agent.original")}, {attr("http.user_agent")}, {attr("user_agent")}) AS user_agent,
        coalesce({attr("http.request.header.idempotency-key")}, {attr("idempotency.key")},
                 {attr("app.order.id")}, {attr("order.id")}, {attr("order_id")}) AS request_key,
        coalesce({attr("http.request.header.x-request-id")}, {attr("guid:x-request-id")},
                 {attr("request.id")}, {attr("request_id")}) AS request_id
      FROM (@NORM@) n)"""


def enrich(norm_sql: str) -> str:
    """A SELECT over the normalized spans of ``norm_sql`` that adds what ``write_spans`` needs."""
    return _ENRICHED.replace("@NORM@", norm_sql)


def install_macros(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(MACROS)


def load_spans(batch: Batch, norm: str, source_name: str, empty_reason: str) -> None:
    """Write the normalized spans in temp table ``norm`` (``NORM_COLUMNS``) to spans,
    span_attributes and events, and drop it. A record of the batch that yielded no span is
    rejected with ``empty_reason``."""
    con = batch.con
    install_macros(con)
    norm_sql = f"""SELECT n.*, b.line_no, {keys_of("n.attrs")} AS akeys, fx_attr(n.res_attrs, 'service.version') AS res_version,
                          {kv_json("n.res_attrs")} AS resource_json
                   FROM {norm} n JOIN (SELECT record_no, line_no FROM {batch.table}) b USING (record_no)"""
    rich = stage(con, enrich(norm_sql), small=batch.small)
    con.execute(f"DROP TABLE {norm}")
    write_spans(batch, rich, source_name, empty_reason)


def write_spans(batch: Batch, rich: str, source_name: str, empty_reason: str) -> None:
    """Write the spans of ``rich`` (``enrich``'s result, kept by ``base.stage``) to spans,
    span_attributes and the timeline, and release it. A record of the batch with no span in ``rich`` is rejected with
    ``empty_reason``; a span without a usable trace or span id is rejected with its record."""
    con = batch.con
    ok = "trace_id IS NOT NULL AND span_id IS NOT NULL"
    # both kinds of reject in one statement; of the batch only its record numbers are read
    batch.reject(
        f"""SELECT record_no, ? AS reason FROM {{batch}} WHERE record_no NOT IN (SELECT record_no FROM {rich})
            UNION ALL
            SELECT record_no, 'span without a usable ' ||
                   CASE WHEN trace_id IS NULL THEN 'trace id' ELSE 'span id' END
                   || ' (ids must be hex or base64 of 16/8 bytes)' AS reason
            FROM {rich} WHERE NOT ({ok})""",
        [empty_reason],
    )
    batch.insert_into(
        "spans",
        f"""SELECT trace_id, span_id, parent_span_id, service, name, kind,
                   fx_us_time(start_us) AS start, fx_us_time(end_us) AS "end",
                   CASE WHEN end_us >= start_us AND start_us > 0 THEN end_us - start_us END AS duration_us,
                   status_code, status_message, oc.o AS outcome, oc.r AS outcome_reason,
                   oc.o AS base_outcome, oc.r AS base_outcome_reason,
                   {kv_json("attrs")} AS attributes, resource_json AS resource_attributes,
                   events, links, start_raw, end_raw,
                   fx_us_time(start_us) AS start_corrected, fx_us_time(end_us) AS end_corrected,
                   http_status, grpc_status, error_type, endpoint, service_version, user_agent, request_key, request_id,
                   side_effect, ? AS source, ? AS evidence_sha256, line_no AS evidence_line, record_no AS evidence_record
            FROM {rich} WHERE {ok}""",
        [source_name, batch.evidence_sha256],
    )
    # Not kept in order: an INSERT that keeps its rows' order merges them and compresses them on one
    # thread, while one that need not lets each thread write row groups of its own (a batch's
    # attributes are several row groups). span_attributes has no order to keep. Inserted here, not
    # gathered in the engine's sink: gathering them in Arrow cost about 100 MB of peak memory.
    with setting(con, "preserve_insertion_order", False):
        con.execute(
            f"""INSERT INTO span_attributes
                SELECT trace_id, span_id, 'span', a.key, a.value, ?
                FROM (SELECT trace_id, span_id, unnest(attrs) AS a FROM {rich} WHERE {ok}) WHERE a.key IS NOT NULL
                UNION ALL
                SELECT trace_id, span_id, 'resource', a.key, a.value, ?
                FROM (SELECT trace_id, span_id, unnest(res_attrs) AS a FROM {rich} WHERE {ok}) WHERE a.key IS NOT NULL""",
            [batch.evidence_sha256, batch.evidence_sha256],
        )
    batch.mark_loaded(f"SELECT record_no FROM {rich} WHERE {ok}")
    batch.insert_events(
        f"""SELECT record_no, fx_us_time(start_us) AS time,
                   CASE WHEN fx_us_time(start_us) IS NULL THEN 'span has no start time' END AS time_problem,
                   start_raw AS time_raw, fx_us_time(end_us) AS end_time, 'trace' AS category,
                   name AS action, service, user_agent, coalesce(request_key, endpoint) AS target,
                   oc.o AS outcome, oc.r AS outcome_reason, request_id, trace_id, span_id,
                   trace_id || '/' || span_id || '/' || kind AS event_uid,
                   CAST(row_number() OVER (PARTITION BY record_no ORDER BY start_us, span_id) AS INTEGER) AS event_seq,
                   to_json({{'trace_id': trace_id, 'span_id': span_id, 'parent_span_id': parent_span_id,
                             'kind': kind, 'name': name, 'service': service}}) AS raw
            FROM {rich} WHERE {ok} AND (kind = 'server' OR parent_span_id IS NULL) AND start_us > 0"""
    )
    unstage(con, rich)
