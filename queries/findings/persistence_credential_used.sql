-- A key created for another identity (iam:CreateAccessKey by someone else, the persistence move) is
-- then used: the backdoor is exercised. Critical while the key is still not revoked.
-- Parameters: none. Non-empty: each row is one such key, with its uses.
-- @severity: high
-- @technique: T1078.004
-- @title: Persistence key used
-- @engines: duckdb
-- @not-spark: a time inside json_object: DuckDB writes '2026-03-14 09:33:00+00', Spark's to_json ISO 8601
WITH made AS (
    SELECT l.credential_id, l.issuer_principal, l.principal, l.issued_at, l.event_id
    FROM credential_links l
    WHERE l.how ILIKE '%CreateAccessKey%' AND l.issuer_principal IS DISTINCT FROM l.principal
)
SELECT m.credential_id AS group_key, NULL AS rule_id, min(e.time) AS time, max(e.time) AS "end",
       CASE WHEN any_value(c.revoked_at) IS NULL AND bool_or(e.outcome = 'success') THEN 'critical' END AS severity,
       'Key ' || m.credential_id || ' created by another identity was used from ' || string_agg(DISTINCT coalesce(e.src_ip, '?'), ', ')
           AS title,
       m.credential_id || ' of ' || coalesce(m.principal, '?') || ' was created by ' || coalesce(m.issuer_principal, '?') || ' at '
           || strftime(m.issued_at, '%Y-%m-%dT%H:%M:%SZ') || ' and used ' || count(*) || ' time(s) ('
           || string_agg(DISTINCT e.action, ', ') || '); ' || CASE WHEN any_value(c.revoked_at) IS NULL THEN 'never revoked'
           ELSE 'revoked ' || strftime(any_value(c.revoked_at), '%Y-%m-%dT%H:%M:%SZ') END AS summary,
       NULL AS technique,
       list_filter([struct_pack(kind := 'credential', id := m.credential_id), struct_pack(kind := 'actor', id := m.principal)]
                   || list(DISTINCT struct_pack(kind := 'ip', id := e.src_ip)), lambda x: x.id IS NOT NULL) AS entities,
       [struct_pack(kind := 'event', id := m.event_id)]
           || list(struct_pack(kind := 'event', id := e.event_id) ORDER BY e.time, e.event_id)[1:500] AS evidence,
       count(*) AS matches,
       json_object('created_by', m.issuer_principal, 'created_at', m.issued_at) AS attributes
FROM made m JOIN events e ON e.credential_id = m.credential_id AND e.event_id <> m.event_id
LEFT JOIN credentials c ON c.credential_id = m.credential_id
GROUP BY m.credential_id, m.principal, m.issuer_principal, m.issued_at, m.event_id
