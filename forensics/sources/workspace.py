"""Google Workspace Reports API activities (``activities.list``: admin, login, drive, token, saml,
...): an answer ``{"kind": "admin#reports#activities", "items": [...]}``, a JSON array, or one
activity per line; also the flattened form SIEM exporters write (one event per record, ``name``,
``type`` and ``parameters`` as an object at the top level).

An activity holds one or more ``events[]``; each is one event (``event_seq`` its index).
``id.time`` -> time: the API defines it as UTC (RFC 3339 with ``Z``); exporters that drop the zone
(``2022-12-11 02:57:48.693000000``) are read as UTC under that contract.
``id.applicationName`` + the event ``name`` -> action (``login:login_failure``); ``actor.email``
(else ``profileId``) -> actor, ``actor.callerType`` -> actor_type; ``ipAddress`` -> src_ip; the
target is the first of the parameters ``doc_title``, ``target_user``, ``USER_EMAIL``,
``app_name``, ``client_id``, ``ROLE_NAME``; ``id.uniqueQualifier`` with the event's index and a hash of the event -> event_uid (exporters'
fixtures reuse one qualifier for different events; a redelivered identical activity is still one event).

The API records actions that happened, so an event is a success unless its name says otherwise:
names with ``fail``, ``denied``, ``block`` or ``suspicious`` are failures (``login_failure``,
``login_challenge`` with ``login_challenge_status`` Failed too); the reason names the event.
"""

from __future__ import annotations

from typing import Any

from forensics.sources.contract import Detection, Probe, Source, most

_EVENTS = """
WITH b AS (SELECT record_no, doc FROM {batch}),
ev AS (
    SELECT record_no, doc, unnest(CAST(doc->'events' AS JSON[])) AS e,
           unnest(range(CAST(json_array_length(doc->'events') AS BIGINT))) AS i
    FROM b WHERE json_type(doc->'events') = 'ARRAY' AND json_array_length(doc->'events') > 0
    UNION ALL
    SELECT record_no, doc, json_object('name', doc->>'name', 'type', doc->>'type',
                                       'flat', doc->'parameters') AS e, 0 AS i
    FROM b WHERE json_type(doc->'events') IS DISTINCT FROM 'ARRAY' OR json_array_length(doc->'events') = 0),
p AS (
    SELECT record_no, i, doc, e, e->>'name' AS ename,
           -- the API's parameters are a list of {name, value | multiValue | boolValue | intValue}
           coalesce(e->'flat', (SELECT json_group_object(x->>'name', coalesce(x->'value', x->'multiValue',
                        x->'boolValue', x->'intValue')) FROM (SELECT unnest(CAST(e->'parameters' AS JSON[])) AS x)))
               AS params
    FROM ev)
SELECT record_no, CAST(i AS INTEGER) AS event_seq,
       fx_time(doc->>'$.id.time', true) AS time, fx_time_problem(doc->>'$.id.time', true) AS time_problem,
       doc->>'$.id.time' AS time_raw,
       CASE WHEN doc->>'$.id.applicationName' = 'login' THEN 'authentication' ELSE 'audit' END AS category,
       coalesce(doc->>'$.id.applicationName', '?') || ':' || coalesce(ename, e->>'type', '?') AS action,
       coalesce(doc->>'$.actor.email', doc->>'$.actor.profileId', doc->>'$.actor.key') AS actor,
       doc->>'$.actor.callerType' AS actor_type,
       doc->>'ipAddress' AS src_ip,
       coalesce(params->>'doc_title', params->>'target_user', params->>'USER_EMAIL', params->>'app_name',
                params->>'client_id', params->>'ROLE_NAME') AS target,
       CASE WHEN regexp_matches(lower(coalesce(ename, '')), 'fail|denied|block|suspicious')
                 OR lower(coalesce(params->>'login_challenge_status', '')) = 'failed' THEN 'failure'
            ELSE 'success' END AS outcome,
       CASE WHEN regexp_matches(lower(coalesce(ename, '')), 'fail|denied|block|suspicious')
                 OR lower(coalesce(params->>'login_challenge_status', '')) = 'failed'
                 THEN 'event ' || coalesce(ename, '?') || coalesce(': ' || (params->>'login_failure_type'), '')
            ELSE 'activity recorded: ' || coalesce(ename, e->>'type', '?') END AS outcome_reason,
       -- the qualifier with a hash of the event: exporters' fixtures reuse one qualifier for many events
       doc->>'$.id.uniqueQualifier' || '|' || i || '|' || left(md5(CAST(e AS VARCHAR)), 16) AS event_uid,
       doc->>'$.id.customerId' AS environment
FROM p
"""


def _is_activity(o: dict[str, Any]) -> bool:
    ident = o.get("id")
    return (
        isinstance(ident, dict)
        and "applicationName" in ident
        and "time" in ident
        and (str(o.get("kind", "")).startswith("admin#reports#activity") or "events" in o or "name" in o)
    )


class WorkspaceSource(Source):
    name = "google_workspace"
    sigma_logsources = (("gcp", "google_workspace.admin"), ("gcp", "google_workspace.login"))

    # an OAuth grant: ``token:authorize`` gives the app (client_id) a token for the user; ``token:revoke``
    # takes it back. The grant's id is ``oauth:<app>:<user>``, the app as the event's target (its
    # ``app_name``, else ``client_id``) (docs/identity.md)
    _GRANT = "'oauth:' || coalesce(target, '?') || ':' || actor"

    def credential_links_sql(self) -> str:
        return f"""SELECT {self._GRANT} AS credential_id, NULL AS issued_by, actor AS issuer_principal,
                          actor AS principal, 'google_workspace:' || action AS how, time AS issued_at,
                          NULL::TIMESTAMPTZ AS expires_at, event_id
                   FROM events WHERE source = {{source}} AND action = 'token:authorize' AND actor IS NOT NULL"""

    def credential_states_sql(self) -> str:
        return f"""SELECT {self._GRANT} AS credential_id, event_id, time, 'revoked' AS change,
                          'google_workspace:' || action AS how, false AS listed
                   FROM events WHERE source = {{source}} AND action = 'token:revoke' AND actor IS NOT NULL"""

    def credential_kind_sql(self) -> str:
        return "'workspace_oauth_grant'"

    category = "audit"
    containers = ("jsonl", "json")
    groupable = True

    def detect(self, probe: Probe) -> Detection:
        objs = probe.objects()
        doc = probe.document
        if isinstance(doc, dict) and isinstance(doc.get("items"), list):
            objs = [o for o in doc["items"][:50] if isinstance(o, dict)]
        elif len(objs) == 1 and isinstance(objs[0].get("items"), list):  # a large answer, arrays cut
            objs = [o for o in objs[0]["items"] if isinstance(o, dict)]
        return most(objs, lambda o: _is_activity(o))

    def record_path(self, probe: Probe) -> str:
        doc = probe.document
        if isinstance(doc, dict) and isinstance(doc.get("items"), list):
            return "$.items"
        if "items" in probe.top_keys and doc is None:
            return "$.items"
        return super().record_path(probe)

    def events_sql(self) -> str:
        return _EVENTS


SOURCES = [WorkspaceSource()]
