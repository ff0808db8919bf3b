-- Latency percentiles (p50/p95/p99, in ms, as the caller saw them) per server endpoint per bucket,
-- with request counts and the service versions seen (lowest .. highest; a deploy shows as a change).
-- Params: $bucket_s (default 60), $start, $end, $service (optional).
-- Empty means no server spans in the window.
-- @engines: duckdb
-- @not-spark: quantile_cont over a list of fractions has no Spark form
SELECT bucket, service, endpoint, requests, q[1] / 1000.0 AS p50_ms, q[2] / 1000.0 AS p95_ms, q[3] / 1000.0 AS p99_ms,
       CASE WHEN v_lo = v_hi THEN v_lo ELSE v_lo || ' .. ' || v_hi END AS versions
FROM (SELECT time_bucket(to_seconds(CAST(coalesce($bucket_s, 60) AS DOUBLE)), start) AS bucket, service, endpoint,
             count(*) AS requests,
             quantile_cont(latency_us, [0.5, 0.95, 0.99]) AS q,  -- one sort for the three percentiles
             min(service_version) AS v_lo, max(service_version) AS v_hi
      FROM trace_requests
      WHERE latency_us IS NOT NULL
        AND ($start IS NULL OR start >= $start) AND ($end IS NULL OR start < $end)
        AND ($service IS NULL OR service = $service)
      GROUP BY ALL)
ORDER BY bucket, service, endpoint
