-- Invariant: every digest deployed successfully is named by an attestation bound to that deploy.
-- An attestation counts for a deploy only if it is signed (an unsigned statement never does), its
-- subject digest is the deployed digest, its log time (when it has one) is not after the deploy, and,
-- when the policy maps the service to repositories, its repository is one of them.
-- Params: $service_repos (VARCHAR[] of 'service=owner/repo', optional: forensics.policy services).
-- A row is a deploy (or rollback) of a digest that no such attestation names: the code that ran has no
-- provenance. Deploys with no digest are listed too (nothing to check).
-- @denominator: deploys
-- @time: time
-- @engines: duckdb
-- @not-spark: unnest in a lateral join does not transpile (sqlglot loses the outer columns)
SELECT d.time, d.service, d.environment, d.artifact_digest, d.version, d.actor, d.via, d.action, d.source,
       CASE WHEN d.artifact_digest IS NULL THEN 'deploy record names no artifact digest, so no provenance can be joined'
            WHEN EXISTS (SELECT 1 FROM attestations a WHERE a.subject_digest = lower(d.artifact_digest))
            THEN 'attestations name digest ' || d.artifact_digest || ' but none is bound to this deploy (unsigned, '
                 || 'logged after the deploy, or from a repository not allowed for ' || coalesce(d.service, '?')
                 || '; deployed by ' || coalesce(d.actor, '?') || ' via ' || coalesce(d.via, '?') || ')'
            ELSE 'no attestation names digest ' || d.artifact_digest || ' (deployed by ' || coalesce(d.actor, '?')
                 || ' via ' || coalesce(d.via, '?') || ')' END AS reason,
       d.deploy_id, d.evidence_sha256, d.evidence_record
FROM deploys d
WHERE d.status = 'success' AND d.action IN ('deploy', 'rollback')
  AND (d.artifact_digest IS NULL
       OR NOT EXISTS (
           SELECT 1 FROM attestations a
           WHERE a.subject_digest = lower(d.artifact_digest)
             AND a.content <> 'unsigned'
             AND (a.rekor_integrated_time IS NULL OR a.rekor_integrated_time <= d.time)
             AND (NOT EXISTS (SELECT 1 FROM unnest(coalesce($service_repos, []::VARCHAR[])) u(x)
                              WHERE starts_with(x, d.service || '='))
                  OR list_contains(coalesce($service_repos, []::VARCHAR[]),
                                   d.service || '=' || lower(coalesce(a.cert_repository,
                                       regexp_replace(a.source_repo, '^(git\+)?https://github\.com/', ''))))))
       )
ORDER BY d.time
