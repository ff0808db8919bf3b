-- Invariant: no provenance downgrade. Once a service x environment has run verified code, every
-- later deploy there is verified too.
-- Params: none. A row is a deploy whose digest has no verified attestation while an earlier
-- successful deploy of the same service x environment did.
-- @denominator: deploys
-- @time: time
-- @engines: duckdb, spark
WITH v AS (
    SELECT DISTINCT subject_digest FROM attestations WHERE verdict = 'verified'
), d AS (
    SELECT d.*, lower(d.artifact_digest) IN (SELECT subject_digest FROM v) AS verified
    FROM deploys d WHERE d.status = 'success' AND d.action IN ('deploy', 'rollback')
), w AS (
    SELECT d.*, max(CASE WHEN verified THEN time END) OVER (
               PARTITION BY service, environment ORDER BY time, deploy_id
               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS last_verified
    FROM d
)
SELECT time, service, environment, artifact_digest, actor, via, action,
       'provenance downgrade: ' || service || '/' || coalesce(environment, '?') || ' ran verified code (deployed '
           || strftime(last_verified, '%Y-%m-%dT%H:%M:%SZ') || '); this digest has no verified attestation' AS reason,
       deploy_id, evidence_sha256, evidence_record
FROM w WHERE NOT verified AND last_verified IS NOT NULL
ORDER BY time
