-- Series cost of metrics per label ($per_1k_series per 1,000 active series per month; every series
-- seen in the case counts as active), and the saving if the label were dropped, hashed (no saving:
-- one series per distinct hash) or bucketed into at most $bucket_count values (default 10).
-- Params: $per_1k_series, $bucket_count, $top_n (NULL = all).
-- Empty: no labelled metric samples.
SELECT metric, label, distinct_values, series, series_if_dropped,
       series / 1000.0 * coalesce($per_1k_series, 0) AS metric_cost_month,
       (series - series_if_dropped) / 1000.0 * coalesce($per_1k_series, 0) AS cost_due_to_label_month,
       (series - series_if_dropped) / 1000.0 * coalesce($per_1k_series, 0) AS saving_if_dropped,
       CAST(0 AS DOUBLE) AS saving_if_hashed,
       greatest(series - series_if_dropped * least(distinct_values, coalesce($bucket_count, 10)), 0)
           / 1000.0 * coalesce($per_1k_series, 0) AS saving_if_bucketed
FROM metric_label_impact
ORDER BY cost_due_to_label_month DESC, metric, label
LIMIT coalesce($top_n, 9223372036854775807)
