-- Provider findings: every GuardDuty and Security Hub (ASFF) finding the case holds becomes a finding of
-- the kit's own table, so the responder reads them beside the kit's detectors and pivots on their
-- entities. One finding per provider finding id (Security Hub updates of one finding are merged).
-- Severity mapped from the provider's: GuardDuty Severity 9.0-10 critical, 7.0-8.9 high, 4.0-6.9
-- medium, 1.0-3.9 low (AWS's bands); Security Hub Severity.Label (CRITICAL, HIGH, MEDIUM, LOW,
-- INFORMATIONAL -> info), else Severity.Normalized in the same bands (x10). Entities: the access key
-- (GuardDuty Resource.AccessKeyDetails, Security Hub AwsIamAccessKey resources), its user, the remote
-- address of the action and the instance's public and private addresses, the instance (host) and every
-- resource named. An archived GuardDuty finding or a Security Hub finding whose workflow is RESOLVED or
-- SUPPRESSED keeps its severity; its status is in the summary and attributes.
-- Parameters: none. Non-empty: each row is one provider finding, with its events.
-- @severity: medium
-- @technique:
-- @title: Provider finding
-- @engines: duckdb
-- @not-spark: casts to JSON[]; Spark has no JSON type
WITH f AS (
    SELECT e.*, e.raw AS r,
           CASE WHEN e.source = 'guardduty' THEN e.raw->>'Id'
                ELSE coalesce(e.raw->>'Id', e.event_uid) END AS fid
    FROM events e WHERE e.source IN ('guardduty', 'securityhub')
), s AS (
    SELECT f.*,
           CASE WHEN source = 'guardduty' THEN r->>'Severity'
                ELSE coalesce(r->>'$.Severity.Label', 'normalized ' || (r->>'$.Severity.Normalized')) END AS provider_sev,
           CASE WHEN source = 'guardduty' THEN
                    CASE WHEN try_cast(r->>'Severity' AS DOUBLE) >= 9 THEN 'critical'
                         WHEN try_cast(r->>'Severity' AS DOUBLE) >= 7 THEN 'high'
                         WHEN try_cast(r->>'Severity' AS DOUBLE) >= 4 THEN 'medium'
                         WHEN try_cast(r->>'Severity' AS DOUBLE) >= 1 THEN 'low'
                         WHEN try_cast(r->>'Severity' AS DOUBLE) >= 0 THEN 'info' END
                ELSE CASE upper(r->>'$.Severity.Label')
                         WHEN 'CRITICAL' THEN 'critical' WHEN 'HIGH' THEN 'high' WHEN 'MEDIUM' THEN 'medium'
                         WHEN 'LOW' THEN 'low' WHEN 'INFORMATIONAL' THEN 'info'
                         ELSE CASE WHEN try_cast(r->>'$.Severity.Normalized' AS DOUBLE) >= 90 THEN 'critical'
                                   WHEN try_cast(r->>'$.Severity.Normalized' AS DOUBLE) >= 70 THEN 'high'
                                   WHEN try_cast(r->>'$.Severity.Normalized' AS DOUBLE) >= 40 THEN 'medium'
                                   WHEN try_cast(r->>'$.Severity.Normalized' AS DOUBLE) >= 1 THEN 'low'
                                   WHEN try_cast(r->>'$.Severity.Normalized' AS DOUBLE) >= 0 THEN 'info' END END
           END AS sev,
           CASE WHEN source = 'guardduty' THEN
                    CASE WHEN r->>'$.Service.Archived' = 'true' THEN 'archived' ELSE 'active' END
                ELSE lower(coalesce(r->>'$.Workflow.Status', r->>'WorkflowState', r->>'RecordState', 'new')) END AS status,
           list_filter(
               [r->>'$.Resource.AccessKeyDetails.AccessKeyId', credential_id]
               || [x->>'$.Details.AwsIamAccessKey.AccessKeyId' FOR x IN coalesce(CAST(r->'$.Resources' AS JSON[]), [])]
               || [CASE WHEN x->>'Type' = 'AwsIamAccessKey' THEN regexp_extract(x->>'Id', '(A[KS]IA[A-Z0-9]{12,})', 1) END
                   FOR x IN coalesce(CAST(r->'$.Resources' AS JSON[]), [])],
               lambda k: k IS NOT NULL AND k <> '') AS keys,
           list_filter(
               [src_ip, r->>'$.Network.SourceIpV4', r->>'$.Network.DestinationIpV4']
               || [x->>'PublicIp' FOR x IN coalesce(CAST(r->'$.Resource.InstanceDetails.NetworkInterfaces' AS JSON[]), [])]
               || [x->>'PrivateIpAddress' FOR x IN coalesce(CAST(r->'$.Resource.InstanceDetails.NetworkInterfaces' AS JSON[]), [])],
               lambda k: k IS NOT NULL AND k <> '') AS ips,
           list_filter([target] || [x->>'Id' FOR x IN coalesce(CAST(r->'$.Resources' AS JSON[]), [])],
                       lambda k: k IS NOT NULL AND k <> '') AS resources
    FROM f
)
SELECT source || '|' || fid AS group_key, source AS rule_id,
       min(time) AS time, max(coalesce(end_time, time)) AS "end",
       arg_max(sev, time) AS severity,
       CASE source WHEN 'guardduty' THEN 'GuardDuty' ELSE 'Security Hub' END || ': '
           || coalesce(arg_max(r->>'Title', time), arg_max(action, time)) AS title,
       CASE source WHEN 'guardduty' THEN 'GuardDuty ' || coalesce(arg_max(r->>'Type', time), '?')
                   ELSE 'Security Hub ' || coalesce(arg_max(r->>'GeneratorId', time), '?') END
           || ', provider severity ' || coalesce(arg_max(provider_sev, time), '?')
           || ', ' || arg_max(status, time)
           || coalesce(', account ' || any_value(environment), '') || coalesce(', region ' || any_value(region), '')
           || coalesce(', from ' || nullif(array_to_string(list_distinct(flatten(list(ips))), ', '), ''), '')
           || coalesce(', key ' || nullif(array_to_string(list_distinct(flatten(list(keys))), ', '), ''), '')
           || ' (' || count(*) || ' record' || CASE WHEN count(*) > 1 THEN 's' ELSE '' END || ')' AS summary,
       NULL AS technique,
       list_distinct(
           [struct_pack(kind := 'credential', id := k) FOR k IN flatten(list(keys))]
           || [struct_pack(kind := 'ip', id := k) FOR k IN flatten(list(ips))]
           || [struct_pack(kind := 'resource', id := k) FOR k IN flatten(list(resources))]
           || list_filter(list(struct_pack(kind := 'actor', id := actor)), lambda x: x.id IS NOT NULL)
           || list_filter(list(struct_pack(kind := 'host', id := r->>'$.Resource.InstanceDetails.InstanceId')),
                          lambda x: x.id IS NOT NULL)) AS entities,
       list(struct_pack(kind := 'event', id := event_id) ORDER BY time, event_id)[1:500] AS evidence,
       count(*) AS matches,
       json_object('provider_id', fid, 'provider_severity', arg_max(provider_sev, time),
                   'status', arg_max(status, time), 'type', arg_max(coalesce(r->>'Type', r->>'$.Types[0]'), time)) AS attributes
FROM s
GROUP BY source, fid
