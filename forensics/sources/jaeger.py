"""Jaeger UI / query-service JSON: ``{"data": [{"traceID", "spans", "processes"}]}`` (the
``/api/traces`` shape) or a single trace object. A record holds every trace of its ``data`` array (or is one trace);
it counts as loaded when its spans land. Times are epoch microseconds.

The parent is the first ``CHILD_OF`` reference within the same trace (else the first ``CHILD_OF``,
else the first reference); all references are kept
in ``links``. Tags become attributes; ``span.kind`` gives the kind; the ``error`` tag or
``otel.status_code`` ``ERROR`` gives status error; logs become span events (``exception.type`` or
``error.kind`` in a log feeds the timeout rule). The service is the span's process, looked up in
the trace's ``processes`` (or the span's inline ``process``).
"""

from __future__ import annotations

from forensics.sources._spans import KV_LIST, install_macros, load_spans
from forensics.sources.contract import Batch, Detection, Probe, Source, temp_name

_TAG = '{"key": "VARCHAR", "value": "VARCHAR"}'
TRACE_TYPE = (
    '{"traceID": "VARCHAR", "processes": "MAP(VARCHAR, JSON)", "spans": [{'
    '"traceID": "VARCHAR", "spanID": "VARCHAR", "operationName": "VARCHAR", '
    '"references": [{"refType": "VARCHAR", "traceID": "VARCHAR", "spanID": "VARCHAR"}], '
    '"startTime": "VARCHAR", "duration": "VARCHAR", "tags": [' + _TAG + "], "
    '"logs": [{"timestamp": "VARCHAR", "fields": [' + _TAG + "]}], "
    '"processID": "VARCHAR", "process": {"serviceName": "VARCHAR", "tags": [' + _TAG + "]}, "
    '"warnings": "JSON"}]}'
)


def _is_trace(o: object) -> bool:
    return isinstance(o, dict) and "traceID" in o and isinstance(o.get("spans"), list)


class JaegerUi(Source):
    name = "jaeger"
    category = "trace"
    containers = ("json", "jsonl")

    def detect(self, probe: Probe) -> Detection:
        first = probe.first
        data = first.get("data")
        if isinstance(data, list) and data and _is_trace(data[0]):
            return Detection.STRONG
        if _is_trace(first):
            return Detection.STRONG
        return Detection.NO

    def record_path(self, probe: Probe) -> str:
        if (
            probe.container == "json"
            and isinstance(probe.document, dict)
            and isinstance(probe.document.get("data"), list)
        ):
            return "$.data"
        return "$"

    def load_batch(self, batch: Batch) -> None:
        con = batch.con
        install_macros(con)
        norm = temp_name("jaeger")
        con.execute(
            f"""CREATE TEMP TABLE {norm} AS
            WITH tr AS (
                -- every trace of a record: each element of its "data" array (a JSON Lines file of
                -- /api/traces answers holds many per line), else the record itself
                SELECT record_no,
                       unnest(CASE WHEN json_type(doc, '$.data') = 'ARRAY' THEN json_extract(doc, '$.data[*]')
                                   ELSE [CAST(doc AS JSON)] END) AS trace
                FROM {batch.table}),
            t AS (SELECT record_no, json_transform(trace, '{TRACE_TYPE}') AS t FROM tr),
            sp AS (SELECT record_no, t.processes AS procs, unnest(t.spans) AS s FROM t),
            p AS (SELECT *, json_transform(coalesce(procs[s.processID], to_json(s.process)),
                                           '{{"serviceName": "VARCHAR", "tags": [{_TAG}]}}') AS proc
                  FROM sp)
            SELECT record_no,
                   fx_hex_id(s.traceID, 16) AS trace_id, fx_hex_id(s.spanID, 8) AS span_id,
                   fx_hex_id(coalesce(list_filter(s.references, lambda r: r.refType = 'CHILD_OF'
                                                  AND fx_hex_id(r.traceID, 16) = fx_hex_id(s.traceID, 16))[1].spanID,
                                      list_filter(s.references, lambda r: r.refType = 'CHILD_OF')[1].spanID,
                                      s.references[1].spanID), 8) AS parent_span_id,
                   proc.serviceName AS service, s.operationName AS name,
                   fx_span_kind(fx_attr(CAST(s.tags AS {KV_LIST}), 'span.kind')) AS kind,
                   try_cast(s.startTime AS BIGINT) AS start_us,
                   try_cast(s.startTime AS BIGINT) + try_cast(s.duration AS BIGINT) AS end_us,
                   s.startTime AS start_raw,
                   CAST(try_cast(s.startTime AS BIGINT) + try_cast(s.duration AS BIGINT) AS VARCHAR) AS end_raw,
                   CASE WHEN lower(coalesce(fx_attr(CAST(s.tags AS {KV_LIST}), 'error'), '')) IN ('true', '1')
                          OR upper(coalesce(fx_attr(CAST(s.tags AS {KV_LIST}), 'otel.status_code'), '')) = 'ERROR' THEN 'error'
                        WHEN upper(coalesce(fx_attr(CAST(s.tags AS {KV_LIST}), 'otel.status_code'), '')) = 'OK' THEN 'ok'
                        ELSE 'unset' END AS status_code,
                   fx_attr(CAST(s.tags AS {KV_LIST}), 'otel.status_description') AS status_message,
                   CAST(coalesce(s.tags, []) AS {KV_LIST}) AS attrs,
                   CAST(list_concat([{{'key': 'service.name', 'value': proc.serviceName}}], coalesce(proc.tags, [])) AS {KV_LIST}) AS res_attrs,
                   CASE WHEN len(s.logs) > 0 THEN to_json(s.logs) END AS events,
                   CASE WHEN len(s.references) > 0 THEN to_json(list_transform(s.references, lambda r: {{
                        'ref_type': r.refType, 'trace_id': fx_hex_id(r.traceID, 16), 'span_id': fx_hex_id(r.spanID, 8)}})) END AS links,
                   coalesce(fx_attr(CAST(flatten(list_transform(coalesce(s.logs, []), lambda l: coalesce(l.fields, []))) AS {KV_LIST}), 'exception.type'),
                            fx_attr(CAST(flatten(list_transform(coalesce(s.logs, []), lambda l: coalesce(l.fields, []))) AS {KV_LIST}), 'error.kind')) AS event_error_type
            FROM p"""
        )
        load_spans(batch, norm, self.name, "Jaeger trace holds no spans")


SOURCES = [JaegerUi()]
