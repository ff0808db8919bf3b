-- Explosion detection: per signal and attribute key, the first window (the change point) in which
-- the number of new distinct values exceeds $threshold times the average of all earlier windows
-- (at least 1), with at least $min_new new values. The first window of each signal is never a
-- change point (everything is new there) but counts in the baseline, so a key that grows at a
-- steady rate from the start is not flagged. explosion_start is the first time a new value was seen
-- in the change-point window, so it is within one window of the true start.
-- Params: $window_seconds (default 300), $threshold (ratio, default 5), $min_new (default 10),
--         $signal (NULL = all).
-- Non-empty: these keys started producing new values much faster than before, at these times.
-- @needs: attribute_value_counts
-- @engines: duckdb, spark
WITH params AS (
    SELECT to_seconds(coalesce($window_seconds, 300)) AS w, coalesce($threshold, 5.0) AS threshold,
           coalesce($min_new, 10) AS min_new
),
-- first and last times per distinct value come from attribute_value_counts (one row per signal,
-- key and value): the same as grouping telemetry_attributes' timed occurrences
timed AS (
    SELECT signal, key, value, first_seen, last_seen FROM attribute_value_counts
    WHERE first_seen IS NOT NULL AND ($signal IS NULL OR signal = $signal)
),
firsts AS (
    SELECT signal, key, value, first_seen FROM timed
),
bounds AS (
    SELECT signal, time_bucket(p.w, min(first_seen)) AS lo, time_bucket(p.w, max(last_seen)) AS hi
    FROM timed, params p GROUP BY signal, p.w
),
windows AS (
    SELECT k.signal, k.key, unnest(generate_series(b.lo, b.hi, p.w)) AS window_start
    FROM (SELECT DISTINCT signal, key FROM firsts) k JOIN bounds b USING (signal), params p
),
fresh AS (
    SELECT f.signal, f.key, time_bucket(p.w, f.first_seen) AS window_start,
           count(*) AS new_values, min(f.first_seen) AS first_new
    FROM firsts f, params p GROUP BY ALL
),
per_window AS (
    SELECT w.signal, w.key, w.window_start, coalesce(f.new_values, 0) AS new_values, f.first_new,
           row_number() OVER (PARTITION BY w.signal, w.key ORDER BY w.window_start) AS n
    FROM windows w LEFT JOIN fresh f USING (signal, key, window_start)
),
scored AS (
    SELECT *,
           avg(new_values) OVER (
               PARTITION BY signal, key ORDER BY window_start ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
           ) AS baseline,
           CAST(sum(new_values) OVER (
               PARTITION BY signal, key ORDER BY window_start ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
           ) AS BIGINT) AS distinct_before
    FROM per_window
),
flagged AS (
    SELECT s.*, s.new_values / greatest(coalesce(s.baseline, 0), 1) AS ratio,
           row_number() OVER (PARTITION BY s.signal, s.key ORDER BY s.window_start) AS k
    FROM scored s, params p
    WHERE s.n > 1 AND s.new_values >= p.min_new
      AND s.new_values > p.threshold * greatest(coalesce(s.baseline, 0), 1)
)
SELECT f.signal, f.key, f.window_start, f.first_new AS explosion_start, f.new_values,
       round(coalesce(f.baseline, 0), 2) AS baseline_new_per_window, round(f.ratio, 1) AS ratio,
       coalesce(f.distinct_before, 0) AS distinct_before,
       (SELECT count(*) FROM firsts x WHERE x.signal = f.signal AND x.key = f.key) AS distinct_total,
       (SELECT count(*) FROM flagged g WHERE g.signal = f.signal AND g.key = f.key) AS windows_flagged
FROM flagged f
WHERE f.k = 1
ORDER BY f.first_new, f.signal, f.key
