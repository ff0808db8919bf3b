-- The most frequent values of attribute keys (to show what a key holds; values are masked and
-- escaped by forensics.cardinality before display).
-- Params: $signal (NULL = all), $key (NULL = all), $per_key (values per key, default 5).
-- Ties rank by value (NULL last). Empty: no attribute matches.
-- Reads attribute_value_counts (one row per distinct value) and keeps a top-N per key as it
-- goes, so no key's values are sorted in full.
-- @needs: attribute_value_counts
-- @engines: duckdb
-- @not-spark: arg_min(x, y, n) (the n smallest) has no Spark equivalent
WITH top AS (
    SELECT signal, key,
           min_by({'value': value, 'occurrences': occurrences}, {'o': -occurrences, 'v': value},
                  greatest(coalesce($per_key, 5), 1)) AS top
    FROM attribute_value_counts
    WHERE ($signal IS NULL OR signal = $signal) AND ($key IS NULL OR key = $key)
    GROUP BY signal, key
)
SELECT signal, key, t.value, t.occurrences, t.rank
FROM (SELECT signal, key, unnest(list_transform(top, lambda x, i: {'value': x.value, 'occurrences': x.occurrences,
                                                             'rank': CAST(i AS BIGINT)})) AS t
      FROM top)
WHERE t.rank <= coalesce($per_key, 5)
ORDER BY signal, key, t.rank
