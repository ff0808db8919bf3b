-- Ingest cost of log and span attributes (bytes priced per GB), and the saving if the key were
-- dropped, its values hashed ($hash_bytes per value) or bucketed (a label of $bucket_label_bytes).
-- Metric labels are priced by series instead: see cost_metrics.sql.
-- Params: $per_gb (price per GB ingested), $hash_bytes (default 16), $bucket_label_bytes (default 8),
--         $signal (NULL = logs and spans), $top_n (NULL = all).
-- Costs cover the volume held in the case (its observed period). Empty: no log or span attributes.
-- @needs: attribute_value_counts
WITH per_key AS (
    SELECT signal, key, CAST(sum(occurrences) AS BIGINT) AS occurrences, count(value) AS distinct_values,
           CAST(sum(bytes) AS BIGINT) AS bytes, CAST(sum(occurrences * strlen(key)) AS BIGINT) AS key_bytes
    FROM attribute_value_counts
    WHERE signal <> 'metrics' AND ($signal IS NULL OR signal = $signal)
    GROUP BY signal, key
),
priced AS (
    SELECT *, coalesce($per_gb, 0) / 1e9 AS per_byte,
           greatest(bytes - key_bytes - occurrences * coalesce($hash_bytes, 16), 0) AS hash_saved_bytes,
           greatest(bytes - key_bytes - occurrences * coalesce($bucket_label_bytes, 8), 0) AS bucket_saved_bytes
    FROM per_key
)
SELECT signal, key, occurrences, distinct_values, bytes,
       bytes * per_byte AS cost,
       bytes * per_byte AS saving_if_dropped,
       hash_saved_bytes * per_byte AS saving_if_hashed,
       bucket_saved_bytes * per_byte AS saving_if_bucketed,
       round(100.0 * bytes / greatest(sum(bytes) OVER (), 1), 3) AS share_of_bytes_pct
FROM priced
ORDER BY cost DESC, bytes DESC, signal, key
LIMIT coalesce($top_n, 9223372036854775807)
