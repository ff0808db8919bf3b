-- Attestation verdicts: one row per attestation with its subjects, builder, source, signer,
-- verdict, reason, verification path and trust root. Params: none. Non-empty is normal.
-- @engines: duckdb, spark
SELECT a.attestation_id, any_value(e.path) AS evidence, any_value(a.kind) AS kind,
       string_agg(DISTINCT a.subject_name, ', ') AS subjects, string_agg(DISTINCT a.subject_digest, ', ') AS digests,
       any_value(a.predicate_type) AS predicate_type, any_value(a.builder_id) AS builder_id,
       any_value(a.source_repo) AS source_repo, any_value(a.source_commit) AS source_commit,
       any_value(a.signer_san) AS signer_san, any_value(a.signer_issuer) AS signer_issuer,
       any_value(a.rekor_log_index) AS rekor_log_index, any_value(a.rekor_integrated_time) AS rekor_integrated_time,
       any_value(a.verdict) AS verdict, any_value(a.verdict_reason) AS verdict_reason,
       any_value(a.verification_path) AS verification_path, any_value(a.trust_root) AS trust_root,
       any_value(a.artifact_match) AS artifact_match
FROM attestations a LEFT JOIN evidence e ON e.sha256 = a.evidence_sha256
GROUP BY a.attestation_id ORDER BY evidence, a.attestation_id
