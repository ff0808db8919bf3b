-- What was running: one row per service x environment x rollout lane x interval, with the running
-- digest, who deployed it, how and when, and the best attestation evidence for that digest.
-- Params: $at (optional TIMESTAMPTZ: only the intervals live at that instant), $service (optional).
-- An interval starts at a successful deploy or rollback and ends at the next one in the same lane
-- (until NULL: still running at the end of the evidence). verdict: verified if any attestation of
-- the digest verified, else failed if any failed, else indeterminate; 'no attestation' when none
-- names the digest. Non-empty is normal; read it as the answer.
-- Desired and observed side by side (docs/runtime.md): the observed_* columns summarise runtime_state
-- in the interval (up to $at when given; each pod or ReplicaSet counted at its latest observation,
-- from 5 minutes after the deploy): runtime_verdict is 'confirmed' (every observed pod runs the
-- deployed digest), 'drift' (some observed pod runs another digest: see runtime_drift) or
-- 'not observed' (no runtime evidence: the deploy is assumed to have taken effect, not shown to).
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
), seen AS (
    SELECT iv.deploy_id, coalesce(r.pod, r.event_id) AS unit,
           arg_max(r.image_digest, r.time) AS digest, max(r.time) AS seen_at
    FROM iv JOIN runtime_state r
      ON r.kind = 'observed' AND r.workload = iv.service AND r.environment IS NOT DISTINCT FROM iv.environment
     AND r.time >= iv.time + INTERVAL 5 MINUTE AND (iv.until IS NULL OR r.time < iv.until)
     AND ($at IS NULL OR r.time <= $at)
    GROUP BY ALL
), obs AS (
    SELECT deploy_id, count(*) AS observed_pods, max(seen_at) AS last_observed,
           list(DISTINCT digest ORDER BY digest) AS observed_digests, list(unit ORDER BY unit) AS observed_units
    FROM seen GROUP BY deploy_id
)
SELECT iv.service, iv.environment, iv.instance, iv.time AS since, iv.until, iv.artifact_digest, iv.version,
       iv.actor AS deployed_by, iv.via, iv.action, iv.source AS deploy_source,
       coalesce(att.attestations, 0) AS attestations,
       coalesce(att.verdict, 'no attestation') AS verdict,
       coalesce(att.verdict_reason, CASE WHEN iv.artifact_digest IS NULL THEN 'the deploy record names no digest'
                                         ELSE 'no attestation in the case names this digest' END) AS verdict_reason,
       att.builder_id, att.signer, att.trust_root,
       regexp_replace(att.source_repo, '^(git\+)?https://github.com/', '') || coalesce('@' || att.source_commit[:12], '') AS repo_at_commit,
       iv.deploy_id, iv.evidence_sha256, iv.evidence_record,
       coalesce(obs.observed_pods, 0) AS observed_pods, obs.observed_digests, obs.last_observed,
       CASE WHEN obs.deploy_id IS NULL THEN 'not observed'
            WHEN list_count(list_filter(obs.observed_digests, lambda x: x <> lower(iv.artifact_digest))) > 0
            THEN 'drift' ELSE 'confirmed' END AS runtime_verdict,
       CASE WHEN obs.deploy_id IS NULL THEN 'no runtime evidence in this interval: the deploy is assumed, not seen'
            WHEN list_count(list_filter(obs.observed_digests, lambda x: x <> lower(iv.artifact_digest))) > 0
            THEN 'observed running ' || array_to_string(list_filter(obs.observed_digests,
                     lambda x: x <> lower(iv.artifact_digest)), ', ') || ' instead (last seen '
                 || strftime(obs.last_observed, '%Y-%m-%dT%H:%M:%SZ') || ')'
            ELSE obs.observed_pods || ' observed pod(s) run the deployed digest (last seen '
                 || strftime(obs.last_observed, '%Y-%m-%dT%H:%M:%SZ') || ')' END AS runtime_reason
FROM iv LEFT JOIN att ON att.subject_digest = lower(iv.artifact_digest)
        LEFT JOIN obs ON obs.deploy_id = iv.deploy_id
WHERE ($service IS NULL OR iv.service = $service)
  AND ($at IS NULL OR (iv.time <= $at AND (iv.until IS NULL OR iv.until > $at)))
ORDER BY iv.service, iv.environment, iv.instance, iv.time
