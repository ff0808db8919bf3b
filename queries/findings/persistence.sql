-- Persistence: an identity gives itself (or a new identity) a lasting way back in. CloudTrail:
-- CreateUser, CreateAccessKey for another user, Create/UpdateLoginProfile, an admin policy attached
-- or an Allow-* inline policy put, UpdateAssumeRolePolicy trusting a foreign account,
-- Create/EnableVirtualMFADevice, ImportKeyPair. Kubernetes: a (Cluster)RoleBinding to cluster-admin,
-- a new service-account token. GitHub: deploy keys, SSH keys, new org owners, new PATs and OAuth grants.
-- Failed attempts count too (severity medium): someone tried. One finding per rule, actor and target.
-- Parameters: none. Non-empty: each row is one persistence act, with its events.
-- @severity: high
-- @technique: T1098
-- @title: Persistence
-- @engines: duckdb
-- @not-spark: a list lambda over regexp_extract_all does not resolve on Spark
WITH ct AS (
    SELECT e.*, raw ->> '$.eventName' AS name, raw -> '$.requestParameters' AS rp,
           coalesce(raw ->> '$.recipientAccountId', raw ->> '$.userIdentity.accountId') AS account
    FROM events e WHERE e.source = 'cloudtrail'
), acts AS (
    SELECT ct.*,
        CASE
          WHEN name = 'CreateUser' THEN 'aws_create_user'
          WHEN name = 'CreateAccessKey' AND rp ->> '$.userName' IS NOT NULL
               AND NOT coalesce(actor LIKE '%:user/' || (rp ->> '$.userName'), false) THEN 'aws_access_key_for_other_user'
          WHEN name IN ('CreateLoginProfile', 'UpdateLoginProfile') THEN 'aws_login_profile'
          WHEN name IN ('AttachUserPolicy', 'AttachRolePolicy', 'AttachGroupPolicy')
               AND regexp_matches(coalesce(rp ->> '$.policyArn', ''), '(AdministratorAccess|IAMFullAccess|PowerUserAccess)') THEN 'aws_admin_policy'
          WHEN name IN ('PutUserPolicy', 'PutRolePolicy', 'PutGroupPolicy')
               AND regexp_matches(coalesce(rp ->> '$.policyDocument', ''), '"Effect"\s*:\s*"Allow"')
               AND regexp_matches(coalesce(rp ->> '$.policyDocument', ''), '"Action"\s*:\s*(\[\s*)?"(\*|iam:\*)"') THEN 'aws_admin_policy'
          WHEN name = 'UpdateAssumeRolePolicy'
               AND len(list_filter(regexp_extract_all(coalesce(rp ->> '$.policyDocument', ''), '(?:arn:aws:iam::|"AWS"\s*:\s*"?)([0-9]{12})', 1),
                                   lambda a: a IS DISTINCT FROM account)) > 0 THEN 'aws_trust_foreign_account'
          WHEN name IN ('CreateVirtualMFADevice', 'EnableMFADevice') THEN 'aws_mfa_device'
          WHEN name IN ('ImportKeyPair', 'UploadSSHPublicKey') THEN 'aws_ssh_key'
        END AS rule
    FROM ct
), k8s AS (
    SELECT e.*,
        CASE
          WHEN e.action IN ('create clusterrolebindings', 'create rolebindings', 'update clusterrolebindings',
                            'patch clusterrolebindings', 'update rolebindings', 'patch rolebindings')
               AND raw ->> '$.requestObject.roleRef.name' IN ('cluster-admin', 'admin') THEN 'k8s_cluster_admin_binding'
          WHEN (e.action = 'create serviceaccounts/token'
                OR (e.action = 'create secrets' AND raw ->> '$.requestObject.type' = 'kubernetes.io/service-account-token'))
               AND coalesce(e.actor, '') NOT LIKE 'system:node:%'
               AND coalesce(e.actor, '') NOT LIKE 'system:kube-%'
               AND coalesce(e.actor, '') NOT LIKE 'system:serviceaccount:kube-system:%' THEN 'k8s_service_account_token'
        END AS rule
    FROM events e WHERE e.source = 'k8s_audit'
), gh AS (
    SELECT e.*,
        CASE
          WHEN e.action IN ('public_key.create', 'deploy_key.create', 'repo.add_deploy_key') THEN 'github_deploy_key'
          WHEN e.action IN ('org.update_member', 'org.add_member', 'business.add_admin')
               AND coalesce(raw ->> '$.permission', raw ->> '$.role', '') IN ('admin', 'owner') THEN 'github_org_owner'
          WHEN e.action IN ('personal_access_token.request_created', 'personal_access_token.access_granted',
                            'oauth_authorization.create', 'oauth_access.create') THEN 'github_new_token'
        END AS rule
    FROM events e WHERE e.source LIKE 'github%'
), hits AS (
    SELECT event_id, time, actor, credential_id, src_ip, target, outcome, action, rule FROM acts WHERE rule IS NOT NULL
    UNION ALL SELECT event_id, time, actor, credential_id, src_ip, target, outcome, action, rule FROM k8s WHERE rule IS NOT NULL
    UNION ALL SELECT event_id, time, actor, credential_id, src_ip, target, outcome, action, rule FROM gh WHERE rule IS NOT NULL
), minted AS (
    SELECT event_id, string_agg(credential_id, ', ') AS minted FROM credential_links GROUP BY event_id
)
SELECT h.rule || '|' || coalesce(h.actor, '') || '|' || coalesce(h.target, '') AS group_key, h.rule AS rule_id,
       min(h.time) AS time, max(h.time) AS "end",
       CASE WHEN bool_or(h.outcome = 'success') THEN NULL ELSE 'medium' END AS severity,
       CASE h.rule
         WHEN 'aws_create_user' THEN 'IAM user created'
         WHEN 'aws_access_key_for_other_user' THEN 'Access key created for another user'
         WHEN 'aws_login_profile' THEN 'Console password set for a user'
         WHEN 'aws_admin_policy' THEN 'Administrator permissions granted'
         WHEN 'aws_trust_foreign_account' THEN 'Role trust opened to a foreign account'
         WHEN 'aws_mfa_device' THEN 'MFA device registered'
         WHEN 'aws_ssh_key' THEN 'SSH key imported'
         WHEN 'k8s_cluster_admin_binding' THEN 'Binding to cluster-admin created'
         WHEN 'k8s_service_account_token' THEN 'Service-account token minted'
         WHEN 'github_deploy_key' THEN 'Deploy key added'
         WHEN 'github_org_owner' THEN 'Organisation owner added'
         WHEN 'github_new_token' THEN 'New access token granted'
       END || coalesce(': ' || h.target, '') || ' by ' || coalesce(h.actor, '?') AS title,
       string_agg(DISTINCT h.action, ', ') || ' on ' || coalesce(h.target, '?') || ' by ' || coalesce(h.actor, '?')
           || ' from ' || string_agg(DISTINCT coalesce(h.src_ip, '?'), ', ') || ' (' || count(*) || ' events, '
           || count(*) FILTER (WHERE h.outcome = 'success') || ' succeeded)'
           || coalesce('; minted ' || string_agg(DISTINCT m.minted, ', '), '') AS summary,
       CASE h.rule
         WHEN 'aws_create_user' THEN 'T1136.003'
         WHEN 'aws_access_key_for_other_user' THEN 'T1098.001'
         WHEN 'aws_login_profile' THEN 'T1098.001'
         WHEN 'aws_admin_policy' THEN 'T1098.003'
         WHEN 'aws_trust_foreign_account' THEN 'T1098.003, T1484.002'
         WHEN 'aws_mfa_device' THEN 'T1556.006'
         WHEN 'aws_ssh_key' THEN 'T1098.004'
         WHEN 'k8s_cluster_admin_binding' THEN 'T1098.006'
         WHEN 'k8s_service_account_token' THEN 'T1098.001, T1528'
         WHEN 'github_deploy_key' THEN 'T1098.004'
         WHEN 'github_org_owner' THEN 'T1098.003'
         WHEN 'github_new_token' THEN 'T1098.001'
       END AS technique,
       list_filter([struct_pack(kind := 'actor', id := h.actor), struct_pack(kind := 'resource', id := h.target)]
                   || list(DISTINCT struct_pack(kind := 'credential', id := h.credential_id))
                   || list(DISTINCT struct_pack(kind := 'ip', id := h.src_ip))
                   || list(DISTINCT struct_pack(kind := 'credential', id := m.minted)), lambda x: x.id IS NOT NULL) AS entities,
       list(struct_pack(kind := 'event', id := h.event_id) ORDER BY h.time, h.event_id)[1:500] AS evidence,
       count(*) AS matches,
       json_object('actions', list(DISTINCT h.action ORDER BY h.action)) AS attributes
FROM hits h LEFT JOIN minted m ON m.event_id = h.event_id
GROUP BY h.rule, h.actor, h.target
