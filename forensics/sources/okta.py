"""Okta System Log ``LogEvent`` records (``GET /api/v1/logs``): a JSON array as the API answers, or
JSON Lines as a log shipper writes them.

``published`` -> time (RFC 3339 with ``Z``; a zone-less time is rejected). ``eventType`` -> action;
``actor.alternateId`` (login) or ``actor.displayName`` -> actor, ``actor.type`` -> actor_type;
``authenticationContext.externalSessionId`` (else ``rootSessionId``) -> credential_id (the Okta session);
``client.ipAddress`` -> src_ip, ``client.userAgent.rawUserAgent`` -> user_agent; the first
``target`` (``type:alternateId`` or ``type:displayName``) -> target; ``transaction.id`` -> request_id;
``uuid`` -> event_uid.

``outcome.result`` -> outcome: SUCCESS and ALLOW are success; FAILURE and DENY are failure (DENY as
"access denied"); CHALLENGE, SKIPPED and UNKNOWN are unknown. ``outcome.reason`` is kept verbatim in
outcome_reason after the result. Sign-in events (``user.session.*``, ``user.authentication.*``) are
category ``authentication``; the rest ``audit``.
"""

from __future__ import annotations

from forensics.sources.contract import Detection, Probe, Source, most

_SHAPE = """{
 "published": "VARCHAR", "uuid": "VARCHAR", "eventType": "VARCHAR", "displayMessage": "VARCHAR",
 "actor": {"id": "VARCHAR", "type": "VARCHAR", "alternateId": "VARCHAR", "displayName": "VARCHAR"},
 "client": {"ipAddress": "VARCHAR", "userAgent": {"rawUserAgent": "VARCHAR"}},
 "outcome": {"result": "VARCHAR", "reason": "VARCHAR"},
 "authenticationContext": {"externalSessionId": "VARCHAR", "rootSessionId": "VARCHAR"},
 "transaction": {"id": "VARCHAR"},
 "target": "JSON"
}"""

_EVENTS = f"""
WITH p AS (SELECT record_no, json_transform(doc, '{_SHAPE}') AS s FROM {{batch}}),
f AS (SELECT record_no, s, upper(s.outcome.result) AS res FROM p)
SELECT record_no,
       fx_time(s.published, false) AS time, fx_time_problem(s.published, false) AS time_problem,
       s.published AS time_raw,
       CASE WHEN s.eventType LIKE 'user.session.%' OR s.eventType LIKE 'user.authentication.%'
            THEN 'authentication' ELSE 'audit' END AS category,
       s.eventType AS action,
       coalesce(nullif(s.actor.alternateId, 'unknown'), s.actor.displayName, s.actor.id) AS actor,
       s.actor.type AS actor_type,
       coalesce(s.authenticationContext.externalSessionId, s.authenticationContext.rootSessionId) AS credential_id,
       s.client.ipAddress AS src_ip,
       s.client.userAgent.rawUserAgent AS user_agent,
       (s.target->>'$[0].type') || ':' || coalesce(s.target->>'$[0].alternateId', s.target->>'$[0].displayName')
           AS target,
       CASE WHEN res IN ('SUCCESS', 'ALLOW') THEN 'success'
            WHEN res IN ('FAILURE', 'DENY') THEN 'failure'
            ELSE 'unknown' END AS outcome,
       CASE WHEN res IS NULL THEN 'no outcome.result'
            WHEN res = 'DENY' THEN 'access denied: outcome DENY'
            ELSE 'outcome ' || res END || coalesce(': ' || s.outcome.reason, '') AS outcome_reason,
       s.transaction.id AS request_id,
       s.uuid AS event_uid
FROM f
"""

_KEYS = {"eventType", "published", "actor", "outcome", "uuid"}


class OktaSource(Source):
    name = "okta"
    sigma_logsources = (("okta", "okta"),)

    # -- facts for the credential inventory: an Okta session is minted by a successful session start
    # and revoked by its end (docs/identity.md)
    def credential_links_sql(self) -> str:
        return """SELECT credential_id, NULL AS issued_by, actor AS issuer_principal, actor AS principal,
                         'okta:' || action AS how, time AS issued_at, NULL::TIMESTAMPTZ AS expires_at, event_id
                  FROM events WHERE source = {source} AND action = 'user.session.start' AND outcome = 'success'
                    AND credential_id IS NOT NULL"""

    def credential_states_sql(self) -> str:
        # a session's end is made with the session: it counts as its (last) use
        return """SELECT credential_id, event_id, time, 'revoked' AS change, 'okta:' || action AS how,
                         true AS listed, true AS counts_as_use
                  FROM events WHERE source = {source} AND action IN ('user.session.end', 'user.session.expire')
                    AND outcome = 'success' AND credential_id IS NOT NULL"""

    def credential_kind_sql(self) -> str:
        return "'okta_session'"

    category = "audit"
    containers = ("jsonl", "json")
    groupable = True

    def detect(self, probe: Probe) -> Detection:
        return most(probe.objects(), lambda o: _KEYS <= o.keys() and isinstance(o.get("actor"), dict))

    def events_sql(self) -> str:
        return _EVENTS


SOURCES = [OktaSource()]
