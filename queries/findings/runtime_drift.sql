-- Runtime drift: a container observed running a digest other than the one its service x environment
-- was last deployed with, more than 5 minutes after that deploy (queries/provenance/runtime_drift.sql
-- explains desired and observed). What ran is not what the deploys say: a rollback that did not
-- replace every pod, a pod created by hand, or a node that kept an old image. Medium instead of high
-- when the only evidence is a snapshot whose approximated time falls within the rollout grace.
-- Parameters: none. Non-empty: one finding per pod, container, observed digest and desired state.
-- @severity: high
-- @technique: T1525
-- @title: Runtime drift: a pod runs a digest other than the one deployed
-- @engines: duckdb
-- @not-spark: reads the DuckDB table macro fx_runtime_drift
SELECT coalesce(service, '') || '|' || coalesce(environment, '') || '|' || coalesce(pod, '') || '|'
           || coalesce(container, '') || '|' || observed_digest || '|' || desired_digest AS group_key,
       NULL AS rule_id, first_drift_at AS time, last_observed AS "end",
       CASE WHEN within_grace THEN 'medium' END AS severity,
       'Runtime drift: ' || coalesce(pod, service) || ' runs ' || left(observed_digest, 19) || '…, not '
           || left(desired_digest, 19) || '…' AS title,
       reason AS summary, NULL AS technique,
       list_filter([struct_pack(kind := 'service', id := service),
                    struct_pack(kind := 'artifact', id := observed_digest),
                    struct_pack(kind := 'artifact', id := desired_digest),
                    struct_pack(kind := 'resource', id := 'pod:' || coalesce(namespace || '/', '') || pod)],
                   lambda x: x.id IS NOT NULL) AS entities,
       list_filter(list_transform(event_ids, lambda i: struct_pack(kind := 'event', id := i))
                   || [struct_pack(kind := 'deploy', id := deploy_id)], lambda x: x.id IS NOT NULL) AS evidence,
       observations AS matches,
       json_object('pod', pod, 'observed_digest', observed_digest, 'desired_digest', desired_digest,
                   'since', strftime(since, '%Y-%m-%dT%H:%M:%SZ'),
                   'desired_since', strftime(desired_since, '%Y-%m-%dT%H:%M:%SZ'),
                   'deploy_id', deploy_id, 'desired_from', desired_from) AS attributes
FROM fx_runtime_drift(5)
