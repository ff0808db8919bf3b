"""GCP Cloud Audit Logs: ``LogEntry`` objects whose ``protoPayload`` is a
``google.cloud.audit.AuditLog``, one per file, as a JSON array (a Logs Explorer download), as an
``entries.list`` response (``{"entries": [...]}``) or as JSON Lines (a sink export).

``timestamp`` -> time (GCP writes RFC 3339 with a zone; nanoseconds are truncated to the
microsecond; a zone-less time is rejected). ``serviceName`` + ``methodName`` -> action
(``pubsub.googleapis.com:google.pubsub.v1.Publisher.CreateTopic``); ``authenticationInfo``
``principalEmail`` -> actor, ``serviceAccountKeyName`` -> credential_id, the first
``serviceAccountDelegationInfo`` principal goes into actor_type (``service_account via ...``);
``requestMetadata.callerIp`` / ``callerSuppliedUserAgent`` -> src_ip / user_agent;
``resourceName`` -> target; ``serviceName`` without ``.googleapis.com`` -> service; the resource's
``location`` (else ``region``, ``zone``) label -> region. ``status.code`` -> outcome: absent or 0 is success, 4
(DEADLINE_EXCEEDED) is a timeout, 7 (PERMISSION_DENIED) and 16 (UNAUTHENTICATED) are access
denied, 8 (RESOURCE_EXHAUSTED) is throttling, others are failures with their code.
``logName`` + ``insertId`` -> event_uid.
"""

from __future__ import annotations

from typing import Any

from forensics.sources.contract import Detection, Probe, Source

_SHAPE = """{
 "timestamp": "VARCHAR", "insertId": "VARCHAR", "logName": "VARCHAR",
 "resource": {"labels": {"project_id": "VARCHAR", "location": "VARCHAR", "region": "VARCHAR", "zone": "VARCHAR"}},
 "operation": {"id": "VARCHAR"},
 "protoPayload": {"serviceName": "VARCHAR", "methodName": "VARCHAR", "resourceName": "VARCHAR",
   "authenticationInfo": {"principalEmail": "VARCHAR", "principalSubject": "VARCHAR",
                          "serviceAccountKeyName": "VARCHAR", "serviceAccountDelegationInfo": "JSON"},
   "requestMetadata": {"callerIp": "VARCHAR", "callerSuppliedUserAgent": "VARCHAR"},
   "status": {"code": "INTEGER", "message": "VARCHAR"}}
}"""

_CODES = (
    "['OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS', "
    "'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', "
    "'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED']"
)

_EVENTS = f"""
WITH p AS (SELECT record_no, json_transform(doc, '{_SHAPE}') AS s FROM {{batch}}),
f AS (
    SELECT record_no, s, s.protoPayload AS pp, s.protoPayload.status.code AS code,
           {_CODES}[s.protoPayload.status.code + 1] AS code_name,
           s.protoPayload.authenticationInfo.serviceAccountDelegationInfo AS deleg
    FROM p
)
SELECT record_no,
       fx_time(s.timestamp, false) AS time, fx_time_problem(s.timestamp, false) AS time_problem,
       s.timestamp AS time_raw,
       coalesce(pp.serviceName, '?') || ':' || coalesce(pp.methodName, '?') AS action,
       coalesce(pp.authenticationInfo.principalEmail, pp.authenticationInfo.principalSubject) AS actor,
       CASE WHEN pp.authenticationInfo.principalEmail LIKE '%.gserviceaccount.com' THEN 'service_account'
            WHEN pp.authenticationInfo.principalEmail IS NOT NULL THEN 'user' END
         || coalesce(' via ' || coalesce(deleg->>'$[0].firstPartyPrincipal.principalEmail',
                                         deleg->>'$[0].thirdPartyPrincipal.thirdPartyClaims'), '') AS actor_type,
       pp.authenticationInfo.serviceAccountKeyName AS credential_id,
       pp.requestMetadata.callerIp AS src_ip,
       pp.requestMetadata.callerSuppliedUserAgent AS user_agent,
       pp.resourceName AS target,
       CASE WHEN code IS NULL OR code = 0 THEN 'success'
            WHEN code = 4 THEN 'timeout'
            ELSE 'failure' END AS outcome,
       CASE WHEN code IS NULL THEN 'no status (OK)'
            WHEN code = 0 THEN 'status 0 OK'
            WHEN code = 4 THEN 'timed out: status 4 DEADLINE_EXCEEDED' || coalesce(': ' || pp.status.message, '')
            WHEN code IN (7, 16) THEN 'access denied: status ' || code || ' ' || code_name || coalesce(': ' || pp.status.message, '')
            WHEN code = 8 THEN 'throttled: status 8 RESOURCE_EXHAUSTED' || coalesce(': ' || pp.status.message, '')
            ELSE 'status ' || code || coalesce(' ' || code_name, '') || coalesce(': ' || pp.status.message, '') END AS outcome_reason,
       s.operation.id AS request_id,
       coalesce(s.logName, '') || '|' || s.insertId AS event_uid,
       s.resource.labels.project_id AS environment,
       coalesce(s.resource.labels.location, s.resource.labels.region, s.resource.labels.zone) AS region,
       regexp_replace(pp.serviceName, '\\.googleapis\\.com$', '') AS service
FROM f
"""


# -- the facts GCP audit contributes to the credential inventory (forensics/derive/credentials.py)
_CREDENTIAL_LINKS = """
SELECT '//iam.googleapis.com/' || (raw->>'$.protoPayload.response.name') AS credential_id,
       credential_id AS issued_by, actor AS issuer_principal, raw->>'$.protoPayload.request.name' AS principal,
       action AS how, time AS issued_at, fx_time(raw->>'$.protoPayload.response.validBeforeTime', false) AS expires_at,
       event_id
FROM events WHERE source = {source} AND outcome = 'success' AND action LIKE '%CreateServiceAccountKey'
"""

_STATES = """
SELECT '//iam.googleapis.com/' || coalesce(raw->>'$.protoPayload.request.name', target) AS credential_id, event_id, time,
       CASE WHEN action LIKE '%DeleteServiceAccountKey' THEN 'deleted'
            WHEN action LIKE '%EnableServiceAccountKey' THEN 'reactivated' ELSE 'revoked' END AS change,
       action AS how, false AS listed
FROM events
WHERE source = {source} AND outcome = 'success'
  AND (action LIKE '%DeleteServiceAccountKey' OR action LIKE '%DisableServiceAccountKey'
       OR action LIKE '%EnableServiceAccountKey')
"""

_CREDENTIAL_KINDS = """
SELECT DISTINCT credential_id, 'gcp_service_account_key' AS kind
FROM (SELECT credential_id FROM events WHERE source = {source}
      UNION ALL SELECT l.credential_id FROM credential_links l JOIN events e USING (event_id) WHERE e.source = {source}
      UNION ALL SELECT credential_id FROM ({states}))
""".replace("{states}", _STATES)


class GcpAuditSource(Source):
    name = "gcp_audit"
    sigma_logsources = (("gcp", "gcp.audit"),)
    category = "audit"
    containers = ("jsonl", "json")
    groupable = True
    record_keys = ("entries",)  # an export of ``gcloud logging read --format=json`` or the API's list

    def detect(self, probe: Probe) -> Detection:
        objs = probe.objects()
        if not objs:
            return Detection.NO
        hits = sum(1 for o in objs if _is_audit_entry(o))
        return Detection.STRONG if hits * 2 >= len(objs) else Detection.NO

    def events_sql(self) -> str:
        return _EVENTS

    def credential_links_sql(self) -> str:
        return _CREDENTIAL_LINKS

    def credential_states_sql(self) -> str:
        return _STATES

    def credential_kinds_sql(self) -> str:
        return _CREDENTIAL_KINDS


def _is_audit_entry(o: dict[str, Any]) -> bool:
    pp = o.get("protoPayload")
    if not isinstance(pp, dict):
        return False
    return "AuditLog" in str(pp.get("@type", "")) or "cloudaudit.googleapis.com" in str(o.get("logName", ""))


SOURCES = [GcpAuditSource()]
