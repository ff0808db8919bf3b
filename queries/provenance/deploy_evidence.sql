-- Per-deploy evidence: every deploy record with its attestations (one row per deploy x attestation),
-- verdict and reason, and the evidence file and record each came from.
-- Params: $start, $end (optional TIMESTAMPTZ window, end exclusive), $service (optional).
-- Non-empty is normal; a deploy with attestation_id NULL has no provenance in the case.
-- @engines: duckdb, spark
SELECT d.time, d.service, d.environment, d.version, d.artifact_digest, d.actor, d.via, d.action, d.status,
       d.source AS deploy_source, a.attestation_id, a.predicate_type, a.builder_id, a.source_repo, a.source_commit,
       a.signer_san, a.signer_issuer, a.verdict, a.verdict_reason, a.trust_root, a.artifact_match,
       ed.path AS deploy_evidence, d.evidence_record AS deploy_record, ea.path AS attestation_evidence
FROM deploys d
LEFT JOIN attestations a ON a.subject_digest = lower(d.artifact_digest)
LEFT JOIN evidence ed ON ed.sha256 = d.evidence_sha256
LEFT JOIN evidence ea ON ea.sha256 = a.evidence_sha256
WHERE ($start IS NULL OR d.time >= $start) AND ($end IS NULL OR d.time < $end)
  AND ($service IS NULL OR d.service = $service)
ORDER BY d.time, d.deploy_id, a.attestation_id
