-- Invariant: no attestation fails verification.
-- Params: none. A row is an attestation whose verdict is 'failed' (bad signature, broken chain,
-- unexpected signer or builder, artifact digest mismatch), with the verifier's reason.
-- @denominator: attestations
-- @engines: duckdb, spark
SELECT a.attestation_id, any_value(e.path) AS evidence, string_agg(DISTINCT a.subject_digest, ', ') AS digests,
       any_value(a.builder_id) AS builder_id, any_value(a.signer_san) AS signer_san,
       any_value(a.verification_path) AS verification_path, any_value(a.trust_root) AS trust_root,
       'verification failed: ' || any_value(a.verdict_reason) AS reason
FROM attestations a LEFT JOIN evidence e ON e.sha256 = a.evidence_sha256
WHERE a.verdict = 'failed'
GROUP BY a.attestation_id ORDER BY a.attestation_id
