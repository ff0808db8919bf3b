-- An unexplained gap in a source's coverage: a source with at least 200 events goes silent for at
-- least 30 minutes and at least 50 times its median gap between events. Logs that stop are what an
-- attacker who disabled logging leaves, and what a broken shipper leaves: either way the case cannot
-- see that window.
-- Parameters: none. Non-empty: each row is one silent window of one source; evidence is the events
-- on either side.
-- @severity: low
-- @technique: T1562.008
-- @title: Gap in log coverage
WITH s AS (
    SELECT source FROM events GROUP BY source HAVING count(*) >= 200
), g AS (
    SELECT e.source, e.event_id, e.time, lead(e.time) OVER w AS next_time, lead(e.event_id) OVER w AS next_id
    FROM events e WHERE e.source IN (SELECT source FROM s)
    WINDOW w AS (PARTITION BY e.source ORDER BY e.time, e.event_id)
), med AS (
    SELECT source, median(next_time - time) AS typical FROM g WHERE next_time IS NOT NULL GROUP BY source
)
SELECT g.source || '|' || strftime(g.time, '%Y-%m-%dT%H:%M:%S') AS group_key, NULL AS rule_id, g.time, g.next_time AS "end",
       NULL AS severity,
       g.source || ' silent for ' || CAST(date_trunc('minute', g.next_time - g.time) AS VARCHAR) AS title,
       'no ' || g.source || ' event from ' || strftime(g.time, '%Y-%m-%dT%H:%M:%SZ') || ' to '
           || strftime(g.next_time, '%Y-%m-%dT%H:%M:%SZ') || ' (typical gap ' || CAST(m.typical AS VARCHAR) || ')' AS summary,
       NULL AS technique,
       [struct_pack(kind := 'resource', id := 'source:' || g.source)] AS entities,
       [struct_pack(kind := 'event', id := g.event_id), struct_pack(kind := 'event', id := g.next_id)] AS evidence,
       1 AS matches,
       json_object('typical_gap', CAST(m.typical AS VARCHAR)) AS attributes
FROM g JOIN med m USING (source)
WHERE g.next_time - g.time >= INTERVAL 30 MINUTE AND g.next_time - g.time >= 50 * m.typical
