-- Request, error, timeout and retry rates and p50/p95/p99 latency per endpoint and client cohort
-- (client service and version, user agent) per time bucket. Outcome and latency are the caller's
-- (client span when present, else server span). unknown outcomes are counted apart, never as good.
-- Params: $bucket_s (bucket width in seconds, default 60), $start, $end, $service (server service).
-- Empty means no server spans in the window.
-- @engines: duckdb
-- @not-spark: quantile_cont over a list of fractions has no Spark form
WITH r AS (
    SELECT s.*, time_bucket(to_seconds(CAST(coalesce($bucket_s, 60) AS DOUBLE)), s.start) AS bucket
    FROM trace_requests s
    WHERE ($start IS NULL OR s.start >= $start) AND ($end IS NULL OR s.start < $end)
      AND ($service IS NULL OR s.service = $service))
SELECT bucket, service, endpoint, service_version,
       client_service, client_version, user_agent,
       count(*) AS requests,
       count(*) / CAST(coalesce($bucket_s, 60) AS DOUBLE) AS requests_per_s,
       count(*) FILTER (WHERE outcome = 'failure') AS failures,
       count(*) FILTER (WHERE outcome = 'timeout') AS timeouts,
       count(*) FILTER (WHERE outcome = 'unknown') AS unknowns,
       count(*) FILTER (WHERE is_retry) AS retries,
       count(*) FILTER (WHERE outcome = 'failure') / count(*) AS error_rate,
       count(*) FILTER (WHERE outcome = 'timeout') / count(*) AS timeout_rate,
       count(*) FILTER (WHERE is_retry) / count(*) AS retry_rate,
       quantile_cont(latency_us, 0.5) / 1000.0 AS p50_ms,
       quantile_cont(latency_us, 0.95) / 1000.0 AS p95_ms,
       quantile_cont(latency_us, 0.99) / 1000.0 AS p99_ms
FROM r GROUP BY ALL ORDER BY bucket, service, endpoint, client_service, user_agent
