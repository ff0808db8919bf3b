-- The most frequent values of attribute keys (to show what a key holds; values are masked and
-- escaped by forensics.cardinality before display).
-- Params: $signal (NULL = all), $key (NULL = all), $per_key (values per key, default 5).
-- Empty: no attribute matches.
SELECT signal, key, value, occurrences, rank
FROM (
    SELECT signal, key, value, count(*) AS occurrences,
           row_number() OVER (PARTITION BY signal, key ORDER BY count(*) DESC, value) AS rank
    FROM attribute_values
    WHERE ($signal IS NULL OR signal = $signal) AND ($key IS NULL OR key = $key)
    GROUP BY signal, key, value
)
WHERE rank <= coalesce($per_key, 5)
ORDER BY signal, key, rank
