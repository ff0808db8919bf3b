-- Was any credential used after it was revoked?
-- A use is an event carrying the credential's id later than credentials.revoked_at (the revocation
-- event itself excluded). A denied attempt is a use too: someone still holds the credential.
-- Parameters: none.
-- Non-empty means: revocation did not end the attacker's access (successful uses), or someone
-- still tries the revoked credential (failed uses); each row is one such use.
-- @denominator: revoked_credential_uses
-- @time: time
-- @engines: duckdb, spark
SELECT c.credential_id, c.kind, c.principal, c.revoked_at, c.revoked_how, c.revoked_event_id,
       e.event_id, e.time, e.action, e.outcome, e.outcome_reason, e.src_ip, e.source,
       e.evidence_sha256, e.evidence_line
FROM credentials c
JOIN events e ON e.credential_id = c.credential_id
WHERE c.revoked_at IS NOT NULL
  AND e.time > c.revoked_at
  AND e.event_id IS DISTINCT FROM c.revoked_event_id
ORDER BY e.time, c.credential_id
