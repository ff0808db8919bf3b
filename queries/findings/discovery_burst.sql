-- Cloud discovery: one credential enumerating the account from a program (not the console): at
-- least $min_actions (default 10) distinct List/Describe/Get calls across at least two services
-- within one hour, or a call that dumps the account's identity configuration
-- (GetAccountAuthorizationDetails, GetCredentialReport). What an attacker does first with a new key
-- (Pacu, ScoutSuite, Stratus Red Team), and what a mapping script does too: medium.
-- Parameters: $min_actions. Non-empty: each row is one credential-hour of enumeration.
-- @severity: medium
-- @technique: T1580, T1087.004
-- @title: Account enumeration
-- @engines: duckdb
-- @not-spark: list slicing x[a:b] on a column is not mapped (list or text is not known before run time)
WITH calls AS (
    SELECT e.*, raw ->> '$.eventName' AS name, split_part(raw ->> '$.eventSource', '.', 1) AS svc,
           time_bucket(INTERVAL 1 HOUR, e.time) AS hour
    FROM events e
    WHERE e.source = 'cloudtrail' AND e.credential_id IS NOT NULL
      AND regexp_matches(raw ->> '$.eventName', '^(List|Describe|Get)')
      AND coalesce(e.user_agent, '') NOT ILIKE '%console%' AND coalesce(e.user_agent, '') <> 'AWS Internal'
      AND coalesce(e.src_ip, '') NOT LIKE '%.amazonaws.com'
), g AS (
    SELECT credential_id, hour, any_value(actor) AS actor, min(time) AS t0, max(time) AS t1, count(*) AS n,
           count(DISTINCT name) AS actions, count(DISTINCT svc) AS services,
           bool_or(name IN ('GetAccountAuthorizationDetails', 'GetCredentialReport')) AS dump,
           list(DISTINCT name ORDER BY name) AS names, list(DISTINCT src_ip) AS ips,
           list(struct_pack(kind := 'event', id := event_id) ORDER BY time, event_id)[1:500] AS evidence
    FROM calls GROUP BY credential_id, hour
)
SELECT credential_id || '|' || strftime(hour, '%Y-%m-%dT%H') AS group_key, NULL AS rule_id, t0 AS time, t1 AS "end",
       NULL AS severity,
       coalesce(actor, credential_id) || ' enumerated the account (' || actions || ' kinds of call, ' || services || ' services)'
           AS title,
       n || ' calls with ' || credential_id || ' from ' || array_to_string(ips, ', ') || ': '
           || array_to_string(names[1:15], ', ') || CASE WHEN len(names) > 15 THEN ', …' ELSE '' END AS summary,
       NULL AS technique,
       list_filter([struct_pack(kind := 'credential', id := credential_id), struct_pack(kind := 'actor', id := actor)]
                   || [struct_pack(kind := 'ip', id := i) for i in ips], lambda x: x.id IS NOT NULL) AS entities,
       evidence, n AS matches,
       json_object('actions', names, 'services', services) AS attributes
FROM g
WHERE (actions >= coalesce($min_actions, 10) AND services >= 2) OR dump
