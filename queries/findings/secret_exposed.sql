-- A secret written where it should not be: a job log, an application log, a span attribute, a
-- rejected line (secret_exposures). Only the fingerprint (sha256 prefix) is shown, never the secret.
-- A secret (secret access key, private key, token) is critical; a key id alone is high.
-- Parameters: none. Non-empty: each row is one exposed credential (or fingerprint) with where it was written.
-- @severity: critical
-- @technique: T1552.001
-- @title: Secret exposed in logs
-- @engines: duckdb
-- @not-spark: fails inside Spark 4.3 at run time (a broadcast join's error); not yet investigated
SELECT coalesce(credential_id, fingerprint) AS group_key, NULL AS rule_id, min(time) AS time, max(time) AS "end",
       CASE WHEN bool_and(kind IN ('aws_access_key_id')) THEN 'high' END AS severity,
       'Secret of ' || coalesce(credential_id, 'unknown credential') || ' written to ' || string_agg(DISTINCT coalesce(source, location), ', ')
           || coalesce(' by ' || any_value(actor), '') AS title,
       count(*) || ' exposure(s): ' || string_agg(DISTINCT kind || ' ' || fingerprint, ', ' ORDER BY kind || ' ' || fingerprint)
           || ' in ' || string_agg(DISTINCT location || coalesce(':' || field, ''), ', ') AS summary,
       NULL AS technique,
       list_filter([struct_pack(kind := 'credential', id := credential_id)]
                   || list(DISTINCT struct_pack(kind := 'host', id := actor)), lambda x: x.id IS NOT NULL) AS entities,
       list(CASE WHEN event_id IS NOT NULL THEN struct_pack(kind := 'event', id := event_id)
                 WHEN location = 'rejects' THEN struct_pack(kind := 'reject', id := evidence_sha256 || ':' || coalesce(evidence_line, evidence_record))
                 ELSE struct_pack(kind := 'evidence', id := evidence_sha256) END ORDER BY time, exposure_id)[1:500] AS evidence,
       count(*) AS matches,
       json_object('fingerprints', list(DISTINCT fingerprint ORDER BY fingerprint), 'kinds', list(DISTINCT kind ORDER BY kind)) AS attributes
FROM secret_exposures
GROUP BY coalesce(credential_id, fingerprint), credential_id
