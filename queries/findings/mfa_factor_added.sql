-- A multi-factor authentication factor enrolled or registered (Okta user.mfa.factor.activate, Entra ID
-- "User registered security info", Google Workspace 2-step enrolment): after a phished sign-in the
-- attacker adds a factor of their own to keep access (MITRE T1556.006, T1098.005). High when the person
-- had signed in before (in other sessions) but never from the enrolment's address; otherwise medium,
-- since people enrol new phones too. Parameters: none. Non-empty: each row is one enrolment.
-- @severity: medium
-- @technique: T1556.006, T1098.005
-- @title: MFA factor added to an account
-- @engines: duckdb
-- @not-spark: list_filter over structs is not mapped
WITH enrol AS (
    SELECT e.* FROM events e
    WHERE e.outcome = 'success' AND e.action IS NOT NULL
      AND (lower(e.action) IN ('user.mfa.factor.activate', 'user.mfa.factor.update', 'system.mfa.factor.activate',
                               'user registered security info', 'user registered all required security info',
                               'register security info', 'update user security info', 'enroll')
           OR lower(e.action) LIKE '%2sv_enroll%' OR lower(e.action) LIKE '%mfa%enrol%')
)
SELECT n.event_id AS group_key, NULL AS rule_id, n.time, n.time AS "end",
       CASE WHEN n.src_ip IS NOT NULL
                 AND EXISTS (SELECT 1 FROM events a WHERE a.actor = n.actor AND a.time < n.time
                               AND a.category = 'authentication' AND a.credential_id IS DISTINCT FROM n.credential_id)
                 AND NOT EXISTS (SELECT 1 FROM events a WHERE a.actor = n.actor AND a.src_ip = n.src_ip
                                   AND a.time < n.time AND a.category = 'authentication'
                                   AND a.credential_id IS DISTINCT FROM n.credential_id)
            THEN 'high' END AS severity,
       'MFA factor added for ' || coalesce(n.actor, '?') || coalesce(' from ' || n.src_ip, '') AS title,
       n.action || ' by ' || coalesce(n.actor, '?') || coalesce(' from ' || n.src_ip, '')
           || coalesce(' in session ' || n.credential_id, '') || ' at ' || strftime(n.time, '%Y-%m-%dT%H:%M:%SZ')
           || coalesce(' (' || n.source || ')', '') AS summary,
       NULL AS technique,
       list_filter([struct_pack(kind := 'actor', id := n.actor), struct_pack(kind := 'ip', id := n.src_ip),
                    struct_pack(kind := 'credential', id := n.credential_id)], lambda x: x.id IS NOT NULL) AS entities,
       [struct_pack(kind := 'event', id := n.event_id)] AS evidence,
       1 AS matches,
       json_object('action', n.action) AS attributes
FROM enrol n
