-- A temporary credential minted (AssumeRole, GetSessionToken, GetFederationToken) by a long-lived
-- key calling from an address that key had never used: the attacker pivots from a stolen key into a
-- role (MITRE T1550.001 / T1078.004).
-- Parameters: $min_prior (uses before the new address that make a history; default 2).
-- Non-empty: each row is one minting call, with the credential it minted.
-- @severity: high
-- @technique: T1078.004, T1550.001
-- @title: Role session minted by a key from a new address
-- @engines: duckdb
-- @not-spark: a time inside json_object: DuckDB writes '2026-03-14 09:33:00+00', Spark's to_json ISO 8601
WITH uses AS (
    SELECT e.credential_id, e.src_ip, e.time, e.event_id,
           count(*) OVER (PARTITION BY e.credential_id ORDER BY e.time, e.event_id
                          ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prior
    FROM events e JOIN credentials c ON c.credential_id = e.credential_id
    WHERE c.kind = 'aws_access_key' AND e.src_ip IS NOT NULL AND c.distinct_src_ips >= 2
      AND e.credential_id IN (SELECT credential_id FROM events WHERE source = 'cloudtrail'
                              AND action IN ('sts:AssumeRole', 'sts:GetSessionToken', 'sts:GetFederationToken'))
), firsts AS (
    SELECT credential_id, src_ip, min(time) AS first_time, arg_min(prior, time) AS prior_uses
    FROM uses GROUP BY ALL
)
SELECT m.event_id AS group_key, NULL AS rule_id, m.time, m.time AS "end", NULL AS severity,
       m.action || ' by ' || m.credential_id || ' from new address ' || m.src_ip
           || coalesce(' minted ' || l.credential_id, '') AS title,
       'key ' || m.credential_id || ' (' || coalesce(m.actor, '?') || '), first seen from ' || m.src_ip || ' at '
           || strftime(f.first_time, '%Y-%m-%dT%H:%M:%SZ') || ' after ' || f.prior_uses || ' uses elsewhere, called '
           || m.action || coalesce(' on ' || m.target, '') || coalesce('; it minted ' || l.credential_id || ' acting as '
           || l.principal, '') AS summary,
       NULL AS technique,
       list_filter([struct_pack(kind := 'credential', id := m.credential_id), struct_pack(kind := 'ip', id := m.src_ip),
                    struct_pack(kind := 'actor', id := m.actor), struct_pack(kind := 'credential', id := l.credential_id),
                    struct_pack(kind := 'actor', id := l.principal), struct_pack(kind := 'resource', id := m.target)],
                   lambda x: x.id IS NOT NULL) AS entities,
       [struct_pack(kind := 'event', id := m.event_id)] AS evidence,
       1 AS matches,
       json_object('minted', l.credential_id, 'expires_at', l.expires_at) AS attributes
FROM events m
JOIN firsts f ON f.credential_id = m.credential_id AND f.src_ip = m.src_ip
LEFT JOIN credential_links l ON l.event_id = m.event_id
WHERE m.source = 'cloudtrail' AND m.outcome = 'success'
  AND m.action IN ('sts:AssumeRole', 'sts:GetSessionToken', 'sts:GetFederationToken')
  AND f.prior_uses >= coalesce($min_prior, 2)
