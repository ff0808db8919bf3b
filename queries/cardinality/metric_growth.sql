-- Growth of series over time, per metric and window: series active in the window, series seen for
-- the first time in it, and the cumulative series count. Samples without a time are left out.
-- Params: $window_seconds (window width, e.g. 60), $metric (NULL = all).
-- Empty: no timed metric samples.
-- @engines: duckdb, spark
WITH first AS (
    SELECT metric, series_hash, min(time) AS first_seen FROM metric_samples WHERE time IS NOT NULL GROUP BY ALL
),
active AS (
    SELECT metric, time_bucket(to_seconds(coalesce($window_seconds, 300)), time) AS window_start,
           count(DISTINCT series_hash) AS active_series
    FROM metric_samples WHERE time IS NOT NULL AND ($metric IS NULL OR metric = $metric)
    GROUP BY ALL
),
fresh AS (
    SELECT metric, time_bucket(to_seconds(coalesce($window_seconds, 300)), first_seen) AS window_start, count(*) AS new_series
    FROM first GROUP BY ALL
)
SELECT a.metric, a.window_start, a.active_series, coalesce(f.new_series, 0) AS new_series,
       CAST(sum(coalesce(f.new_series, 0)) OVER (PARTITION BY a.metric ORDER BY a.window_start) AS BIGINT) AS cumulative_series
FROM active a LEFT JOIN fresh f USING (metric, window_start)
ORDER BY a.metric, a.window_start
