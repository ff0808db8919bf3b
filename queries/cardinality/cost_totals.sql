-- Totals per signal and what they cost under the cost model: log bytes per GB, spans per million
-- (plus their attribute bytes per GB), metric series per 1,000 active series per month.
-- Params: $per_gb, $per_million_spans, $per_1k_series.
-- One row per signal, always (zeros when the case holds none of it).
-- @needs: attribute_value_counts
WITH logs AS (
    SELECT (SELECT count(*) FROM log_records) + (SELECT count(*) FROM events WHERE category = 'other') AS records,
           (SELECT coalesce(sum(record_bytes), 0) FROM log_records)
           + (SELECT coalesce(sum(strlen(CAST(raw AS VARCHAR))), 0) FROM events WHERE category = 'other') AS bytes
),
spans AS (
    SELECT (SELECT count(*) FROM spans) AS records,
           (SELECT coalesce(sum(bytes), 0) FROM attribute_value_counts WHERE signal = 'spans') AS bytes
),
metrics AS (
    SELECT count(*) AS records, coalesce(sum(sample_bytes), 0) AS bytes,
           count(DISTINCT metric || chr(0) || series_hash) AS series
    FROM metric_samples
)
SELECT 'logs' AS signal, records, CAST(bytes AS BIGINT) AS bytes, NULL::BIGINT AS series,
       bytes / 1e9 * coalesce($per_gb, 0) AS cost, 'bytes x price per GB (observed volume)' AS basis
FROM logs
UNION ALL
SELECT 'spans', records, CAST(bytes AS BIGINT), NULL,
       records / 1e6 * coalesce($per_million_spans, 0) + bytes / 1e9 * coalesce($per_gb, 0),
       'spans x price per million + attribute bytes x price per GB (observed volume)'
FROM spans
UNION ALL
SELECT 'metrics', records, CAST(bytes AS BIGINT), series,
       series / 1000.0 * coalesce($per_1k_series, 0), 'series x price per 1,000 active series (per month)'
FROM metrics
