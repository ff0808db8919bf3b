-- Keys whose values look unbounded: the share of each key's distinct values that look like UUIDs,
-- emails, IP addresses, timestamps, URLs or paths carrying ids (in a path segment: url_with_id; in
-- a query string or fragment: url_with_query), long hex ids or numeric ids.
-- A key is flagged when at least $min_share (fraction, default 0.5) of at least $min_distinct
-- (default 10) distinct values match one pattern.
-- Params: $signal (NULL = all), $min_share, $min_distinct.
-- Rows: every key with a pattern match, flagged ones first. Non-empty flagged rows: these keys
-- should be dropped, hashed or bucketed before they reach a metrics label or an index.
-- @needs: attribute_value_counts
-- @engines: duckdb, spark
WITH d AS (
    SELECT signal, key, value FROM attribute_value_counts
    WHERE value IS NOT NULL AND ($signal IS NULL OR signal = $signal)
),
classified AS (
    SELECT signal, key, value,
           CASE
               WHEN regexp_full_match(value, '(?i)(urn:uuid:)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}') THEN 'uuid'
               WHEN regexp_full_match(value, '[^@\s<>]+@[^@\s<>]+\.[A-Za-z]{2,}') THEN 'email'
               WHEN regexp_full_match(value, '((25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])(:[0-9]{1,5})?')
                    OR (regexp_full_match(value, '\[?[0-9A-Fa-f:.]+\]?(:[0-9]{1,5})?') AND value LIKE '%:%:%') THEN 'ip'
               WHEN regexp_full_match(value, '[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}.*)?')
                    OR regexp_full_match(value, '1[0-9]{9}([0-9]{3}){0,3}(\.[0-9]+)?') THEN 'timestamp'
               WHEN (regexp_matches(value, '^(?i)[a-z][a-z0-9+.-]*://') OR starts_with(value, '/'))
                    AND regexp_matches(value, '(?i)/[^/?#]*([0-9]{3,}|[0-9a-f]{16,}|[0-9a-f]{8}-[0-9a-f]{4})[^/?#]*') THEN 'url_with_id'
               -- a URL (or path) with a query string or fragment: its parameters carry ids, search
               -- terms, tokens, so its values are as unbounded as what callers send
               WHEN (regexp_matches(value, '^(?i)[a-z][a-z0-9+.-]*://') OR starts_with(value, '/'))
                    AND regexp_matches(value, '[?#][^=&#]*=|[?#].') THEN 'url_with_query'
               WHEN regexp_full_match(value, '(?i)(0x)?[0-9a-f]{16,}') THEN 'hex_id'
               WHEN regexp_full_match(value, '[A-Za-z]{0,16}[-_:.]?[0-9]{4,}') THEN 'numeric_id'
           END AS pattern
    FROM d
),
per_pattern AS (
    SELECT signal, key, pattern, count(*) AS n,
           sum(count(*)) OVER (PARTITION BY signal, key) AS distinct_values,
           row_number() OVER (PARTITION BY signal, key ORDER BY count(*) DESC, pattern) AS rk
    FROM classified WHERE pattern IS NOT NULL GROUP BY signal, key, pattern
),
totals AS (SELECT signal, key, count(*) AS distinct_values FROM classified GROUP BY signal, key)
SELECT t.signal, t.key, t.distinct_values, p.pattern, p.n AS matching_values,
       round(100.0 * p.n / t.distinct_values, 1) AS pattern_share_pct,
       (p.n >= coalesce($min_share, 0.5) * t.distinct_values
        AND t.distinct_values >= coalesce($min_distinct, 10)) AS unbounded,
       p.pattern IN ('email', 'ip') AS personal_data
FROM totals t JOIN per_pattern p ON p.signal = t.signal AND p.key = t.key AND p.rk = 1
ORDER BY unbounded DESC, t.distinct_values DESC, t.signal, t.key
