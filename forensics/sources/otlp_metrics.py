"""OTLP metrics in JSON: one ``{"resourceMetrics": [...]}`` document (ExportMetricsServiceRequest /
MetricsData), or JSON Lines of them as the OpenTelemetry collector file exporter writes.

Every data point of every metric (gauge, sum, histogram, exponentialHistogram, summary) becomes one
row of ``metric_samples``: ``metric`` and ``family`` are the metric name, ``type`` the data kind,
``labels`` the data point's attributes (values as text, keys sorted), ``value`` asDouble/asInt for
numbers and ``sum`` for distributions, ``time`` from timeUnixNano. Resource attributes are not
labels (they identify the producer, as Prometheus' ``target_info`` does). A request with no data
point is rejected with that reason.
"""

from __future__ import annotations

from forensics.sources.contract import Batch, Detection, Probe, Source, temp_name
from forensics.sources.otlp_logs import anyvalue_text
from forensics.sources.prometheus import insert_metric_rows

KINDS = ("gauge", "sum", "histogram", "exponentialHistogram", "summary")


class OtlpMetricsSource(Source):
    name = "otlp-metrics"
    category = "other"
    containers = ("jsonl", "json")

    def detect(self, probe: Probe) -> Detection:
        v = probe.first.get("resourceMetrics")
        if isinstance(v, list) and (not v or isinstance(v[0], dict)):
            return Detection.CERTAIN
        return Detection.NO

    def load_batch(self, batch: Batch) -> None:
        con = batch.con
        points = temp_name("otlpmet")
        kinds = " UNION ALL ".join(
            f"SELECT '{k}' AS kind, value AS dp, key AS di FROM json_each(m.value, '$.{k}.dataPoints')"
            for k in KINDS
        )
        con.execute(
            f"""CREATE TEMP TABLE {points} AS
                SELECT r.record_no, r.line_no,
                       rm.key || '.' || sm.key || '.' || m.key || '.' || d.kind || '.' || d.di AS point_id,
                       m.value->>'name' AS metric, d.kind, d.dp
                FROM {batch.table} r,
                     json_each(r.doc, '$.resourceMetrics') rm,
                     json_each(rm.value, '$.scopeMetrics') sm,
                     json_each(sm.value, '$.metrics') m,
                     LATERAL ({kinds}) d"""
        ).fetchall()
        try:
            insert_metric_rows(
                batch,
                f"""SELECT p.record_no, p.line_no, coalesce(p.metric, '') AS metric, p.metric AS family, p.kind AS type,
                           coalesce((SELECT '{{' || string_agg(to_json(k) || ':' || to_json(v), ',' ORDER BY k) || '}}'
                                     FROM (SELECT a.value->>'key' AS k, {anyvalue_text("a.value->'value'")} AS v
                                          FROM json_each(p.dp, '$.attributes') a)), '{{}}') AS labels,
                           coalesce(try_cast(p.dp->>'asDouble' AS DOUBLE), try_cast(p.dp->>'asInt' AS DOUBLE),
                                    try_cast(p.dp->>'sum' AS DOUBLE)) AS value,
                           CASE WHEN try_cast(p.dp->>'timeUnixNano' AS HUGEINT) > 0
                                THEN fx_unix_nanos_us(p.dp->>'timeUnixNano') END AS ts_us,
                           p.dp->>'timeUnixNano' AS time_raw,
                           strlen(coalesce(p.metric, '')) + strlen(CAST(p.dp AS VARCHAR)) AS sample_bytes
                    FROM {points} p""",
                self.name,
            )
            batch.reject(
                f"""SELECT record_no, 'OTLP metrics request holds no data point' AS reason FROM {batch.table}
                    WHERE record_no NOT IN (SELECT record_no FROM {points})"""
            )
        finally:
            con.execute(f"DROP TABLE {points}").fetchall()


SOURCES = [OtlpMetricsSource()]
