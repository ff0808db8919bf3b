-- Per metric and label: distinct values, the series the metric has, the series it would have
-- without this label, and so how many series the label is responsible for.
-- Params: $metric (NULL = all), $top_n (rows; NULL = all, no cap).
-- Ordered by series due to the label, highest first. Empty: no labelled metric samples.
-- @engines: duckdb
-- @not-spark: reads the view metric_label_impact, whose DuckDB definition does not transpile or run on Spark
SELECT metric, label, distinct_values, series, series_if_dropped,
       series - series_if_dropped AS series_due_to_label,
       round(100.0 * (series - series_if_dropped) / greatest(series, 1), 2) AS share_of_series_pct,
       bytes
FROM metric_label_impact
WHERE $metric IS NULL OR metric = $metric
ORDER BY series_due_to_label DESC, distinct_values DESC, metric, label
LIMIT coalesce($top_n, 9223372036854775807)
