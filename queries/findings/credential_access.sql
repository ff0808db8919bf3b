-- Credential access: secrets read in bulk or by hand. Secrets Manager GetSecretValue (and
-- BatchGetSecretValue), SSM GetParameter(s)/GetParametersByPath with decryption, EC2
-- GetPasswordData, KMS Decrypt called directly (not on behalf of a service), Kubernetes get/list of
-- secrets by a non-system identity. One finding per rule and actor; denied attempts are medium.
-- Parameters: none. Non-empty: each row is an identity reading secrets, with its events.
-- @severity: high
-- @technique: T1555.006
-- @title: Secrets read
-- @engines: duckdb
-- @not-spark: list slicing x[a:b] on a column is not mapped (list or text is not known before run time)
WITH hits AS (
    SELECT e.*,
        CASE
          WHEN e.source = 'cloudtrail' AND raw ->> '$.eventName' IN ('GetSecretValue', 'BatchGetSecretValue') THEN 'aws_secrets_manager'
          WHEN e.source = 'cloudtrail' AND raw ->> '$.eventName' IN ('GetParameter', 'GetParameters', 'GetParametersByPath')
               AND lower(coalesce(raw ->> '$.requestParameters.withDecryption', '')) = 'true' THEN 'aws_ssm_decrypted'
          WHEN e.source = 'cloudtrail' AND raw ->> '$.eventName' = 'GetPasswordData' THEN 'aws_password_data'
          WHEN e.source = 'cloudtrail' AND raw ->> '$.eventName' = 'Decrypt'
               AND raw ->> '$.userIdentity.invokedBy' IS NULL AND coalesce(e.src_ip, '') NOT LIKE '%.amazonaws.com'
               AND coalesce(e.src_ip, '') <> 'AWS Internal' THEN 'aws_kms_decrypt'
          WHEN e.source = 'k8s_audit' AND e.action IN ('get secrets', 'list secrets', 'watch secrets')
               AND coalesce(e.actor, '') NOT LIKE 'system:%' THEN 'k8s_secrets'
        END AS rule
    FROM events e WHERE e.source IN ('cloudtrail', 'k8s_audit')
)
SELECT rule || '|' || coalesce(actor, '') AS group_key, rule AS rule_id, min(time) AS time, max(time) AS "end",
       CASE WHEN NOT bool_or(outcome = 'success') THEN 'medium' WHEN rule = 'aws_kms_decrypt' AND count(*) < 10 THEN 'low' END
           AS severity,
       CASE rule
         WHEN 'aws_secrets_manager' THEN 'Secrets Manager secrets read'
         WHEN 'aws_ssm_decrypted' THEN 'SSM parameters read decrypted'
         WHEN 'aws_password_data' THEN 'EC2 instance passwords read'
         WHEN 'aws_kms_decrypt' THEN 'KMS Decrypt called directly'
         WHEN 'k8s_secrets' THEN 'Kubernetes secrets read'
       END || ' by ' || coalesce(actor, '?') || ' (' || count(*) || ')' AS title,
       count(*) || ' calls (' || count(*) FILTER (WHERE outcome = 'success') || ' succeeded) on '
           || count(DISTINCT coalesce(target, raw ->> '$.requestParameters.secretId', raw ->> '$.requestParameters.name', ''))
           || ' distinct targets from ' || string_agg(DISTINCT coalesce(src_ip, '?'), ', ') AS summary,
       CASE rule WHEN 'aws_password_data' THEN 'T1552.005' WHEN 'aws_kms_decrypt' THEN 'T1552'
                 WHEN 'k8s_secrets' THEN 'T1552.007' END AS technique,
       list_filter([struct_pack(kind := 'actor', id := actor)]
                   || list(DISTINCT struct_pack(kind := 'credential', id := credential_id))
                   || list(DISTINCT struct_pack(kind := 'ip', id := src_ip)), lambda x: x.id IS NOT NULL) AS entities,
       list(struct_pack(kind := 'event', id := event_id) ORDER BY time, event_id)[1:500] AS evidence,
       count(*) AS matches,
       json_object('targets', list(DISTINCT coalesce(target, raw ->> '$.requestParameters.secretId'))[1:50]) AS attributes
FROM hits WHERE rule IS NOT NULL
GROUP BY rule, actor
