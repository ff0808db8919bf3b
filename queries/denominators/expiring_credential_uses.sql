-- Denominator: uses of credentials that have an expiry. One row per event carrying such a credential.
-- @title: uses of credentials with an expiry
-- @engines: duckdb, spark
SELECT e.time, e.event_id AS item
FROM credentials c JOIN events e ON e.credential_id = c.credential_id
WHERE c.expires_at IS NOT NULL
