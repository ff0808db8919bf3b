-- A person's identity-provider sign-in (Okta, Entra ID, Google Workspace, or any source whose events
-- are of category 'authentication') from an address that person had not signed in from before, after
-- a history from other addresses: the shape of a phished session replayed through an adversary-in-the-
-- middle proxy (MITRE T1557, T1078.004). Most cloud intrusions start here. High when the same address
-- also acts as another identity or credential in the case (one operator behind both), else medium.
-- Parameters: $min_prior (successful sign-ins from other addresses that make a history; default 1).
-- Non-empty: each row is one (person, new address) pair, with every event from that address.
-- @severity: medium
-- @technique: T1078.004, T1557
-- @title: Identity-provider sign-in from a new address
-- @engines: duckdb
-- @not-spark: list slicing of an aggregate and list_filter over structs are not mapped
WITH auth AS (
    SELECT e.actor, e.src_ip, e.time, e.event_id, e.credential_id, e.source,
           count(*) OVER (PARTITION BY e.actor ORDER BY e.time, e.event_id
                          ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prior
    FROM events e
    WHERE e.category = 'authentication' AND e.outcome = 'success' AND e.actor IS NOT NULL
      AND e.src_ip IS NOT NULL AND regexp_matches(e.src_ip, '^[0-9a-fA-F:.]+$')
), pairs AS (
    SELECT actor, src_ip, min(time) AS first_time, max(time) AS last_time, count(*) AS n,
           arg_min(prior, time) AS prior_signins, list(DISTINCT credential_id) AS sessions,
           any_value(source) AS source, list(event_id ORDER BY time, event_id)[1:500] AS event_ids
    FROM auth GROUP BY actor, src_ip
), known AS (
    -- addresses each person had used before: a new pair needs earlier sign-ins from elsewhere
    SELECT p.actor, p.src_ip, count(DISTINCT a.src_ip) AS other_addresses
    FROM pairs p JOIN auth a ON a.actor = p.actor AND a.src_ip <> p.src_ip AND a.time < p.first_time
    GROUP BY ALL
), shared AS (
    -- the same address acting as someone else, or with another credential, anywhere in the case
    SELECT p.actor, p.src_ip, list(DISTINCT e.actor) FILTER (WHERE e.actor IS NOT NULL AND e.actor <> p.actor) AS others
    FROM pairs p JOIN events e ON e.src_ip = p.src_ip
    GROUP BY ALL
)
SELECT p.actor || '|' || p.src_ip AS group_key, NULL AS rule_id, p.first_time AS time, p.last_time AS "end",
       CASE WHEN len(coalesce(s.others, [])) > 0 THEN 'high' END AS severity,
       'Sign-in of ' || p.actor || ' from new address ' || p.src_ip AS title,
       p.actor || ' signed in ' || p.n || ' time(s) from ' || p.src_ip || ' from '
           || strftime(p.first_time, '%Y-%m-%dT%H:%M:%SZ') || ' (' || p.source || '), after ' || p.prior_signins
           || ' sign-in(s) from ' || k.other_addresses || ' other address(es)'
           || CASE WHEN len(coalesce(s.others, [])) > 0
                   THEN '; the same address also acts as ' || array_to_string(s.others[1:5], ', ') ELSE '' END
           AS summary,
       NULL AS technique,
       list_filter([struct_pack(kind := 'actor', id := p.actor), struct_pack(kind := 'ip', id := p.src_ip)]
                   || [struct_pack(kind := 'credential', id := x) FOR x IN coalesce(p.sessions, [])],
                   lambda x: x.id IS NOT NULL) AS entities,
       [struct_pack(kind := 'event', id := x) FOR x IN p.event_ids] AS evidence,
       p.n AS matches,
       json_object('prior_signins', p.prior_signins, 'other_addresses', k.other_addresses,
                   'also_acts_as', s.others) AS attributes
FROM pairs p
JOIN known k USING (actor, src_ip)
LEFT JOIN shared s USING (actor, src_ip)
WHERE p.prior_signins >= coalesce($min_prior, 1)
