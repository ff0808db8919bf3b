-- Every span of the traces asked for (by trace id, or by a request key such as an order id or
-- idempotency key, or a request id), in start order, with raw and skew-corrected times, outcome
-- and reason, and the evidence reference. Params: $trace_id, $request_key, $request_id (any one).
-- Empty means no span of such a trace is in the case.
-- @engines: duckdb, spark
WITH wanted AS (
    SELECT DISTINCT trace_id FROM spans
    WHERE trace_id = lower($trace_id) OR request_key = $request_key OR request_id = $request_id)
SELECT s.trace_id, s.span_id, s.parent_span_id, s.service, s.service_version, s.kind, s.name, s.endpoint,
       s.start, s."end", s.duration_us / 1000.0 AS duration_ms, s.start_raw, s.start_corrected, s.skew_us,
       s.status_code, s.status_message, s.http_status, s.outcome, s.outcome_reason, s.request_key,
       s.side_effect, s.retry_of_span_id, s.source, s.evidence_sha256, s.evidence_line, s.evidence_record
FROM spans s JOIN wanted USING (trace_id)
ORDER BY s.trace_id, s.start NULLS LAST, s.span_id
