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

from forensics.sources._spans import KV_LIST, install_macros, load_spans
from forensics.sources.base import Batch, Probe, Source, temp_name

_KV = {"key": "VARCHAR", "value": {"stringValue": "VARCHAR", "intValue": "VARCHAR", "boolValue": "VARCHAR",
                                    "doubleValue": "VARCHAR", "bytesValue": "VARCHAR", "arrayValue": "JSON",
                                    "kvlistValue": "JSON"}}
_SPAN = {
    "traceId": "VARCHAR", "spanId": "VARCHAR", "parentSpanId": "VARCHAR", "name": "VARCHAR", "kind": "VARCHAR",
    "startTimeUnixNano": "VARCHAR", "endTimeUnixNano": "VARCHAR", "attributes": [_KV],
    "events": [{"timeUnixNano": "VARCHAR", "name": "VARCHAR", "attributes": [_KV]}],
    "links": [{"traceId": "VARCHAR", "spanId": "VARCHAR", "attributes": [_KV]}],
    "status": {"code": "VARCHAR", "message": "VARCHAR"},
}
_SCOPE_SPANS = [{"scope": {"name": "VARCHAR", "version": "VARCHAR"}, "spans": [_SPAN]}]
RESOURCE_SPANS_TYPE = json.dumps([{
    "resource": {"attributes": [_KV]},
    "scopeSpans": _SCOPE_SPANS,
    "instrumentationLibrarySpans": [{"instrumentationLibrary": {"name": "VARCHAR", "version": "VARCHAR"},
                                     "spans": [_SPAN]}],
}])

_VALUE = ("coalesce(a.value.stringValue, a.value.intValue, a.value.boolValue, a.value.doubleValue, "
          "a.value.bytesValue, CAST(a.value.arrayValue AS VARCHAR), CAST(a.value.kvlistValue AS VARCHAR))")
KV_TEXT = f"list_transform({{l}}, lambda a: {{{{'key': a.key, 'value': {_VALUE}}}}})"


def _kv(expr: str) -> str:
    return f"CAST({KV_TEXT.format(l=expr)} AS {KV_LIST})"


def _is_resource_spans(v) -> bool:
    return isinstance(v, list) and (not v or isinstance(v[0], dict) and (
        "scopeSpans" in v[0] or "instrumentationLibrarySpans" in v[0] or "resource" in v[0]))


class OtlpTraces(Source):
    name = "otlp"
    category = "trace"
    containers = ("jsonl", "json")

    def detect(self, probe: Probe) -> int:
        first = probe.first
        if _is_resource_spans(first.get("resourceSpans")):
            return 90
        result = first.get("result")
        if isinstance(result, dict) and _is_resource_spans(result.get("resourceSpans")):
            return 90
        if _is_resource_spans(first.get("batches")):
            return 85
        return 0

    def load_batch(self, batch: Batch) -> None:
        con = batch.con
        install_macros(con)
        norm = temp_name("otlp")
        con.execute(
            f"""CREATE TEMP TABLE {norm} AS
            WITH rs AS (
                SELECT record_no, unnest(json_transform(
                    coalesce(json_extract(doc, '$.resourceSpans'), json_extract(doc, '$.result.resourceSpans'),
                             json_extract(doc, '$.batches')), '{RESOURCE_SPANS_TYPE}')) AS rs
                FROM {batch.table}),
            ss AS (
                SELECT record_no, rs.resource.attributes AS rattrs,
                       unnest(list_concat(coalesce(rs.scopeSpans, []),
                              list_transform(coalesce(rs.instrumentationLibrarySpans, []),
                                             lambda l: {{'scope': l.instrumentationLibrary, 'spans': l.spans}}))) AS ss
                FROM rs),
            sp AS (SELECT record_no, rattrs, unnest(ss.spans) AS s FROM ss)
            SELECT record_no,
                   fx_hex_id(s.traceId, 16) AS trace_id,
                   fx_hex_id(s.spanId, 8) AS span_id,
                   fx_hex_id(s.parentSpanId, 8) AS parent_span_id,
                   fx_attr({_kv('rattrs')}, 'service.name') AS service,
                   s.name AS name,
                   fx_span_kind(s.kind) AS kind,
                   fx_unix_nanos_us(s.startTimeUnixNano) AS start_us,
                   fx_unix_nanos_us(s.endTimeUnixNano) AS end_us,
                   s.startTimeUnixNano AS start_raw, s.endTimeUnixNano AS end_raw,
                   CASE upper(replace(coalesce(s.status.code, ''), 'STATUS_CODE_', ''))
                        WHEN '1' THEN 'ok' WHEN 'OK' THEN 'ok' WHEN '2' THEN 'error' WHEN 'ERROR' THEN 'error'
                        ELSE 'unset' END AS status_code,
                   s.status.message AS status_message,
                   {_kv('s.attributes')} AS attrs,
                   {_kv('rattrs')} AS res_attrs,
                   CASE WHEN len(s.events) > 0 THEN to_json(list_transform(s.events, lambda e: {{
                        'time_unix_nano': e.timeUnixNano, 'name': e.name,
                        'attributes': {KV_TEXT.format(l='e.attributes')}}})) END AS events,
                   CASE WHEN len(s.links) > 0 THEN to_json(list_transform(s.links, lambda k: {{
                        'trace_id': fx_hex_id(k.traceId, 16), 'span_id': fx_hex_id(k.spanId, 8)}})) END AS links,
                   fx_attr({_kv('flatten(list_transform(coalesce(s.events, []), lambda e: coalesce(e.attributes, [])))')},
                           'exception.type') AS event_error_type
            FROM sp"""
        )
        load_spans(batch, norm, self.name, "OTLP record holds no spans")


_SEARCH_SPAN = {"spanID": "VARCHAR", "name": "VARCHAR", "startTimeUnixNano": "VARCHAR", "durationNanos": "VARCHAR",
                "attributes": [_KV]}
SEARCH_TRACE_TYPE = json.dumps({"traceID": "VARCHAR", "rootServiceName": "VARCHAR", "rootTraceName": "VARCHAR",
                                "spanSet": {"spans": [_SEARCH_SPAN]}, "spanSets": [{"spans": [_SEARCH_SPAN]}]})


class TempoSearch(Source):
    """Grafana Tempo search responses (``{"traces": [{traceID, spanSet(s)}]}``): the spans that
    matched a TraceQL query, with start, duration and selected attributes but no parent, kind or
    name. One record is one trace; a span listed in several span sets is loaded once."""

    name = "tempo-search"
    category = "trace"
    containers = ("json",)

    def detect(self, probe: Probe) -> int:
        traces = probe.first.get("traces")
        if isinstance(traces, list) and traces and isinstance(traces[0], dict) and "traceID" in traces[0] and (
                "spanSet" in traces[0] or "spanSets" in traces[0]):
            return 80
        return 0

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
                   fx_attr({_kv('s.attributes')}, 'service.name') AS service, s.name AS name, 'unspecified' AS kind,
                   fx_unix_nanos_us(s.startTimeUnixNano) AS start_us,
                   CAST((try_cast(s.startTimeUnixNano AS HUGEINT) + try_cast(s.durationNanos AS HUGEINT)) // 1000 AS BIGINT) AS end_us,
                   s.startTimeUnixNano AS start_raw,
                   CAST(try_cast(s.startTimeUnixNano AS HUGEINT) + try_cast(s.durationNanos AS HUGEINT) AS VARCHAR) AS end_raw,
                   CASE lower(coalesce(fx_attr({_kv('s.attributes')}, 'status'), ''))
                        WHEN 'error' THEN 'error' WHEN 'ok' THEN 'ok' ELSE 'unset' END AS status_code,
                   CAST(NULL AS VARCHAR) AS status_message,
                   {_kv('s.attributes')} AS attrs,
                   CAST([{{'key': 'service.name', 'value': fx_attr({_kv('s.attributes')}, 'service.name')}}] AS {KV_LIST}) AS res_attrs,
                   CAST(NULL AS JSON) AS events, CAST(NULL AS JSON) AS links, CAST(NULL AS VARCHAR) AS event_error_type
            FROM sp"""
        )
        load_spans(batch, norm, self.name, "Tempo search trace lists no spans")


SOURCES = [OtlpTraces(), TempoSearch()]
