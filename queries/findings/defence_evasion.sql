-- Defence evasion: the logs and detectors that would catch the attacker are turned off or weakened.
-- CloudTrail StopLogging, DeleteTrail, UpdateTrail, PutEventSelectors; VPC flow-log deletion;
-- GuardDuty detector/member changes; AWS Config recorder and channel deletion; CloudWatch log
-- deletion; Kubernetes audit sinks and webhooks removed; GitHub branch protection removed or
-- overridden, audit-log streaming stopped. Failed attempts are medium.
-- Parameters: none. Non-empty: each row is one act (rule, actor, target), with its events.
-- @severity: high
-- @technique: T1562
-- @title: Defence evasion
-- @engines: duckdb, spark
WITH hits AS (
    SELECT e.*,
        CASE
          WHEN e.source = 'cloudtrail' AND raw ->> '$.eventName' IN ('StopLogging', 'DeleteTrail', 'UpdateTrail', 'PutEventSelectors')
               THEN 'aws_cloudtrail_tampering'
          WHEN e.source = 'cloudtrail' AND raw ->> '$.eventName' = 'DeleteFlowLogs' THEN 'aws_flow_logs_deleted'
          WHEN e.source = 'cloudtrail' AND raw ->> '$.eventSource' = 'guardduty.amazonaws.com'
               AND regexp_matches(raw ->> '$.eventName', '^(Delete|Update|Disassociate|StopMonitoring|CreateFilter|CreateIPSet)')
               THEN 'aws_guardduty_tampering'
          WHEN e.source = 'cloudtrail' AND raw ->> '$.eventName' IN ('StopConfigurationRecorder', 'DeleteConfigurationRecorder',
                                                                     'DeleteDeliveryChannel', 'DeleteConfigRule')
               THEN 'aws_config_tampering'
          WHEN e.source = 'cloudtrail' AND raw ->> '$.eventName' IN ('DeleteLogGroup', 'DeleteLogStream', 'PutRetentionPolicy')
               THEN 'aws_log_deletion'
          WHEN e.source = 'k8s_audit' AND regexp_matches(e.action, '^(delete|patch|update) (auditsinks|validatingwebhookconfigurations|mutatingwebhookconfigurations)')
               THEN 'k8s_audit_or_admission_tampering'
          WHEN e.source LIKE 'github%' AND e.action IN ('protected_branch.destroy', 'protected_branch.policy_override',
                  'protected_branch.update_admin_enforced', 'repository_ruleset.destroy', 'audit_log_streaming.destroy',
                  'audit_log_streaming.update', 'org.disable_two_factor_requirement')
               THEN 'github_protection_removed'
        END AS rule
    FROM events e WHERE e.source IN ('cloudtrail', 'k8s_audit') OR e.source LIKE 'github%'
)
SELECT rule || '|' || coalesce(actor, '') || '|' || coalesce(target, '') AS group_key, rule AS rule_id,
       min(time) AS time, max(time) AS "end",
       CASE WHEN bool_or(outcome = 'success') THEN NULL ELSE 'medium' END AS severity,
       CASE rule
         WHEN 'aws_cloudtrail_tampering' THEN 'CloudTrail logging changed'
         WHEN 'aws_flow_logs_deleted' THEN 'VPC flow logs deleted'
         WHEN 'aws_guardduty_tampering' THEN 'GuardDuty weakened'
         WHEN 'aws_config_tampering' THEN 'AWS Config recording stopped'
         WHEN 'aws_log_deletion' THEN 'CloudWatch logs deleted or shortened'
         WHEN 'k8s_audit_or_admission_tampering' THEN 'Kubernetes audit or admission control changed'
         WHEN 'github_protection_removed' THEN 'GitHub protection removed'
       END || coalesce(': ' || target, '') || ' by ' || coalesce(actor, '?') AS title,
       string_agg(DISTINCT action, ', ') || ' by ' || coalesce(actor, '?') || ' (' || count(*) || ' events, '
           || count(*) FILTER (WHERE outcome = 'success') || ' succeeded)' AS summary,
       CASE WHEN rule LIKE 'aws_cloudtrail%' OR rule IN ('aws_flow_logs_deleted', 'aws_log_deletion') THEN 'T1562.008'
            ELSE 'T1562.001' END AS technique,
       list_filter([struct_pack(kind := 'actor', id := actor), struct_pack(kind := 'resource', id := target)]
                   || list(DISTINCT struct_pack(kind := 'credential', id := credential_id))
                   || list(DISTINCT struct_pack(kind := 'ip', id := src_ip)), lambda x: x.id IS NOT NULL) AS entities,
       list(struct_pack(kind := 'event', id := event_id) ORDER BY time, event_id)[1:500] AS evidence,
       count(*) AS matches,
       json_object('actions', list(DISTINCT action ORDER BY action)) AS attributes
FROM hits WHERE rule IS NOT NULL
GROUP BY rule, actor, target
