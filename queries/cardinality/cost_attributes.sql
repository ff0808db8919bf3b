-- Ingest cost of log and span attributes as vendors bill them, and the saving if the key were
-- dropped, its values hashed ($hash_bytes per value) or bucketed (a label of $bucket_label_bytes).
-- Bytes billed: a log or span attribute per occurrence; a span resource attribute once per resource
-- batch (distinct evidence file, record and resource), as OTLP sends it, not once per span, so a
-- constant resource attribute costs what it is sent. Where the backend indexes attribute values
-- (a search index, span-derived metric dimensions), index_cost_month prices each distinct value
-- at $per_1k_indexed per 1,000 per month (0: no index cost); hashing keeps it, bucketing caps it.
-- Metric labels are priced by series instead: see cost_metrics.sql.
-- Params: $per_gb (price per GB ingested), $per_1k_indexed, $hash_bytes (default 16),
--         $bucket_label_bytes (default 8), $bucket_count (default 10), $signal (NULL = logs and
--         spans), $top_n (NULL = all).
-- cost covers the volume held in the case (its observed period); index_cost_month is per month.
-- Empty: no log or span attributes.
-- @needs: attribute_value_counts
-- @engines: duckdb
-- @not-spark: json_each() (a JSON object as rows) has no Spark equivalent the kit maps
WITH per_key AS (
    SELECT signal, key, CAST(sum(occurrences) AS BIGINT) AS occurrences, count(value) AS distinct_values,
           CAST(sum(bytes) AS BIGINT) AS bytes
    FROM attribute_value_counts
    WHERE signal <> 'metrics' AND ($signal IS NULL OR signal = $signal)
    GROUP BY signal, key
),
resource_per_span AS (
    SELECT key, count(*) AS occurrences, sum(strlen(key) + coalesce(strlen(value), 0)) AS bytes
    FROM span_attributes WHERE scope = 'resource' GROUP BY key),
resource_batches AS (
    SELECT j.key, count(*) AS occurrences,
           sum(strlen(j.key) + strlen(CASE WHEN j.type = 'VARCHAR' THEN j.value ->> '$'
                                           ELSE CAST(j.value AS VARCHAR) END)) AS bytes
    FROM (SELECT DISTINCT evidence_sha256, evidence_record, resource_attributes FROM spans
          WHERE json_type(resource_attributes) = 'OBJECT') b, json_each(b.resource_attributes) j
    GROUP BY j.key),
billed AS (
    SELECT k.signal, k.key, k.distinct_values, k.bytes AS bytes_as_seen,
           CASE WHEN k.signal = 'spans' THEN k.occurrences - coalesce(r.occurrences, 0) + coalesce(b.occurrences, 0)
                ELSE k.occurrences END AS occurrences,
           CASE WHEN k.signal = 'spans' THEN k.bytes - coalesce(r.bytes, 0) + coalesce(b.bytes, 0)
                ELSE k.bytes END AS bytes
    FROM per_key k
    LEFT JOIN resource_per_span r ON k.signal = 'spans' AND r.key = k.key
    LEFT JOIN resource_batches b ON k.signal = 'spans' AND b.key = k.key
),
priced AS (
    SELECT *, coalesce($per_gb, 0) / 1e9 AS per_byte, coalesce($per_1k_indexed, 0) / 1000.0 AS per_value,
           greatest(bytes - occurrences * (strlen(key) + coalesce($hash_bytes, 16)), 0) AS hash_saved_bytes,
           greatest(bytes - occurrences * (strlen(key) + coalesce($bucket_label_bytes, 8)), 0) AS bucket_saved_bytes
    FROM billed
)
SELECT signal, key, occurrences, distinct_values, bytes, bytes_as_seen,
       bytes * per_byte AS cost,
       distinct_values * per_value AS index_cost_month,
       bytes * per_byte AS saving_if_dropped,
       hash_saved_bytes * per_byte AS saving_if_hashed,
       bucket_saved_bytes * per_byte AS saving_if_bucketed,
       greatest(distinct_values - coalesce($bucket_count, 10), 0) * per_value AS index_saving_if_bucketed,
       round(100.0 * bytes / greatest(sum(bytes) OVER (), 1), 3) AS share_of_bytes_pct
FROM priced
ORDER BY cost + index_cost_month DESC, bytes DESC, signal, key
LIMIT coalesce($top_n, 9223372036854775807)
