-- Denominator: uses of revoked credentials. One row per event that carries a credential the case
-- saw revoked (before or after its revocation; the revocation event itself excluded).
-- @title: uses of revoked credentials
-- @engines: duckdb, spark
SELECT e.time, e.event_id AS item
FROM credentials c JOIN events e ON e.credential_id = c.credential_id
WHERE c.revoked_at IS NOT NULL AND e.event_id IS DISTINCT FROM c.revoked_event_id
