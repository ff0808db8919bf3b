-- Runtime state, environment aliases and coverage gaps (issue 22). Columns in docs/schema.md and
-- docs/runtime.md.

-- Environment names normalised before desired and observed state are compared: a deploy to "prod"
-- and one to "production" are one environment. Seeded once per case with the defaults below; edit it
-- per case with Case.set_environment_alias (an alias mapped to itself turns a default off).
CREATE TABLE IF NOT EXISTS environment_aliases (
    alias      VARCHAR PRIMARY KEY,   -- lower case
    canonical  VARCHAR NOT NULL,
    note       VARCHAR
);
INSERT INTO environment_aliases
SELECT * FROM (VALUES ('prod', 'production', 'default'), ('prd', 'production', 'default'),
                      ('stage', 'staging', 'default'), ('stg', 'staging', 'default'),
                      ('dev', 'development', 'default')) v(alias, canonical, note)
WHERE NOT EXISTS (SELECT 1 FROM case_meta WHERE key = 'environment_aliases_seeded')
ON CONFLICT DO NOTHING;
INSERT INTO case_meta VALUES ('environment_aliases_seeded', 'true') ON CONFLICT DO NOTHING;

-- The environment a deploy row named before normalisation (deploys.environment is the canonical name).
ALTER TABLE deploys ADD COLUMN IF NOT EXISTS environment_raw VARCHAR;

-- The digest chain of CloudTrail digest files: the digest file each one says came before it.
ALTER TABLE cloudtrail_digests ADD COLUMN IF NOT EXISTS previous_digest_s3_object VARCHAR;
ALTER TABLE cloudtrail_digests ADD COLUMN IF NOT EXISTS previous_digest_hash VARCHAR;

-- A snapshot's capture time, given at ingest (--observed-at): it replaces the time a snapshot's
-- rows approximate from their newest status time.
CREATE TABLE IF NOT EXISTS snapshot_observations (
    evidence_sha256  VARCHAR PRIMARY KEY,
    observed_at      TIMESTAMPTZ NOT NULL,
    given_as         VARCHAR
);

-- What ran (observed) and what a workload spec asked for (desired), one row per container seen.
-- Derived after every ingest from Kubernetes pod/workload snapshots, audit pods/status patches and
-- Events (Pulled, Created).
CREATE TABLE IF NOT EXISTS runtime_state (
    time             TIMESTAMPTZ NOT NULL,
    time_basis       VARCHAR NOT NULL,      -- event | observed-at | approx (snapshot's newest status time)
    kind             VARCHAR NOT NULL,      -- observed | desired
    how              VARCHAR NOT NULL,      -- pod_snapshot | replicaset_snapshot | workload_spec | pod_status_patch | event_pulled | event_created
    cluster          VARCHAR,
    namespace        VARCHAR,
    environment      VARCHAR,               -- canonical (environment_aliases)
    environment_raw  VARCHAR,
    workload         VARCHAR,               -- the Deployment (service) the pod belongs to
    pod              VARCHAR,
    container        VARCHAR,
    image            VARCHAR,
    image_digest     VARCHAR,               -- sha256:<hex>, lower case
    state            VARCHAR,               -- success | failure | unknown (the event's outcome)
    detail           VARCHAR,
    event_id         VARCHAR NOT NULL,
    source           VARCHAR NOT NULL,
    evidence_sha256  VARCHAR NOT NULL,
    evidence_record  BIGINT NOT NULL
);

-- What the evidence cannot see: one row per gap (docs/coverage.md). Rebuilt after every ingest.
CREATE TABLE IF NOT EXISTS coverage_gaps (
    gap_id           VARCHAR NOT NULL,
    kind             VARCHAR NOT NULL,      -- digest_missing_file | digest_chain_break | silence | missing_parent | skipped_file
    source           VARCHAR NOT NULL,
    scope            VARCHAR,               -- account / cluster / service / file
    start            TIMESTAMPTZ,           -- the window the case has no evidence for (NULL: unknown)
    "end"            TIMESTAMPTZ,
    severity         VARCHAR NOT NULL,
    statement        VARCHAR NOT NULL,      -- "no evidence for X between T1 and T2", and why
    detail           JSON,
    evidence         STRUCT(kind VARCHAR, id VARCHAR)[]
);

-- Runtime drift (docs/runtime.md): an observed container whose digest differs from the desired one
-- (the latest successful deploy or rollback of its service x environment, else the latest workload
-- spec) more than grace_minutes after that desired state took effect (a snapshot whose time is only
-- approximated is reported within the grace too, marked within_grace: its capture time is later than
-- the time it shows, by an unknown amount). One row per pod (or
-- ReplicaSet), container, observed digest and desired state; used by queries/provenance/runtime_drift
-- and the runtime_drift detector.
CREATE OR REPLACE MACRO fx_runtime_drift(grace_minutes) AS TABLE
WITH obs AS (
    SELECT r.*, coalesce(r.environment, '') AS env_key,
           min(r.time) OVER (PARTITION BY r.workload, r.environment, coalesce(r.pod, r.event_id), r.container,
                                          r.image_digest) AS first_seen
    FROM runtime_state r WHERE r.kind = 'observed' AND r.workload IS NOT NULL
), dep AS (
    SELECT time, service, coalesce(environment, '') AS env_key, lower(artifact_digest) AS digest, deploy_id,
           action, actor, via, version
    FROM deploys
    WHERE status = 'success' AND action IN ('deploy', 'rollback') AND artifact_digest IS NOT NULL
      AND service IS NOT NULL
), spec AS (
    SELECT time, workload, coalesce(environment, '') AS env_key, image_digest AS digest, event_id
    FROM runtime_state WHERE kind = 'desired' AND workload IS NOT NULL
), j AS (
    SELECT o.*, d.time AS dep_time, d.digest AS dep_digest, d.deploy_id, d.action AS dep_action,
           d.actor AS dep_actor, d.via AS dep_via, d.version AS dep_version
    FROM obs o ASOF LEFT JOIN dep d ON d.service = o.workload AND d.env_key = o.env_key AND o.time >= d.time
), k AS (
    SELECT j.*, s.time AS spec_time, s.digest AS spec_digest, s.event_id AS spec_event_id
    FROM j ASOF LEFT JOIN spec s ON s.workload = j.workload AND s.env_key = j.env_key AND j.time >= s.time
), w AS (
    SELECT k.*,
           CASE WHEN dep_time IS NULL OR (spec_time > dep_time AND spec_digest <> dep_digest) THEN spec_digest ELSE dep_digest END AS desired_digest,
           CASE WHEN dep_time IS NULL OR (spec_time > dep_time AND spec_digest <> dep_digest) THEN spec_time ELSE dep_time END AS desired_since,
           CASE WHEN dep_time IS NULL OR (spec_time > dep_time AND spec_digest <> dep_digest) THEN 'workload spec' ELSE 'deploy' END AS desired_from
    FROM k
)
SELECT workload AS service, environment, any_value(environment_raw) AS environment_raw, any_value(cluster) AS cluster,
       any_value(namespace) AS namespace, pod, container, image_digest AS observed_digest,
       any_value(image) AS observed_image, desired_digest, desired_from, min(desired_since) AS desired_since,
       min(first_seen) AS since, min(time) AS first_drift_at, max(time) AS last_observed,
       any_value(deploy_id) AS deploy_id, any_value(dep_action) AS deploy_action, any_value(dep_actor) AS deploy_actor,
       any_value(dep_via) AS deploy_via, any_value(dep_version) AS deploy_version,
       list(DISTINCT how ORDER BY how) AS observed_by, count(*) AS observations,
       list(event_id ORDER BY time) AS event_ids,
       'pod ' || coalesce(any_value(namespace) || '/', '') || coalesce(pod, '(ReplicaSet)')
           || coalesce(' container ' || container, '') || ' runs ' || image_digest || ' (observed '
           || strftime(max(time), '%Y-%m-%dT%H:%M:%SZ') || ', on it since '
           || strftime(min(first_seen), '%Y-%m-%dT%H:%M:%SZ') || '); desired ' || desired_digest
           || ' since ' || strftime(min(desired_since), '%Y-%m-%dT%H:%M:%SZ')
           || CASE WHEN desired_from = 'deploy'
                   THEN ' (' || any_value(dep_action) || ' by ' || coalesce(any_value(dep_actor), '?') || ', '
                        || any_value(deploy_id) || ', should have replaced it)'
                   ELSE ' (the workload spec)' END
           || CASE WHEN bool_and(time < desired_since + to_minutes(CAST(grace_minutes AS BIGINT)))
                   THEN '; the snapshot has no capture time: its time is approximated from its newest status time, '
                        || 'within ' || grace_minutes || ' minutes of the deploy, so the rollout may still have been '
                        || 'in progress (give --observed-at)' ELSE '' END AS reason,
       bool_and(time < desired_since + to_minutes(CAST(grace_minutes AS BIGINT))) AS within_grace,
       list(DISTINCT time_basis) AS time_basis
FROM w
WHERE desired_digest IS NOT NULL AND image_digest <> desired_digest
  AND (time >= desired_since + to_minutes(CAST(grace_minutes AS BIGINT)) OR time_basis = 'approx')
GROUP BY workload, environment, pod, container, image_digest, desired_digest, desired_from;
