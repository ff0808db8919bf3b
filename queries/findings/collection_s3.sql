-- Collection: S3 objects read by a credential that should raise a question: in bulk (at least
-- $min_objects objects, default 100, or 1 GB from one bucket), or with a credential minted during
-- the case (a role session or a key created in these logs), or by a role session from an address
-- outside AWS. Bytes come from CloudTrail's additionalEventData.bytesTransferredOut where logged.
-- Parameters: $min_objects. Non-empty: each row is one (credential, bucket) with its reads.
-- @severity: medium
-- @technique: T1530
-- @title: S3 data read
-- @engines: duckdb, spark
WITH reads AS (
    SELECT e.*, coalesce(raw ->> '$.requestParameters.bucketName',
                         regexp_extract(e.target, '^arn:aws:s3:::([^/]+)', 1)) AS bucket,
           TRY_CAST(raw ->> '$.additionalEventData.bytesTransferredOut' AS DOUBLE) AS bytes
    FROM events e
    WHERE e.source = 'cloudtrail' AND raw ->> '$.eventName' = 'GetObject' AND e.outcome = 'success'
), g AS (
    SELECT coalesce(credential_id, actor) AS who, bucket, any_value(actor) AS actor, any_value(credential_id) AS credential_id,
           min(time) AS t0, max(time) AS t1, count(*) AS n, count(DISTINCT target) AS objects, sum(bytes) AS bytes,
           bool_or(actor_type = 'AssumedRole' AND src_ip NOT LIKE '%amazonaws.com' AND src_ip <> 'AWS Internal'
                   AND NOT regexp_matches(src_ip, '^(10\.|192\.168\.|172\.(1[6-9]|2[0-9]|3[01])\.)')) AS session_outside,
           list(DISTINCT src_ip) AS ips,
           list(struct_pack(kind := 'event', id := event_id) ORDER BY time, event_id)[1:500] AS evidence
    FROM reads GROUP BY ALL
)
SELECT g.who || '|' || coalesce(g.bucket, '') AS group_key, NULL AS rule_id, g.t0 AS time, g.t1 AS "end",
       CASE WHEN g.objects >= coalesce($min_objects, 100) OR coalesce(g.bytes, 0) >= 1e9 THEN 'high'
            WHEN l.credential_id IS NULL AND NOT g.session_outside THEN 'low' END AS severity,
       g.objects || ' object(s) read from s3://' || coalesce(g.bucket, '?') || ' by ' || g.who AS title,
       g.n || ' GetObject by ' || coalesce(g.actor, '?') || ' with ' || coalesce(g.credential_id, '?')
           || coalesce(' (minted by ' || l.how || ' at ' || strftime(l.issued_at, '%Y-%m-%dT%H:%M:%SZ') || ')', '')
           || coalesce(', ' || CAST(CAST(g.bytes AS BIGINT) AS VARCHAR) || ' bytes', '') || ' from '
           || array_to_string(g.ips, ', ') AS summary,
       NULL AS technique,
       list_filter([struct_pack(kind := 'credential', id := g.credential_id), struct_pack(kind := 'actor', id := g.actor),
                    struct_pack(kind := 'resource', id := 'arn:aws:s3:::' || g.bucket)]
                   || [struct_pack(kind := 'ip', id := i) for i in g.ips], lambda x: x.id IS NOT NULL) AS entities,
       g.evidence, g.n AS matches,
       json_object('objects', g.objects, 'bytes', g.bytes, 'minted_by', l.how) AS attributes
FROM g LEFT JOIN (SELECT credential_id, any_value(how) AS how, min(issued_at) AS issued_at FROM credential_links GROUP BY 1) l
     ON l.credential_id = g.credential_id
WHERE g.objects >= coalesce($min_objects, 100) OR coalesce(g.bytes, 0) >= 1e9 OR l.credential_id IS NOT NULL
      OR g.session_outside
