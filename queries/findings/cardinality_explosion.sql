-- A metric label that explodes the series count: at least $min_values (default 50) distinct values
-- and at least 5 times the series the metric would have without it (typically a user or request id
-- put in a label). Costs money and hides the signal; it is also how a bad deploy shows in metrics.
-- Parameters: $min_values. Non-empty: each row is one (metric, label), with the evidence files.
-- @severity: medium
-- @title: Cardinality explosion
-- @engines: duckdb
-- @not-spark: reads the view metric_label_impact, whose DuckDB definition does not transpile or run on Spark
WITH i AS (
    SELECT * FROM metric_label_impact
    WHERE distinct_values >= coalesce($min_values, 50) AND series >= 5 * greatest(series_if_dropped, 1)
), t AS (
    SELECT l.metric, l.key, min(l.time) AS t0, max(l.time) AS t1, list(DISTINCT l.evidence_sha256) AS files
    FROM metric_labels l JOIN i ON i.metric = l.metric AND i.label = l.key GROUP BY l.metric, l.key
), m AS (
    SELECT metric, min(time) AS first_sample FROM metric_samples GROUP BY metric
)
SELECT i.metric || '|' || i.label AS group_key, NULL AS rule_id, t.t0 AS time, t.t1 AS "end", NULL AS severity,
       'Label ' || i.label || ' exploded ' || i.metric || ' to ' || i.series || ' series' AS title,
       'label ' || i.label || ' has ' || i.distinct_values || ' values; ' || i.metric || ' has ' || i.series
           || ' series, ' || i.series_if_dropped || ' without it'
           || CASE WHEN t.t0 > m.first_sample THEN '; the label first appeared at ' || strftime(t.t0, '%Y-%m-%dT%H:%M:%SZ') ELSE '' END
           AS summary,
       NULL AS technique,
       [struct_pack(kind := 'resource', id := 'metric:' || i.metric)] AS entities,
       [struct_pack(kind := 'evidence', id := f) for f in t.files] AS evidence,
       i.series AS matches,
       json_object('label', i.label, 'distinct_values', i.distinct_values, 'series_if_dropped', i.series_if_dropped) AS attributes
FROM i JOIN t ON t.metric = i.metric AND t.key = i.label LEFT JOIN m ON m.metric = i.metric
