"""GitHub audit log (JSON array pages from the REST API, JSON/JSON Lines and CSV exports, the
streaming format) and GitHub organisation/repository admin webhooks (member, organization,
deploy_key, installation, repository, branch_protection_rule) as audit events.

Audit log: ``@timestamp`` (epoch milliseconds; else ``created_at``) -> time; ``action`` ->
action (``repo.destroy``); ``actor``, ``actor_ip``, ``user_agent``, ``request_id``;
``hashed_token`` (else ``token_id``) -> credential_id; the target is the repo, else the team,
user or org. ``_document_id`` -> event_uid (else ``@timestamp|action|actor``). GitHub records
actions that took place, so the outcome is success, except actions whose name says they failed.
Zone-less times are rejected (GitHub writes epoch numbers or zoned ISO 8601).

Webhooks carry no delivery time in their body (it is only in the HTTP headers), so the time is
the payload's own time for the object changed (``rule.updated_at``, ``key.created_at``,
``installation.created_at``, ``invitation.created_at``, ``repository.updated_at``). A payload that
carries none (``member.added``, ``organization.member_added``) takes the delivery time when the capture
has it (a REST API delivery's ``delivered_at``, or the ``Date`` header of a ``{headers, payload}``
capture), else ``--observed-at``; without either it is rejected with that reason, not given an
invented time. ``outcome_reason`` says where the time came from; the delivery id (``guid``,
``X-GitHub-Delivery``) is the event_uid when present.
"""

from __future__ import annotations

from typing import Any

from forensics.ingest import options
from forensics.sources.contract import Batch, Detection, Probe, Source

_AUDIT_KEYS = {
    "@timestamp",
    "_document_id",
    "action",
    "actor",
    "actor_ip",
    "org",
    "repo",
    "created_at",
    "hashed_token",
    "programmatic_access_type",
    "operation_type",
    "business",
    "actor_id",
}

_AUDIT_EVENTS = r"""
WITH f AS (
    SELECT r.record_no, r.doc,
           coalesce(r.doc->>'$."@timestamp"', r.doc->>'created_at', r.doc->>'timestamp') AS t_raw,
           r.doc->>'action' AS act, r.doc->>'actor' AS actor
    FROM {batch} r
)
SELECT record_no,
       fx_time(t_raw, false) AS time, fx_time_problem(t_raw, false) AS time_problem, t_raw AS time_raw,
       act AS action, actor,
       CASE WHEN actor LIKE '%[bot]' THEN 'bot'
            WHEN doc->>'programmatic_access_type' IS NOT NULL THEN 'user (' || (doc->>'programmatic_access_type') || ')'
            WHEN actor IS NOT NULL THEN 'user' END AS actor_type,
       coalesce(nullif(doc->>'hashed_token', ''), nullif(doc->>'token_id', '')) AS credential_id,
       nullif(doc->>'actor_ip', '') AS src_ip,
       doc->>'user_agent' AS user_agent,
       coalesce(nullif(doc->>'repo', ''), nullif(doc->>'repository', ''), nullif(doc->>'team', ''),
                nullif(doc->>'user', ''), nullif(doc->>'org', '')) AS target,
       CASE WHEN regexp_matches(act, '(fail|denied|reject)') THEN 'failure' ELSE 'success' END AS outcome,
       CASE WHEN regexp_matches(act, '(fail|denied|reject)') THEN 'action name records a failure: ' || act
            ELSE 'GitHub audit log records actions that took place' END AS outcome_reason,
       doc->>'request_id' AS request_id,
       coalesce(doc->>'_document_id', t_raw || '|' || coalesce(act, '') || '|' || coalesce(actor, '')) AS event_uid,
       doc->>'org' AS environment
FROM f
"""

_WEBHOOK_EVENTS = r"""
WITH c AS (
    -- a capture around the payload: a delivery from the REST API (request.payload, delivered_at, guid)
    -- or {headers, payload}; the delivery's time and id come from the capture
    SELECT r.record_no,
           CASE WHEN json_type(r.doc, '$.request.payload') = 'OBJECT' THEN r.doc->'$.request.payload'
                WHEN json_type(r.doc, '$.payload') = 'OBJECT' AND json_type(r.doc, '$.headers') = 'OBJECT'
                     THEN r.doc->'$.payload'
                ELSE r.doc END AS doc,
           coalesce(r.doc->'$.request.headers', r.doc->'$.headers') AS headers,
           r.doc->>'delivered_at' AS delivered_at, r.doc->>'guid' AS guid
    FROM {batch} r
), k AS (
    SELECT c.record_no, c.doc, c.doc->>'action' AS act,
           coalesce(delivered_at,
                    strftime(try_strptime(coalesce(headers->>'Date', headers->>'date'), '%a, %d %b %Y %H:%M:%S GMT'),
                             '%Y-%m-%dT%H:%M:%SZ')) AS delivery_time,
           coalesce(guid, headers->>'X-GitHub-Delivery', headers->>'x-github-delivery') AS delivery_id,
           CASE WHEN json_exists(c.doc, '$.rule') THEN 'branch_protection_rule'
                WHEN json_exists(c.doc, '$.key') THEN 'deploy_key'
                WHEN json_exists(c.doc, '$.member') THEN 'member'
                WHEN json_exists(c.doc, '$.membership') OR json_exists(c.doc, '$.invitation')
                     OR (json_exists(c.doc, '$.organization') AND NOT json_exists(c.doc, '$.repository')) THEN 'organization'
                WHEN json_exists(c.doc, '$.repositories') OR json_exists(c.doc, '$.installation.account') THEN 'installation'
                ELSE 'repository' END AS event
    FROM c
), t AS (
    SELECT *,
           CASE event
               WHEN 'branch_protection_rule' THEN CASE WHEN act = 'created' THEN 'rule.created_at' ELSE 'rule.updated_at' END
               WHEN 'deploy_key' THEN CASE WHEN act = 'created' THEN 'key.created_at' END
               WHEN 'installation' THEN CASE WHEN act = 'created' THEN 'installation.created_at' ELSE 'installation.updated_at' END
               WHEN 'organization' THEN CASE WHEN act = 'member_invited' THEN 'invitation.created_at' END
               WHEN 'repository' THEN CASE WHEN act = 'created' THEN 'repository.created_at' ELSE 'repository.updated_at' END
           END AS time_field
    FROM k
), v AS (
    SELECT *,
           CASE WHEN payload_time IS NOT NULL THEN time_field
                WHEN delivery_time IS NOT NULL THEN 'the delivery time'
                WHEN $observed IS NOT NULL THEN '--observed-at (when the payload was observed, not its event time)'
           END AS time_from,
           coalesce(payload_time, delivery_time, $observed) AS t_raw
    FROM (SELECT *, CASE WHEN time_field IS NOT NULL THEN json_extract_string(doc, '$.' || time_field) END AS payload_time
          FROM t)
)
SELECT record_no,
       fx_time(t_raw, false) AS time,
       CASE WHEN t_raw IS NULL
            THEN 'GitHub ' || event || '.' || coalesce(act, '?') || ' webhook payload carries no event time (the delivery time is only in the HTTP headers): give --observed-at'
            ELSE fx_time_problem(t_raw, false) END AS time_problem,
       t_raw AS time_raw,
       event || '.' || coalesce(act, '?') AS action,
       doc->>'$.sender.login' AS actor,
       CASE WHEN doc->>'$.sender.type' = 'Bot' THEN 'bot' ELSE lower(doc->>'$.sender.type') END AS actor_type,
       CASE event
           WHEN 'member' THEN coalesce(doc->>'$.repository.full_name' || ':', '') || (doc->>'$.member.login')
           WHEN 'organization' THEN coalesce(doc->>'$.organization.login', '') || coalesce(':' || coalesce(doc->>'$.membership.user.login', doc->>'$.user.login', doc->>'$.invitation.login'), '')
           WHEN 'installation' THEN coalesce(doc->>'$.installation.account.login', '') || ':app/' || coalesce(doc->>'$.installation.app_slug', doc->>'$.installation.app_id', '?')
           WHEN 'deploy_key' THEN coalesce(doc->>'$.repository.full_name', '') || ':key/' || coalesce(doc->>'$.key.id', '?')
           WHEN 'branch_protection_rule' THEN coalesce(doc->>'$.repository.full_name', '') || ':' || coalesce(doc->>'$.rule.name', '?')
           ELSE doc->>'$.repository.full_name' END AS target,
       'success' AS outcome,
       'webhook sent after the change was made; time from ' || coalesce(time_from, 'nowhere') AS outcome_reason,
       coalesce('delivery:' || delivery_id, 'webhook:' || event || ':' || md5(CAST(doc AS VARCHAR))) AS event_uid,
       coalesce(doc->>'$.organization.login', doc->>'$.repository.owner.login') AS environment
FROM v
"""

_WEBHOOK_ACTIONS = {
    "member": {"added", "removed", "edited"},
    "organization": {"member_added", "member_removed", "member_invited", "renamed", "deleted"},
    "deploy_key": {"created", "deleted"},
    "installation": {"created", "deleted", "suspend", "unsuspend", "new_permissions_accepted"},
    "repository": {
        "created",
        "deleted",
        "archived",
        "unarchived",
        "edited",
        "renamed",
        "transferred",
        "publicized",
        "privatized",
    },
    "branch_protection_rule": {"created", "edited", "deleted"},
}
_REPOSITORY_EVENT_KEYS = {
    "action",
    "repository",
    "organization",
    "sender",
    "installation",
    "changes",
    "enterprise",
}


def webhook_event(o: dict[str, Any]) -> str | None:
    """The admin webhook event a payload belongs to, judged by its keys, or None."""
    act = o.get("action")
    if not isinstance(act, str) or not isinstance(o.get("sender"), dict):
        return None
    keys = set(o)
    if "rule" in keys and "repository" in keys:
        event = "branch_protection_rule"
    elif "key" in keys and "repository" in keys:
        event = "deploy_key"
    elif "member" in keys and "repository" in keys:
        event = "member"
    elif ("membership" in keys or "invitation" in keys) and "organization" in keys:
        event = "organization"
    elif (
        "repositories" in keys and isinstance(o.get("installation"), dict) and "account" in o["installation"]
    ):
        event = "installation"
    elif "repository" in keys and keys <= _REPOSITORY_EVENT_KEYS:
        event = "repository"
    else:
        return None
    return event if act in _WEBHOOK_ACTIONS[event] else None


# -- the facts GitHub contributes to the credential inventory (forensics/derive/credentials.py)
# (the event of a token's revocation carries the revoked token as its own credential: no use of it)
_TOKEN_REVOKED = r"regexp_matches(action, '^(personal_access_token|oauth_access|oauth_authorization|programmatic_access|integration_installation)\.(access_revoked|destroy|revoke|revoked|delete|deleted|suspend)$')"

# a GitHub deploy key: <owner/repo>:key/<id> (webhook deploy_key.created) or the audit log's fingerprint
_DEPLOY_KEY = """coalesce(raw->>'$.repository.full_name', raw->>'$.repo', target) || ':key/'"""

_CREDENTIAL_LINKS = f"""
SELECT {_DEPLOY_KEY} || coalesce(raw->>'$.key.id', raw->>'$.fingerprint', raw->>'$.public_key_fingerprint', event_id)
           AS credential_id,
       credential_id AS issued_by, actor AS issuer_principal,
       coalesce(raw->>'$.repository.full_name', raw->>'$.repo', target) AS principal, action AS how,
       coalesce(fx_time(raw->>'$.key.created_at', false), time) AS issued_at, CAST(NULL AS TIMESTAMPTZ) AS expires_at,
       event_id
FROM events WHERE source = {{source}} AND outcome = 'success'
  AND action IN ('deploy_key.created', 'deploy_key.create', 'repo.add_deploy_key')
"""

_STATES = f"""
SELECT credential_id, event_id, time, 'revoked' AS change, action AS how, false AS listed
FROM events WHERE source = {{source}} AND credential_id IS NOT NULL AND {_TOKEN_REVOKED}
UNION ALL
SELECT {_DEPLOY_KEY} || coalesce(raw->>'$.key.id', raw->>'$.fingerprint', raw->>'$.public_key_fingerprint', ''),
       event_id, time, 'deleted', action, false
FROM events WHERE source = {{source}} AND action IN ('deploy_key.deleted', 'deploy_key.destroy', 'repo.remove_deploy_key')
"""

# (a token used as its own id is stored as its fingerprint: its prefix is read from the raw record)
_CREDENTIAL_KINDS = r"""
SELECT l.credential_id, 'github_deploy_key' AS kind
FROM credential_links l JOIN events e USING (event_id)
WHERE e.source = {source} AND l.how IN ('deploy_key.created', 'deploy_key.create', 'repo.add_deploy_key')
UNION ALL
SELECT credential_id,
       CASE WHEN gh_type ILIKE '%personal access token%' OR tok LIKE 'ghp\_%' ESCAPE '\'
                 OR tok LIKE 'github\_pat\_%' ESCAPE '\' THEN 'github_pat'
            WHEN gh_type ILIKE 'OAuth%' OR tok LIKE 'gho\_%' ESCAPE '\' THEN 'github_oauth'
            WHEN gh_type ILIKE '%user-to-server%' OR tok LIKE 'ghu\_%' ESCAPE '\' THEN 'github_app'
            WHEN gh_type ILIKE '%server-to-server%' OR tok LIKE 'ghs\_%' ESCAPE '\' THEN 'github_installation'
       END AS kind
FROM (SELECT credential_id, mode(raw->>'programmatic_access_type') AS gh_type,
             min(coalesce(nullif(raw->>'hashed_token', ''), nullif(raw->>'token_id', ''))) AS tok
      FROM events WHERE source = {source} AND credential_id IS NOT NULL AND credential_id <> ''
      GROUP BY credential_id)
"""


class _GitHubCredentialFacts(Source):
    """The credential facts of both GitHub shapes (deploy keys arrive as admin webhooks too)."""

    def credential_links_sql(self) -> str:
        return _CREDENTIAL_LINKS

    def credential_states_sql(self) -> str:
        return _STATES

    def credential_kinds_sql(self) -> str:
        return _CREDENTIAL_KINDS


class GitHubAuditSource(_GitHubCredentialFacts):
    name = "github_audit"
    sigma_logsources = (("github", "audit"),)
    category = "audit"
    containers = ("jsonl", "json", "csv")
    groupable = True

    def detect(self, probe: Probe) -> Detection:
        if probe.container == "csv":
            header = probe.head.split("\n", 1)[0]
            return (
                Detection.LIKELY
                if "action" in header and ("@timestamp" in header or "_document_id" in header)
                else Detection.NO
            )
        objs = probe.objects()
        if not objs:
            return Detection.NO
        hits = sum(
            1
            for o in objs
            if "action" in o
            and isinstance(o.get("action"), str)
            and "." in o["action"]
            and len(_AUDIT_KEYS & o.keys()) >= 3
        )
        return Detection.STRONG if hits * 2 >= len(objs) else Detection.NO

    def events_sql(self) -> str:
        return _AUDIT_EVENTS


class GitHubAdminWebhookSource(_GitHubCredentialFacts):
    name = "github_admin_webhook"
    category = "audit"
    containers = ("jsonl", "json")
    groupable = True

    def detect(self, probe: Probe) -> Detection:
        objs = probe.objects()
        if not objs:
            return Detection.NO
        return Detection.LIKELY if all(webhook_event(_payload(o)) for o in objs) else Detection.NO

    def load_batch(self, batch: Batch) -> None:
        batch.insert_events(_WEBHOOK_EVENTS, {"observed": options.current().observed_at_text})


def _payload(o: dict[str, Any]) -> dict[str, Any]:
    """The webhook payload inside a delivery capture (REST API delivery, or ``{headers, payload}``)."""
    req = o.get("request")
    if isinstance(req, dict) and isinstance(req.get("payload"), dict):
        payload: dict[str, Any] = req["payload"]
        return payload
    if isinstance(o.get("payload"), dict) and isinstance(o.get("headers"), dict):
        inner: dict[str, Any] = o["payload"]
        return inner
    return o


SOURCES = [GitHubAuditSource(), GitHubAdminWebhookSource()]
