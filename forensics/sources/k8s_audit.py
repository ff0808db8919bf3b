"""Kubernetes API-server audit events (``audit.k8s.io/v1`` and ``v1beta1``): JSON Lines as the
log backend writes them, an ``EventList`` document (``items``), and the Logstash-flattened
headerless CSV some pipelines keep (cluster, time, user, verb, resource, subresource, name,
namespace, URI, auditID, stage, code).

One logical request is one ``auditID``. The API server may write it several times, once per
stage (RequestReceived, ResponseStarted, ResponseComplete, Panic). All stages are loaded records
(nothing is dropped), but only the most complete stage is kept as the event: ``event_uid`` is the
auditID plus a short hash of user, verb and URI (so two different requests that reuse an auditID, as
hand-edited fixtures do, are not merged) and ``event_rank`` the stage rank (RequestReceived 1, ResponseStarted 2,
ResponseComplete and Panic 3). The engine's de-duplication keeps the highest rank (then the earlier
record); against events the case already holds, a higher stage replaces a lower one. Every stage not kept is counted in
``records_duplicate``. ``time`` is ``requestReceivedTimestamp`` (the same for every stage),
``end_time`` the ``stageTimestamp`` of a ResponseComplete stage.

Kubernetes writes RFC 3339 times with a zone; a zone-less time is rejected, never guessed.
"""

from __future__ import annotations

from forensics.sources._k8s import DIGEST, WORKLOAD_OF_POD
from forensics.sources.contract import Batch, Detection, Probe, Source

_EVENT_KEYS = {
    "kind",
    "apiVersion",
    "level",
    "auditID",
    "stage",
    "requestURI",
    "verb",
    "user",
    "impersonatedUser",
    "sourceIPs",
    "userAgent",
    "objectRef",
    "responseStatus",
    "requestObject",
    "responseObject",
    "requestReceivedTimestamp",
    "stageTimestamp",
    "annotations",
    "timestamp",
    "metadata",
}

_CRED = "authentication.kubernetes.io/credential-id"

_SHAPE = """{
 "kind": "VARCHAR", "apiVersion": "VARCHAR", "auditID": "VARCHAR", "stage": "VARCHAR", "verb": "VARCHAR",
 "requestURI": "VARCHAR", "userAgent": "VARCHAR", "sourceIPs": "VARCHAR[]",
 "requestReceivedTimestamp": "VARCHAR", "stageTimestamp": "VARCHAR", "timestamp": "VARCHAR",
 "user": {"username": "VARCHAR", "extra": "JSON"},
 "impersonatedUser": {"username": "VARCHAR"},
 "objectRef": {"resource": "VARCHAR", "subresource": "VARCHAR", "namespace": "VARCHAR", "name": "VARCHAR",
               "apiGroup": "VARCHAR"},
 "responseStatus": {"code": "INTEGER", "reason": "VARCHAR", "message": "VARCHAR", "status": "VARCHAR"},
 "annotations": "JSON", "requestObject": "JSON"
}"""

# The columns every k8s row set has, whatever its origin (JSON event or CSV row).
_COMMON = """
    fx_time(t_raw, false) AS time, fx_time_problem(t_raw, false) AS time_problem, t_raw AS time_raw,
    CASE WHEN stage = 'ResponseComplete' THEN fx_time(stage_ts, false) END AS end_time,
    verb || ' ' || coalesce(resource || coalesce('/' || nullif(subresource, ''), ''),
                            regexp_replace(uri, '\\?.*$', '')) AS action,
    username AS actor,
    CASE WHEN username LIKE 'system:serviceaccount:%' THEN 'service_account'
         WHEN username LIKE 'system:node:%' THEN 'node'
         WHEN username = 'system:anonymous' THEN 'anonymous'
         WHEN username LIKE 'system:%' THEN 'system'
         WHEN username IS NULL THEN NULL ELSE 'user' END
      || CASE WHEN impersonated IS NOT NULL THEN ' impersonating ' || impersonated ELSE '' END AS actor_type,
    CASE WHEN resource IS NULL THEN regexp_replace(uri, '\\?.*$', '')
         ELSE coalesce(nullif(namespace, '') || '/', '') || resource || coalesce('/' || nullif(name, ''), '') END AS target,
    CASE WHEN code = 504 OR status_reason = 'Timeout' THEN 'timeout'
         WHEN code BETWEEN 100 AND 399 THEN 'success'
         WHEN code >= 400 THEN 'failure'
         WHEN decision = 'forbid' THEN 'failure'
         ELSE 'unknown' END AS outcome,
    CASE WHEN code = 504 OR status_reason = 'Timeout' THEN 'timed out: HTTP ' || coalesce(code::VARCHAR, '?') || coalesce(' ' || status_reason, '')
         WHEN code = 429 THEN 'throttled: HTTP 429' || coalesce(' ' || status_reason, '')
         WHEN code IN (401, 403) THEN 'access denied: HTTP ' || code || coalesce(' ' || status_reason, '')
                                      || coalesce(' (' || nullif(authz_reason, '') || ')', '')
         WHEN code IS NOT NULL THEN 'HTTP ' || code || coalesce(' ' || status_reason, '')
         WHEN decision = 'forbid' THEN 'access denied: authorization decision forbid'
         ELSE 'no response status recorded (stage ' || coalesce(stage, '?') || ')' END AS outcome_reason,
    audit_id AS request_id,
    audit_id || '/' || left(md5(coalesce(username, '') || '|' || coalesce(verb, '') || '|' || coalesce(uri, '')), 12) AS event_uid,
    CASE stage WHEN 'RequestReceived' THEN 1 WHEN 'ResponseStarted' THEN 2 ELSE 3 END AS event_rank
"""

_JSON_EVENTS = f"""
WITH p AS (SELECT record_no, json_transform(doc, '{_SHAPE}') AS s FROM {{batch}}),
f AS (
    SELECT record_no, s.kind AS kind,
           coalesce(s.requestReceivedTimestamp, s.timestamp, s.stageTimestamp) AS t_raw,
           s.stageTimestamp AS stage_ts, s.stage AS stage, s.verb AS verb, s.requestURI AS uri,
           s.objectRef.resource AS resource, s.objectRef.subresource AS subresource,
           s.objectRef.namespace AS namespace, s.objectRef.name AS name,
           s.user.username AS username, s.impersonatedUser.username AS impersonated,
           s.responseStatus.code AS code, s.responseStatus.reason AS status_reason,
           s.annotations->>'$."authorization.k8s.io/decision"' AS decision,
           s.annotations->>'$."authorization.k8s.io/reason"' AS authz_reason,
           s.auditID AS audit_id, s.sourceIPs[1] AS src_ip, s.userAgent AS user_agent,
           s.user.extra->>'$."{_CRED}"[0]' AS credential_id,
           regexp_extract(CAST(s.requestObject AS VARCHAR), 'sha256:[0-9a-f]{{64}}') AS digest
    FROM p
)
SELECT record_no, {_COMMON}, src_ip, user_agent, credential_id, nullif(digest, '') AS artifact_digest
FROM f
"""

# A Logstash-flattened CSV row, handed over as one text line (reads_text_lines): split it into
# fields with a CSV field pattern, then unquote.
_CSV_FIELDS = """
WITH l AS (
    SELECT record_no, regexp_extract_all(doc->>'$', '(?:^|,)("(?:[^"]|"")*"|[^,]*)', 1) AS raw_f FROM {batch}
), u AS (
    SELECT record_no, len(raw_f) AS n,
           list_transform(raw_f, lambda x: CASE WHEN x LIKE '"%"' THEN replace(x[2:-2], '""', '"') ELSE x END) AS v
    FROM l
)
"""

_CSV_EVENTS = (
    _CSV_FIELDS
    + f"""
, f AS (
    SELECT record_no, v[2] AS t_raw, CAST(NULL AS VARCHAR) AS stage_ts, nullif(v[11], '') AS stage,
           nullif(v[4], '') AS verb, nullif(v[9], '') AS uri, nullif(v[5], '') AS resource, v[6] AS subresource,
           v[8] AS namespace, v[7] AS name, nullif(v[3], '') AS username, CAST(NULL AS VARCHAR) AS impersonated,
           try_cast(v[12] AS INTEGER) AS code, CAST(NULL AS VARCHAR) AS status_reason,
           CAST(NULL AS VARCHAR) AS decision, CAST(NULL AS VARCHAR) AS authz_reason, nullif(v[10], '') AS audit_id,
           v[1]->>'name' AS cluster
    FROM u WHERE n = 15
)
SELECT record_no, {_COMMON}, cluster AS environment FROM f
"""
)


# -- the facts Kubernetes audit contributes to the credential inventory (forensics/derive/credentials.py)
_CREDENTIAL_LINKS = """
SELECT raw->>'$.annotations."authentication.kubernetes.io/issued-credential-id"' AS credential_id,
       credential_id AS issued_by, actor AS issuer_principal,
       'system:serviceaccount:' || (raw->>'$.objectRef.namespace') || ':' || (raw->>'$.objectRef.name') AS principal,
       'k8s:TokenRequest' AS how, time AS issued_at,
       fx_time(raw->>'$.responseObject.status.expirationTimestamp', false) AS expires_at, event_id
FROM events WHERE source = {source} AND outcome = 'success' AND action = 'create serviceaccounts/token'
"""

# deleting a service account revokes every token it was issued (Kubernetes names hold no LIKE wildcards)
_SA_DELETIONS = """
SELECT 'system:serviceaccount:' || (raw->>'$.objectRef.namespace') || ':' || (raw->>'$.objectRef.name') AS principal_like,
       'JTI=%' AS credential_like, CAST(NULL AS TIMESTAMPTZ) AS cutoff,
       time, event_id, 'revoked' AS change, 'k8s:delete serviceaccount' AS how
FROM events WHERE source = {source} AND outcome = 'success' AND action = 'delete serviceaccounts'
"""

_CREDENTIAL_KINDS = """
SELECT DISTINCT credential_id,
       CASE WHEN credential_id LIKE 'JTI=%' THEN 'k8s_service_account_token' ELSE 'k8s_client_certificate' END AS kind
FROM (SELECT credential_id FROM events WHERE source = {source}
      UNION ALL SELECT l.credential_id FROM credential_links l JOIN events e USING (event_id) WHERE e.source = {source})
WHERE credential_id LIKE 'JTI=%' OR credential_id LIKE 'X509SHA256=%'
"""

# a successful change of a workload's image to a digest: a deploy the cluster saw (``inferred``: one
# that a deploy log also records, same digest within 5 minutes, is that log's). ``via`` is pipeline
# when the actor is one of the stored policy's ``ci_actors`` (or, with no policy, a service account).
_DEPLOYS = r"""
SELECT event_id, time, time_raw, split_part(target, '/', 3) AS service, split_part(target, '/', 1) AS environment,
       coalesce(environment, 'k8s') || ':' || split_part(target, '/', 1) AS instance,
       nullif(regexp_extract(CAST(raw->'requestObject' AS VARCHAR), ':([0-9][0-9A-Za-z._-]*)@sha256', 1), '') AS version,
       lower(artifact_digest) AS artifact_digest,
       nullif(regexp_extract(CAST(raw->'requestObject' AS VARCHAR), '"image"\s*:\s*"([^"]+)"', 1), '') AS image,
       actor,
       CASE WHEN getvariable('fx_ci_actors') IS NOT NULL
                 THEN CASE WHEN list_contains(getvariable('fx_ci_actors'), actor) THEN 'pipeline' ELSE 'manual' END
            WHEN actor_type LIKE 'service_account%' THEN 'pipeline' ELSE 'manual' END AS via,
       'deploy' AS action, outcome AS status, outcome_reason AS status_detail, source, evidence_sha256, evidence_record,
       true AS inferred
FROM events
WHERE source = {source} AND artifact_digest IS NOT NULL AND outcome = 'success'
  AND regexp_matches(action, '^(create|update|patch) (deployments|statefulsets|daemonsets|replicasets|pods)$')
"""


# the kubelet reporting containerStatuses with their imageID: what a pod ran (forensics/derive/runtime.py)
_RUNTIME = f"""
SELECT e.event_id, e.time, 'event' AS time_basis, 'observed' AS kind, 'pod_status_patch' AS how,
       e.environment AS cluster, split_part(e.target, '/', 1) AS namespace,
       {WORKLOAD_OF_POD.format(p="split_part(e.target, '/', 3)")} AS workload,
       split_part(e.target, '/', 3) AS pod, cs->>'name' AS container, cs->>'image' AS image,
       {DIGEST.format(x="cs->>'imageID'")} AS image_digest, e.outcome AS state,
       'kubelet status ' || e.action AS detail, e.source AS source, e.evidence_sha256 AS evidence_sha256,
       e.evidence_record AS evidence_record
FROM (SELECT e.*, unnest(CAST(coalesce(e.raw->'requestObject'->'status'->'containerStatuses', '[]') AS JSON[])) AS cs
      FROM events e
      WHERE e.source = {{source}} AND e.outcome = 'success'
        AND regexp_matches(e.action, '^(patch|update) pods/status$')) e
"""


# a request made with Impersonate-User acts as the impersonated identity: the two are linked, so the
# impersonated name is searchable and leads to who really acted (forensics/findings/entities.py)
_IDENTITY_LINKS = """
SELECT 'actor' AS kind, actor AS id, 'actor' AS linked_kind, imp AS linked_id, true AS same_principal,
       actor || ' impersonated ' || imp AS reason, 'event' AS evidence_kind, arg_min(event_id, time) AS evidence_id
FROM (SELECT actor, raw->>'$.impersonatedUser.username' AS imp, event_id, time FROM events
      WHERE source = {source} AND actor IS NOT NULL)
WHERE imp IS NOT NULL AND imp <> actor GROUP BY actor, imp
"""


class _AuditFacts(Source):
    """The facts both Kubernetes audit shapes contribute."""

    def credential_links_sql(self) -> str:
        return _CREDENTIAL_LINKS

    def principal_revocations_sql(self) -> str:
        return _SA_DELETIONS

    def credential_kinds_sql(self) -> str:
        return _CREDENTIAL_KINDS

    def deploys_sql(self) -> str:
        return _DEPLOYS

    def runtime_sql(self) -> str:
        return _RUNTIME

    def identity_links_sql(self) -> str:
        return _IDENTITY_LINKS


class K8sAuditSource(_AuditFacts):
    name = "k8s_audit"
    sigma_logsources = (("kubernetes", "audit"),)
    category = "audit"
    containers = ("jsonl", "json")
    groupable = True

    def detect(self, probe: Probe) -> Detection:
        doc = probe.document
        if (
            isinstance(doc, dict)
            and doc.get("kind") == "EventList"
            and str(doc.get("apiVersion", "")).startswith("audit.k8s.io")
        ):
            return Detection.CERTAIN
        objs = probe.objects()
        if not objs:
            return Detection.NO
        hits = sum(1 for o in objs if "auditID" in o and ("verb" in o or "stage" in o))
        if hits * 2 >= len(objs):
            return Detection.CERTAIN
        if all(o.keys() and o.keys() <= _EVENT_KEYS and "kind" in o for o in objs):
            return (
                Detection.WEAK
            )  # only audit Event keys, e.g. a damaged event: still ours, to reject with a reason
        return Detection.WEAK if hits else Detection.NO

    def record_path(self, probe: Probe) -> str:
        if isinstance(probe.document, dict) and probe.document.get("kind") == "EventList":
            return "$.items"
        return super().record_path(probe)

    def load_batch(self, batch: Batch) -> None:
        batch.reject("""
            SELECT record_no,
                   CASE WHEN kind IS NOT NULL AND kind <> '"Event"'
                        THEN 'not a Kubernetes audit Event: kind is ' || left(kind, 80) || ', expected "Event"'
                        ELSE 'not a Kubernetes audit Event: no auditID and no verb' END AS reason
            FROM (SELECT record_no, CAST(doc->'kind' AS VARCHAR) AS kind, doc->>'auditID' AS audit_id,
                         doc->>'verb' AS verb FROM {batch})
            WHERE (kind IS NOT NULL AND kind <> '"Event"') OR (audit_id IS NULL AND verb IS NULL)""")
        batch.insert_events(
            _JSON_EVENTS.replace(
                "FROM {batch}",
                """FROM {batch} WHERE coalesce(CAST(doc->'kind' AS VARCHAR), '"Event"') = '"Event"'
              AND (doc->>'auditID' IS NOT NULL OR doc->>'verb' IS NOT NULL)""",
            )
        )


class K8sAuditCsvSource(_AuditFacts):
    """Kubernetes audit flattened to headerless CSV by Logstash (15 fields; see the module docstring)."""

    name = "k8s_audit_csv"
    sigma_logsources = (("kubernetes", "audit"),)
    category = "audit"
    containers = ("csv",)
    reads_text_lines = True

    def detect(self, probe: Probe) -> Detection:
        first = probe.head.split("\n", 1)[0]
        fields = first.split(",")
        looks = (
            len(fields) >= 15
            and fields[10] in ("RequestReceived", "ResponseStarted", "ResponseComplete", "Panic")
            and len(fields[9]) == 36
            and fields[1][:2] == "20"
        )
        return Detection.STRONG if looks else Detection.NO

    def load_batch(self, batch: Batch) -> None:
        batch.reject(
            _CSV_FIELDS
            + """
            SELECT record_no, 'truncated or malformed CSV row: ' || n || ' of 15 fields' AS reason FROM u WHERE n <> 15"""
        )
        batch.insert_events(_CSV_EVENTS)


SOURCES = [K8sAuditSource(), K8sAuditCsvSource()]
