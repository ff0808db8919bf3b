-- attribute_keys computed the slow way: over every attribute occurrence (the attribute_values
-- view) instead of the per-value counts table. The same columns and order as attribute_keys.
-- A cross-check that the counts table is exact, and the baseline of bench/cardinality.py.
-- Params: $signal (metrics | logs | spans; NULL = all).
-- Empty: no attributes in the case.
-- @engines: duckdb
-- @not-spark: reads the view attribute_values, whose DuckDB definition does not transpile or run on Spark
WITH per_key AS (
    SELECT signal, key, count(*) AS occurrences, count(DISTINCT value) AS distinct_exact,
           approx_count_distinct(value) AS distinct_approx, CAST(sum(bytes) AS BIGINT) AS bytes
    FROM attribute_values WHERE $signal IS NULL OR signal = $signal GROUP BY signal, key
)
SELECT signal, key, occurrences, distinct_exact, distinct_approx,
       round(100.0 * abs(distinct_approx - distinct_exact) / greatest(distinct_exact, 1), 2) AS approx_error_pct,
       round(100.0 * occurrences / sum(occurrences) OVER (PARTITION BY signal), 3) AS share_of_occurrences_pct,
       bytes, round(100.0 * bytes / greatest(sum(bytes) OVER (PARTITION BY signal), 1), 3) AS share_of_bytes_pct,
       round(100.0 * distinct_exact / greatest(sum(distinct_exact) OVER (PARTITION BY signal), 1), 3) AS share_of_distinct_pct
FROM per_key ORDER BY distinct_exact DESC, bytes DESC, signal, key
