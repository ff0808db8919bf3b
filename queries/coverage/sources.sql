-- Coverage per source and scope (account, cluster, namespace, service): the time covered, how many
-- events and evidence files, the cadence learned from the source's own rate (median step between
-- active minutes, and the silence threshold: 3 x its 95th percentile, at least $floor_minutes), the
-- expected delivery cadence where the source's documentation gives one, and the gaps found
-- (coverage_gaps: count and total uncovered time).
-- Params: $floor_minutes (default 10).
-- Read it as the answer to "what can this case see"; a source absent here is not in the evidence.
-- @engines: duckdb
-- @not-spark: epoch() of an INTERVAL (the step between active minutes) has no Spark form
WITH ev AS (
    SELECT source, coalesce(environment, service, '') AS scope, time, evidence_sha256,
           source IN ('k8s_pods', 'k8s_workloads') OR coalesce(time_raw LIKE 'approx:%', false) AS snapshot
    FROM events
), mins AS (
    SELECT source, scope, time_bucket(INTERVAL 1 MINUTE, time) AS minute FROM ev WHERE NOT snapshot GROUP BY ALL
), steps AS (
    SELECT source, scope, lead(minute) OVER (PARTITION BY source, scope ORDER BY minute) - minute AS step FROM mins
), learned AS (
    SELECT source, scope, to_seconds(CAST(median(epoch(step)) AS BIGINT)) AS typical_step,
           greatest(to_minutes(CAST(coalesce($floor_minutes, 10) AS BIGINT)),
                    3 * to_seconds(CAST(quantile_cont(epoch(step), 0.95) AS BIGINT))) AS silence_threshold
    FROM steps WHERE step IS NOT NULL GROUP BY ALL
), gaps AS (
    SELECT source, coalesce(scope, '') AS scope, count(*) AS gaps,
           to_seconds(CAST(sum(coalesce(epoch("end") - epoch(start), 0)) AS BIGINT)) AS uncovered
    FROM coverage_gaps WHERE kind IN ('silence', 'digest_missing_file', 'digest_chain_break', 'missing_parent')
    GROUP BY ALL
), s AS (
    SELECT source, scope, min(time) AS first_event, max(time) AS last_event, count(*) AS events,
           count(DISTINCT evidence_sha256) AS files, bool_and(snapshot) AS snapshots_only
    FROM ev GROUP BY ALL
)
SELECT s.source, s.scope, s.first_event, s.last_event, CAST(s.last_event - s.first_event AS VARCHAR) AS covered, s.events, s.files,
       CASE WHEN s.snapshots_only THEN 'snapshots (points in time, no cadence)' ELSE CAST(l.typical_step AS VARCHAR) END AS learned_cadence,
       CAST(l.silence_threshold AS VARCHAR) AS silence_threshold,
       CASE WHEN s.source = 'cloudtrail' THEN 'a log file about every 5 minutes; a digest file every hour'
            WHEN s.source LIKE 'k8s_audit%' THEN 'continuous (API server audit backend)'
            WHEN s.source = 'vpc_flow' THEN 'an aggregation interval of 1 or 10 minutes'
            ELSE NULL END AS expected_cadence,
       coalesce(g.gaps, 0) AS gaps, CAST(g.uncovered AS VARCHAR) AS uncovered
FROM s LEFT JOIN learned l USING (source, scope) LEFT JOIN gaps g ON g.source = s.source AND g.scope = s.scope
ORDER BY s.source, s.scope
