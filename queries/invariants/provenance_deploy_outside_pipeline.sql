-- Invariant: every deploy goes through the pipeline: via is not 'manual' and, when $ci_actors is
-- given, the actor is one of the CI identities.
-- Params: $ci_actors (VARCHAR[], optional). A row is a deploy made by hand or by an identity that is
-- not the CI's.
-- @denominator: deploy_actions
-- @time: time
-- @engines: duckdb, spark
SELECT d.time, d.service, d.environment, d.artifact_digest, d.actor, d.via, d.action, d.source,
       concat_ws('; ',
           CASE WHEN d.via = 'manual' THEN 'deployed by hand (via manual)' END,
           CASE WHEN $ci_actors IS NOT NULL AND NOT list_contains($ci_actors, d.actor)
                THEN 'actor ' || coalesce(d.actor, '(none)') || ' is not a CI identity' END) AS reason,
       d.deploy_id, d.evidence_sha256, d.evidence_record
FROM deploys d
WHERE d.action IN ('deploy', 'rollback', 'scale') AND d.status <> 'failure'
  AND (d.via = 'manual' OR ($ci_actors IS NOT NULL AND NOT list_contains($ci_actors, d.actor)))
ORDER BY d.time
