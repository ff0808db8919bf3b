-- Top-N offenders across signals, with no top-10 cap: attribute keys ranked by distinct values,
-- with metric labels ranked by the series they are responsible for.
-- Params: $top_n (rows; NULL = all). Empty: no attributes in the case.
-- @needs: attribute_value_counts
-- @engines: duckdb
-- @not-spark: reads the view metric_label_impact, whose DuckDB definition does not transpile or run on Spark
WITH attrs AS (
    SELECT signal, NULL AS metric, key, count(value) AS distinct_values,
           NULL::BIGINT AS series_due, CAST(sum(bytes) AS BIGINT) AS bytes, CAST(sum(occurrences) AS BIGINT) AS occurrences
    FROM attribute_value_counts WHERE signal <> 'metrics' GROUP BY signal, key
),
labels AS (
    SELECT 'metrics' AS signal, metric, label AS key, distinct_values,
           series - series_if_dropped AS series_due, bytes, NULL::BIGINT AS occurrences
    FROM metric_label_impact
)
SELECT row_number() OVER (ORDER BY coalesce(series_due, distinct_values) DESC, distinct_values DESC,
                                   signal, metric, key) AS rank,
       signal, metric, key, distinct_values, series_due, occurrences, bytes
FROM (SELECT * FROM attrs WHERE signal <> 'metrics' UNION ALL SELECT * FROM labels)
ORDER BY rank
LIMIT coalesce($top_n, 9223372036854775807)
