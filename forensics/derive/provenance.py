"""Rebuild ``deploys`` and ``ci_runs`` from events, then verify new attestations (issue 7).

Deploys come from the generic deploy log (``deploys``), GitHub deployments and deployment
statuses (``github_deployment``), Argo CD history (``argocd``) and Kubernetes audit events that
change a workload's image (``k8s_audit``: a successful create/update/patch of a Deployment,
StatefulSet, DaemonSet, ReplicaSet or Pod whose request carries a ``sha256:`` digest). A
Kubernetes deploy that the deploy log already records (same digest, within 5 minutes) is not
repeated. ``via`` is the log's own field; for Kubernetes it is ``pipeline`` when the actor is one
of the policy's ``ci_actors`` (or a service account when no policy is stored), else ``manual``.
"""

from __future__ import annotations

from forensics import verify

ORDER = 30
READS = ("events", "attestations")

_DEPLOYS = """
CREATE OR REPLACE TEMP TABLE _fx_deploys AS
WITH logged AS (
    SELECT event_id, time, time_raw, service, environment,
           coalesce(raw->>'instance', raw->>'cluster', raw->>'region') AS instance, raw->>'version' AS version, artifact_digest,
           coalesce(raw->>'image', target) AS image, actor,
           CASE WHEN lower(raw->>'via') IN ('pipeline', 'manual') THEN lower(raw->>'via') ELSE 'unknown' END AS via,
           lower(coalesce(action, 'deploy')) AS action, outcome AS status, outcome_reason AS status_detail,
           source, evidence_sha256, evidence_record
    FROM events WHERE source = 'deploys'
), gh AS (
    SELECT event_id, time, time_raw, service, environment, CAST(NULL AS VARCHAR) AS instance,
           raw->'deployment'->>'sha' AS version, artifact_digest,
           target AS image, actor, CASE WHEN actor LIKE '%[bot]' THEN 'pipeline' ELSE 'unknown' END AS via,
           CASE WHEN action LIKE 'deployment_status%' THEN 'status' ELSE 'deploy' END AS action,
           outcome AS status, outcome_reason AS status_detail, source, evidence_sha256, evidence_record
    FROM events WHERE source = 'github_deployment'
), argo AS (
    SELECT event_id, time, time_raw, service, environment, 'argocd:' || service AS instance,
           split_part(target, '@', 2) AS version, artifact_digest,
           target AS image, actor, CASE WHEN actor = 'argocd-automated' THEN 'pipeline' ELSE 'unknown' END AS via,
           'deploy' AS action, outcome AS status, outcome_reason AS status_detail, source, evidence_sha256, evidence_record
    FROM events WHERE source = 'argocd'
), k8s AS (
    SELECT event_id, time, time_raw, split_part(target, '/', 3) AS service, split_part(target, '/', 1) AS environment,
           coalesce(environment, 'k8s') || ':' || split_part(target, '/', 1) AS instance,
           nullif(regexp_extract(CAST(raw->'requestObject' AS VARCHAR), ':([0-9][0-9A-Za-z._-]*)@sha256', 1), '') AS version,
           lower(artifact_digest) AS artifact_digest,
           nullif(regexp_extract(CAST(raw->'requestObject' AS VARCHAR), '"image"\\s*:\\s*"([^"]+)"', 1), '') AS image,
           actor,
           CASE WHEN $ci_actors IS NOT NULL THEN CASE WHEN list_contains($ci_actors, actor) THEN 'pipeline' ELSE 'manual' END
                WHEN actor_type LIKE 'service_account%' THEN 'pipeline' ELSE 'manual' END AS via,
           'deploy' AS action, outcome AS status, outcome_reason AS status_detail, source, evidence_sha256, evidence_record
    FROM events
    WHERE source LIKE 'k8s_audit%' AND artifact_digest IS NOT NULL AND outcome = 'success'
      AND regexp_matches(action, '^(create|update|patch) (deployments|statefulsets|daemonsets|replicasets|pods)$')
)
SELECT * FROM logged UNION ALL SELECT * FROM gh UNION ALL SELECT * FROM argo
UNION ALL
SELECT * FROM k8s WHERE NOT EXISTS (
    SELECT 1 FROM logged l WHERE l.artifact_digest = k8s.artifact_digest
      AND abs(epoch(l.time) - epoch(k8s.time)) <= 300)
"""

_CI_RUNS = """
CREATE OR REPLACE TEMP TABLE _fx_ci AS
WITH e AS (
    SELECT *, coalesce(raw->'workflow_job', CASE WHEN (raw->>'run_id') IS NOT NULL THEN raw END) AS j,
           coalesce(raw->'workflow_run', CASE WHEN (raw->>'run_number') IS NOT NULL THEN raw END) AS w
    FROM events WHERE source = 'github_actions'
)
SELECT event_id, time, CASE WHEN j IS NOT NULL THEN 'workflow_job' ELSE 'workflow_run' END AS kind,
       split_part(target, ' ', 1) AS repository,
       coalesce(j->>'run_id', w->>'id') AS run_id, coalesce(j->>'run_attempt', w->>'run_attempt') AS run_attempt,
       j->>'id' AS job_id, j->>'name' AS job_name, coalesce(j->>'workflow_name', w->>'name') AS workflow_name,
       w->>'path' AS workflow_path, coalesce(w->>'event', raw->'workflow_run'->>'event') AS trigger,
       coalesce(j->>'head_sha', w->>'head_sha') AS head_sha, coalesce(j->>'head_branch', w->>'head_branch') AS head_branch,
       actor, j->>'runner_name' AS runner_name, j->>'runner_group_name' AS runner_group,
       CAST(j->'labels' AS VARCHAR[]) AS labels,
       coalesce(j->>'status', w->>'status') AS status, coalesce(j->>'conclusion', w->>'conclusion') AS conclusion,
       fx_time(coalesce(j->>'started_at', w->>'run_started_at'), false) AS started_at,
       fx_time(coalesce(j->>'completed_at', CASE WHEN (w->>'status') = 'completed' THEN w->>'updated_at' END), false) AS completed_at,
       evidence_sha256, evidence_record
FROM e WHERE j IS NOT NULL OR w IS NOT NULL
"""


def derive(con) -> None:
    policy = verify.stored_policy(con)
    ci_actors = list(policy.get("ci_actors") or []) or None if policy else None
    con.execute(_DEPLOYS, {"ci_actors": ci_actors}).fetchall()
    con.execute("DELETE FROM deploys").fetchall()
    # environment names normalised through the case's alias table (prod = production; docs/runtime.md)
    con.execute(
        """INSERT INTO deploys BY NAME
           SELECT d.event_id AS deploy_id, d.* EXCLUDE (event_id, environment),
                  coalesce(a.canonical, d.environment) AS environment, d.environment AS environment_raw
           FROM _fx_deploys d LEFT JOIN environment_aliases a ON a.alias = lower(d.environment)"""
    ).fetchall()
    con.execute("DROP TABLE _fx_deploys").fetchall()
    con.execute(_CI_RUNS).fetchall()
    con.execute("DELETE FROM ci_runs").fetchall()
    con.execute("INSERT INTO ci_runs BY NAME SELECT * FROM _fx_ci").fetchall()
    con.execute("DROP TABLE _fx_ci").fetchall()
    verify.refresh(con)
