-- Was any credential used after its expiry?
-- A use is an event carrying the credential's id later than credentials.expires_at.
-- Parameters: none.
-- Non-empty means: a credential outlived its expiry (successful uses: the expiry is not what the
-- case believes, or the clock is wrong), or someone replays an expired one (failed uses).
-- @denominator: expiring_credential_uses
-- @time: time
-- @engines: duckdb, spark
SELECT c.credential_id, c.kind, c.principal, c.issued_at, c.expires_at,
       e.event_id, e.time, e.action, e.outcome, e.outcome_reason, e.src_ip, e.source,
       e.evidence_sha256, e.evidence_line
FROM credentials c
JOIN events e ON e.credential_id = c.credential_id
WHERE c.expires_at IS NOT NULL
  AND e.time > c.expires_at
ORDER BY e.time, c.credential_id
