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

Every fact comes from the sources' fact hooks (``forensics/derive/facts.py``): this module names no
source. Every id is stored as ``events.credential_id`` holds it: a token used as its own id (a GitHub
token, a JWT) as its fingerprint (``fx_redact``), so facts read from ``raw`` match the events that used it.
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

# the state changes a source records of one credential (revoked, deleted, reactivated)
DIRECT = """
CREATE OR REPLACE TEMP TABLE _fx_states AS
SELECT fx_redact(credential_id) AS credential_id, event_id, time, change, how, coalesce(listed, false) AS listed,
       coalesce(counts_as_use, false) AS counts_as_use, fact_source
FROM ({states}) WHERE credential_id IS NOT NULL AND credential_id <> ''
"""

REBUILD = """
INSERT INTO credentials BY NAME
WITH uses AS (  -- an event that changes the state of the very credential it carries is no use of it
    SELECT e.credential_id, e.source, e.event_id, e.time, e.action, e.actor, e.src_ip, e.outcome FROM events e
    WHERE e.credential_id IS NOT NULL AND e.credential_id <> ''
      AND NOT EXISTS (SELECT 1 FROM _fx_states v WHERE v.event_id = e.event_id AND v.credential_id = e.credential_id
                      AND NOT v.counts_as_use)
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
sessions AS (  -- who a credential acts as and when its session began, as the sources record it
    SELECT fx_redact(credential_id) AS credential_id, min(created) AS created, min(created_from) AS created_from,
           min(identity_type) AS identity_type, min(role_arn) AS role_arn, bool_or(console) AS console
    FROM ({sessions}) WHERE credential_id IS NOT NULL GROUP BY ALL
),
actions AS (
    SELECT credential_id, list(action ORDER BY n DESC, action)[1:5] AS sample_actions
    FROM (SELECT credential_id, action, count(*) AS n FROM uses WHERE action IS NOT NULL GROUP BY ALL)
    GROUP BY credential_id
),
issued AS (
    SELECT DISTINCT ON (credential_id) * FROM _fx_links ORDER BY credential_id, issued_at, event_id
),
listed AS (  -- credentials known only from a change of their state, when their source lists those
    SELECT DISTINCT ON (credential_id) credential_id, fact_source FROM _fx_states WHERE listed
    ORDER BY credential_id, fact_source
),
ids AS (
    SELECT credential_id FROM usage UNION SELECT credential_id FROM issued UNION SELECT credential_id FROM listed
),
base AS (
    SELECT i.credential_id,
           coalesce(u.principal, s.principal) AS principal,
           coalesce(u.source, s.fact_source, l.fact_source) AS source,
           u.first_seen, u.last_seen, coalesce(u.event_count, 0) AS event_count,
           coalesce(u.distinct_src_ips, 0) AS distinct_src_ips, u.src_ips, coalesce(u.failed_events, 0) AS failed_events,
           a.sample_actions, s.how AS issued_how,
           coalesce(s.issued_at, x.created) AS issued_at,
           CASE WHEN s.issued_at IS NOT NULL THEN 'minting event ' || s.how
                WHEN x.created IS NOT NULL THEN x.created_from END AS issued_at_source,
           s.expires_at, s.issued_by, s.event_id AS issued_event_id,
           x.identity_type, x.role_arn, x.console
    FROM ids i LEFT JOIN usage u USING (credential_id) LEFT JOIN actions a USING (credential_id)
    LEFT JOIN issued s USING (credential_id) LEFT JOIN listed l USING (credential_id)
    LEFT JOIN sessions x USING (credential_id)
),
arns AS (  -- an assumed-role ARN names its role and session (an instance id for an EC2 instance role)
    SELECT b.*,
           regexp_extract(b.principal, '^arn:aws:sts::(\\d*):assumed-role/([^/]+)/(.+)$', ['account', 'role', 'session']) AS ar
    FROM base b
)
SELECT fx_redact(b.credential_id) AS credential_id,  -- a token used as its own id is shown as its fingerprint
       coalesce((SELECT k.kind FROM kinds k WHERE k.credential_id = b.credential_id AND k.fact_source = b.source),
                (SELECT min(k.kind) FROM kinds k WHERE k.credential_id = b.credential_id), 'other') AS kind,
       fx_redact(b.principal) AS principal, b.first_seen, b.last_seen, b.event_count, b.distinct_src_ips,
       CASE WHEN len(b.sample_actions) = 0 THEN b.sample_actions
            ELSE string_split(fx_redact(array_to_string(b.sample_actions, chr(10))), chr(10)) END AS sample_actions,
       b.issued_at, fx_redact(b.issued_at_source) AS issued_at_source, b.expires_at, fx_redact(b.issued_by) AS issued_by,
       b.issued_event_id,
       b.source, CASE WHEN len(b.src_ips) = 0 THEN b.src_ips
                      ELSE string_split(fx_redact(array_to_string(b.src_ips, chr(10))), chr(10)) END AS src_ips,
       b.failed_events,
       fx_redact(coalesce(b.identity_type, CASE WHEN nullif(b.ar.role, '') IS NOT NULL THEN 'AssumedRole'
                                                WHEN b.principal LIKE 'arn:aws:iam::%:user/%' THEN 'IAMUser' END)) AS identity_type,
       fx_redact(coalesce(b.role_arn, CASE WHEN nullif(b.ar.role, '') IS NOT NULL
                                           THEN 'arn:aws:iam::' || b.ar.account || ':role/' || b.ar.role END)) AS role_arn,
       fx_redact(nullif(b.ar.session, '')) AS session_name,
       b.console AS console_session
FROM arns b
"""

# Every event that changes a credential's state: the sources' direct changes, and the revocations of
# every credential of a principal (a session cutoff on a role or user, a deleted service account)
# matched against the inventory. A revocation undone later is followed by a 'reactivated' row; the
# revocation that counts is the first one after the last reactivation.
STATES = """
INSERT INTO credential_state_events
WITH principals AS (
    SELECT c.credential_id, p.event_id, p.time, coalesce(p.change, 'revoked') AS change, p.how
    FROM credentials c JOIN ({principal_revocations}) p
      ON (p.principal_like IS NULL OR c.principal LIKE p.principal_like)
     AND (p.principal_regex IS NULL OR regexp_matches(c.principal, p.principal_regex))
     AND (p.credential_kind IS NULL OR c.kind = p.credential_kind)
     AND (p.identity_type IS NULL OR c.identity_type = p.identity_type)
     AND (p.credential_like IS NULL OR c.credential_id LIKE p.credential_like)
     AND (p.cutoff IS NULL OR coalesce(c.issued_at, c.first_seen) < p.cutoff)
)
SELECT DISTINCT fx_redact(credential_id), event_id, time, change, fx_redact(how)
FROM (SELECT credential_id, event_id, time, change, how FROM _fx_states UNION ALL SELECT * FROM principals)
WHERE credential_id IS NOT NULL AND credential_id <> ''
"""

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


def derive(con: duckdb.DuckDBPyConnection) -> None:
    """Rebuild ``credential_links``, ``credentials`` and ``credential_state_events`` from the facts the
    sources give."""
    con.execute(LINKS.format(links=facts.union("credential_links_sql")))
    con.execute("DELETE FROM credential_links")
    con.execute("INSERT INTO credential_links BY NAME SELECT * EXCLUDE (fact_source) FROM _fx_links")
    con.execute(DIRECT.format(states=facts.union("credential_states_sql")))
    con.execute("DELETE FROM credentials")
    con.execute(
        REBUILD.format(
            kinds=facts.union("credential_kinds_sql"), sessions=facts.union("credential_sessions_sql")
        )
    )
    con.execute("DELETE FROM credential_state_events")
    con.execute(STATES.format(principal_revocations=facts.union("principal_revocations_sql")))
    con.execute(REVOKED)
    con.execute("DROP TABLE _fx_links")
    con.execute("DROP TABLE _fx_states")
