"""Zipkin v2 JSON: an array of spans (``/api/v2/trace/{id}`` or a span POST body), an array of
traces, each an array of spans (``/api/v2/traces``), or JSON Lines of spans. One record is one span
object, or one trace in the array-of-traces form. Times are epoch microseconds.

A span without ``timestamp`` is a fragment (Zipkin merges such pieces by id when it reads them):
it still lands in ``spans`` with no start, outcome ``unknown`` ("span has no start time"), and is
not put on the timeline. A span with a timestamp but no ``duration`` never ended in the capture:
outcome ``unknown``. ``shared: true`` marks a server span that reuses its client's span id.
"""

from __future__ import annotations

from forensics.sources._spans import KV_LIST, install_macros, load_spans
from forensics.sources.contract import Batch, Detection, Probe, Source, temp_name

ZIPKIN_TYPE = """{"traceId": "VARCHAR", "id": "VARCHAR", "parentId": "VARCHAR", "name": "VARCHAR",
  "kind": "VARCHAR", "timestamp": "VARCHAR", "duration": "VARCHAR",
  "localEndpoint": {"serviceName": "VARCHAR"}, "remoteEndpoint": "JSON",
  "annotations": "JSON", "tags": "MAP(VARCHAR, VARCHAR)", "shared": "BOOLEAN"}"""


class ZipkinV2(Source):
    name = "zipkin"
    category = "trace"
    containers = ("json", "jsonl")
    accepts_array_records = True  # /api/v2/traces: a list of traces, each a list of spans

    def detect(self, probe: Probe) -> Detection:
        objs = [o for s in probe.samples for o in (s if isinstance(s, list) else [s]) if isinstance(o, dict)]
        if not objs:
            return Detection.NO
        hits = sum(
            1
            for o in objs
            if "traceId" in o
            and "id" in o
            and ("localEndpoint" in o or "timestamp" in o or "duration" in o or "kind" in o)
        )
        return Detection.STRONG if hits * 2 > len(objs) else Detection.NO

    def load_batch(self, batch: Batch) -> None:
        con = batch.con
        install_macros(con)
        norm = temp_name("zipkin")
        con.execute(
            f"""CREATE TEMP TABLE {norm} AS
            SELECT record_no,
                   fx_hex_id(s.traceId, 16) AS trace_id, fx_hex_id(s.id, 8) AS span_id,
                   fx_hex_id(s.parentId, 8) AS parent_span_id,
                   s.localEndpoint.serviceName AS service, s.name AS name,
                   CASE WHEN s.kind IS NULL THEN (CASE WHEN s.shared THEN 'server' ELSE 'unspecified' END)
                        ELSE fx_span_kind(s.kind) END AS kind,
                   try_cast(s.timestamp AS BIGINT) AS start_us,
                   try_cast(s.timestamp AS BIGINT) + try_cast(s.duration AS BIGINT) AS end_us,
                   s.timestamp AS start_raw,
                   CAST(try_cast(s.timestamp AS BIGINT) + try_cast(s.duration AS BIGINT) AS VARCHAR) AS end_raw,
                   CASE WHEN m['error'] IS NOT NULL AND lower(m['error']) NOT IN ('false', '0') THEN 'error' ELSE 'unset' END AS status_code,
                   m['error'] AS status_message,
                   CAST(coalesce(map_entries(s.tags), []) AS {KV_LIST}) AS attrs,
                   CAST([{{'key': 'service.name', 'value': s.localEndpoint.serviceName}}] AS {KV_LIST}) AS res_attrs,
                   CASE WHEN json_array_length(s.annotations) > 0 THEN s.annotations END AS events,
                   CAST(NULL AS JSON) AS links,
                   CAST(NULL AS VARCHAR) AS event_error_type
            FROM (SELECT record_no, json_transform(doc, '{ZIPKIN_TYPE.replace(chr(10), " ")}') AS s,
                         coalesce(json_transform(doc, '{{"tags": "MAP(VARCHAR, VARCHAR)"}}').tags, MAP()) AS m
                  FROM (SELECT record_no,
                               unnest(CASE WHEN json_type(doc) = 'ARRAY' THEN CAST(doc AS JSON[]) ELSE [doc] END) AS doc
                        FROM {batch.table}))"""
        )
        load_spans(batch, norm, self.name, "Zipkin record yields no span")


SOURCES = [ZipkinV2()]
