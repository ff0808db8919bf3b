-- Partial revocation: a credential was revoked but a credential minted from it (directly or down a
-- chain: AssumeRole sessions, keys created with those sessions) was not. The responder closed one
-- door and left the one the attacker made. Critical when the survivor is used after the revocation.
-- Parameters: none. Non-empty: each row is one surviving credential, with its revoked ancestors.
-- @severity: high
-- @technique: T1098.001
-- @title: Revocation left a derived credential alive
-- @engines: duckdb
-- @not-spark: a recursive CTE with UNION (not UNION ALL) is not supported by Spark
WITH RECURSIVE anc(credential_id, ancestor, depth) AS (
    SELECT credential_id, issued_by, 1 FROM credential_links WHERE issued_by IS NOT NULL
    UNION
    SELECT a.credential_id, l.issued_by, a.depth + 1
    FROM anc a JOIN credential_links l ON l.credential_id = a.ancestor
    WHERE l.issued_by IS NOT NULL AND a.depth < 10
), hit AS (
    SELECT s.credential_id, s.principal, s.kind, list(DISTINCT r.credential_id ORDER BY r.credential_id) AS revoked,
           min(r.revoked_at) AS first_revoked, list(DISTINCT r.revoked_event_id) AS revoke_events
    FROM anc a
    JOIN credentials r ON r.credential_id = a.ancestor AND r.revoked_at IS NOT NULL
    JOIN credentials s ON s.credential_id = a.credential_id AND s.revoked_at IS NULL
    WHERE s.expires_at IS NULL OR s.expires_at > r.revoked_at
    GROUP BY s.credential_id, s.principal, s.kind
), later AS (
    SELECT h.credential_id, count(e.event_id) AS uses, list(e.event_id ORDER BY e.time)[1:200] AS use_events
    FROM hit h LEFT JOIN events e ON e.credential_id = h.credential_id AND e.time > h.first_revoked
    GROUP BY h.credential_id
)
SELECT h.credential_id AS group_key, NULL AS rule_id, h.first_revoked AS time, h.first_revoked AS "end",
       CASE WHEN l.uses > 0 THEN 'critical' END AS severity,
       h.credential_id || ' survived the revocation of ' || array_to_string(h.revoked, ', ') AS title,
       h.kind || ' ' || h.credential_id || ' (' || coalesce(h.principal, '?') || ') was minted from '
           || array_to_string(h.revoked, ', ') || ', revoked from ' || strftime(h.first_revoked, '%Y-%m-%dT%H:%M:%SZ')
           || ', and was never revoked; used ' || l.uses || ' time(s) since' AS summary,
       NULL AS technique,
       list_filter([struct_pack(kind := 'credential', id := h.credential_id), struct_pack(kind := 'actor', id := h.principal)]
                   || [struct_pack(kind := 'credential', id := c) for c in h.revoked], lambda x: x.id IS NOT NULL) AS entities,
       list_filter([struct_pack(kind := 'event', id := i) for i in h.revoke_events]
                   || [struct_pack(kind := 'event', id := i) for i in l.use_events], lambda x: x.id IS NOT NULL) AS evidence,
       len(h.revoked) AS matches,
       json_object('revoked_ancestors', h.revoked, 'uses_after', l.uses) AS attributes
FROM hit h JOIN later l USING (credential_id)
