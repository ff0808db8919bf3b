-- Series cost of metrics per label, priced as vendors bill it: on active series over time, not on
-- every series ever seen. A series is active in a $active_window_min-minute bucket (default 20)
-- when it has a sample in it; the billed quantity of a metric is the $active_quantile (default
-- 0.95) of its active series over the observed buckets, taken as the month's (the projection: the
-- observed period stands for the month). A label's cost is the share of the metric's series it
-- causes (series - series_if_dropped), scaled to the billed quantity (billed_series / series).
-- Savings: dropped (the series it causes), hashed (none: one series per distinct hash), bucketed
-- into at most $bucket_count values (default 10): only series that carry the label shrink, to at
-- most (their label sets without it) x (buckets); series without the label stay as they are.
-- Params: $per_1k_series (price per 1,000 active series per month), $bucket_count,
--         $active_window_min, $active_quantile, $top_n (NULL = all).
-- Empty: no labelled metric samples.
-- @engines: duckdb
-- @not-spark: json_merge_patch() has no Spark function
WITH series AS (
    SELECT metric, series_hash, any_value(labels) AS labels FROM metric_samples GROUP BY metric, series_hash),
keys AS (SELECT metric, key, count(DISTINCT value) AS distinct_values FROM metric_labels GROUP BY metric, key),
impact AS (
    SELECT k.metric, k.key AS label, k.distinct_values, count(*) AS series,
           count(*) FILTER (WHERE list_contains(json_keys(s.labels), k.key)) AS series_with_label,
           count(DISTINCT CAST(json_merge_patch(s.labels, json_object(k.key, NULL)) AS VARCHAR)) AS series_if_dropped,
           count(DISTINCT CAST(json_merge_patch(s.labels, json_object(k.key, NULL)) AS VARCHAR))
               FILTER (WHERE list_contains(json_keys(s.labels), k.key)) AS label_sets_without_it
    FROM keys k JOIN series s ON s.metric = k.metric
    GROUP BY k.metric, k.key, k.distinct_values),
active AS (
    SELECT metric, count(DISTINCT series_hash) AS active
    FROM metric_samples
    GROUP BY metric, time_bucket(to_minutes(CAST(coalesce($active_window_min, 20) AS INTEGER)),
                                 coalesce(time, TIMESTAMPTZ '1970-01-01 00:00:00+00'))),
billed AS (
    SELECT metric, quantile_disc(active, CAST(coalesce($active_quantile, 0.95) AS DOUBLE)) AS billed_series
    FROM active GROUP BY metric),
priced AS (
    SELECT i.*, b.billed_series, b.billed_series / i.series AS active_factor,
           coalesce($per_1k_series, 0) / 1000.0 AS per_series
    FROM impact i JOIN billed b USING (metric))
SELECT metric, label, distinct_values, series, series_with_label, series_if_dropped, billed_series,
       billed_series * per_series AS metric_cost_month,
       (series - series_if_dropped) * active_factor * per_series AS cost_due_to_label_month,
       (series - series_if_dropped) * active_factor * per_series AS saving_if_dropped,
       CAST(0 AS DOUBLE) AS saving_if_hashed,
       greatest(series_with_label
                - least(series_with_label, label_sets_without_it * least(distinct_values, coalesce($bucket_count, 10))), 0)
           * active_factor * per_series AS saving_if_bucketed
FROM priced
ORDER BY cost_due_to_label_month DESC, metric, label
LIMIT coalesce($top_n, 9223372036854775807)
