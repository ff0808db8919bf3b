-- Spans linked to other timeline events (audit, application logs, deploys) that share a trace id
-- or a request id, with the clock offset between them. offset_ms = event time - span start; an
-- event of a request that lies outside its span's interval (outside = true) shows skew between the
-- tracer's clock and the log's, at least |outside_by_ms|.
-- Params: $start, $end (span start, optional).
-- Empty means no other source shares ids with the traces.
-- @engines: duckdb, spark
SELECT s.trace_id, s.span_id, s.service, s.name, s.kind, s.start, s."end",
       e.source AS event_source, e.category, e.action, e.time AS event_time, e.outcome AS event_outcome,
       CASE WHEN e.trace_id = s.trace_id THEN 'trace_id' ELSE 'request_id' END AS linked_by,
       (epoch_us(e.time) - epoch_us(s.start)) / 1000.0 AS offset_ms,
       e.time < s.start OR e.time > s."end" AS outside,
       CASE WHEN e.time < s.start THEN (epoch_us(e.time) - epoch_us(s.start)) / 1000.0
            WHEN e.time > s."end" THEN (epoch_us(e.time) - epoch_us(s."end")) / 1000.0 ELSE 0 END AS outside_by_ms
FROM spans s
JOIN events e ON e.category <> 'trace'
     AND (e.trace_id = s.trace_id OR (s.request_id IS NOT NULL AND e.request_id = s.request_id))
WHERE (s.kind = 'server' OR s.parent_span_id IS NULL)
  AND ($start IS NULL OR s.start >= $start) AND ($end IS NULL OR s.start < $end)
ORDER BY s.start, e.time
