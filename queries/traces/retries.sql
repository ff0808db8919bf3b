-- Retries: a client call repeated after one that timed out or failed.
-- A retry is the next client span of the same client service and operation, for the same logical
-- request, starting within $window_s seconds (default 60) after the failed call ended. The logical
-- request is the request key (idempotency key or order id attribute) when the span has one, else
-- the same parent span in the same trace (a client retrying inside one handler).
-- Params: $window_s (seconds, default 60), $start, $end (failed call's start, optional).
-- A row is one failed call and the retry that followed it; non-empty means clients retried.
-- @engines: duckdb
-- @not-spark: ASOF JOIN has no Spark equivalent
WITH c AS (
    SELECT trace_id, span_id, parent_span_id, service, name, request_key, start, "end", outcome, outcome_reason,
           coalesce(request_key, trace_id || '/' || coalesce(parent_span_id, '')) AS logical_request,
           coalesce("end", start) AS done
    FROM spans WHERE kind = 'client' AND start IS NOT NULL),
failed AS (SELECT * FROM c WHERE outcome IN ('timeout', 'failure')
           AND ($start IS NULL OR start >= $start) AND ($end IS NULL OR start < $end))
SELECT f.service AS client_service, f.name AS operation, f.request_key,
       f.trace_id AS failed_trace_id, f.span_id AS failed_span_id, f.outcome AS failed_outcome,
       f.outcome_reason AS failed_reason, f.start AS failed_start, f.done AS failed_at,
       r.trace_id AS retry_trace_id, r.span_id AS retry_span_id, r.start AS retry_at, r.outcome AS retry_outcome,
       (epoch_us(r.start) - epoch_us(f.done)) / 1000.0 AS gap_ms,
       CASE WHEN f.request_key IS NOT NULL THEN 'same request key' ELSE 'same parent span' END AS matched_on
FROM failed f
ASOF JOIN c r
  ON r.service IS NOT DISTINCT FROM f.service AND r.name IS NOT DISTINCT FROM f.name
 AND r.logical_request = f.logical_request AND r.start >= f.done
WHERE r.span_id <> f.span_id
  AND r.start < f.done + to_seconds(CAST(coalesce($window_s, 60) AS DOUBLE))
ORDER BY f.start, f.span_id
