-- Invariant: no mixed versions past the rollout window. Within one service x environment, all
-- rollout lanes (clusters, regions, apps) run the same digest, except for at most
-- $rollout_window_minutes (default 30) while a rollout proceeds.
-- Params: $rollout_window_minutes (INTEGER, optional). A row is a pair of lanes that ran different
-- digests at the same time for longer than the window. A lane's last digest runs until the end of
-- the evidence (the latest event of any source), not only until the latest deploy.
-- @denominator: deploys
-- @time: mixed_from
-- @engines: duckdb, spark
WITH d AS (
    SELECT * FROM deploys
    WHERE status = 'success' AND action IN ('deploy', 'rollback') AND artifact_digest IS NOT NULL
), iv AS (
    SELECT service, environment, coalesce(instance, '') AS lane, artifact_digest, time AS since,
           coalesce(lead(time) OVER (PARTITION BY service, environment, instance ORDER BY time, deploy_id),
                    greatest((SELECT max(time) FROM deploys), (SELECT max(time) FROM events))) AS until
    FROM d
)
SELECT a.service, a.environment, a.lane AS lane_a, a.artifact_digest AS digest_a, b.lane AS lane_b,
       b.artifact_digest AS digest_b, greatest(a.since, b.since) AS mixed_from, least(a.until, b.until) AS mixed_until,
       'mixed versions for ' || CAST(least(a.until, b.until) - greatest(a.since, b.since) AS VARCHAR)
           || ', past the rollout window of ' || coalesce($rollout_window_minutes, 30) || ' minutes' AS reason
FROM iv a JOIN iv b ON a.service = b.service AND a.environment IS NOT DISTINCT FROM b.environment
                   AND a.lane < b.lane AND a.artifact_digest <> b.artifact_digest
WHERE least(a.until, b.until) - greatest(a.since, b.since)
      > to_minutes(CAST(coalesce($rollout_window_minutes, 30) AS BIGINT))
ORDER BY mixed_from
