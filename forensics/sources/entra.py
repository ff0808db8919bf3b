"""Microsoft Entra ID (Azure AD) sign-in and audit logs, in the three shapes responders get them:

* Microsoft Graph answers: ``GET /auditLogs/signIns`` and ``/auditLogs/directoryAudits``
  (``{"@odata.context": ..., "value": [...]}``), or their records one per line;
* diagnostic-settings blobs and Event Hub messages (``{"records": [{"time", "category":
  "SignInLogs" | "AuditLogs", "properties": <the Graph record>}]}``);
* Microsoft Sentinel table exports (``SigninLogs`` / ``AuditLogs`` rows: ``TimeGenerated``,
  PascalCase columns, nested fields as JSON strings).

Sign-ins (category ``authentication``): ``createdDateTime`` -> time; ``userPrincipalName`` -> actor
(``user``; a service principal sign-in has ``servicePrincipalName``); ``sessionId`` or
``uniqueTokenIdentifier`` -> credential_id (the session); ``ipAddress`` -> src_ip;
``appDisplayName`` + ``resourceDisplayName`` -> target; ``status.errorCode`` 0 -> success, else
failure with the code and ``failureReason`` (50053 locked, 50126 bad password, 53003 blocked by
conditional access...); ``correlationId`` -> request_id; ``id`` -> event_uid.

Audits (category ``audit``): ``activityDateTime`` (B2C: ``createdDateTime``) -> time; ``activityDisplayName`` -> action
(``category/activity``); ``initiatedBy.user.userPrincipalName`` or ``initiatedBy.app`` ->
actor (``user`` or ``app``), ``initiatedBy.user.ipAddress`` (else the blob's ``callerIpAddress``)
-> src_ip; the first target's ``userPrincipalName`` or ``displayName`` -> target; ``result``
success/failure/timeout -> outcome with ``resultReason``.

``id`` with the time -> event_uid (sanitised exports repeat one placeholder id).
Times are RFC 3339 with a zone in every shape; a zone-less time is rejected.
"""

from __future__ import annotations

from typing import Any

from forensics.sources.contract import Detection, Probe, Source, most

# One record, whatever the shape: `g` is the Graph record (the blob's properties, or the row itself).
_BASE = """
WITH r AS (SELECT record_no, doc, coalesce(doc->'properties', doc) AS g FROM {batch})
"""

_SIGNIN = (
    _BASE
    + """,
f AS (
    SELECT record_no, doc, g,
           coalesce(g->>'createdDateTime', doc->>'TimeGenerated', doc->>'time') AS t,
           coalesce(try_cast(g->>'$.status.errorCode' AS BIGINT), try_cast(doc->>'ResultType' AS BIGINT),
                    try_cast(try(json(doc->>'Status'))->>'errorCode' AS BIGINT)) AS code,
           coalesce(g->>'$.status.failureReason', doc->>'ResultDescription',
                    try(json(doc->>'Status'))->>'failureReason') AS why
    FROM r)
SELECT record_no,
       fx_time(t, false) AS time, fx_time_problem(t, false) AS time_problem, t AS time_raw,
       'authentication' AS category,
       'sign-in:' || coalesce(g->>'clientAppUsed', doc->>'ClientAppUsed', 'unknown client') AS action,
       coalesce(g->>'userPrincipalName', doc->>'UserPrincipalName', g->>'servicePrincipalName',
                doc->>'ServicePrincipalName', g->>'userId') AS actor,
       CASE WHEN coalesce(g->>'userPrincipalName', doc->>'UserPrincipalName') IS NOT NULL THEN 'user'
            ELSE 'service_principal' END AS actor_type,
       coalesce(g->>'sessionId', doc->>'SessionId', g->>'uniqueTokenIdentifier',
                doc->>'UniqueTokenIdentifier') AS credential_id,
       coalesce(g->>'ipAddress', doc->>'IPAddress', doc->>'callerIpAddress') AS src_ip,
       coalesce(g->>'userAgent', doc->>'UserAgent') AS user_agent,
       coalesce(g->>'appDisplayName', doc->>'AppDisplayName')
           || coalesce(' -> ' || coalesce(g->>'resourceDisplayName', doc->>'ResourceDisplayName'), '') AS target,
       CASE WHEN code = 0 THEN 'success' WHEN code IS NULL THEN 'unknown' ELSE 'failure' END AS outcome,
       CASE WHEN code IS NULL THEN 'no status.errorCode'
            WHEN code = 0 THEN 'errorCode 0' || coalesce(': ' || nullif(why, 'Other.'), '')
            WHEN code IN (50053, 50126, 50057, 50055, 50074, 50076, 53003, 530032, 50105)
                 THEN 'access denied: errorCode ' || code || coalesce(': ' || why, '')
            ELSE 'errorCode ' || code || coalesce(': ' || why, '') END AS outcome_reason,
       coalesce(g->>'correlationId', doc->>'CorrelationId') AS request_id,
       coalesce(g->>'id', doc->>'Id') || '|' || coalesce(t, '') AS event_uid
FROM f
"""
)

_AUDIT = (
    _BASE
    + """,
f AS (
    SELECT record_no, doc, g,
           coalesce(g->>'activityDateTime', g->>'createdDateTime', doc->>'TimeGenerated', doc->>'time') AS t,
           coalesce(g->'initiatedBy', try(json(doc->>'InitiatedBy'))) AS who,
           coalesce(g->'targetResources', try(json(doc->>'TargetResources'))) AS what,
           lower(coalesce(g->>'result', doc->>'Result')) AS res,
           coalesce(g->>'resultReason', doc->>'ResultReason', doc->>'resultDescription') AS why
    FROM r)
SELECT record_no,
       fx_time(t, false) AS time, fx_time_problem(t, false) AS time_problem, t AS time_raw,
       'audit' AS category,
       coalesce(g->>'category', doc->>'Category') || '/'
           || trim(coalesce(g->>'activityDisplayName', doc->>'OperationName', doc->>'operationName')) AS action,
       coalesce(who->>'$.user.userPrincipalName', who->>'$.user.id', who->>'$.app.servicePrincipalName',
                who->>'$.app.displayName', who->>'$.app.appId') AS actor,
       CASE WHEN who->>'$.user.userPrincipalName' IS NOT NULL OR who->>'$.user.id' IS NOT NULL THEN 'user'
            WHEN json_type(who->'$.app') = 'OBJECT' THEN 'app' END AS actor_type,
       coalesce(who->>'$.user.ipAddress', nullif(doc->>'callerIpAddress', '')) AS src_ip,
       coalesce(g->>'userAgent', (SELECT x->>'value' FROM (SELECT unnest(CAST(coalesce(g->'additionalDetails',
                    try(json(doc->>'AdditionalDetails'))) AS JSON[])) AS x) WHERE x->>'key' = 'User-Agent' LIMIT 1))
           AS user_agent,
       coalesce(what->>'$[0].userPrincipalName', what->>'$[0].displayName', what->>'$[0].id') AS target,
       CASE WHEN res = 'success' THEN 'success' WHEN res = 'failure' THEN 'failure'
            WHEN res = 'timeout' THEN 'timeout' ELSE 'unknown' END AS outcome,
       CASE WHEN res IS NULL THEN 'no result' ELSE 'result ' || res END || coalesce(': ' || why, '')
           AS outcome_reason,
       coalesce(g->>'correlationId', doc->>'CorrelationId') AS request_id,
       coalesce(g->>'id', doc->>'Id') || '|' || coalesce(t, '') AS event_uid
FROM f
"""
)

_SIGNIN_KEYS = (
    {"createdDateTime", "userPrincipalName", "status"},
    {"createdDateTime", "appDisplayName", "status"},
)
_SENTINEL_SIGNIN = {"TimeGenerated", "ResultType", "UserPrincipalName", "AppDisplayName"}
_AUDIT_KEYS = {"activityDateTime", "activityDisplayName", "initiatedBy"}
_SENTINEL_AUDIT = {"TimeGenerated", "OperationName", "InitiatedBy", "TargetResources", "LoggedByService"}


def _graph(o: dict[str, Any]) -> dict[str, Any]:
    props = o.get("properties")
    return props if isinstance(props, dict) else o


class _Entra(Source):
    category = "audit"
    containers = ("jsonl", "json")
    record_keys = ("value", "records")
    groupable = True

    def _is_mine(self, o: dict[str, Any]) -> bool:
        raise NotImplementedError

    def detect(self, probe: Probe) -> Detection:
        return most(probe.objects(), self._is_mine)


class EntraSigninSource(_Entra):
    name = "entra_signin"
    sigma_logsources = (("azure", "signinlogs"),)

    # a successful interactive or non-interactive sign-in issues the token it names (docs/identity.md)
    def credential_links_sql(self) -> str:
        return """SELECT credential_id, NULL AS issued_by, actor AS issuer_principal, actor AS principal,
                         'entra_signin:' || action AS how, time AS issued_at, NULL::TIMESTAMPTZ AS expires_at, event_id
                  FROM events WHERE source = {source} AND outcome = 'success' AND credential_id IS NOT NULL"""

    def credential_kind_sql(self) -> str:
        return "'entra_token'"

    def _is_mine(self, o: dict[str, Any]) -> bool:
        g = _graph(o)
        if o.get("category") not in (
            None,
            "SignInLogs",
            "NonInteractiveUserSignInLogs",
            "ServicePrincipalSignInLogs",
        ):
            return False
        return any(k <= g.keys() for k in _SIGNIN_KEYS) or _SENTINEL_SIGNIN <= o.keys()

    def events_sql(self) -> str:
        return _SIGNIN


class EntraAuditSource(_Entra):
    name = "entra_audit"
    sigma_logsources = (("azure", "auditlogs"),)

    def _is_mine(self, o: dict[str, Any]) -> bool:
        g = _graph(o)
        if o.get("category") not in (None, "AuditLogs") and "properties" in o:
            return False
        return _AUDIT_KEYS <= g.keys() or _SENTINEL_AUDIT <= o.keys()

    def events_sql(self) -> str:
        return _AUDIT


SOURCES = [EntraAuditSource(), EntraSigninSource()]
