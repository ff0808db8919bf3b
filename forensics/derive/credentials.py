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
           coalesce(raw->>'$.responseElements.assumedRoleUser.arn', raw->>'$.responseElements.federatedUser.arn', actor) AS principal,
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
    {{contributed_links}}
) WHERE credential_id IS NOT NULL AND credential_id <> ''
"""

REBUILD = """
INSERT INTO credentials BY NAME
WITH revocations AS (
    -- direct revocations of one credential
    SELECT raw->>'$.requestParameters.accessKeyId' AS credential_id, time, event_id,
           action || CASE WHEN action = 'iam:UpdateAccessKey' THEN ' Inactive' ELSE '' END AS how
    FROM events
    WHERE source = 'cloudtrail' AND outcome = 'success'
      AND (action = 'iam:DeleteAccessKey'
           OR (action = 'iam:UpdateAccessKey' AND raw->>'$.requestParameters.status' = 'Inactive'))
    UNION ALL
    SELECT credential_id, time, event_id, action
    FROM events
    WHERE source = 'github_audit' AND credential_id IS NOT NULL
      AND regexp_matches(action, '^(personal_access_token|oauth_access|oauth_authorization|programmatic_access|integration_installation)\\.(access_revoked|destroy|revoke|revoked|delete|deleted|suspend)$')
    UNION ALL
    SELECT '//iam.googleapis.com/' || coalesce(raw->>'$.protoPayload.request.name', target), time, event_id, action
    FROM events
    WHERE source = 'gcp_audit' AND outcome = 'success'
      AND (action LIKE '%DeleteServiceAccountKey' OR action LIKE '%DisableServiceAccountKey')
    {contributed_revocations}
),
role_revocations AS (
    -- AWSRevokeOlderSessions: sessions of the role issued before the cutoff are revoked
    SELECT raw->>'$.requestParameters.roleName' AS role_name, environment AS account, time, event_id,
           coalesce(fx_time(regexp_extract(raw->>'$.requestParameters.policyDocument',
                                           '"aws:TokenIssueTime"\\s*:\\s*"([^"]+)"', 1), true), time) AS cutoff,
           'iam:PutRolePolicy AWSRevokeOlderSessions on ' || (raw->>'$.requestParameters.roleName') AS how
    FROM events
    WHERE source = 'cloudtrail' AND outcome = 'success' AND action = 'iam:PutRolePolicy'
      AND raw->>'$.requestParameters.policyName' = 'AWSRevokeOlderSessions'
),
sa_deletions AS (
    SELECT 'system:serviceaccount:' || (raw->>'$.objectRef.namespace') || ':' || (raw->>'$.objectRef.name') AS principal,
           time, event_id, 'k8s:delete serviceaccount' AS how
    FROM events WHERE source LIKE 'k8s_audit%' AND outcome = 'success' AND action = 'delete serviceaccounts'
),
revoke_events AS (
    SELECT event_id FROM revocations UNION SELECT event_id FROM role_revocations
),
uses AS (  -- no raw here: it is the widest column, and only GitHub's token type needs it (gh_types)
    SELECT e.credential_id, e.source, e.event_id, e.time, e.action, e.actor, e.src_ip, e.outcome FROM events e
    WHERE e.credential_id IS NOT NULL AND e.credential_id <> ''
      AND NOT (e.source = 'github_audit' AND e.event_id IN (SELECT event_id FROM revocations))
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
    UNION SELECT credential_id FROM revocations WHERE credential_id IS NOT NULL
),
base AS (
    SELECT i.credential_id,
           coalesce(u.principal, s.principal) AS principal,
           coalesce(u.source, CASE WHEN s.how LIKE 'k8s:%' THEN 'k8s_audit'
                                   WHEN s.how LIKE '%ServiceAccountKey' THEN 'gcp_audit'
                                   {contributed_how}
                                   WHEN s.how IS NOT NULL THEN 'cloudtrail' END) AS source,
           u.first_seen, u.last_seen, coalesce(u.event_count, 0) AS event_count,
           coalesce(u.distinct_src_ips, 0) AS distinct_src_ips, u.src_ips, coalesce(u.failed_events, 0) AS failed_events,
           a.sample_actions, g.gh_type,
           s.issued_at, s.expires_at, s.issued_by, s.event_id AS issued_event_id
    FROM ids i LEFT JOIN usage u USING (credential_id) LEFT JOIN actions a USING (credential_id)
    LEFT JOIN gh_types g USING (credential_id) LEFT JOIN issued s USING (credential_id)
),
all_revocations AS (
    SELECT credential_id, time, event_id, how FROM revocations
    UNION ALL
    SELECT b.credential_id, r.time, r.event_id, r.how
    FROM base b JOIN role_revocations r
      ON b.principal LIKE 'arn:aws:sts::' || coalesce(r.account, '%') || ':assumed-role/' || r.role_name || '/%'
     AND coalesce(b.issued_at, b.first_seen) < r.cutoff
    UNION ALL
    SELECT b.credential_id, d.time, d.event_id, d.how
    FROM base b JOIN sa_deletions d ON b.principal = d.principal AND b.credential_id LIKE 'JTI=%'
),
revoked AS (
    SELECT credential_id, min(time) AS revoked_at, arg_min(event_id, time) AS revoked_event_id,
           string_agg(how || ' (' || strftime(time, '%Y-%m-%d %H:%M:%S') || ')', '; ' ORDER BY time) AS revoked_how
    FROM all_revocations GROUP BY credential_id
),
after AS (
    SELECT r.credential_id, count(*) AS used_after_revoke, max(u.time) AS last_used_after_revoke
    FROM revoked r JOIN uses u ON u.credential_id = r.credential_id AND u.time > r.revoked_at
    WHERE u.event_id NOT IN (SELECT event_id FROM revoke_events)
    GROUP BY r.credential_id
)
SELECT fx_redact(b.credential_id) AS credential_id,  -- a token used as its own id is shown as its fingerprint
       CASE WHEN b.source = 'cloudtrail' OR regexp_matches(b.credential_id, '^A[KS]IA[A-Z0-9]{12,}$') THEN
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
       b.issued_at, b.expires_at, fx_redact(b.issued_by) AS issued_by, b.issued_event_id,
       r.revoked_at, r.revoked_how, r.revoked_event_id,
       coalesce(a.used_after_revoke, 0) AS used_after_revoke,
       b.source, CASE WHEN len(b.src_ips) = 0 THEN b.src_ips
                      ELSE string_split(fx_redact(array_to_string(b.src_ips, chr(10))), chr(10)) END AS src_ips,
       b.failed_events, a.last_used_after_revoke
FROM base b LEFT JOIN revoked r USING (credential_id) LEFT JOIN after a USING (credential_id)
"""


def _contributions() -> dict[str, str]:
    """The facts sources contribute through the loader contract (``credential_links_sql``,
    ``revocations_sql``, ``credential_kind_sql``), as SQL pieces for LINKS and REBUILD."""
    from forensics.sources import registry
    from forensics.sources.contract import sql_str

    links, revs, how, kinds = [], [], [], []
    for s in registry.all_sources():
        name = sql_str(s.name)
        if (q := s.credential_links_sql()) is not None:
            links.append("UNION ALL SELECT * FROM (" + q.replace("{source}", name) + ")")
            how.append(f"WHEN s.how LIKE {sql_str(s.name + ':%')} THEN {name}")
        if (q := s.revocations_sql()) is not None:
            revs.append("UNION ALL SELECT * FROM (" + q.replace("{source}", name) + ")")
        if (q := s.credential_kind_sql()) is not None:
            kinds.append(f"WHEN b.source = {name} THEN ({q.replace('credential_id', 'b.credential_id')})")
    return {
        "contributed_links": "\n".join(links),
        "contributed_revocations": "\n".join(revs),
        "contributed_how": "\n".join(how),
        "contributed_kinds": "\n".join(kinds),
    }


def derive(con) -> None:
    """Rebuild ``credential_links`` and ``credentials`` from ``events``."""
    parts = _contributions()
    con.execute("DELETE FROM credential_links")
    con.execute(LINKS.replace("{contributed_links}", parts["contributed_links"]))
    con.execute("DELETE FROM credentials")
    sql = REBUILD
    for key in ("contributed_revocations", "contributed_how", "contributed_kinds"):
        sql = sql.replace("{" + key + "}", parts[key])
    con.execute(sql)
