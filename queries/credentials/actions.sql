-- What the compromised credentials created, changed or read: one row per persistence act (an identity,
-- key, login profile, MFA device, trust-policy change, key pair, role, policy or binding) and per
-- exposure (a secret, parameter or KMS key read; S3 objects read, with bytes where the log gives
-- them). forensics.checklist.actions turns each row into a checklist item with its undo or rotate
-- command. Successful events only: a denied attempt changed nothing.
-- Parameters: $credentials (VARCHAR[]: the credentials in scope).
-- Non-empty means: each row is something to undo (persistence) or rotate (exposure).
-- @engines: duckdb
-- @not-spark: UNION ALL BY NAME has no Spark SQL form
WITH ev AS (
    SELECT e.*, e.raw -> '$.requestParameters' AS rp, e.raw -> '$.responseElements' AS re,
           coalesce(e.raw ->> '$.awsRegion', '') AS region
    FROM events e
    WHERE e.credential_id IN (SELECT unnest(CAST($credentials AS VARCHAR[]))) AND e.outcome = 'success'
), ct AS (
    SELECT ev.*, split_part(action, ':', 2) AS name FROM ev WHERE source = 'cloudtrail'
), persist AS (
    SELECT event_id, time, credential_id, actor, src_ip, action, region,
        CASE
          WHEN name = 'CreateUser' THEN 'iam_user'
          WHEN name = 'CreateAccessKey' THEN 'access_key'
          WHEN name IN ('CreateLoginProfile', 'UpdateLoginProfile') THEN 'login_profile'
          WHEN name IN ('AttachUserPolicy', 'AttachRolePolicy', 'AttachGroupPolicy') THEN 'attached_policy'
          WHEN name IN ('PutUserPolicy', 'PutRolePolicy', 'PutGroupPolicy')
               AND coalesce(rp ->> '$.policyName', '') <> 'AWSRevokeOlderSessions' THEN 'inline_policy'
          WHEN name = 'CreateVirtualMFADevice' THEN 'mfa_device'
          WHEN name = 'EnableMFADevice' THEN 'mfa_enabled'
          WHEN name = 'UpdateAssumeRolePolicy' THEN 'trust_policy'
          WHEN name = 'CreateRole' THEN 'iam_role'
          WHEN name IN ('ImportKeyPair', 'CreateKeyPair') THEN 'key_pair'
          WHEN name = 'UploadSSHPublicKey' THEN 'ssh_public_key'
          WHEN name = 'AddUserToGroup' THEN 'group_membership'
        END AS item,
        coalesce(rp ->> '$.userName', re ->> '$.user.userName', re ->> '$.accessKey.userName') AS user_name,
        rp ->> '$.roleName' AS role_name, rp ->> '$.groupName' AS group_name,
        rp ->> '$.policyArn' AS policy_arn, rp ->> '$.policyName' AS policy_name,
        re ->> '$.accessKey.accessKeyId' AS access_key_id,
        coalesce(re ->> '$.virtualMFADevice.serialNumber', rp ->> '$.serialNumber') AS serial_number,
        coalesce(rp ->> '$.keyName', re ->> '$.keyName') AS key_name,
        re ->> '$.sSHPublicKey.sSHPublicKeyId' AS ssh_key_id,
        CASE WHEN name = 'UpdateAssumeRolePolicy' THEN
             list_filter(regexp_extract_all(coalesce(CASE WHEN contains(rp ->> '$.policyDocument', '%22')
                                                          THEN url_decode(rp ->> '$.policyDocument')
                                                          ELSE rp ->> '$.policyDocument' END, ''),
                                            '(?:arn:aws:iam::|"AWS"\s*:\s*"?)([0-9]{12})', 1),
                         lambda a: a IS DISTINCT FROM coalesce(raw ->> '$.recipientAccountId', raw ->> '$.userIdentity.accountId'))
        END AS foreign_accounts,
        CAST(NULL AS VARCHAR) AS k8s_kind, CAST(NULL AS VARCHAR) AS k8s_namespace, CAST(NULL AS VARCHAR) AS k8s_name
    FROM ct
    UNION ALL
    SELECT event_id, time, credential_id, actor, src_ip, action, '',
        CASE WHEN action LIKE 'create %rolebindings' OR action LIKE 'update %rolebindings' OR action LIKE 'patch %rolebindings'
                  THEN 'k8s_binding'
             WHEN action = 'create serviceaccounts' THEN 'k8s_service_account'
             WHEN action = 'create serviceaccounts/token' THEN 'k8s_token'
             WHEN action = 'create secrets' AND raw ->> '$.requestObject.type' = 'kubernetes.io/service-account-token' THEN 'k8s_token'
        END,
        NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
        raw ->> '$.objectRef.resource', raw ->> '$.objectRef.namespace',
        coalesce(raw ->> '$.objectRef.name', raw ->> '$.requestObject.metadata.name', raw ->> '$.responseObject.metadata.name')
    FROM ev WHERE source LIKE 'k8s_audit%'
    UNION ALL
    -- GitHub: grants that outlive the token (OAuth apps, PATs approved, app installations, deploy keys),
    -- by an in-scope token or by the account an in-scope credential belongs to
    SELECT event_id, time, credential_id, actor, src_ip, action, coalesce(environment, ''),
        CASE WHEN action IN ('oauth_authorization.create', 'oauth_access.create', 'oauth_application.create') THEN 'github_oauth_app'
             WHEN action IN ('personal_access_token.access_granted', 'personal_access_token.request_created') THEN 'github_pat_granted'
             WHEN action IN ('integration_installation.create', 'installation.created') THEN 'github_app_install'
             WHEN action IN ('deploy_key.created', 'deploy_key.create', 'repo.add_deploy_key', 'public_key.create') THEN 'github_deploy_key'
        END,
        NULL, NULL, NULL, NULL,
        coalesce(raw ->> '$.oauth_application_name', raw ->> '$.application_name', raw ->> '$.integration',
                 raw ->> '$.installation.app_slug', raw ->> '$.key.title', raw ->> '$.title'),
        coalesce(raw ->> '$.token_id', raw ->> '$.installation_id', raw ->> '$.installation.id'),
        NULL, coalesce(raw ->> '$.key.id', raw ->> '$.fingerprint', raw ->> '$.public_key_fingerprint'), NULL, NULL,
        'github', coalesce(raw ->> '$.repository.full_name', raw ->> '$.repo', target), NULL
    FROM events
    WHERE source LIKE 'github%' AND outcome = 'success'
      AND (credential_id IN (SELECT unnest(CAST($credentials AS VARCHAR[])))
           OR actor IN (SELECT principal FROM credentials
                        WHERE credential_id IN (SELECT unnest(CAST($credentials AS VARCHAR[]))) AND principal IS NOT NULL))
), exposure AS (
    SELECT event_id, time, credential_id, actor, src_ip, action, region,
        CASE WHEN name IN ('GetSecretValue', 'BatchGetSecretValue') THEN 'secret'
             WHEN name IN ('GetParameter', 'GetParameters', 'GetParametersByPath')
                  AND coalesce(rp ->> '$.withDecryption', 'false') = 'true' THEN 'parameter'
             WHEN name IN ('Decrypt', 'GenerateDataKey') AND action LIKE 'kms:%' THEN 'kms_key'
             WHEN name = 'GetObject' AND action LIKE 's3:%' THEN 's3_object'
        END AS item,
        unnest(CASE WHEN name = 'GetParameters' THEN CAST(rp -> '$.names' AS VARCHAR[])
                    WHEN name = 'GetObject' THEN ['s3://' || (rp ->> '$.bucketName') || '/' || (rp ->> '$.key')]
                    ELSE [coalesce(rp ->> '$.secretId', rp ->> '$.name', rp ->> '$.path', rp ->> '$.keyId',
                                   raw ->> '$.resources[0].ARN', target)] END) AS resource,
        TRY_CAST(raw ->> '$.additionalEventData.bytesTransferredOut' AS DOUBLE) AS bytes_out
    FROM ct
), p AS (
    SELECT 'persistence' AS phase, item, event_id, time, credential_id, actor, src_ip, action, region,
           user_name, role_name, group_name, policy_arn, policy_name, access_key_id, serial_number, key_name, ssh_key_id,
           foreign_accounts, k8s_kind, k8s_namespace, k8s_name,
           CAST(NULL AS VARCHAR) AS resource, CAST(NULL AS DOUBLE) AS bytes_out, CAST(NULL AS VARCHAR[]) AS also_read_by
    FROM persist WHERE item IS NOT NULL
), others AS (  -- who else reads the same secret, parameter or key (they break when it is rotated);
                -- S3 objects are left out: data events are many, and "who else" is the bucket policy's question
    SELECT o.action, o.actor, o.target, CAST(o.raw -> '$.requestParameters' AS VARCHAR) AS rp_text
    FROM events o
    WHERE o.source = 'cloudtrail' AND o.outcome = 'success' AND o.actor IS NOT NULL
      AND o.action IN ('secretsmanager:GetSecretValue', 'secretsmanager:BatchGetSecretValue', 'ssm:GetParameter',
                       'ssm:GetParameters', 'ssm:GetParametersByPath', 'kms:Decrypt', 'kms:GenerateDataKey')
      AND o.credential_id NOT IN (SELECT unnest(CAST($credentials AS VARCHAR[])))
), x AS (
    SELECT 'rotate' AS phase, x.item, x.event_id, x.time, x.credential_id, x.actor, x.src_ip, x.action, x.region,
           x.resource, x.bytes_out,
           list(DISTINCT o.actor ORDER BY o.actor) FILTER (WHERE o.actor IS NOT NULL) AS also_read_by
    FROM exposure x
    LEFT JOIN others o ON x.item <> 's3_object' AND o.action = x.action AND o.actor IS DISTINCT FROM x.actor
                      AND (o.target = x.resource OR contains(o.rp_text, x.resource))
    WHERE x.item IS NOT NULL AND x.resource IS NOT NULL
    GROUP BY ALL
)
SELECT * FROM p
UNION ALL BY NAME
SELECT * FROM x
ORDER BY phase, time, event_id
