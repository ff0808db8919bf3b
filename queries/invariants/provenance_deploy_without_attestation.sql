-- Invariant: every digest deployed successfully is named by at least one attestation.
-- Params: none. A row is a deploy (or rollback) of a digest that no attestation in the case names:
-- the code that ran has no provenance. Deploys with no digest are listed too (nothing to check).
SELECT d.time, d.service, d.environment, d.artifact_digest, d.version, d.actor, d.via, d.action, d.source,
       CASE WHEN d.artifact_digest IS NULL THEN 'deploy record names no artifact digest, so no provenance can be joined'
            ELSE 'no attestation names digest ' || d.artifact_digest || ' (deployed by ' || coalesce(d.actor, '?')
                 || ' via ' || coalesce(d.via, '?') || ')' END AS reason,
       d.deploy_id, d.evidence_sha256, d.evidence_record
FROM deploys d
WHERE d.status = 'success' AND d.action IN ('deploy', 'rollback')
  AND (d.artifact_digest IS NULL
       OR NOT EXISTS (SELECT 1 FROM attestations a WHERE a.subject_digest = lower(d.artifact_digest)))
ORDER BY d.time
