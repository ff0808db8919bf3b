-- An EC2 instance-role session (a role session named after the instance, i-...) used from outside
-- the instance: from a desktop client (user agent naming macOS or Windows) or from an address that a
-- person (an IAM user or console session) also uses in the case. This is the IMDS credential theft
-- of the Capital One breach (MITRE T1552.005), which GuardDuty calls
-- InstanceCredentialExfiltration.OutsideAWS. AWS's published ranges are not read (offline first).
-- Parameters: none. Non-empty: each row is one (session, address) pair, with its events.
-- @severity: critical
-- @technique: T1552.005, T1078.004
-- @title: Instance credential used outside its instance
-- @engines: duckdb
-- @not-spark: fails inside Spark 4.3 at run time (a broadcast join's error); not yet investigated
WITH people AS (
    SELECT DISTINCT src_ip FROM events
    WHERE source = 'cloudtrail' AND actor_type IN ('IAMUser', 'Root') AND src_ip IS NOT NULL
), uses AS (
    SELECT e.* FROM events e
    WHERE e.source = 'cloudtrail' AND regexp_matches(e.actor, ':assumed-role/[^/]+/i-[0-9a-f]{8,17}$')
      AND e.src_ip IS NOT NULL AND e.src_ip <> 'AWS Internal' AND e.src_ip NOT LIKE '%.amazonaws.com'
      AND (regexp_matches(coalesce(e.user_agent, ''), '(Darwin|Windows|Mac OS X|Macintosh)')
           OR e.src_ip IN (SELECT src_ip FROM people))
)
SELECT coalesce(credential_id, actor) || '|' || src_ip AS group_key, NULL AS rule_id, min(time) AS time,
       max(time) AS "end", NULL AS severity,
       'Instance role session ' || regexp_extract(any_value(actor), 'assumed-role/(.*)$', 1) || ' used from ' || src_ip AS title,
       'the instance credential ' || coalesce(credential_id, '?') || ' of ' || any_value(actor) || ' made ' || count(*)
           || ' calls from ' || src_ip || ' (' || string_agg(DISTINCT action, ', ' ORDER BY action) || ') with '
           || coalesce(any_value(user_agent), 'no user agent') AS summary,
       NULL AS technique,
       list_filter([struct_pack(kind := 'credential', id := credential_id), struct_pack(kind := 'ip', id := src_ip),
                    struct_pack(kind := 'actor', id := any_value(actor))], lambda x: x.id IS NOT NULL) AS entities,
       list(struct_pack(kind := 'event', id := event_id) ORDER BY time, event_id)[1:500] AS evidence,
       count(*) AS matches,
       json_object('actions', list(DISTINCT action ORDER BY action)) AS attributes
FROM uses GROUP BY credential_id, actor, src_ip
