"""OTLP/JSON traces (``TracesData``), recognised by content in four wrappings:

- the OpenTelemetry collector file exporter: JSON Lines, one ``{"resourceSpans": [...]}`` per line;
- a single ``TracesData`` object;
- Jaeger API v3 responses, ``{"result": {"resourceSpans": [...]}}`` (one document or one per line);
- Grafana Tempo trace-by-id responses, ``{"batches": [...]}``.

One record is one object (a line or the document); it counts as loaded when its spans land.
Ids may be hex (any case) or base64 (Tempo, proto-JSON); both become lowercase hex. Times are
int64 nanoseconds, usually written as strings; they are kept as written in ``start_raw``/``end_raw``
and stored to the microsecond. The span tree is unnested in DuckDB from one ``json_transform`` per
record, never per span in Python.
"""

from __future__ import annotations

import json

from forensics.sources._spans import (
    KV_LIST,
    attr,
    enrich,
    install_macros,
    keys_of,
    kv_json,
    load_spans,
    write_spans,
)
from forensics.sources.contract import Batch, Detection, Probe, Source, stage, temp_name

_KV = {
    "key": "VARCHAR",
    "value": {
        "stringValue": "VARCHAR",
        "intValue": "VARCHAR",
        "boolValue": "VARCHAR",
        "doubleValue": "VARCHAR",
        "bytesValue": "VARCHAR",
        "arrayValue": "JSON",
        "kvlistValue": "JSON",
    },
}
# only what the loader reads: json_transform skips every other field without building it
_SPAN = {
    "traceId": "VARCHAR",
    "spanId": "VARCHAR",
    "parentSpanId": "VARCHAR",
    "name": "VARCHAR",
    "kind": "VARCHAR",
    "startTimeUnixNano": "VARCHAR",
    "endTimeUnixNano": "VARCHAR",
    "attributes": [_KV],
    "events": [{"timeUnixNano": "VARCHAR", "name": "VARCHAR", "attributes": [_KV]}],
    "links": [{"traceId": "VARCHAR", "spanId": "VARCHAR"}],
    "status": {"code": "VARCHAR", "message": "VARCHAR"},
}
# scopeSpans and instrumentationLibrarySpans (old OTLP) get the same type, so they concatenate
_RESOURCE_SPANS = [
    {
        "resource": {"attributes": [_KV]},
        "scopeSpans": [{"spans": [_SPAN]}],
        "instrumentationLibrarySpans": [{"spans": [_SPAN]}],
    }
]
#: The three wrappings of ``resourceSpans`` in one type, so each record is parsed once.
DOCUMENT_TYPE = json.dumps(
    {
        "resourceSpans": _RESOURCE_SPANS,
        "result": {"resourceSpans": _RESOURCE_SPANS},
        "batches": _RESOURCE_SPANS,
    }
)

_VALUE = (
    "coalesce(a.value.stringValue, a.value.intValue, a.value.boolValue, a.value.doubleValue, "
    "a.value.bytesValue, CAST(a.value.arrayValue AS VARCHAR), CAST(a.value.kvlistValue AS VARCHAR))"
)
KV_TEXT = f"list_transform({{l}}, lambda a: {{{{'key': a.key, 'value': {_VALUE}}}}})"


def _kv(expr: str) -> str:
    return f"CAST({KV_TEXT.format(l=expr)} AS {KV_LIST})"


def _nanos_us(expr: str) -> str:
    """``fx_unix_nanos_us``, with the common case (fits in BIGINT) first: parsing HUGEINT costs
    several times more, and gives the same answer whenever BIGINT parses."""
    return f"coalesce(try_cast({expr} AS BIGINT) // 1000, fx_unix_nanos_us({expr}))"


def _is_resource_spans(v: object) -> bool:
    return isinstance(v, list) and (
        not v
        or isinstance(v[0], dict)
        and ("scopeSpans" in v[0] or "instrumentationLibrarySpans" in v[0] or "resource" in v[0])
    )


class OtlpTraces(Source):
    name = "otlp"
    category = "trace"
    containers = ("jsonl", "json")

    def detect(self, probe: Probe) -> Detection:
        first = probe.first
        if _is_resource_spans(first.get("resourceSpans")):
            return Detection.CERTAIN
        result = first.get("result")
        if isinstance(result, dict) and _is_resource_spans(result.get("resourceSpans")):
            return Detection.CERTAIN
        if _is_resource_spans(first.get("batches")):
            return Detection.STRONG
        return Detection.NO

    def load_batch(self, batch: Batch) -> None:
        con = batch.con
        install_macros(con)
        # One statement: each record is parsed once into a typed struct (json_transform), unnested
        # to resources (whose attributes, service and JSON are worked out once, not per span), then
        # to spans, and enriched; the batch's JSON is read by this statement only.
        norm_sql = f"""
            WITH rs AS (
                SELECT record_no, line_no,
                       -- CASE, not coalesce: coalesce copies the whole nested list, CASE passes it on
                       unnest(CASE WHEN d.resourceSpans IS NOT NULL THEN d.resourceSpans
                                   WHEN d.result.resourceSpans IS NOT NULL THEN d.result.resourceSpans
                                   ELSE d.batches END) AS rs
                FROM (SELECT record_no, line_no, json_transform(doc, '{DOCUMENT_TYPE}') AS d FROM {batch.table})),
            res AS (
                SELECT record_no, line_no, {_kv("rs.resource.attributes")} AS res_attrs,
                       CASE WHEN rs.instrumentationLibrarySpans IS NULL THEN rs.scopeSpans
                            ELSE list_concat(coalesce(rs.scopeSpans, []), rs.instrumentationLibrarySpans) END AS ss
                FROM rs),
            res_keys AS (SELECT *, {keys_of("res_attrs")} AS rkeys FROM res),
            -- a resource's service, version and attributes as JSON: worked out once per resource, not per span
            resource AS (
                SELECT record_no, line_no, res_attrs, ss,
                       {attr("service.name", "res_attrs", "rkeys")} AS service,
                       {attr("service.version", "res_attrs", "rkeys")} AS res_version,
                       {kv_json("res_attrs")} AS resource_json
                FROM res_keys),
            scope AS (SELECT record_no, line_no, res_attrs, service, res_version, resource_json, unnest(ss) AS ss FROM resource),
            sp AS (SELECT record_no, line_no, res_attrs, service, res_version, resource_json, unnest(ss.spans) AS s FROM scope),
            -- ids already in canonical form (lowercase hex, 32 and 16 digits) skip fx_hex_id
            canon AS (
                SELECT *, strlen(s.traceId) = 32 AND strlen(s.spanId) = 16
                          AND NOT regexp_matches(s.traceId || s.spanId || coalesce(s.parentSpanId, ''), '[^0-9a-f]') AS canon
                FROM sp),
            n AS (
                SELECT record_no, line_no, res_attrs, service, res_version, resource_json,
                       CASE WHEN canon THEN s.traceId ELSE fx_hex_id(s.traceId, 16) END AS trace_id,
                       CASE WHEN canon THEN s.spanId ELSE fx_hex_id(s.spanId, 8) END AS span_id,
                       CASE WHEN canon AND strlen(s.parentSpanId) = 16 THEN s.parentSpanId
                            ELSE fx_hex_id(s.parentSpanId, 8) END AS parent_span_id,
                       s.name AS name,
                       fx_span_kind(s.kind) AS kind,
                       {_nanos_us("s.startTimeUnixNano")} AS start_us,
                       {_nanos_us("s.endTimeUnixNano")} AS end_us,
                       s.startTimeUnixNano AS start_raw, s.endTimeUnixNano AS end_raw,
                       CASE upper(replace(coalesce(s.status.code, ''), 'STATUS_CODE_', ''))
                            WHEN '1' THEN 'ok' WHEN 'OK' THEN 'ok' WHEN '2' THEN 'error' WHEN 'ERROR' THEN 'error'
                            ELSE 'unset' END AS status_code,
                       s.status.message AS status_message,
                       {_kv("s.attributes")} AS attrs,
                       CASE WHEN len(s.events) > 0 THEN to_json(list_transform(s.events, lambda e: {{
                            'time_unix_nano': e.timeUnixNano, 'name': e.name,
                            'attributes': {KV_TEXT.format(l="e.attributes")}}})) END AS events,
                       CASE WHEN len(s.links) > 0 THEN to_json(list_transform(s.links, lambda k: {{
                            'trace_id': fx_hex_id(k.traceId, 16), 'span_id': fx_hex_id(k.spanId, 8)}})) END AS links,
                       CASE WHEN len(s.events) > 0 THEN fx_attr({_kv("flatten(list_transform(s.events, lambda e: coalesce(e.attributes, [])))")},
                                                            'exception.type') END AS event_error_type
                FROM canon)
            SELECT *, {keys_of("attrs")} AS akeys FROM n"""
        write_spans(
            batch, stage(con, enrich(norm_sql), small=batch.small), self.name, "OTLP record holds no spans"
        )


_SEARCH_SPAN = {
    "spanID": "VARCHAR",
    "name": "VARCHAR",
    "startTimeUnixNano": "VARCHAR",
    "durationNanos": "VARCHAR",
    "attributes": [_KV],
}
SEARCH_TRACE_TYPE = json.dumps(
    {
        "traceID": "VARCHAR",
        "rootServiceName": "VARCHAR",
        "rootTraceName": "VARCHAR",
        "spanSet": {"spans": [_SEARCH_SPAN]},
        "spanSets": [{"spans": [_SEARCH_SPAN]}],
    }
)


class TempoSearch(Source):
    """Grafana Tempo search responses (``{"traces": [{traceID, spanSet(s)}]}``): the spans that
    matched a TraceQL query, with start, duration and selected attributes but no parent, kind or
    name. One record is one trace; a span listed in several span sets is loaded once."""

    name = "tempo-search"
    category = "trace"
    containers = ("json",)

    def detect(self, probe: Probe) -> Detection:
        traces = probe.first.get("traces")
        if (
            isinstance(traces, list)
            and traces
            and isinstance(traces[0], dict)
            and "traceID" in traces[0]
            and ("spanSet" in traces[0] or "spanSets" in traces[0])
        ):
            return Detection.STRONG
        return Detection.NO

    def record_path(self, probe: Probe) -> str:
        return "$.traces"

    def load_batch(self, batch: Batch) -> None:
        con = batch.con
        install_macros(con)
        norm = temp_name("tempo")
        con.execute(
            f"""CREATE TEMP TABLE {norm} AS
            WITH t AS (SELECT record_no, json_transform(doc, '{SEARCH_TRACE_TYPE}') AS t FROM {batch.table}),
            sp AS (SELECT DISTINCT ON (record_no, s.spanID) record_no, t.traceID AS trace_id, s
                   FROM (SELECT record_no, t, unnest(list_concat(coalesce(t.spanSet.spans, []),
                                flatten(list_transform(coalesce(t.spanSets, []), lambda x: coalesce(x.spans, []))))) AS s
                         FROM t)
                   ORDER BY record_no, s.spanID)
            SELECT record_no, fx_hex_id(trace_id, 16) AS trace_id, fx_hex_id(s.spanID, 8) AS span_id,
                   CAST(NULL AS VARCHAR) AS parent_span_id,
                   fx_attr({_kv("s.attributes")}, 'service.name') AS service, s.name AS name, 'unspecified' AS kind,
                   fx_unix_nanos_us(s.startTimeUnixNano) AS start_us,
                   CAST((try_cast(s.startTimeUnixNano AS HUGEINT) + try_cast(s.durationNanos AS HUGEINT)) // 1000 AS BIGINT) AS end_us,
                   s.startTimeUnixNano AS start_raw,
                   CAST(try_cast(s.startTimeUnixNano AS HUGEINT) + try_cast(s.durationNanos AS HUGEINT) AS VARCHAR) AS end_raw,
                   CASE lower(coalesce(fx_attr({_kv("s.attributes")}, 'status'), ''))
                        WHEN 'error' THEN 'error' WHEN 'ok' THEN 'ok' ELSE 'unset' END AS status_code,
                   CAST(NULL AS VARCHAR) AS status_message,
                   {_kv("s.attributes")} AS attrs,
                   CAST([{{'key': 'service.name', 'value': fx_attr({_kv("s.attributes")}, 'service.name')}}] AS {KV_LIST}) AS res_attrs,
                   CAST(NULL AS JSON) AS events, CAST(NULL AS JSON) AS links, CAST(NULL AS VARCHAR) AS event_error_type
            FROM sp"""
        )
        load_spans(batch, norm, self.name, "Tempo search trace lists no spans")


SOURCES = [OtlpTraces(), TempoSearch()]
