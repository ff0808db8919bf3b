-- Did a deploy change error rate or latency? For each deploy event (category 'deploy') of a
-- service that has server spans: requests, error/timeout rates and p50/p95/p99 latency over
-- $minutes (default 30) before and after it, and the change. Outcomes are the caller's.
-- Params: $minutes (default 30), $service (optional), $start, $end (deploy time, optional).
-- Empty means no deploy events for services with traces.
-- @engines: duckdb
-- @not-spark: quantile_cont over a list of fractions has no Spark form
WITH d AS (
    SELECT event_id, time AS deployed_at, service, action, actor, artifact_digest, target
    FROM events WHERE category = 'deploy' AND service IS NOT NULL
      AND ($service IS NULL OR service = $service)
      AND ($start IS NULL OR time >= $start) AND ($end IS NULL OR time < $end)),
side AS (
    SELECT d.event_id, CASE WHEN r.start < d.deployed_at THEN 'before' ELSE 'after' END AS side,
           count(*) AS requests,
           count(*) FILTER (WHERE r.outcome IN ('failure', 'timeout')) / count(*) AS bad_rate,
           count(*) FILTER (WHERE r.outcome = 'timeout') / count(*) AS timeout_rate,
           quantile_cont(r.latency_us, 0.5) / 1000.0 AS p50_ms,
           quantile_cont(r.latency_us, 0.95) / 1000.0 AS p95_ms,
           quantile_cont(r.latency_us, 0.99) / 1000.0 AS p99_ms
    FROM d JOIN trace_requests r ON r.service = d.service
     AND r.start >= d.deployed_at - to_minutes(CAST(coalesce($minutes, 30) AS INTEGER))
     AND r.start < d.deployed_at + to_minutes(CAST(coalesce($minutes, 30) AS INTEGER))
    GROUP BY ALL)
SELECT d.deployed_at, d.service, d.action, d.actor, d.artifact_digest,
       b.requests AS requests_before, a.requests AS requests_after,
       b.bad_rate AS bad_rate_before, a.bad_rate AS bad_rate_after,
       b.timeout_rate AS timeout_rate_before, a.timeout_rate AS timeout_rate_after,
       b.p50_ms AS p50_ms_before, a.p50_ms AS p50_ms_after,
       b.p95_ms AS p95_ms_before, a.p95_ms AS p95_ms_after,
       b.p99_ms AS p99_ms_before, a.p99_ms AS p99_ms_after,
       a.p95_ms / nullif(b.p95_ms, 0) AS p95_ratio,
       a.bad_rate - b.bad_rate AS bad_rate_change
FROM d LEFT JOIN side b ON b.event_id = d.event_id AND b.side = 'before'
       LEFT JOIN side a ON a.event_id = d.event_id AND a.side = 'after'
WHERE a.requests IS NOT NULL OR b.requests IS NOT NULL
ORDER BY d.deployed_at
