"""The credential inventory, rebuilt from ``events`` after every ingest (SQL only).

* ``credential_links``: one row per event that minted a credential: sts:AssumeRole* /
  GetSessionToken / GetFederationToken (``responseElements.credentials``), iam:CreateAccessKey
  (``responseElements.accessKey``), a Kubernetes TokenRequest (the
  ``authentication.kubernetes.io/issued-credential-id`` annotation and
  ``responseObject.status.expirationTimestamp``), and GCP CreateServiceAccountKey.
Every id is stored as ``events.credential_id`` holds it: a token used as its own id (a GitHub token,
a JWT) as its fingerprint (``fx_redact``), so facts read from ``raw`` match the events that used it.

* ``credentials``: one row per credential seen in use (``events.credential_id``), minted or revoked.
  ``revoked_at`` is the earliest successful revocation: iam:DeleteAccessKey, iam:UpdateAccessKey to
  Inactive, iam:PutRolePolicy ``AWSRevokeOlderSessions`` (revokes every session of that role issued
  before its ``aws:TokenIssueTime`` cutoff), a GitHub token revocation action, GCP
  Delete/DisableServiceAccountKey, or deleting the Kubernetes service account a token belongs to.
  ``used_after_revoke`` counts events using the credential strictly after ``revoked_at``
  (revocation events themselves excluded), whatever their outcome: an attempt is evidence too.
"""

from __future__ import annotations

import duckdb

from forensics.derive import facts

ORDER = 10
READS = ("events",)

LINKS = """
CREATE OR REPLACE TEMP TABLE _fx_links AS
SELECT * REPLACE (fx_redact(credential_id) AS credential_id, fx_redact(issued_by) AS issued_by,
                  fx_redact(issuer_principal) AS issuer_principal, fx_redact(principal) AS principal)
FROM ({links}) WHERE credential_id IS NOT NULL AND credential_id <> ''
"""

REBUILD = """
INSERT INTO credentials BY NAME
WITH revocations AS (  -- direct revocations of one credential
    SELECT fx_redact(credential_id) AS credential_id, time, event_id, how FROM ({revocations})
),
principal_revocations AS (  -- every credential of a principal (issued before a cutoff) revoked at once
    SELECT * FROM ({principal_revocations})
),
revoke_events AS (
    SELECT event_id FROM revocations UNION SELECT event_id FROM principal_revocations
),
uses AS (  -- an event that revokes its own credential is no use of it; no raw here: the widest column
    SELECT e.credential_id, e.source, e.event_id, e.time, e.action, e.actor, e.src_ip, e.outcome FROM events e
    WHERE e.credential_id IS NOT NULL AND e.credential_id <> ''
      AND NOT EXISTS (SELECT 1 FROM revocations v WHERE v.event_id = e.event_id AND v.credential_id = e.credential_id)
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
kinds AS (  -- what the sources know a credential to be ('other' when none says)
    SELECT fx_redact(credential_id) AS credential_id, fact_source, min(kind) AS kind FROM ({kinds})
    WHERE credential_id IS NOT NULL AND kind IS NOT NULL GROUP BY ALL
),
actions AS (
    SELECT credential_id, list(action ORDER BY n DESC, action)[1:5] AS sample_actions
    FROM (SELECT credential_id, action, count(*) AS n FROM uses WHERE action IS NOT NULL GROUP BY ALL)
    GROUP BY credential_id
),
issued AS (
    SELECT DISTINCT ON (credential_id) * FROM _fx_links ORDER BY credential_id, issued_at, event_id
),
ids AS (
    SELECT credential_id FROM usage UNION SELECT credential_id FROM issued
    UNION SELECT credential_id FROM revocations WHERE credential_id IS NOT NULL
),
base AS (
    SELECT i.credential_id,
           coalesce(u.principal, s.principal) AS principal,
           coalesce(u.source, s.fact_source) AS source,
           u.first_seen, u.last_seen, coalesce(u.event_count, 0) AS event_count,
           coalesce(u.distinct_src_ips, 0) AS distinct_src_ips, u.src_ips, coalesce(u.failed_events, 0) AS failed_events,
           a.sample_actions,
           s.issued_at, s.expires_at, s.issued_by, s.event_id AS issued_event_id
    FROM ids i LEFT JOIN usage u USING (credential_id) LEFT JOIN actions a USING (credential_id)
    LEFT JOIN issued s USING (credential_id)
),
all_revocations AS (
    SELECT credential_id, time, event_id, how FROM revocations
    UNION ALL
    SELECT b.credential_id, r.time, r.event_id, r.how
    FROM base b JOIN principal_revocations r
      ON b.principal LIKE r.principal_like AND b.credential_id LIKE coalesce(r.credential_like, '%')
     AND (r.cutoff IS NULL OR coalesce(b.issued_at, b.first_seen) < r.cutoff)
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
       coalesce((SELECT k.kind FROM kinds k WHERE k.credential_id = b.credential_id AND k.fact_source = b.source),
                (SELECT min(k.kind) FROM kinds k WHERE k.credential_id = b.credential_id), 'other') AS kind,
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


def derive(con: duckdb.DuckDBPyConnection) -> None:
    """Rebuild ``credential_links`` and ``credentials`` from the facts the sources give."""
    con.execute(LINKS.format(links=facts.union("credential_links_sql")))
    con.execute("DELETE FROM credential_links")
    con.execute("INSERT INTO credential_links BY NAME SELECT * EXCLUDE (fact_source) FROM _fx_links")
    con.execute("DELETE FROM credentials")
    con.execute(
        REBUILD.format(
            revocations=facts.union("revocations_sql"),
            principal_revocations=facts.union("principal_revocations_sql"),
            kinds=facts.union("credential_kinds_sql"),
        )
    )
    con.execute("DROP TABLE _fx_links")
