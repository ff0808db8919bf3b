"""OTLP logs in JSON: one ``{"resourceLogs": [...]}`` document (ExportLogsServiceRequest / LogsData),
or JSON Lines of them as the OpenTelemetry collector file exporter writes.

One input record (a document or a line) holds many log records. Each becomes a row of
``log_records``; its attributes, its resource's and its scope's become rows of ``log_attributes``
(long form, for per-key cardinality). A request that holds no log record at all is rejected with
that reason. A log record whose time is missing or zero takes ``observedTimeUnixNano`` (as the
OTLP specification says); if both are missing its ``time`` stays NULL and ``time_raw`` says so.
"""

from __future__ import annotations

from forensics.sources.contract import Batch, Detection, Probe, Source, temp_name

#: An OTLP AnyValue (JSON path expression ``v``) as text: strings as they are, other kinds as JSON text.
ANYVALUE_TEXT = (
    "coalesce({v}->>'stringValue', {v}->>'intValue', CAST({v}->'boolValue' AS VARCHAR), "
    "CAST({v}->'doubleValue' AS VARCHAR), {v}->>'bytesValue', CAST({v}->'arrayValue' AS VARCHAR), "
    "CAST({v}->'kvlistValue' AS VARCHAR))"
)


def anyvalue_text(expr: str) -> str:
    return ANYVALUE_TEXT.format(v=f"({expr})")


class OtlpLogsSource(Source):
    name = "otlp-logs"
    category = "other"
    containers = ("jsonl", "json")

    def detect(self, probe: Probe) -> Detection:
        v = probe.first.get("resourceLogs")
        if isinstance(v, list) and (not v or isinstance(v[0], dict)):
            return Detection.CERTAIN
        return Detection.NO

    def load_batch(self, batch: Batch) -> None:
        con = batch.con
        sha = batch.file_sha256
        flat, scopes = temp_name("otlplogs"), temp_name("otlpscopes")
        # Each resource and scope is taken out of the document once, into ``scopes`` (one row per
        # resourceLogs x scopeLogs), and each log record's row holds only keys to it: a row that carried its
        # resourceLogs and scopeLogs values carried every sibling record too (a 376 KB document of 1,000
        # records made 1,000 copies of itself, twice). MATERIALIZED keeps DuckDB from re-reading a subtree
        # per log record.
        # arrays are unnested from JSON[] (one parse each): json_each over an array of n elements costs n^2
        levels = f"""
            rls AS MATERIALIZED (
                SELECT record_no, line_no, generate_subscripts(a, 1) - 1 AS rk, unnest(a) AS rl
                FROM (SELECT record_no, line_no, try_cast(doc->'resourceLogs' AS JSON[]) AS a FROM {batch.table})),
            sls AS MATERIALIZED (
                SELECT record_no, line_no, rk, res, generate_subscripts(a, 1) - 1 AS sk, unnest(a) AS sl
                FROM (SELECT record_no, line_no, rk, rl->'resource' AS res,
                             try_cast(rl->'scopeLogs' AS JSON[]) AS a FROM rls))"""
        con.execute(
            f"""CREATE TEMP TABLE {scopes} AS
                WITH {levels}
                SELECT record_no, rk, sk, res, sl->'scope' AS scope,
                       (SELECT {anyvalue_text("a.value->'value'")} FROM json_each(res, '$.attributes') a
                        WHERE a.value->>'key' = 'service.name' LIMIT 1) AS service
                FROM sls"""
        ).fetchall()
        con.execute(
            f"""CREATE TEMP TABLE {flat} AS
                WITH {levels},
                lrs AS MATERIALIZED (
                    SELECT record_no, line_no, rk, sk, generate_subscripts(a, 1) - 1 AS lk, unnest(a) AS lr
                    FROM (SELECT record_no, line_no, rk, sk, try_cast(sl->'logRecords' AS JSON[]) AS a FROM sls))
                SELECT record_no, line_no, rk, sk,
                       ? || ':' || record_no || ':' || rk || '.' || sk || '.' || lk AS log_id,
                       lr,
                       coalesce(nullif(lr->>'timeUnixNano', '0'), lr->>'observedTimeUnixNano') AS time_raw
                FROM lrs""",
            [sha[:16]],
        ).fetchall()
        try:
            batch.insert_rows(
                "log_records",
                f"""SELECT f.record_no, log_id, fx_unix_nanos(time_raw) AS time, time_raw,
                           fx_unix_nanos(lr->>'observedTimeUnixNano') AS observed_time,
                           try_cast(lr->>'severityNumber' AS INTEGER) AS severity_number,
                           lr->>'severityText' AS severity_text,
                           {anyvalue_text("lr->'body'")} AS body,
                           s.service,
                           lower(nullif(lr->>'traceId', '')) AS trace_id, lower(nullif(lr->>'spanId', '')) AS span_id,
                           lr->'attributes' AS attributes, s.res->'attributes' AS resource_attributes,
                           strlen(CAST(lr AS VARCHAR)) AS record_bytes, ? AS source, ? AS evidence_sha256,
                           line_no AS evidence_line, f.record_no AS evidence_record
                    FROM {flat} f JOIN {scopes} s USING (record_no, rk, sk)""",
                [self.name, sha],
            )
            batch.insert_rows(
                "log_attributes",
                f"""SELECT f.record_no, f.log_id, a.scope, a.kv->>'key' AS key, {anyvalue_text("a.kv->'value'")} AS value,
                           fx_unix_nanos(f.time_raw) AS time, ? AS evidence_sha256
                    FROM {flat} f JOIN {scopes} s USING (record_no, rk, sk),
                         LATERAL (SELECT 'log' AS scope, value AS kv FROM json_each(f.lr, '$.attributes')
                                  UNION ALL SELECT 'resource', value FROM json_each(s.res, '$.attributes')
                                  UNION ALL SELECT 'scope', value FROM json_each(s.scope, '$.attributes')) a
                    WHERE a.kv->>'key' IS NOT NULL""",
                [sha],
            )
            batch.reject(
                f"""SELECT record_no, 'OTLP logs request holds no log record' AS reason FROM {batch.table}
                    WHERE record_no NOT IN (SELECT record_no FROM {flat})"""
            )
        finally:
            con.execute(f"DROP TABLE {flat}").fetchall()
            con.execute(f"DROP TABLE {scopes}").fetchall()


SOURCES = [OtlpLogsSource()]
