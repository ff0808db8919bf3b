-- New distinct values per window, per signal and attribute key: values seen for the first time in
-- the window, distinct values active in it, and the running total of distinct values.
-- Params: $window_seconds (window width), $signal (NULL = all), $key (NULL = all),
-- $pairs (a list of signal || chr(31) || key: only those keys; NULL = all).
-- Occurrences without a time are left out. Empty: no timed attributes match.
-- @needs: attribute_value_counts
-- @engines: duckdb
-- @not-spark: reads the view telemetry_attributes, whose DuckDB definition does not transpile or run on Spark
WITH firsts AS (
    SELECT signal, key, value, first_seen
    FROM attribute_value_counts
    WHERE first_seen IS NOT NULL AND ($signal IS NULL OR signal = $signal) AND ($key IS NULL OR key = $key)
      AND ($pairs IS NULL OR list_contains($pairs, signal || chr(31) || key))
),
fresh AS (
    SELECT signal, key, time_bucket(to_seconds(coalesce($window_seconds, 300)), first_seen) AS window_start, count(*) AS new_values
    FROM firsts GROUP BY ALL
),
active AS (
    SELECT signal, key, time_bucket(to_seconds(coalesce($window_seconds, 300)), time) AS window_start,
           count(DISTINCT value) AS active_values, count(*) AS occurrences
    FROM telemetry_attributes
    WHERE time IS NOT NULL AND ($signal IS NULL OR signal = $signal) AND ($key IS NULL OR key = $key)
      AND ($pairs IS NULL OR list_contains($pairs, signal || chr(31) || key))
    GROUP BY ALL
)
SELECT a.signal, a.key, a.window_start, a.occurrences, a.active_values, coalesce(f.new_values, 0) AS new_values,
       CAST(sum(coalesce(f.new_values, 0)) OVER (PARTITION BY a.signal, a.key ORDER BY a.window_start) AS BIGINT) AS distinct_so_far
FROM active a LEFT JOIN fresh f USING (signal, key, window_start)
ORDER BY a.signal, a.key, a.window_start
