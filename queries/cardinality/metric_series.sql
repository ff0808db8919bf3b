-- Per metric: samples, series (= distinct label sets), and the label responsible for most of them:
-- the one whose removal would collapse the most series, with the series left if it were dropped.
-- Params: $top_n (rows; NULL = all, no cap).
-- Empty: no metric samples in the case.
-- @engines: duckdb
-- @not-spark: reads the view metric_label_impact, whose DuckDB definition does not transpile or run on Spark
WITH per_metric AS (
    SELECT metric, any_value(family) AS family, any_value(type) AS type,
           count(*) AS samples, count(DISTINCT series_hash) AS series,
           CAST(sum(sample_bytes) AS BIGINT) AS bytes, min(time) AS first_seen, max(time) AS last_seen
    FROM metric_samples GROUP BY metric
),
top_label AS (
    SELECT metric, label, distinct_values, series_if_dropped,
           row_number() OVER (PARTITION BY metric ORDER BY series_if_dropped, label) AS rk
    FROM metric_label_impact
)
SELECT m.metric, m.family, m.type, m.samples, m.series,
       t.label AS top_label, t.distinct_values AS top_label_values,
       t.series_if_dropped AS series_without_top_label,
       m.series - t.series_if_dropped AS series_due_to_top_label,
       m.bytes, m.first_seen, m.last_seen
FROM per_metric m LEFT JOIN top_label t ON t.metric = m.metric AND t.rk = 1
ORDER BY m.series DESC, m.metric
LIMIT coalesce($top_n, 9223372036854775807)
