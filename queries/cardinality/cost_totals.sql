-- Totals per signal and what they cost under the cost model, counting what vendors bill: log
-- bytes per GB; spans per million plus their billed attribute bytes per GB (resource attributes
-- once per resource batch, as OTLP sends them: cost_attributes.sql); metrics per 1,000 active
-- series per month, the $active_quantile (default 0.95) of the series active in each
-- $active_window_min-minute bucket (default 20), taken as the month's (series_seen: every series).
-- Params: $per_gb, $per_million_spans, $per_1k_series, $active_window_min, $active_quantile.
-- One row per signal, always (zeros when the case holds none of it).
-- @needs: attribute_value_counts
-- @engines: duckdb
-- @not-spark: json_each() (a JSON object as rows) has no Spark equivalent the kit maps
WITH logs AS (
    SELECT (SELECT count(*) FROM log_records) + (SELECT count(*) FROM events WHERE category = 'other') AS records,
           (SELECT coalesce(sum(record_bytes), 0) FROM log_records)
           + (SELECT coalesce(sum(strlen(CAST(raw AS VARCHAR))), 0) FROM events WHERE category = 'other') AS bytes
),
resource_per_span AS (
    SELECT coalesce(sum(strlen(key) + coalesce(strlen(value), 0)), 0) AS bytes
    FROM span_attributes WHERE scope = 'resource'),
resource_batches AS (
    SELECT coalesce(sum(strlen(j.key) + strlen(CASE WHEN j.type = 'VARCHAR' THEN j.value ->> '$'
                                                     ELSE CAST(j.value AS VARCHAR) END)), 0) AS bytes
    FROM (SELECT DISTINCT evidence_sha256, evidence_record, resource_attributes FROM spans
          WHERE json_type(resource_attributes) = 'OBJECT') b, json_each(b.resource_attributes) j),
spans AS (
    SELECT (SELECT count(*) FROM spans) AS records,
           (SELECT coalesce(sum(bytes), 0) FROM attribute_value_counts WHERE signal = 'spans')
           - (SELECT bytes FROM resource_per_span) + (SELECT bytes FROM resource_batches) AS bytes
),
active AS (
    SELECT count(DISTINCT metric || chr(0) || series_hash) AS active
    FROM metric_samples
    GROUP BY time_bucket(to_minutes(CAST(coalesce($active_window_min, 20) AS INTEGER)),
                         coalesce(time, TIMESTAMPTZ '1970-01-01 00:00:00+00'))
),
metrics AS (
    SELECT count(*) AS records, coalesce(sum(sample_bytes), 0) AS bytes,
           count(DISTINCT metric || chr(0) || series_hash) AS series_seen,
           (SELECT coalesce(quantile_disc(active, CAST(coalesce($active_quantile, 0.95) AS DOUBLE)), 0) FROM active) AS series
    FROM metric_samples
)
SELECT 'logs' AS signal, records, CAST(bytes AS BIGINT) AS bytes, NULL::BIGINT AS series, NULL::BIGINT AS series_seen,
       bytes / 1e9 * coalesce($per_gb, 0) AS cost, 'bytes x price per GB (observed volume)' AS basis
FROM logs
UNION ALL
SELECT 'spans', records, CAST(bytes AS BIGINT), NULL, NULL,
       records / 1e6 * coalesce($per_million_spans, 0) + bytes / 1e9 * coalesce($per_gb, 0),
       'spans x price per million + billed attribute bytes x price per GB (observed volume)'
FROM spans
UNION ALL
SELECT 'metrics', records, CAST(bytes AS BIGINT), CAST(series AS BIGINT), series_seen,
       series / 1000.0 * coalesce($per_1k_series, 0),
       'active series (quantile over time buckets) x price per 1,000 active series (per month, projected)'
FROM metrics
