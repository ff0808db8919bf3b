-- Invariant: a rollback goes back only to a digest that was verified.
-- Params: none. A row is a successful rollback to a digest with no verified attestation.
-- @denominator: rollbacks
-- @time: time
-- @engines: duckdb, spark
SELECT d.time, d.service, d.environment, d.artifact_digest, d.actor, d.via,
       'rollback to ' || coalesce(d.artifact_digest, '(no digest)') || ', which no verified attestation names' AS reason,
       d.deploy_id, d.evidence_sha256, d.evidence_record
FROM deploys d
WHERE d.action = 'rollback' AND d.status = 'success'
  AND (d.artifact_digest IS NULL OR NOT EXISTS (
        SELECT 1 FROM attestations a WHERE a.subject_digest = lower(d.artifact_digest) AND a.verdict = 'verified'))
ORDER BY d.time
