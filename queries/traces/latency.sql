-- Latency percentiles (p50/p95/p99, in ms, as the caller saw them) per server endpoint per bucket,
-- with request counts and the service versions seen (a deploy shows as a new version).
-- Params: $bucket_s (default 60), $start, $end, $service (optional).
-- Empty means no server spans in the window.
SELECT time_bucket(to_seconds(CAST(coalesce($bucket_s, 60) AS DOUBLE)), start) AS bucket, service, endpoint,
       count(*) AS requests,
       quantile_cont(latency_us, 0.5) / 1000.0 AS p50_ms,
       quantile_cont(latency_us, 0.95) / 1000.0 AS p95_ms,
       quantile_cont(latency_us, 0.99) / 1000.0 AS p99_ms,
       string_agg(DISTINCT service_version, ', ' ORDER BY service_version) AS versions
FROM trace_requests
WHERE latency_us IS NOT NULL
  AND ($start IS NULL OR start >= $start) AND ($end IS NULL OR start < $end)
  AND ($service IS NULL OR service = $service)
GROUP BY ALL ORDER BY bucket, service, endpoint
