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
        flat = temp_name("otlplogs")
        con.execute(
            f"""CREATE TEMP TABLE {flat} AS
                SELECT r.record_no, r.line_no,
                       ? || ':' || r.record_no || ':' || rl.key || '.' || sl.key || '.' || lr.key AS log_id,
                       rl.value AS rl, sl.value AS sl, lr.value AS lr,
                       coalesce(nullif(lr.value->>'timeUnixNano', '0'), lr.value->>'observedTimeUnixNano') AS time_raw
                FROM {batch.table} r,
                     json_each(r.doc, '$.resourceLogs') rl,
                     json_each(rl.value, '$.scopeLogs') sl,
                     json_each(sl.value, '$.logRecords') lr""",
            [sha[:16]],
        ).fetchall()
        try:
            batch.insert_rows(
                "log_records",
                f"""SELECT record_no, log_id, fx_unix_nanos(time_raw) AS time, time_raw,
                           fx_unix_nanos(lr->>'observedTimeUnixNano') AS observed_time,
                           try_cast(lr->>'severityNumber' AS INTEGER) AS severity_number,
                           lr->>'severityText' AS severity_text,
                           {anyvalue_text("lr->'body'")} AS body,
                           (SELECT {anyvalue_text("a.value->'value'")} FROM json_each(rl, '$.resource.attributes') a
                            WHERE a.value->>'key' = 'service.name' LIMIT 1) AS service,
                           lower(nullif(lr->>'traceId', '')) AS trace_id, lower(nullif(lr->>'spanId', '')) AS span_id,
                           lr->'attributes' AS attributes, rl->'resource'->'attributes' AS resource_attributes,
                           strlen(CAST(lr AS VARCHAR)) AS record_bytes, ? AS source, ? AS evidence_sha256,
                           line_no AS evidence_line, record_no AS evidence_record
                    FROM {flat}""",
                [self.name, sha],
            )
            batch.insert_rows(
                "log_attributes",
                f"""SELECT f.record_no, f.log_id, a.scope, a.kv->>'key' AS key, {anyvalue_text("a.kv->'value'")} AS value,
                           fx_unix_nanos(f.time_raw) AS time, ? AS evidence_sha256
                    FROM {flat} f,
                         LATERAL (SELECT 'log' AS scope, value AS kv FROM json_each(f.lr, '$.attributes')
                                  UNION ALL SELECT 'resource', value FROM json_each(f.rl, '$.resource.attributes')
                                  UNION ALL SELECT 'scope', value FROM json_each(f.sl, '$.scope.attributes')) a
                    WHERE a.kv->>'key' IS NOT NULL""",
                [sha],
            )
            batch.reject(
                f"""SELECT record_no, 'OTLP logs request holds no log record' AS reason FROM {batch.table}
                    WHERE record_no NOT IN (SELECT record_no FROM {flat})"""
            )
        finally:
            con.execute(f"DROP TABLE {flat}").fetchall()


SOURCES = [OtlpLogsSource()]
