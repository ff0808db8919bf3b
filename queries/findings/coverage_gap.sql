-- An unexplained gap in a source's coverage: a source with at least 200 events goes silent for at
-- least 30 minutes and at least 50 times its mean gap between events. Logs that stop are what an
-- attacker who disabled logging leaves, and what a broken shipper leaves: either way the case cannot
-- see that window. Events are first counted per minute, so the window runs over minutes, not events.
-- Parameters: none. Non-empty: each row is one silent window of one source; evidence is the events
-- on either side.
-- @severity: low
-- @technique: T1562.008
-- @title: Gap in log coverage
-- @engines: duckdb
-- @not-spark: date_diff/date_trunc over an interval value has no Spark form
WITH s AS (
    SELECT source, (max(time) - min(time)) / count(*) AS typical FROM events GROUP BY source HAVING count(*) >= 200
), b AS (
    SELECT e.source, time_bucket(INTERVAL 1 MINUTE, e.time) AS minute, min(e.time) AS t0, max(e.time) AS t1,
           arg_max(e.event_id, e.time) AS last_id, arg_min(e.event_id, e.time) AS first_id
    FROM events e WHERE e.source IN (SELECT source FROM s) GROUP BY ALL
), g AS (
    SELECT source, t1 AS time, last_id AS event_id, lead(t0) OVER w AS next_time, lead(first_id) OVER w AS next_id
    FROM b WINDOW w AS (PARTITION BY source ORDER BY minute)
)
SELECT g.source || '|' || strftime(g.time, '%Y-%m-%dT%H:%M:%S') AS group_key, NULL AS rule_id, g.time, g.next_time AS "end",
       NULL AS severity,
       g.source || ' silent for ' || CAST(date_trunc('minute', g.next_time - g.time) AS VARCHAR) AS title,
       'no ' || g.source || ' event from ' || strftime(g.time, '%Y-%m-%dT%H:%M:%SZ') || ' to '
           || strftime(g.next_time, '%Y-%m-%dT%H:%M:%SZ') || ' (mean gap ' || CAST(s.typical AS VARCHAR) || ')' AS summary,
       NULL AS technique,
       [struct_pack(kind := 'resource', id := 'source:' || g.source)] AS entities,
       [struct_pack(kind := 'event', id := g.event_id), struct_pack(kind := 'event', id := g.next_id)] AS evidence,
       1 AS matches,
       json_object('mean_gap', CAST(s.typical AS VARCHAR)) AS attributes
FROM g JOIN s USING (source)
WHERE g.next_time - g.time >= INTERVAL 30 MINUTE AND g.next_time - g.time >= 50 * s.typical
