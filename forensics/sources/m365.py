"""Microsoft 365 Unified Audit Log, in the shapes responders export it:

* the Office 365 Management Activity API (``/activity/feed/audit/...``): a JSON array or lines of
  records with ``CreationTime``, ``Id``, ``Operation``, ``RecordType``, ``UserId``, ``ClientIP``,
  ``Workload``, ``ResultStatus``, ``ObjectId``;
* the portal / ``Search-UnifiedAuditLog`` CSV (``CreationDate,UserIds,Operations,AuditData``),
  whose ``AuditData`` column holds the Management API record as JSON text (read from there);
* Microsoft Sentinel ``OfficeActivity`` rows (``TimeGenerated``, ``OfficeWorkload``,
  ``Client_IPAddress``, ``OfficeObjectId``, ``OfficeId``), as JSON or as CSV
  (``TimeGenerated,UserId,ClientIP,Operation,Parameters``; ``Parameters`` stays in raw).

``CreationTime`` is UTC by the API's contract but written without a zone
(``2020-04-18T04:50:30``): this loader reads a zone-less ``CreationTime``/``CreationDate`` as UTC
(the only place it does). ``TimeGenerated`` carries ``Z``.

Operation -> action (``Workload:Operation``, or the operation alone when no workload is given); ``UserId`` -> actor (``UserType`` -> actor_type);
``ClientIP`` (the port, and IPv6 brackets, are stripped) -> src_ip; ``UserAgent`` (or
``ClientInfoString``) -> user_agent; ``ObjectId`` -> target. ``ResultStatus``: Succeeded, Success,
True and PartiallySucceeded are success (partial noted), Failed and False failure, absent unknown.
``Id`` -> event_uid (with the time: sanitised exports repeat one id).
"""

from __future__ import annotations

import csv

from forensics.sources.contract import Detection, Probe, Source

_EVENTS = """
WITH b AS (
    SELECT record_no, doc, coalesce(try(json(doc->>'AuditData')), doc) AS a FROM {batch}),
f AS (
    SELECT record_no, doc, a,
           coalesce(a->>'CreationTime', doc->>'CreationDate', a->>'TimeGenerated') AS t,
           coalesce(a->>'CreationTime', doc->>'CreationDate') IS NOT NULL AS api_time,
           coalesce(a->>'ResultStatus', doc->>'ResultStatus') AS res,
           coalesce(a->>'ClientIP', a->>'Client_IPAddress', a->>'ClientIPAddress', doc->>'ClientIP') AS ip
    FROM b)
SELECT record_no,
       fx_time(t, api_time) AS time, fx_time_problem(t, api_time) AS time_problem, t AS time_raw,
       coalesce(nullif(coalesce(a->>'Workload', a->>'OfficeWorkload'), '') || ':', '')
           || coalesce(a->>'Operation', doc->>'Operations') AS action,
       coalesce(nullif(a->>'UserId', ''), nullif(doc->>'UserIds', ''), nullif(a->>'UserKey', '')) AS actor,
       CASE a->>'UserType' WHEN '0' THEN 'Regular' WHEN '2' THEN 'Admin' WHEN '3' THEN 'DcAdmin'
            WHEN '4' THEN 'System' WHEN '5' THEN 'Application' WHEN '6' THEN 'ServicePrincipal'
            ELSE a->>'UserType' END AS actor_type,
       nullif(CASE WHEN ip LIKE '[%]%' THEN regexp_extract(ip, '^\\[([^\\]]+)\\]', 1)
                   WHEN regexp_matches(ip, '^[0-9.]+:[0-9]+$') THEN split_part(ip, ':', 1)
                   ELSE ip END, '') AS src_ip,
       coalesce(a->>'UserAgent', a->>'ClientInfoString') AS user_agent,
       coalesce(a->>'ObjectId', a->>'OfficeObjectId', a->>'MailboxOwnerUPN') AS target,
       CASE WHEN res IN ('Succeeded', 'Success', 'True', 'PartiallySucceeded') THEN 'success'
            WHEN res IN ('Failed', 'False', 'Failure') THEN 'failure'
            ELSE 'unknown' END AS outcome,
       CASE WHEN res IS NULL OR res = '' THEN 'no ResultStatus'
            WHEN res = 'PartiallySucceeded' THEN 'ResultStatus PartiallySucceeded (partial)'
            ELSE 'ResultStatus ' || res END AS outcome_reason,
       coalesce(a->>'Id', a->>'OfficeId') || '|' || coalesce(t, '') AS event_uid
FROM f
"""

_API = {"CreationTime", "Operation", "RecordType", "UserId"}
_SENTINEL = {"TimeGenerated", "Operation", "OfficeWorkload"}
_PORTAL_CSV = {"CreationDate", "UserIds", "Operations", "AuditData"}
_SENTINEL_CSV = {"TimeGenerated", "UserId", "ClientIP", "Operation", "Parameters"}


class M365Source(Source):
    name = "m365_ual"
    sigma_logsources = (("m365", "audit"),)
    category = "audit"
    containers = ("jsonl", "json", "csv")
    groupable = True

    def detect(self, probe: Probe) -> Detection:
        if probe.container == "csv":
            header = set(next(csv.reader([probe.head.lstrip("\ufeff").split("\n", 1)[0]]), []))
            return Detection.STRONG if _PORTAL_CSV <= header or _SENTINEL_CSV <= header else Detection.NO
        objs = probe.objects()
        if not objs:
            return Detection.NO
        keys = (_API, _SENTINEL, _PORTAL_CSV, _SENTINEL_CSV)
        hits = sum(1 for o in objs if any(k <= o.keys() for k in keys))
        return Detection.STRONG if hits * 2 >= len(objs) else Detection.NO

    def events_sql(self) -> str:
        return _EVENTS


SOURCES = [M365Source()]
