"""Deploy and CI events: the generic deploy log, GitHub deployments, GitHub Actions runs and jobs,
Argo CD application history. All become ``events`` (category ``deploy`` or ``build``) with the
original record in ``raw``; ``forensics/derive/provenance.py`` builds the ``deploys`` and
``ci_runs`` tables from the facts they give (``deploys_sql``, ``ci_runs_sql``) after every ingest.

Generic deploy log (JSON Lines or CSV, one deploy per record)::

    time, service, environment, version, digest (or artifact_digest / image_digest, or an image
    reference ``repo@sha256:...``), image, actor, via (pipeline | manual), action (deploy |
    rollback | scale), status (success | failure | timeout | anything else -> unknown), id

GitHub: ``deployment`` and ``deployment_status`` webhooks; REST ``deployment`` and
``deployment status`` objects and lists. Actions: ``workflow_run`` and ``workflow_job`` webhooks;
REST workflow-run objects, ``{"workflow_runs": [...]}`` pages and ``{"jobs": [...]}`` job lists.
Argo CD: ``argocd app history -o json`` (an array of history entries) or an ``Application``
resource (``status.history``; one event per entry).
"""

from __future__ import annotations

from forensics.sources.contract import Batch, Detection, Probe, Source

_DIGEST_RE = "'sha256:[0-9a-f]{64}'"
_TIME_KEYS = ("time", "timestamp", "deployed_at", "@timestamp")
_DIGEST_KEYS = ("digest", "artifact_digest", "image_digest", "image")


def _outcome(expr: str) -> str:
    return f"""CASE WHEN lower({expr}) IN ('success', 'succeeded', 'ok', 'deployed', 'healthy') THEN 'success'
                    WHEN lower({expr}) IN ('failure', 'failed', 'error', 'degraded', 'cancelled') THEN 'failure'
                    WHEN lower({expr}) IN ('timeout', 'timed_out') THEN 'timeout' ELSE 'unknown' END"""


# -- the deploy and CI facts these sources contribute (forensics/derive/provenance.py builds the
# ``deploys`` and ``ci_runs`` tables from them)
_LOGGED_DEPLOYS = """
SELECT event_id, time, time_raw, service, environment,
       coalesce(raw->>'instance', raw->>'cluster', raw->>'region') AS instance, raw->>'version' AS version, artifact_digest,
       coalesce(raw->>'image', target) AS image, actor,
       CASE WHEN lower(raw->>'via') IN ('pipeline', 'manual') THEN lower(raw->>'via') ELSE 'unknown' END AS via,
       lower(coalesce(action, 'deploy')) AS action, outcome AS status, outcome_reason AS status_detail,
       source, evidence_sha256, evidence_record, false AS inferred
FROM events WHERE source = {source}
"""

_GITHUB_DEPLOYS = """
SELECT event_id, time, time_raw, service, environment, CAST(NULL AS VARCHAR) AS instance,
       raw->'deployment'->>'sha' AS version, artifact_digest,
       target AS image, actor, CASE WHEN actor LIKE '%[bot]' THEN 'pipeline' ELSE 'unknown' END AS via,
       CASE WHEN action LIKE 'deployment_status%' THEN 'status' ELSE 'deploy' END AS action,
       outcome AS status, outcome_reason AS status_detail, source, evidence_sha256, evidence_record, false AS inferred
FROM events WHERE source = {source}
"""

_ARGO_DEPLOYS = """
SELECT event_id, time, time_raw, service, environment, 'argocd:' || service AS instance,
       split_part(target, '@', 2) AS version, artifact_digest,
       target AS image, actor, CASE WHEN actor = 'argocd-automated' THEN 'pipeline' ELSE 'unknown' END AS via,
       'deploy' AS action, outcome AS status, outcome_reason AS status_detail, source, evidence_sha256, evidence_record,
       false AS inferred
FROM events WHERE source = {source}
"""

_CI_RUNS = """
WITH e AS (
    SELECT *, coalesce(raw->'workflow_job', CASE WHEN (raw->>'run_id') IS NOT NULL THEN raw END) AS j,
           coalesce(raw->'workflow_run', CASE WHEN (raw->>'run_number') IS NOT NULL THEN raw END) AS w
    FROM events WHERE source = {source}
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


class DeployLogSource(Source):
    """The generic deploy log (JSON Lines, JSON array or CSV)."""

    name = "deploys"
    category = "deploy"
    containers = ("jsonl", "json", "csv")

    def detect(self, probe: Probe) -> Detection:
        if probe.container == "csv":
            header = {h.strip().strip('"').lower() for h in probe.head.split("\n", 1)[0].split(",")}
        else:
            header = set(probe.first)
        if (
            "service" in header
            and any(k in header for k in _TIME_KEYS)
            and any(k in header for k in _DIGEST_KEYS)
            and ("environment" in header or "action" in header)
        ):
            return Detection.STRONG
        return Detection.NO

    def events_sql(self) -> str:
        t = "coalesce(" + ", ".join(f"r.doc->>'{k}'" for k in _TIME_KEYS) + ")"
        return f"""
        SELECT r.record_no, fx_time({t}, false) AS time, fx_time_problem({t}, false) AS time_problem, {t} AS time_raw,
               coalesce(r.doc->>'action', 'deploy') AS action, r.doc->>'actor' AS actor,
               r.doc->>'service' AS service, r.doc->>'environment' AS environment,
               coalesce(r.doc->>'image', r.doc->>'service') AS target,
               lower(coalesce(nullif(regexp_extract(coalesce(r.doc->>'digest', r.doc->>'artifact_digest',
                                                             r.doc->>'image_digest', r.doc->>'image'), {_DIGEST_RE}), ''),
                              r.doc->>'digest', r.doc->>'artifact_digest', r.doc->>'image_digest')) AS artifact_digest,
               {_outcome("r.doc->>'status'")} AS outcome,
               CASE WHEN r.doc->>'status' IS NULL THEN 'the deploy record has no status'
                    ELSE 'status=' || (r.doc->>'status') END AS outcome_reason,
               coalesce(r.doc->>'id', r.doc->>'deploy_id') AS event_uid
        FROM {{batch}} r"""

    def deploys_sql(self) -> str:
        return _LOGGED_DEPLOYS


class GitHubDeploymentSource(Source):
    """GitHub deployment / deployment_status webhooks and REST objects."""

    name = "github_deployment"
    category = "deploy"
    containers = ("jsonl", "json")

    def detect(self, probe: Probe) -> Detection:
        objs = probe.objects()
        if not objs:
            return Detection.NO
        o = objs[0]
        if isinstance(o.get("deployment"), dict) and "workflow_job" not in o:
            return Detection.STRONG
        if "statuses_url" in o and "sha" in o and "task" in o:
            return Detection.STRONG
        if "deployment_url" in o and "state" in o:
            return Detection.STRONG
        return Detection.NO

    def events_sql(self) -> str:
        dep = "coalesce(r.doc->'deployment', CASE WHEN (r.doc->>'statuses_url') IS NOT NULL THEN r.doc END)"
        st = "coalesce(r.doc->'deployment_status', CASE WHEN (r.doc->>'deployment_url') IS NOT NULL THEN r.doc END)"
        return f"""
        WITH n AS (SELECT r.record_no, r.doc, {dep} AS d, {st} AS s FROM {{batch}} r)
        SELECT record_no,
               fx_time(coalesce(s->>'created_at', d->>'created_at'), false) AS time,
               fx_time_problem(coalesce(s->>'created_at', d->>'created_at'), false) AS time_problem,
               coalesce(s->>'created_at', d->>'created_at') AS time_raw,
               CASE WHEN s IS NOT NULL THEN 'deployment_status ' || coalesce(s->>'state', '?')
                    ELSE 'deployment ' || coalesce(doc->>'action', 'record') END AS action,
               coalesce(s->'creator'->>'login', d->'creator'->>'login', doc->'sender'->>'login') AS actor,
               coalesce(doc->'repository'->>'name',
                        regexp_extract(coalesce(s->>'repository_url', d->>'repository_url'), '[^/]+$')) AS service,
               coalesce(s->>'environment', d->>'environment') AS environment,
               coalesce(doc->'repository'->>'full_name',
                        regexp_extract(coalesce(s->>'repository_url', d->>'repository_url'), 'repos/(.*)$', 1))
                   || coalesce('@' || (d->>'sha'), '') AS target,
               nullif(regexp_extract(CAST(d->'payload' AS VARCHAR), {_DIGEST_RE}), '') AS artifact_digest,
               CASE WHEN s IS NULL THEN 'unknown' ELSE {_outcome("s->>'state'")} END AS outcome,
               CASE WHEN s IS NULL THEN 'a deployment record carries no outcome; see its deployment_status'
                    ELSE 'state=' || coalesce(s->>'state', '?') END AS outcome_reason,
               CASE WHEN s IS NOT NULL THEN 'status:' || (s->>'id') || ':' || coalesce(s->>'state', '')
                    ELSE 'deployment:' || (d->>'id') || ':' || coalesce(doc->>'action', 'record') END
                   || ':' || coalesce(s->>'repository_url', d->>'repository_url', '') || ':'
                   || coalesce(s->>'created_at', d->>'created_at', '') AS event_uid
        FROM n"""

    def deploys_sql(self) -> str:
        return _GITHUB_DEPLOYS


class GitHubActionsSource(Source):
    """GitHub Actions workflow runs and jobs (webhooks and REST captures) as CI events."""

    name = "github_actions"
    category = "build"
    containers = ("jsonl", "json")

    def detect(self, probe: Probe) -> Detection:
        doc = probe.document
        if isinstance(doc, dict) and (
            isinstance(doc.get("workflow_runs"), list) or isinstance(doc.get("jobs"), list)
        ):
            return Detection.STRONG
        o = probe.first
        if isinstance(o.get("workflow_run"), dict) and "deployment" not in o and "workflow_job_run" not in o:
            return Detection.STRONG
        if isinstance(o.get("workflow_job"), dict):
            return Detection.STRONG
        if "head_sha" in o and ("run_number" in o or "runner_name" in o or "run_id" in o):
            return Detection.STRONG
        return Detection.NO

    def record_path(self, probe: Probe) -> str:
        doc = probe.document
        if isinstance(doc, dict) and isinstance(doc.get("workflow_runs"), list):
            return "$.workflow_runs"
        if isinstance(doc, dict) and isinstance(doc.get("jobs"), list):
            return "$.jobs"
        return "$"

    def events_sql(self) -> str:
        job = "coalesce(r.doc->'workflow_job', CASE WHEN (r.doc->>'run_id') IS NOT NULL AND (r.doc->>'head_sha') IS NOT NULL THEN r.doc END)"
        run = "coalesce(r.doc->'workflow_run', CASE WHEN (r.doc->>'run_number') IS NOT NULL THEN r.doc END)"
        return f"""
        WITH n AS (SELECT r.record_no, r.doc, {job} AS j, CASE WHEN {job} IS NULL THEN {run} END AS w FROM {{batch}} r),
        m AS (
            SELECT record_no, doc, j, w, coalesce(j, w) AS o,
                   coalesce(j->>'started_at', j->>'created_at', w->>'run_started_at', w->>'created_at') AS t
            FROM n
        )
        SELECT record_no, fx_time(t, false) AS time, fx_time_problem(t, false) AS time_problem, t AS time_raw,
               fx_time(coalesce(j->>'completed_at', CASE WHEN (w->>'status') = 'completed' THEN w->>'updated_at' END), false) AS end_time,
               CASE WHEN j IS NOT NULL THEN 'workflow_job ' ELSE 'workflow_run ' END
                   || coalesce(doc->>'action', o->>'status', 'record') AS action,
               coalesce(w->'triggering_actor'->>'login', w->'actor'->>'login', doc->'sender'->>'login') AS actor,
               coalesce(doc->'repository'->>'name', w->'repository'->>'name',
                        regexp_extract(o->>'url', 'repos/[^/]+/([^/]+)/', 1)) AS service,
               coalesce(doc->'repository'->>'full_name', w->'repository'->>'full_name',
                        regexp_extract(o->>'url', 'repos/([^/]+/[^/]+)/', 1)) || coalesce(' ' || (w->>'path'), '')
                   || coalesce(' job ' || (j->>'name'), '') AS target,
               CASE WHEN lower(o->>'conclusion') = 'success' THEN 'success'
                    WHEN lower(o->>'conclusion') IN ('failure', 'cancelled', 'startup_failure', 'action_required') THEN 'failure'
                    WHEN lower(o->>'conclusion') = 'timed_out' THEN 'timeout' ELSE 'unknown' END AS outcome,
               CASE WHEN (o->>'conclusion') IS NULL THEN 'no conclusion yet (status ' || coalesce(o->>'status', '?') || ')'
                    ELSE 'conclusion=' || (o->>'conclusion') END AS outcome_reason,
               CAST(coalesce(j->>'run_id', w->>'id') AS VARCHAR) AS request_id,
               CASE WHEN j IS NOT NULL THEN 'job:' || (j->>'id') ELSE 'run:' || (w->>'id') || ':' || coalesce(w->>'run_attempt', '1') END
                   || ':' || coalesce(o->>'status', '?') || ':' || coalesce(o->>'conclusion', '')
                   || ':' || coalesce(o->>'completed_at', o->>'updated_at', '') AS event_uid
        FROM m WHERE o IS NOT NULL"""

    def load_batch(self, batch: Batch) -> None:
        batch.reject("""SELECT record_no, 'not a GitHub Actions workflow run or job' AS reason FROM {batch} r
                        WHERE (r.doc->'workflow_job') IS NULL AND (r.doc->'workflow_run') IS NULL
                          AND (r.doc->>'run_number') IS NULL AND ((r.doc->>'run_id') IS NULL OR (r.doc->>'head_sha') IS NULL)""")
        batch.insert_events(self.events_sql())

    def ci_runs_sql(self) -> str:
        return _CI_RUNS


class ArgoCDSource(Source):
    """Argo CD application history: ``argocd app history -o json`` or an Application's status.history."""

    name = "argocd"
    category = "deploy"
    containers = ("jsonl", "json")

    def detect(self, probe: Probe) -> Detection:
        o = probe.first
        if o.get("kind") == "Application" and isinstance((o.get("status") or {}).get("history"), list):
            return Detection.STRONG
        if "deployedAt" in o and "revision" in o or "deployedAt" in o and "revisions" in o:
            return Detection.STRONG
        return Detection.NO

    def events_sql(self) -> str:
        return """
        WITH h AS (
            SELECT r.record_no, r.doc->'metadata'->>'name' AS app, r.doc->'metadata'->>'namespace' AS ns,
                   CAST(e.key AS INTEGER) AS seq, e.value AS v
            FROM {batch} r, json_each(r.doc, '$.status.history') e WHERE (r.doc->>'kind') = 'Application'
            UNION ALL
            SELECT r.record_no, NULL, NULL, 0, r.doc FROM {batch} r WHERE (r.doc->>'kind') IS DISTINCT FROM 'Application'
        )
        SELECT record_no, seq AS event_seq, fx_time(v->>'deployedAt', false) AS time,
               fx_time_problem(v->>'deployedAt', false) AS time_problem, v->>'deployedAt' AS time_raw,
               'deploy' AS action, coalesce(v->'initiatedBy'->>'username',
                                            CASE WHEN (v->'initiatedBy'->>'automated') = 'true' THEN 'argocd-automated' END) AS actor,
               coalesce(app, regexp_extract(coalesce(v->'source'->>'path', v->'source'->>'chart'), '[^/]+$')) AS service,
               ns AS environment,
               coalesce(v->'source'->>'repoURL', '') || '@' || coalesce(v->>'revision', v->>'revisions') AS target,
               nullif(regexp_extract(CAST(v AS VARCHAR), 'sha256:[0-9a-f]{64}'), '') AS artifact_digest,
               'unknown' AS outcome, 'Argo CD history records that a sync deployed this revision, not its health' AS outcome_reason,
               'argocd:' || coalesce(app, '') || ':' || coalesce(v->>'id', '') || ':' || (v->>'deployedAt') AS event_uid
        FROM h"""

    def deploys_sql(self) -> str:
        return _ARGO_DEPLOYS


SOURCES = [DeployLogSource(), GitHubDeploymentSource(), GitHubActionsSource(), ArgoCDSource()]
