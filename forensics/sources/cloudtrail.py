"""AWS CloudTrail: S3-delivered ``{"Records": [...]}`` files (plain or gzip, whole bucket trees),
JSON Lines exports (CloudTrail Lake, EventBridge ``detail`` envelopes, Logstash lines with
``@timestamp``), console CSV exports, and CloudTrail digest files.

Mapping (docs/audit.md has the full table):

* ``eventTime`` (else ``@timestamp``, else the EventBridge ``time``) -> ``time``. CloudTrail defines
  its times as UTC, so a zone-less time is read as UTC (the console CSV writes them that way).
* ``eventSource`` + ``eventName`` -> ``action`` as ``s3:GetObject`` (the prefix before
  ``.amazonaws.com``). An unknown or missing ``eventSource`` still loads.
* ``userIdentity`` -> ``actor`` (arn, else userName, principalId, invokedBy, accountId),
  ``actor_type`` (its ``type``) and ``credential_id`` (``accessKeyId``).
* ``errorCode``/``errorMessage`` -> ``outcome``: no error is success; ``RequestTimeout`` and
  ``RequestTimeoutException`` are timeouts; throttling and access denied are failures with their reason.
* ``eventID`` -> ``event_uid`` (duplicates across overlapping exports are counted once).

Digest files (``digestStartTime``, ``logFiles``) are evidence about the log, not events: they go
to ``cloudtrail_digests``.
"""

from __future__ import annotations

import re
from typing import Any

from forensics.db import scalar
from forensics.sources.contract import Batch, Detection, Probe, Source

_EVENT_KEYS = {"eventVersion", "eventSource", "eventName", "userIdentity", "eventTime", "eventID"}
_CSV_HEADERS = ("event name", "eventname")
#: A Records document too large for the probe to parse whole still starts like this.
_RECORDS_HEAD = re.compile(
    r'\s*\{\s*"Records"\s*:\s*\[\s*(\{\s*"(eventVersion|eventTime|userIdentity|eventSource)"|\])'
)
_CSV_ID_HEADERS = ("event id", "eventid")

#: Shape of a CloudTrail event (and of an EventBridge envelope around one): what the mapping reads,
#: parsed once per record. ``resources`` and ``responseElements`` are reached into here too, so no
#: part of a record is parsed twice.
_SHAPE = """{
 "eventTime": "VARCHAR", "@timestamp": "VARCHAR", "time": "VARCHAR", "detail-type": "VARCHAR", "detail": "JSON",
 "eventSource": "VARCHAR", "eventName": "VARCHAR", "sourceIPAddress": "VARCHAR", "userAgent": "VARCHAR",
 "errorCode": "VARCHAR", "errorMessage": "VARCHAR", "requestID": "VARCHAR", "eventID": "VARCHAR",
 "recipientAccountId": "VARCHAR", "awsRegion": "VARCHAR", "CloudTrailEvent": "VARCHAR",
 "userIdentity": {"type": "VARCHAR", "arn": "VARCHAR", "principalId": "VARCHAR", "accountId": "VARCHAR",
                  "accessKeyId": "VARCHAR", "userName": "VARCHAR", "invokedBy": "VARCHAR"},
 "requestParameters": {"bucketName": "VARCHAR", "key": "VARCHAR", "roleArn": "VARCHAR", "userName": "VARCHAR",
                       "repositoryName": "VARCHAR", "roleName": "VARCHAR", "functionName": "VARCHAR",
                       "name": "VARCHAR", "instanceId": "VARCHAR", "imageDigest": "VARCHAR"},
 "resources": [{"ARN": "VARCHAR"}],
 "responseElements": {"ConsoleLogin": "VARCHAR", "image": {"imageId": {"imageDigest": "VARCHAR"}}}
}"""

#: A LookupEvents element's own fields (``aws cloudtrail lookup-events``, boto3 ``lookup_events``), read only
#: for elements (a separate shape: DuckDB matches keys regardless of case, and ``eventTime`` is taken)
_LOOKUP_SHAPE = """{"EventTime": "VARCHAR", "EventName": "VARCHAR", "EventSource": "VARCHAR", "EventId": "VARCHAR",
 "Username": "VARCHAR", "AccessKeyId": "VARCHAR", "Resources": [{"ResourceName": "VARCHAR"}]}"""

#: CloudTrail writes ``eventTime`` as ``2026-03-01T09:00:00Z``. Such text is read by the cast that
#: ``fx_time`` would reach for it (a zone, no fraction to trim), without its other tests; any other
#: text goes through ``fx_time``, and its problem is only worked out for a time that did not parse.
#: (year 0000 is not a time: fx_time rejects it, and so does this shortcut)
_CANONICAL_TIME = (
    "'(000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z'"
)

_TIMEOUT_CODES = "('RequestTimeout', 'RequestTimeoutException')"
_THROTTLE_CODES = (
    "('Throttling', 'ThrottlingException', 'ThrottledException', 'RequestLimitExceeded', "
    "'TooManyRequestsException', 'SlowDown', 'RequestThrottled', 'RequestThrottledException', "
    "'Client.RequestLimitExceeded', 'LimitExceededException')"
)

_JSON_EVENTS = f"""
WITH p AS (
    -- a LookupEvents element ({{EventTime, EventName, Username, Resources, CloudTrailEvent: "<json>"}})
    -- carries the record as a JSON string: the record is parsed, the element's own fields fill the gaps
    SELECT record_no, o,
           CASE WHEN o.CloudTrailEvent IS NOT NULL
                THEN json_transform(TRY_CAST(o.CloudTrailEvent AS JSON), '{_SHAPE}') END AS embedded,
           CASE WHEN o.CloudTrailEvent IS NOT NULL THEN json_transform(doc, '{_LOOKUP_SHAPE}') END AS lk
    FROM (SELECT r.record_no, r.doc, json_transform(r.doc, '{_SHAPE}') AS o FROM {{batch}} r)
), m AS (
    -- an EventBridge envelope carries the event under detail, and its own time
    SELECT record_no, s, coalesce(s.eventTime, s."@timestamp", envelope_time, lk.EventTime) AS t_raw,
           coalesce(nullif(s.userIdentity.accessKeyId, ''), nullif(lk.AccessKeyId, '')) AS key_id, lk AS o
    FROM (SELECT record_no, lk,
                 CASE WHEN embedded IS NOT NULL THEN embedded
                      WHEN o."detail-type" IS NOT NULL AND json_type(o.detail) = 'OBJECT'
                      THEN json_transform(o.detail, '{_SHAPE}') ELSE o END AS s,
                 CASE WHEN o."detail-type" IS NOT NULL THEN o.time END AS envelope_time
          FROM p)
), t AS (
    SELECT *, CASE WHEN regexp_full_match(t_raw, {_CANONICAL_TIME}) THEN try_cast(t_raw AS TIMESTAMPTZ)
                   ELSE fx_time(t_raw, true) END AS time
    FROM m
)
SELECT record_no,
       time,
       CASE WHEN time IS NULL THEN fx_time_problem(t_raw, true) END AS time_problem,
       t_raw AS time_raw,
       CASE WHEN coalesce(s.eventSource, o.EventSource) IS NULL THEN coalesce(s.eventName, o.EventName)
            ELSE regexp_replace(coalesce(s.eventSource, o.EventSource), '\\.amazonaws\\.com$', '') || ':'
                 || coalesce(s.eventName, o.EventName, '?') END AS action,
       regexp_replace(coalesce(s.eventSource, o.EventSource), '\\.amazonaws\\.com$', '') AS service,
       s.awsRegion AS region,
       coalesce(nullif(s.userIdentity.arn, ''), nullif(s.userIdentity.userName, ''),
                nullif(s.userIdentity.principalId, ''), nullif(s.userIdentity.invokedBy, ''),
                nullif(s.userIdentity.accountId, ''), nullif(o.Username, '')) AS actor,
       s.userIdentity.type AS actor_type,
       key_id AS credential_id,
       s.sourceIPAddress AS src_ip,
       s.userAgent AS user_agent,
       coalesce(
           nullif(array_to_string([x.ARN FOR x IN s.resources], ', '), ''),
           nullif(array_to_string([x.ResourceName FOR x IN o.Resources], ', '), ''),
           s.requestParameters.bucketName || coalesce('/' || s.requestParameters.key, ''),
           s.requestParameters.roleArn, s.requestParameters.repositoryName,
           s.requestParameters.userName, s.requestParameters.roleName, s.requestParameters.functionName,
           s.requestParameters.instanceId, s.requestParameters.name) AS target,
       CASE WHEN s.errorCode IN {_TIMEOUT_CODES} THEN 'timeout'
            WHEN s.errorCode IS NOT NULL AND s.errorCode <> '' THEN 'failure'
            WHEN s.responseElements.ConsoleLogin = 'Failure' THEN 'failure'
            ELSE 'success' END AS outcome,
       CASE WHEN s.errorCode IN {_TIMEOUT_CODES} THEN 'timed out: ' || s.errorCode || coalesce(': ' || s.errorMessage, '')
            WHEN s.errorCode IN {_THROTTLE_CODES} THEN 'throttled: ' || s.errorCode || coalesce(': ' || s.errorMessage, '')
            WHEN s.errorCode ILIKE '%AccessDenied%' OR s.errorCode ILIKE '%Unauthorized%'
                 OR s.errorCode ILIKE '%Forbidden%' OR s.errorCode IN ('InvalidClientTokenId', 'ExpiredToken', 'ExpiredTokenException', 'SignatureDoesNotMatch')
                 THEN 'access denied: ' || s.errorCode || coalesce(': ' || s.errorMessage, '')
            WHEN s.errorCode IS NOT NULL AND s.errorCode <> '' THEN s.errorCode || coalesce(': ' || s.errorMessage, '')
            WHEN s.responseElements.ConsoleLogin = 'Failure' THEN 'ConsoleLogin Failure'
            ELSE 'no errorCode' END AS outcome_reason,
       s.requestID AS request_id,
       coalesce(s.eventID, o.EventId) AS event_uid,
       s.recipientAccountId AS environment,
       coalesce(s.responseElements.image.imageId.imageDigest, s.requestParameters.imageDigest) AS artifact_digest
FROM t
"""

# Console "Event history" CSV and other flattened exports: header names vary, so each column is
# looked up under the names those exports use. The S3 honeybucket CSV carries the identity as a
# Python-style dict text ('accountId': '...').
_CSV_EVENTS = """
WITH c AS (
    SELECT r.record_no,
           coalesce(r.doc->>'$."eventTime"', r.doc->>'$."Event time"', r.doc->>'$."Event DateTime"') AS t_raw,
           coalesce(r.doc->>'$."eventSource"', r.doc->>'$."Event source"',
                    -- the honeybucket layout has no source column; its Host names the S3 endpoint
                    CASE WHEN regexp_matches(r.doc->>'$."Request Parameters"', '''Host'': ''[^'']*\\.s3[.-]')
                         THEN 's3.amazonaws.com' END) AS src,
           coalesce(r.doc->>'$."eventName"', r.doc->>'$."Event name"', r.doc->>'$."Event Name"') AS name,
           coalesce(r.doc->>'$."eventID"', r.doc->>'$."Event ID"') AS uid,
           coalesce(r.doc->>'$."awsRegion"', r.doc->>'$."AWS region"', r.doc->>'$."AWS Region"') AS region,
           coalesce(r.doc->>'$."requestID"', r.doc->>'$."Request ID"') AS req,
           coalesce(r.doc->>'$."sourceIPAddress"', r.doc->>'$."Source IP address"', r.doc->>'$."Source IP"') AS ip,
           coalesce(r.doc->>'$."userAgent"', r.doc->>'$."User agent"', r.doc->>'$."Request User Agent"') AS ua,
           coalesce(r.doc->>'$."accessKeyId"', r.doc->>'$."AWS access key"') AS key_id,
           coalesce(r.doc->>'$."userName"', r.doc->>'$."User name"',
                    nullif(regexp_extract(r.doc->>'$."User ID"', '''arn'': ''([^'']+)''', 1), ''),
                    nullif(regexp_extract(r.doc->>'$."User ID"', '''principalId'': ''([^'']+)''', 1), ''),
                    nullif(regexp_extract(r.doc->>'$."User ID"', '''accountId'': ''([^'']+)''', 1), '')) AS who,
           nullif(regexp_extract(r.doc->>'$."User ID"', '''type'': ''([^'']+)''', 1), '') AS who_type,
           coalesce(r.doc->>'$."Resources"', nullif(regexp_extract(r.doc->>'$."Request Parameters"', '''bucketName'': ''([^'']+)''', 1), '')) AS tgt,
           r.doc->>'$."errorCode"' AS err1, r.doc->>'$."Error code"' AS err2,
           (r.doc->'$."errorCode"') IS NOT NULL OR (r.doc->'$."Error code"') IS NOT NULL AS has_err_col
    FROM {batch} r
)
SELECT record_no, fx_time(t_raw, true) AS time, fx_time_problem(t_raw, true) AS time_problem, t_raw AS time_raw,
       CASE WHEN src IS NULL OR src = '' THEN name
            ELSE regexp_replace(src, '\\.amazonaws\\.com$', '') || ':' || coalesce(name, '?') END AS action,
       nullif(regexp_replace(src, '\\.amazonaws\\.com$', ''), '') AS service, region,
       who AS actor, who_type AS actor_type, nullif(key_id, '') AS credential_id, ip AS src_ip, ua AS user_agent,
       tgt AS target,
       CASE WHEN NOT has_err_col THEN 'unknown'
            WHEN coalesce(nullif(err1, ''), nullif(err2, '')) IS NULL THEN 'success'
            WHEN coalesce(err1, err2) IN ('RequestTimeout', 'RequestTimeoutException') THEN 'timeout'
            ELSE 'failure' END AS outcome,
       CASE WHEN NOT has_err_col THEN 'this CSV export has no error code column'
            ELSE coalesce(nullif(err1, ''), nullif(err2, ''), 'no error code') END AS outcome_reason,
       req AS request_id, uid AS event_uid
FROM c
"""


# -- the facts CloudTrail contributes to the credential inventory (forensics/derive/credentials.py)
_AWS_TIME = "coalesce(fx_time({x}, true), timezone('UTC', try_strptime({x}, '%b %d, %Y, %I:%M:%S %p')))"

_CREDENTIAL_LINKS = f"""
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
WHERE source = {{source}} AND outcome = 'success'
  AND action IN ('sts:AssumeRole', 'sts:AssumeRoleWithSAML', 'sts:AssumeRoleWithWebIdentity',
                 'sts:GetSessionToken', 'sts:GetFederationToken')
UNION ALL
SELECT raw->>'$.responseElements.accessKey.accessKeyId', credential_id, actor,
       'arn:aws:iam::' || coalesce(environment, '?') || ':user/' || (raw->>'$.responseElements.accessKey.userName'),
       action, coalesce({_AWS_TIME.format(x="raw->>'$.responseElements.accessKey.createDate'")}, time), NULL, event_id
FROM events WHERE source = {{source}} AND outcome = 'success' AND action = 'iam:CreateAccessKey'
"""

_STATES = """
SELECT raw->>'$.requestParameters.accessKeyId' AS credential_id, event_id, time,
       CASE WHEN action = 'iam:DeleteAccessKey' THEN 'deleted'
            WHEN raw->>'$.requestParameters.status' = 'Active' THEN 'reactivated' ELSE 'revoked' END AS change,
       action || coalesce(' ' || (raw->>'$.requestParameters.status'), '') AS how, true AS listed
FROM events
WHERE source = {source} AND outcome = 'success'
  AND (action = 'iam:DeleteAccessKey'
       OR (action = 'iam:UpdateAccessKey' AND raw->>'$.requestParameters.status' IN ('Inactive', 'Active')))
"""

# a Deny on aws:TokenIssueTime put on a role (AWSRevokeOlderSessions) or on an IAM user revokes every
# session of it issued before the cutoff; IAM logs the policy URL-encoded at times
_SESSION_CUTOFFS = r"""
SELECT CASE WHEN on_kind = 'role' THEN 'arn:aws:sts::' || coalesce(account, '%') || ':assumed-role/' || name || '/%' END
           AS principal_like,
       CASE WHEN on_kind = 'user' THEN '^arn:aws:iam::' || coalesce(account, '\d*') || ':user/(.*/)?' || name || '$' END
           AS principal_regex,
       'aws_temporary_key' AS credential_kind,
       CASE WHEN on_kind = 'user' THEN 'IAMUser' END AS identity_type,
       CAST(NULL AS VARCHAR) AS credential_like,
       coalesce(fx_time(regexp_extract(doc, '"aws:TokenIssueTime"\s*:\s*"([^"]+)"', 1), true), time) AS cutoff,
       time, event_id, 'revoked' AS change, how
FROM (
    SELECT CASE WHEN action = 'iam:PutRolePolicy' THEN 'role' ELSE 'user' END AS on_kind,
           coalesce(raw->>'$.requestParameters.roleName', raw->>'$.requestParameters.userName') AS name,
           environment AS account, time, event_id, doc,
           action || ' ' || coalesce(raw->>'$.requestParameters.policyName', '?') || ' on '
               || coalesce(raw->>'$.requestParameters.roleName', raw->>'$.requestParameters.userName') AS how
    FROM (SELECT *, CASE WHEN contains(raw->>'$.requestParameters.policyDocument', '%22')
                         THEN url_decode(raw->>'$.requestParameters.policyDocument')
                         ELSE raw->>'$.requestParameters.policyDocument' END AS doc
          FROM events
          WHERE source = {source} AND outcome = 'success' AND action IN ('iam:PutRolePolicy', 'iam:PutUserPolicy'))
    WHERE raw->>'$.requestParameters.policyName' = 'AWSRevokeOlderSessions'
       OR (contains(doc, 'aws:TokenIssueTime') AND regexp_matches(doc, '"Effect"\s*:\s*"Deny"'))
)
"""

# CloudTrail's userIdentity: who a key acts as, and when a temporary key's session was created
_SESSIONS = """
SELECT credential_id,
       CASE WHEN credential_id LIKE 'ASIA%'
            THEN min(fx_time(raw->>'$.userIdentity.sessionContext.attributes.creationDate', true)) END AS created,
       'sessionContext.attributes.creationDate' AS created_from,
       mode(raw->>'$.userIdentity.type') AS identity_type,
       mode(raw->>'$.userIdentity.sessionContext.sessionIssuer.arn')
           FILTER (WHERE raw->>'$.userIdentity.sessionContext.sessionIssuer.type' = 'Role') AS role_arn,
       bool_or(coalesce(raw->>'$.sessionCredentialFromConsole', '') = 'true') AS console
FROM events
WHERE source = {source} AND credential_id IS NOT NULL AND credential_id <> ''
GROUP BY credential_id
"""

# an id shaped like an AWS access key id is one, whichever source saw it
_CREDENTIAL_KINDS = """
SELECT DISTINCT credential_id,
       CASE WHEN credential_id LIKE 'AKIA%' THEN 'aws_access_key' ELSE 'aws_temporary_key' END AS kind
FROM (SELECT credential_id FROM events WHERE credential_id LIKE 'A_IA%'
      UNION ALL SELECT credential_id FROM credential_links WHERE credential_id LIKE 'A_IA%')
WHERE regexp_matches(credential_id, '^A[KS]IA[A-Z0-9]{12,}$')
"""


class CloudTrailSource(Source):
    name = "cloudtrail"
    sigma_logsources = (("aws", "cloudtrail"),)
    category = "audit"
    containers = ("jsonl", "json", "csv")
    groupable = True  # a bucket is thousands of small Records files
    record_keys = ("Records", "Events")  # S3 delivery; LookupEvents answers (aws cloudtrail lookup-events)

    def detect(self, probe: Probe) -> Detection:
        if probe.container == "csv":
            header = probe.head.split("\n", 1)[0].lower()
            return (
                Detection.LIKELY
                if any(h in header for h in _CSV_HEADERS) and any(h in header for h in _CSV_ID_HEADERS)
                else Detection.NO
            )
        if probe.container == "json" and isinstance(probe.document, dict) and _is_digest(probe.document):
            return Detection.CERTAIN
        if "Records" in probe.top_keys and not probe.objects():
            return Detection.LIKELY  # an empty Records file: only CloudTrail writes these
        if probe.container == "json" and probe.document is None and _RECORDS_HEAD.match(probe.head):
            return Detection.STRONG  # a Records file too large for the probe to parse whole
        objs = probe.objects()
        if not objs:
            return Detection.NO
        hits = sum(1 for o in objs if _looks_like_event(o))
        return Detection.CERTAIN if hits * 2 >= len(objs) else (Detection.WEAK if hits else Detection.NO)

    def record_path(self, probe: Probe) -> str:
        if isinstance(probe.document, dict) and _is_digest(probe.document):
            return "$"
        if probe.document is None and _RECORDS_HEAD.match(probe.head):
            return "$.Records"  # a Records document the probe could not parse (cut off, or malformed)
        return super().record_path(probe)

    def load_batch(self, batch: Batch) -> None:
        con = batch.con
        # (the substring test first: a Records file's events are not parsed again to learn they are no digest)
        digest = f"""SELECT record_no FROM {batch.table}
                     WHERE contains(CAST(doc AS VARCHAR), '"digestStartTime"')
                       AND doc->>'digestStartTime' IS NOT NULL AND json_type(doc, '$.logFiles') = 'ARRAY'"""
        if scalar(con, f"SELECT count(*) FROM ({digest})"):
            batch.insert_rows(
                "cloudtrail_digests",
                f"""
                SELECT record_no, {batch.evidence_sql} AS evidence_sha256, doc->>'awsAccountId' AS account_id,
                       fx_time(doc->>'digestStartTime', true) AS digest_start,
                       fx_time(doc->>'digestEndTime', true) AS digest_end,
                       doc->>'digestS3Bucket' AS s3_bucket, doc->>'digestS3Object' AS s3_object,
                       doc->>'previousDigestSignature' AS previous_digest_signature,
                       doc->>'previousDigestS3Object' AS previous_digest_s3_object,
                       doc->>'previousDigestHashValue' AS previous_digest_hash,
                       doc->>'digestPublicKeyFingerprint' AS public_key_fingerprint,
                       CAST(json_array_length(doc, '$.logFiles') AS BIGINT) AS log_file_count,
                       doc->'logFiles' AS log_files
                FROM ({digest}) d JOIN {batch.table} r USING (record_no)""",
            )
            batch.insert_events(
                _JSON_EVENTS.replace(
                    "FROM {batch} r", f"FROM {{batch}} r WHERE r.record_no NOT IN ({digest})"
                )
            )
            return
        keys = con.execute(
            f"SELECT json_keys(doc) FROM {batch.table} LIMIT 1"
        ).fetchall()  # (fetchall ends the result)
        flat_csv = keys and any(k in ("Event name", "Event Name", "Event ID") for k in keys[0][0])
        batch.insert_events(_CSV_EVENTS if flat_csv else _JSON_EVENTS)

    def credential_links_sql(self) -> str:
        return _CREDENTIAL_LINKS

    def credential_states_sql(self) -> str:
        return _STATES

    def principal_revocations_sql(self) -> str:
        return _SESSION_CUTOFFS

    def credential_sessions_sql(self) -> str:
        return _SESSIONS

    def credential_kinds_sql(self) -> str:
        return _CREDENTIAL_KINDS


def _is_digest(doc: dict[str, Any]) -> bool:
    return "digestStartTime" in doc and isinstance(doc.get("logFiles"), list)


def _looks_like_event(o: dict[str, Any]) -> bool:
    if isinstance(o.get("CloudTrailEvent"), str) and ("EventName" in o or "EventId" in o):
        return True  # a LookupEvents element: the record is the JSON string in CloudTrailEvent
    detail = o.get("detail")
    if isinstance(detail, dict) and "CloudTrail" in str(o.get("detail-type", "")):
        return True
    return len(_EVENT_KEYS & o.keys()) >= 3 and "eventName" in o


SOURCES = [CloudTrailSource()]
