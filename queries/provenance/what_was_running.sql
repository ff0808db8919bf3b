-- What was running: one row per service x environment x rollout lane x interval, with the running
-- digest, who deployed it, how and when, and the best attestation evidence for that digest.
-- Params: $at (optional TIMESTAMPTZ: only the intervals live at that instant), $service (optional).
-- An interval starts at a successful deploy or rollback and ends at the next one in the same lane
-- (until NULL: still running at the end of the evidence). verdict: verified if any attestation of
-- the digest verified, else failed if any failed, else indeterminate; 'no attestation' when none
-- names the digest. Non-empty is normal; read it as the answer.
-- @engines: duckdb
-- @not-spark: list slicing x[a:b] on a column is not mapped (list or text is not known before run time)
WITH d AS (
    SELECT * FROM deploys
    WHERE status = 'success' AND action IN ('deploy', 'rollback') AND service IS NOT NULL
), iv AS (
    SELECT d.*, lead(time) OVER (PARTITION BY service, environment, instance ORDER BY time, deploy_id) AS until
    FROM d
), att AS (
    SELECT subject_digest,
           count(DISTINCT attestation_id) AS attestations,
           CASE WHEN bool_or(verdict = 'verified') THEN 'verified'
                WHEN bool_or(verdict = 'failed') THEN 'failed' ELSE 'indeterminate' END AS verdict,
           arg_max(verdict_reason, CASE verdict WHEN 'verified' THEN 3 WHEN 'failed' THEN 2 ELSE 1 END) AS verdict_reason,
           arg_max(builder_id, CASE verdict WHEN 'verified' THEN 3 WHEN 'failed' THEN 2 ELSE 1 END) AS builder_id,
           arg_max(source_repo, CASE verdict WHEN 'verified' THEN 3 WHEN 'failed' THEN 2 ELSE 1 END) AS source_repo,
           arg_max(source_commit, CASE verdict WHEN 'verified' THEN 3 WHEN 'failed' THEN 2 ELSE 1 END) AS source_commit,
           arg_max(trust_root, CASE verdict WHEN 'verified' THEN 3 WHEN 'failed' THEN 2 ELSE 1 END) AS trust_root,
           arg_max(signer_san, CASE verdict WHEN 'verified' THEN 3 WHEN 'failed' THEN 2 ELSE 1 END) AS signer
    FROM attestations WHERE subject_digest IS NOT NULL
    GROUP BY subject_digest
)
SELECT iv.service, iv.environment, iv.instance, iv.time AS since, iv.until, iv.artifact_digest, iv.version,
       iv.actor AS deployed_by, iv.via, iv.action, iv.source AS deploy_source,
       coalesce(att.attestations, 0) AS attestations,
       coalesce(att.verdict, 'no attestation') AS verdict,
       coalesce(att.verdict_reason, CASE WHEN iv.artifact_digest IS NULL THEN 'the deploy record names no digest'
                                         ELSE 'no attestation in the case names this digest' END) AS verdict_reason,
       att.builder_id, att.signer, att.trust_root,
       regexp_replace(att.source_repo, '^(git\+)?https://github.com/', '') || coalesce('@' || att.source_commit[:12], '') AS repo_at_commit,
       iv.deploy_id, iv.evidence_sha256, iv.evidence_record
FROM iv LEFT JOIN att ON att.subject_digest = lower(iv.artifact_digest)
WHERE ($service IS NULL OR iv.service = $service)
  AND ($at IS NULL OR (iv.time <= $at AND (iv.until IS NULL OR iv.until > $at)))
ORDER BY iv.service, iv.environment, iv.instance, iv.time
