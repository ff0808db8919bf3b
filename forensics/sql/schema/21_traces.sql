-- Traces (issue 4): columns added to spans beside those of 20_spans.sql, and the derived skew table.
-- Raw times stay as the source wrote them (start_raw/end_raw); start/end are UTC microseconds;
-- start_corrected/end_corrected add the estimated clock correction (skew_us) for the span's service.
ALTER TABLE spans ADD COLUMN IF NOT EXISTS start_raw VARCHAR;
ALTER TABLE spans ADD COLUMN IF NOT EXISTS end_raw VARCHAR;
ALTER TABLE spans ADD COLUMN IF NOT EXISTS start_corrected TIMESTAMPTZ;
ALTER TABLE spans ADD COLUMN IF NOT EXISTS end_corrected TIMESTAMPTZ;
ALTER TABLE spans ADD COLUMN IF NOT EXISTS http_status INTEGER;
ALTER TABLE spans ADD COLUMN IF NOT EXISTS grpc_status INTEGER;
ALTER TABLE spans ADD COLUMN IF NOT EXISTS error_type VARCHAR;
ALTER TABLE spans ADD COLUMN IF NOT EXISTS endpoint VARCHAR;
ALTER TABLE spans ADD COLUMN IF NOT EXISTS service_version VARCHAR;
ALTER TABLE spans ADD COLUMN IF NOT EXISTS user_agent VARCHAR;
ALTER TABLE spans ADD COLUMN IF NOT EXISTS request_key VARCHAR;
ALTER TABLE spans ADD COLUMN IF NOT EXISTS request_id VARCHAR;
ALTER TABLE spans ADD COLUMN IF NOT EXISTS side_effect BOOLEAN;
ALTER TABLE spans ADD COLUMN IF NOT EXISTS base_outcome VARCHAR;
ALTER TABLE spans ADD COLUMN IF NOT EXISTS base_outcome_reason VARCHAR;

-- Per trace and service: the clock correction solved from client/server pairs (derive/traces.py);
-- pairs is the sample count (pairs touching the service).
CREATE TABLE IF NOT EXISTS trace_skew (
    trace_id          VARCHAR NOT NULL,
    service           VARCHAR,
    reference_service VARCHAR,
    skew_us           BIGINT NOT NULL,   -- add to this service's times to align with the reference
    pairs             INTEGER NOT NULL,
    method            VARCHAR NOT NULL
);
-- share of the client/server pairs touching the service that the solved corrections make consistent
ALTER TABLE trace_skew ADD COLUMN IF NOT EXISTS confidence DOUBLE;
-- set by derive/traces.py: the failed client span (same client, operation and logical request,
-- within 60 s before) that this client span retries
ALTER TABLE spans ADD COLUMN IF NOT EXISTS retry_of_span_id VARCHAR;

-- Requests as the caller saw them: one row per server span, with its calling client span when the
-- trace holds it (Zipkin shared spans: the client span with the same id), the client cohort, the
-- caller's outcome (client span's, else the server's) and latency, and whether the call was a retry.
CREATE OR REPLACE VIEW trace_requests AS
SELECT s.trace_id, s.span_id, s.service, s.service_version, s.endpoint, s.name, s.start, s."end",
       s.start_corrected, s.duration_us, s.user_agent, s.request_key, s.request_id,
       s.outcome AS server_outcome, s.outcome_reason AS server_reason,
       p.span_id AS client_span_id, p.service AS client_service, p.service_version AS client_version,
       p.outcome AS client_outcome, p.outcome_reason AS client_reason, p.duration_us AS client_duration_us,
       coalesce(p.outcome, s.outcome) AS outcome,
       coalesce(p.outcome_reason, s.outcome_reason) AS outcome_reason,
       coalesce(p.duration_us, s.duration_us) AS latency_us,
       p.retry_of_span_id IS NOT NULL AS is_retry,
       coalesce(p.http_status, s.http_status) AS http_status,
       -- spends error budget: a timeout, or a failure that is not the caller's own fault (HTTP 4xx
       -- but 408 and 429; gRPC 1, 3, 5, 6, 7, 9, 10, 11, 16): the defaults of queries/traces/burn_rate.sql
       coalesce(p.outcome, s.outcome) = 'timeout'
         OR (coalesce(p.outcome, s.outcome) = 'failure'
             AND NOT coalesce(coalesce(p.http_status, s.http_status) BETWEEN 400 AND 499
                              AND coalesce(p.http_status, s.http_status) NOT IN (408, 429), false)
             AND NOT coalesce(list_contains([1, 3, 5, 6, 7, 9, 10, 11, 16], coalesce(p.grpc_status, s.grpc_status)),
                              false)) AS slo_bad,
       coalesce(p.grpc_status, s.grpc_status) AS grpc_status
FROM spans s
-- Zipkin shared span: the client span with the server's own id, in another service
LEFT JOIN (SELECT trace_id, span_id, service FROM spans WHERE kind = 'client') z
     ON z.trace_id = s.trace_id AND z.span_id = s.span_id AND z.service IS DISTINCT FROM s.service
-- two equality joins (no OR), so both are hash joins however many spans a trace holds
LEFT JOIN spans p ON p.trace_id = s.trace_id AND p.kind = 'client' AND p.span_id = coalesce(z.span_id, s.parent_span_id)
     AND (z.span_id IS NULL OR p.service = z.service)
WHERE s.kind = 'server' AND s.start IS NOT NULL;
