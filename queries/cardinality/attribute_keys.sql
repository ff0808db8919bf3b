-- Per attribute key, per signal: how many distinct values (exact, and approximate with
-- HyperLogLog), the measured error of the approximation, the key's share of all attribute
-- occurrences and bytes of its signal, and the bytes it contributes.
-- Params: $signal (metrics | logs | spans; NULL = all), $top_n (rows to return; NULL = all, no cap).
-- Rows are ordered by exact distinct values, highest first. Empty: no attributes in the case.
-- Reads attribute_value_counts (one row per signal, key and distinct value, kept by
-- forensics/derive/cardinality.py), so one pass over the distinct values gives every column:
-- the rows with a value are the exact distinct count, and the HyperLogLog sketch sees each
-- value once, which gives the same estimate as over every occurrence.
-- @needs: attribute_value_counts
-- @engines: duckdb
-- @not-spark: approx_count_distinct: HyperLogLog estimates differ between engines
WITH per_key AS (
    SELECT signal, key,
           CAST(sum(occurrences) AS BIGINT) AS occurrences,
           count(value) AS distinct_exact,
           approx_count_distinct(value) AS distinct_approx,
           CAST(sum(bytes) AS BIGINT) AS bytes
    FROM attribute_value_counts
    WHERE $signal IS NULL OR signal = $signal
    GROUP BY signal, key
)
SELECT signal, key, occurrences, distinct_exact, distinct_approx,
       round(100.0 * abs(distinct_approx - distinct_exact) / greatest(distinct_exact, 1), 2) AS approx_error_pct,
       round(100.0 * occurrences / sum(occurrences) OVER (PARTITION BY signal), 3) AS share_of_occurrences_pct,
       bytes,
       round(100.0 * bytes / greatest(sum(bytes) OVER (PARTITION BY signal), 1), 3) AS share_of_bytes_pct,
       round(100.0 * distinct_exact / greatest(sum(distinct_exact) OVER (PARTITION BY signal), 1), 3) AS share_of_distinct_pct
FROM per_key
ORDER BY distinct_exact DESC, bytes DESC, signal, key
LIMIT coalesce($top_n, 9223372036854775807)
