"""The credential inventory, rebuilt from ``events`` after every ingest (SQL only).

* ``credential_links``: one row per event that minted a credential: sts:AssumeRole* /
  GetSessionToken / GetFederationToken (``responseElements.credentials``), iam:CreateAccessKey
  (``responseElements.accessKey``), a Kubernetes TokenRequest (the
  ``authentication.kubernetes.io/issued-credential-id`` annotation and
  ``responseObject.status.expirationTimestamp``), and GCP CreateServiceAccountKey.
* ``credentials``: one row per credential seen in use (``events.credential_id``), minted or revoked.
  ``revoked_at`` is the earliest successful revocation: iam:DeleteAccessKey, iam:UpdateAccessKey to
  Inactive, iam:PutRolePolicy ``AWSRevokeOlderSessions`` (revokes every session of that role issued
  before its ``aws:TokenIssueTime`` cutoff), a GitHub token revocation action, GCP
  Delete/DisableServiceAccountKey, or deleting the Kubernetes service account a token belongs to.
  ``used_after_revoke`` counts events using the credential strictly after ``revoked_at``
  (revocation events themselves excluded), whatever their outcome: an attempt is evidence too.
"""

from __future__ import annotations

ORDER = 10
READS = ("events",)

_AWS_TIME = "coalesce(fx_time({x}, true), timezone('UTC', try_strptime({x}, '%b %d, %Y, %I:%M:%S %p')))"

LINKS = f"""
INSERT INTO credential_links
SELECT * FROM (
    SELECT raw->>'$.responseElements.credentials.accessKeyId' AS credential_id,
           credential_id AS issued_by, actor AS issuer_principal,
           coalesce(raw->>'$.responseElements.assumedRoleUser.arn', raw->>'$.responseElements.federatedUser.arn',
                    -- an AWS service's AssumeRole (EC2 for an instance profile) logs only the request:
                    -- the session's ARN is assumed-role/<role name>/<roleSessionName>
                    'arn:aws:sts::' || split_part(raw->>'$.requestParameters.roleArn', ':', 5) || ':assumed-role/'
                        || regexp_extract(raw->>'$.requestParameters.roleArn', ':role/(?:.*/)?([^/]+)$', 1) || '/'
                        || (raw->>'$.requestParameters.roleSessionName'),
                    actor) AS principal,
           action AS how, time AS issued_at,
           {_AWS_TIME.format(x="raw->>'$.responseElements.credentials.expiration'")} AS expires_at,
           event_id
    FROM events
    WHERE source = 'cloudtrail' AND outcome = 'success'
      AND action IN ('sts:AssumeRole', 'sts:AssumeRoleWithSAML', 'sts:AssumeRoleWithWebIdentity',
                     'sts:GetSessionToken', 'sts:GetFederationToken')
    UNION ALL
    SELECT raw->>'$.responseElements.accessKey.accessKeyId', credential_id, actor,
           'arn:aws:iam::' || coalesce(environment, '?') || ':user/' || (raw->>'$.responseElements.accessKey.userName'),
           action, coalesce({_AWS_TIME.format(x="raw->>'$.responseElements.accessKey.createDate'")}, time), NULL, event_id
    FROM events WHERE source = 'cloudtrail' AND outcome = 'success' AND action = 'iam:CreateAccessKey'
    UNION ALL
    SELECT raw->>'$.annotations."authentication.kubernetes.io/issued-credential-id"', credential_id, actor,
           'system:serviceaccount:' || (raw->>'$.objectRef.namespace') || ':' || (raw->>'$.objectRef.name'),
           'k8s:TokenRequest', time, fx_time(raw->>'$.responseObject.status.expirationTimestamp', false), event_id
    FROM events WHERE source LIKE 'k8s_audit%' AND outcome = 'success' AND action = 'create serviceaccounts/token'
    UNION ALL
    SELECT '//iam.googleapis.com/' || (raw->>'$.protoPayload.response.name'), credential_id, actor,
           raw->>'$.protoPayload.request.name', action, time,
           fx_time(raw->>'$.protoPayload.response.validBeforeTime', false), event_id
    FROM events WHERE source = 'gcp_audit' AND outcome = 'success' AND action LIKE '%CreateServiceAccountKey'
    UNION ALL
    -- a GitHub deploy key: <owner/repo>:key/<id> (webhook deploy_key.created) or the audit log's fingerprint
    SELECT coalesce(raw->>'$.repository.full_name', raw->>'$.repo', target) || ':key/'
               || coalesce(raw->>'$.key.id', raw->>'$.fingerprint', raw->>'$.public_key_fingerprint', event_id),
           credential_id, actor, coalesce(raw->>'$.repository.full_name', raw->>'$.repo', target), action,
           coalesce(fx_time(raw->>'$.key.created_at', false), time), NULL, event_id
    FROM events WHERE source LIKE 'github%' AND outcome = 'success'
      AND action IN ('deploy_key.created', 'deploy_key.create', 'repo.add_deploy_key')
    {{contributed_links}}
) WHERE credential_id IS NOT NULL AND credential_id <> ''
"""

REBUILD = """
INSERT INTO credentials BY NAME
WITH self_revocations AS (  -- a key revoking itself: the event carries the key it revokes (raw read for these rows only)
    SELECT event_id FROM events
    WHERE source = 'cloudtrail' AND action IN ('iam:UpdateAccessKey', 'iam:DeleteAccessKey')
      AND raw->>'$.requestParameters.accessKeyId' = credential_id
),
uses AS (  -- no raw here: it is the widest column, and only GitHub's token type needs it (gh_types)
    SELECT e.credential_id, e.source, e.event_id, e.time, e.action, e.actor, e.src_ip, e.outcome FROM events e
    WHERE e.credential_id IS NOT NULL AND e.credential_id <> ''
      -- an event that revokes, reactivates or deletes the very credential it carries is no use of it
      AND NOT (e.source = 'github_audit'
               AND regexp_matches(e.action, '^(personal_access_token|oauth_access|oauth_authorization|programmatic_access|integration_installation)\\.(access_revoked|destroy|revoke|revoked|delete|deleted|suspend)$'))
      AND e.event_id NOT IN (SELECT event_id FROM self_revocations)
),
usage AS (
    SELECT credential_id,
           min(time) AS first_seen, max(time) AS last_seen, count(*) AS event_count,
           count(DISTINCT src_ip) AS distinct_src_ips,
           list_sort(list(DISTINCT src_ip) FILTER (WHERE src_ip IS NOT NULL)) AS src_ips,
           count(*) FILTER (WHERE outcome IN ('failure', 'timeout')) AS failed_events,
           mode(actor) AS principal, mode(source) AS source
    FROM uses GROUP BY credential_id
),
gh_types AS (
    SELECT credential_id, mode(raw->>'programmatic_access_type') AS gh_type
    FROM events
    WHERE source = 'github_audit' AND credential_id IS NOT NULL AND credential_id <> ''
    GROUP BY credential_id
),
sessions AS (  -- CloudTrail's userIdentity: who a key acts as, and when its session was created
    SELECT credential_id,
           min(fx_time(raw->>'$.userIdentity.sessionContext.attributes.creationDate', true)) AS created,
           mode(raw->>'$.userIdentity.type') AS identity_type,
           mode(raw->>'$.userIdentity.sessionContext.sessionIssuer.arn')
               FILTER (WHERE raw->>'$.userIdentity.sessionContext.sessionIssuer.type' = 'Role') AS role_arn,
           bool_or(coalesce(raw->>'$.sessionCredentialFromConsole', '') = 'true') AS console
    FROM events
    WHERE source = 'cloudtrail' AND credential_id IS NOT NULL AND credential_id <> ''
    GROUP BY credential_id
),
actions AS (
    SELECT credential_id, list(action ORDER BY n DESC, action)[1:5] AS sample_actions
    FROM (SELECT credential_id, action, count(*) AS n FROM uses WHERE action IS NOT NULL GROUP BY ALL)
    GROUP BY credential_id
),
issued AS (
    SELECT DISTINCT ON (credential_id) * FROM credential_links ORDER BY credential_id, issued_at, event_id
),
ids AS (
    SELECT credential_id FROM usage UNION SELECT credential_id FROM issued
    UNION SELECT raw->>'$.requestParameters.accessKeyId' FROM events
    WHERE source = 'cloudtrail' AND action IN ('iam:DeleteAccessKey', 'iam:UpdateAccessKey')
      AND raw->>'$.requestParameters.accessKeyId' IS NOT NULL
),
base AS (
    SELECT i.credential_id,
           coalesce(u.principal, s.principal) AS principal,
           coalesce(u.source, CASE WHEN s.how LIKE 'k8s:%' THEN 'k8s_audit'
                                   WHEN s.how LIKE '%ServiceAccountKey' THEN 'gcp_audit'
                                   WHEN s.how LIKE '%deploy_key%' THEN 'github_audit'
                                   {contributed_how}
                                   WHEN s.how IS NOT NULL OR i.credential_id LIKE 'A_IA%' THEN 'cloudtrail' END) AS source,
           u.first_seen, u.last_seen, coalesce(u.event_count, 0) AS event_count,
           coalesce(u.distinct_src_ips, 0) AS distinct_src_ips, u.src_ips, coalesce(u.failed_events, 0) AS failed_events,
           a.sample_actions, g.gh_type, s.how AS issued_how,
           coalesce(s.issued_at, CASE WHEN i.credential_id LIKE 'ASIA%' THEN x.created END) AS issued_at,
           CASE WHEN s.issued_at IS NOT NULL THEN 'minting event ' || s.how
                WHEN i.credential_id LIKE 'ASIA%' AND x.created IS NOT NULL THEN 'sessionContext.attributes.creationDate' END
               AS issued_at_source,
           s.expires_at, s.issued_by, s.event_id AS issued_event_id,
           x.identity_type, x.role_arn, x.console
    FROM ids i LEFT JOIN usage u USING (credential_id) LEFT JOIN actions a USING (credential_id)
    LEFT JOIN gh_types g USING (credential_id) LEFT JOIN issued s USING (credential_id)
    LEFT JOIN sessions x USING (credential_id)
),
facts AS (  -- an assumed-role ARN names its role and session (an instance id for an EC2 instance role)
    SELECT b.*,
           regexp_extract(b.principal, '^arn:aws:sts::(\\d*):assumed-role/([^/]+)/(.+)$', ['account', 'role', 'session']) AS ar
    FROM base b
)
SELECT fx_redact(b.credential_id) AS credential_id,  -- a token used as its own id is shown as its fingerprint
       CASE WHEN b.issued_how IN ('deploy_key.created', 'deploy_key.create', 'repo.add_deploy_key') THEN 'github_deploy_key'
            WHEN b.source = 'cloudtrail' OR regexp_matches(b.credential_id, '^A[KS]IA[A-Z0-9]{12,}$') THEN
                CASE WHEN b.credential_id LIKE 'AKIA%' THEN 'aws_access_key'
                     WHEN b.credential_id LIKE 'ASIA%' THEN 'aws_temporary_key' ELSE 'other' END
            WHEN b.source LIKE 'k8s_audit%' THEN
                CASE WHEN b.credential_id LIKE 'JTI=%' THEN 'k8s_service_account_token'
                     WHEN b.credential_id LIKE 'X509SHA256=%' THEN 'k8s_client_certificate' ELSE 'other' END
            WHEN b.source = 'gcp_audit' THEN 'gcp_service_account_key'
            WHEN b.source = 'github_audit' THEN
                CASE WHEN b.gh_type ILIKE '%personal access token%' OR b.credential_id LIKE 'ghp\\_%' ESCAPE '\\'
                          OR b.credential_id LIKE 'github\\_pat\\_%' ESCAPE '\\' THEN 'github_pat'
                     WHEN b.gh_type ILIKE 'OAuth%' OR b.credential_id LIKE 'gho\\_%' ESCAPE '\\' THEN 'github_oauth'
                     WHEN b.gh_type ILIKE '%user-to-server%' OR b.credential_id LIKE 'ghu\\_%' ESCAPE '\\' THEN 'github_app'
                     WHEN b.gh_type ILIKE '%server-to-server%' OR b.credential_id LIKE 'ghs\\_%' ESCAPE '\\' THEN 'github_installation'
                     ELSE 'other' END
            {contributed_kinds}
            ELSE 'other' END AS kind,
       fx_redact(b.principal) AS principal, b.first_seen, b.last_seen, b.event_count, b.distinct_src_ips,
       CASE WHEN len(b.sample_actions) = 0 THEN b.sample_actions
            ELSE string_split(fx_redact(array_to_string(b.sample_actions, chr(10))), chr(10)) END AS sample_actions,
       b.issued_at, fx_redact(b.issued_at_source) AS issued_at_source, b.expires_at, fx_redact(b.issued_by) AS issued_by, b.issued_event_id,
       b.source, CASE WHEN len(b.src_ips) = 0 THEN b.src_ips
                      ELSE string_split(fx_redact(array_to_string(b.src_ips, chr(10))), chr(10)) END AS src_ips,
       b.failed_events,
       fx_redact(coalesce(b.identity_type, CASE WHEN nullif(b.ar.role, '') IS NOT NULL THEN 'AssumedRole'
                                                WHEN b.principal LIKE 'arn:aws:iam::%:user/%' THEN 'IAMUser' END)) AS identity_type,
       fx_redact(coalesce(b.role_arn, CASE WHEN nullif(b.ar.role, '') IS NOT NULL
                                           THEN 'arn:aws:iam::' || b.ar.account || ':role/' || b.ar.role END)) AS role_arn,
       fx_redact(nullif(b.ar.session, '')) AS session_name,
       b.console AS console_session
FROM facts b
"""

# Every event that changes a credential's state. A revocation undone later (UpdateAccessKey Active,
# EnableServiceAccountKey) is followed by a 'reactivated' row; the revocation that counts is the
# first one after the last reactivation.
STATES = """
INSERT INTO credential_state_events
WITH direct AS (
    SELECT raw->>'$.requestParameters.accessKeyId' AS credential_id, event_id, time,
           CASE WHEN action = 'iam:DeleteAccessKey' THEN 'deleted'
                WHEN raw->>'$.requestParameters.status' = 'Active' THEN 'reactivated' ELSE 'revoked' END AS change,
           action || coalesce(' ' || (raw->>'$.requestParameters.status'), '') AS how
    FROM events
    WHERE source = 'cloudtrail' AND outcome = 'success'
      AND (action = 'iam:DeleteAccessKey'
           OR (action = 'iam:UpdateAccessKey' AND raw->>'$.requestParameters.status' IN ('Inactive', 'Active')))
    UNION ALL
    SELECT credential_id, event_id, time, 'revoked', action
    FROM events
    WHERE source = 'github_audit' AND credential_id IS NOT NULL
      AND regexp_matches(action, '^(personal_access_token|oauth_access|oauth_authorization|programmatic_access|integration_installation)\\.(access_revoked|destroy|revoke|revoked|delete|deleted|suspend)$')
    UNION ALL
    SELECT coalesce(raw->>'$.repository.full_name', raw->>'$.repo', target) || ':key/'
               || coalesce(raw->>'$.key.id', raw->>'$.fingerprint', raw->>'$.public_key_fingerprint', ''),
           event_id, time, 'deleted', action
    FROM events
    WHERE source LIKE 'github%' AND action IN ('deploy_key.deleted', 'deploy_key.destroy', 'repo.remove_deploy_key')
    UNION ALL
    SELECT '//iam.googleapis.com/' || coalesce(raw->>'$.protoPayload.request.name', target), event_id, time,
           CASE WHEN action LIKE '%DeleteServiceAccountKey' THEN 'deleted'
                WHEN action LIKE '%EnableServiceAccountKey' THEN 'reactivated' ELSE 'revoked' END, action
    FROM events
    WHERE source = 'gcp_audit' AND outcome = 'success'
      AND (action LIKE '%DeleteServiceAccountKey' OR action LIKE '%DisableServiceAccountKey'
           OR action LIKE '%EnableServiceAccountKey')
    {contributed_revocations}
),
session_cutoffs AS (
    -- a Deny on aws:TokenIssueTime put on a role (AWSRevokeOlderSessions) or on an IAM user revokes
    -- every session of it issued before the cutoff; IAM logs the policy URL-encoded at times
    SELECT CASE WHEN action = 'iam:PutRolePolicy' THEN 'role' ELSE 'user' END AS on_kind,
           coalesce(raw->>'$.requestParameters.roleName', raw->>'$.requestParameters.userName') AS name,
           environment AS account, time, event_id, doc,
           coalesce(fx_time(regexp_extract(doc, '"aws:TokenIssueTime"\\s*:\\s*"([^"]+)"', 1), true), time) AS cutoff,
           action || ' ' || coalesce(raw->>'$.requestParameters.policyName', '?') || ' on '
               || coalesce(raw->>'$.requestParameters.roleName', raw->>'$.requestParameters.userName') AS how
    FROM (SELECT *, CASE WHEN contains(raw->>'$.requestParameters.policyDocument', '%22')
                         THEN url_decode(raw->>'$.requestParameters.policyDocument')
                         ELSE raw->>'$.requestParameters.policyDocument' END AS doc
          FROM events
          WHERE source = 'cloudtrail' AND outcome = 'success' AND action IN ('iam:PutRolePolicy', 'iam:PutUserPolicy'))
    WHERE raw->>'$.requestParameters.policyName' = 'AWSRevokeOlderSessions'
       OR (contains(doc, 'aws:TokenIssueTime') AND regexp_matches(doc, '"Effect"\\s*:\\s*"Deny"'))
),
sessions AS (
    SELECT c.credential_id, x.event_id, x.time, 'revoked' AS change, x.how
    FROM credentials c JOIN session_cutoffs x
      ON c.kind = 'aws_temporary_key'
     AND ((x.on_kind = 'role' AND c.principal LIKE 'arn:aws:sts::' || coalesce(x.account, '%') || ':assumed-role/' || x.name || '/%')
          OR (x.on_kind = 'user' AND c.identity_type = 'IAMUser'
              AND regexp_matches(c.principal, '^arn:aws:iam::' || coalesce(x.account, '\\d*') || ':user/(.*/)?' || x.name || '$')))
     AND coalesce(c.issued_at, c.first_seen) < x.cutoff
),
sa_deletions AS (
    SELECT c.credential_id, e.event_id, e.time, 'revoked' AS change, 'k8s:delete serviceaccount' AS how
    FROM events e JOIN credentials c
      ON c.principal = 'system:serviceaccount:' || (e.raw->>'$.objectRef.namespace') || ':' || (e.raw->>'$.objectRef.name')
     AND c.credential_id LIKE 'JTI=%'
    WHERE e.source LIKE 'k8s_audit%' AND e.outcome = 'success' AND e.action = 'delete serviceaccounts'
)
SELECT DISTINCT fx_redact(credential_id), event_id, time, change, fx_redact(how)
FROM (SELECT * FROM direct UNION ALL SELECT * FROM sessions UNION ALL SELECT * FROM sa_deletions)
WHERE credential_id IS NOT NULL AND credential_id <> ''
"""

# revoked_at: the first revocation after the last reactivation; a reactivation with no revocation
# after it leaves the credential live (reactivated_at). Uses after revocation exclude every
# state-changing event of that credential.
REVOKED = """
UPDATE credentials c SET revoked_at = r.revoked_at, revoked_event_id = r.revoked_event_id, revoked_how = r.revoked_how,
       reactivated_at = r.reactivated_at, reactivated_event_id = r.reactivated_event_id,
       used_after_revoke = coalesce(r.used_after_revoke, 0), last_used_after_revoke = r.last_used_after_revoke
FROM (
    WITH react AS (
        SELECT credential_id, max(time) AS t, arg_max(event_id, time) AS ev
        FROM credential_state_events WHERE change = 'reactivated' GROUP BY credential_id
    ), eff AS (
        SELECT s.* FROM credential_state_events s LEFT JOIN react r USING (credential_id)
        WHERE s.change IN ('revoked', 'deleted') AND (r.t IS NULL OR s.time > r.t)
    ), rev AS (
        SELECT credential_id, min(time) AS revoked_at, arg_min(event_id, time) AS revoked_event_id,
               string_agg(how || ' (' || strftime(time, '%Y-%m-%d %H:%M:%S') || ')', '; ' ORDER BY time) AS revoked_how
        FROM eff GROUP BY credential_id
    ), ids AS (SELECT credential_id FROM rev UNION SELECT credential_id FROM react)
    SELECT i.credential_id, v.revoked_at, v.revoked_event_id, v.revoked_how,
           CASE WHEN v.revoked_at IS NULL THEN r.t END AS reactivated_at,
           CASE WHEN v.revoked_at IS NULL THEN r.ev END AS reactivated_event_id,
           (SELECT count(*) FROM events e WHERE e.credential_id = i.credential_id AND e.time > v.revoked_at
              AND e.event_id NOT IN (SELECT event_id FROM credential_state_events)) AS used_after_revoke,
           (SELECT max(e.time) FROM events e WHERE e.credential_id = i.credential_id AND e.time > v.revoked_at
              AND e.event_id NOT IN (SELECT event_id FROM credential_state_events)) AS last_used_after_revoke
    FROM ids i LEFT JOIN rev v USING (credential_id) LEFT JOIN react r USING (credential_id)
) r
WHERE c.credential_id = r.credential_id
"""


def _contributions() -> dict[str, str]:
    """The facts sources contribute through the loader contract (``credential_links_sql``,
    ``revocations_sql``, ``credential_kind_sql``), as SQL pieces for LINKS, REBUILD and STATES."""
    from forensics.sources import registry
    from forensics.sources.contract import sql_str

    links, revs, how, kinds = [], [], [], []
    for s in registry.all_sources():
        name = sql_str(s.name)
        if (q := s.credential_links_sql()) is not None:
            links.append("UNION ALL SELECT * FROM (" + q.replace("{source}", name) + ")")
            how.append(f"WHEN s.how LIKE {sql_str(s.name + ':%')} THEN {name}")
        if (q := s.revocations_sql()) is not None:
            revs.append(
                "UNION ALL SELECT credential_id, event_id, time, 'revoked', how FROM ("
                + q.replace("{source}", name)
                + ")"
            )
        if (q := s.credential_kind_sql()) is not None:
            kinds.append(f"WHEN b.source = {name} THEN ({q.replace('credential_id', 'b.credential_id')})")
    return {
        "contributed_links": "\n".join(links),
        "contributed_revocations": "\n".join(revs),
        "contributed_how": "\n".join(how),
        "contributed_kinds": "\n".join(kinds),
    }


def _with(sql: str, parts: dict[str, str]) -> str:
    for key, value in parts.items():
        sql = sql.replace("{" + key + "}", value)
    return sql


def derive(con) -> None:
    """Rebuild ``credential_links`` and ``credentials`` from ``events``, with what sources contribute."""
    parts = _contributions()
    con.execute("DELETE FROM credential_links")
    con.execute(_with(LINKS, parts))
    con.execute("DELETE FROM credentials")
    con.execute(_with(REBUILD, parts))
    con.execute("DELETE FROM credential_state_events")
    con.execute(_with(STATES, parts))
    con.execute(REVOKED)
