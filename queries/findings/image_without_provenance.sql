-- An image pushed to a registry (ECR PutImage, and any event carrying an artifact digest whose
-- action pushes) whose digest no attestation in the case names: code of unknown origin entered the
-- supply chain (MITRE T1525, Implant Internal Image).
-- Parameters: none. Non-empty: each row is one pushed digest with the pushes behind it.
-- @severity: high
-- @technique: T1525
-- @title: Image pushed without provenance
-- @engines: duckdb, spark
WITH pushes AS (
    SELECT e.*, lower(coalesce(e.artifact_digest,
                raw ->> '$.responseElements.image.imageId.imageDigest')) AS digest
    FROM events e
    WHERE e.outcome = 'success'
      AND (e.action IN ('ecr:PutImage', 'ecr:CompleteLayerUpload')
           OR (e.artifact_digest IS NOT NULL AND regexp_matches(e.action, '(?i)(push|putimage)')))
)
SELECT digest AS group_key, NULL AS rule_id, min(time) AS time, max(time) AS "end", NULL AS severity,
       'Image ' || coalesce(any_value(raw ->> '$.requestParameters.repositoryName'), any_value(target), '?') || ' '
           || left(digest, 19) || '… pushed without provenance' AS title,
       count(*) || ' push(es) of ' || digest || ' by ' || string_agg(DISTINCT coalesce(actor, '?'), ', ')
           || ' from ' || string_agg(DISTINCT coalesce(src_ip, '?'), ', ') || '; no attestation names this digest'
           AS summary,
       NULL AS technique,
       list_filter([struct_pack(kind := 'artifact', id := digest)]
                   || list(DISTINCT struct_pack(kind := 'actor', id := actor))
                   || list(DISTINCT struct_pack(kind := 'credential', id := credential_id))
                   || list(DISTINCT struct_pack(kind := 'ip', id := src_ip)), lambda x: x.id IS NOT NULL) AS entities,
       list(struct_pack(kind := 'event', id := event_id) ORDER BY time, event_id)[1:500] AS evidence,
       count(*) AS matches,
       json_object('repository', any_value(target)) AS attributes
FROM pushes
WHERE digest LIKE 'sha256:%' AND digest NOT IN (SELECT subject_digest FROM attestations WHERE subject_digest IS NOT NULL)
GROUP BY digest
