"""Azure Activity Log (the control plane of a subscription: who changed which resource).

Shapes read:

* diagnostic-settings records (an Event Hub message or storage blob ``{"records": [...]}``, or the
  records one per line): ``time``, ``resourceId``, ``operationName``, ``category``, ``resultType``,
  ``resultSignature``, ``callerIpAddress``, ``correlationId``, ``identity.claims``;
* a Log Analytics query answer (``{"tables": [{"columns": [...], "rows": [[...]]}]}``) of the
  ``AzureActivity`` table. A table is one record; each of its rows is one event (``event_seq`` is the
  row's index), its columns found by name (``TimeGenerated``, ``Caller``, ``CallerIpAddress``,
  ``OperationNameValue``, ``ActivityStatusValue``, ``ResourceId``, ``CorrelationId``, ``EventDataId``).

``time`` / ``TimeGenerated`` -> time (RFC 3339 with a zone; zone-less is rejected).
``operationName`` -> action; the caller is ``caller`` / ``Caller``, else the ``upn``, ``name`` or
``emailaddress`` claim, else the ``appid`` claim (actor_type ``service_principal``, or ``managed_identity``
when the token carries ``xms_mirid``, the managed identity's resource id, linked to the appid in
``entity_links``). ``resourceId``
-> target; the subscription id -> environment; ``eventDataId`` with the status and time ->
event_uid (sanitised exports repeat one placeholder id).

``resultType`` / ``ActivityStatusValue`` -> outcome: Success and Succeeded are success; Failure and
Failed are failure; Start, Started, Accept, Accepted, Active and anything else are unknown ("operation
Started": an operation's start is not its result). ``resultSignature`` (the HTTP status or
sub-status) follows in outcome_reason; 401/403 are access denied.
``location`` -> region; the resource provider (``ResourceProviderValue``, ``resourceProviderName``, else the
operation's first segment, ``Microsoft.KeyVault``) -> service, as written.
"""

from __future__ import annotations

from forensics.sources.contract import Detection, Probe, Source

_CLAIM = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/"
_CLAIMS = "coalesce(doc->'$.identity.claims', try(json(doc->>'Claims')), try(json(doc->>'Claims_d')))"

_OUTCOME = """
       CASE WHEN lower(res) IN ('success', 'succeeded') THEN 'success'
            WHEN lower(res) IN ('failure', 'failed') THEN 'failure'
            ELSE 'unknown' END AS outcome,
       CASE WHEN res IS NULL THEN 'no resultType'
            WHEN sig IN ('401', '403', 'Forbidden', 'Unauthorized') THEN 'access denied: ' || res || ' ' || sig
            WHEN lower(res) IN ('success', 'succeeded', 'failure', 'failed') THEN res || coalesce(' ' || nullif(sig, ''), '')
            ELSE 'operation ' || res || coalesce(' ' || nullif(sig, ''), '') END AS outcome_reason"""

_RECORDS = f"""
WITH b AS (
    SELECT record_no, doc,
           coalesce(json_type(doc->'rows') = 'ARRAY' AND json_type(doc->'columns') = 'ARRAY', false) AS is_table
    FROM {{batch}}),
tab AS (
    SELECT record_no, doc->'rows' AS rows, json_extract_string(doc, '$.columns[*].name') AS cols,
           unnest(range(CAST(json_array_length(doc->'rows') AS BIGINT))) AS i
    FROM b WHERE is_table),
one AS (
    SELECT record_no, 0 AS i, doc FROM b WHERE NOT is_table
    UNION ALL
    SELECT record_no, i, CAST(to_json(map_from_entries(list_transform(range(len(cols)),
               lambda k: struct_pack(k := cols[k + 1], v := rows->CAST(i AS BIGINT)->>CAST(k AS BIGINT))))) AS JSON)
    FROM tab),
f AS (
    SELECT record_no, i, doc, coalesce(doc->>'time', doc->>'TimeGenerated') AS t, {_CLAIMS} AS claims,
           coalesce(doc->>'resultType', doc->>'ActivityStatusValue') AS res,
           coalesce(doc->>'resultSignature', doc->>'ActivitySubstatusValue') AS sig
    FROM one)
SELECT record_no, CAST(i AS INTEGER) AS event_seq,
       fx_time(t, false) AS time, fx_time_problem(t, false) AS time_problem, t AS time_raw,
       coalesce(doc->>'$.operationName.value', CASE WHEN json_type(doc, '$.operationName') = 'VARCHAR' THEN doc->>'operationName' END, doc->>'OperationNameValue') AS action,
       coalesce(nullif(doc->>'caller', ''), nullif(doc->>'Caller', ''), claims->>'$."{_CLAIM}upn"',
                claims->>'$."{_CLAIM}name"', claims->>'$."{_CLAIM}emailaddress"', claims->>'$.appid') AS actor,
       CASE WHEN coalesce(nullif(doc->>'caller', ''), nullif(doc->>'Caller', ''), claims->>'$."{_CLAIM}upn"')
                 LIKE '%@%' THEN 'user'
            WHEN claims->>'$.xms_mirid' IS NOT NULL THEN 'managed_identity'
            WHEN claims->>'$.appid' IS NOT NULL THEN 'service_principal' END AS actor_type,
       nullif(coalesce(doc->>'callerIpAddress', doc->>'CallerIpAddress'), '') AS src_ip,
       coalesce(doc->>'resourceId', doc->>'ResourceId') AS target,
       nullif(regexp_extract(coalesce(doc->>'resourceId', doc->>'ResourceId'), '(?i)/subscriptions/([^/]+)', 1), '')
           AS environment,
       {_OUTCOME},
       coalesce(doc->>'correlationId', doc->>'CorrelationId') AS request_id,
       nullif(coalesce(doc->>'location', doc->>'Location'), '') AS region,
       -- the resource provider (Microsoft.Insights), from the operation or the resource id
       coalesce(nullif(doc->>'ResourceProviderValue', ''), nullif(coalesce(doc->>'$.resourceProviderName.value', CASE WHEN json_type(doc, '$.resourceProviderName') = 'VARCHAR' THEN doc->>'resourceProviderName' END), ''),
                nullif(regexp_extract(coalesce(doc->>'$.operationName.value', CASE WHEN json_type(doc, '$.operationName') = 'VARCHAR' THEN doc->>'operationName' END, doc->>'OperationNameValue'), '^([^/]+)/', 1), '')) AS service,
       -- the id with the status and time: sanitised exports repeat one placeholder id
       coalesce(doc->>'eventDataId', doc->>'EventDataId') || '|' || coalesce(res, '') || '|' || coalesce(t, '')
           AS event_uid
FROM f
"""

_ACTIVITY_KEYS = ({"time", "operationName", "resourceId", "category"},)
_LA_COLUMNS = {"TimeGenerated", "OperationNameValue", "ActivityStatusValue"}


# an Azure token of a managed identity names it in the claim xms_mirid: the actor is that identity
_MANAGED_IDENTITY_LINKS = """
SELECT 'actor' AS kind, m.actor AS id, 'resource' AS linked_kind, m.mirid AS linked_id, true AS same_principal,
       'the Azure token of ' || m.actor || ' is the managed identity ' || m.mirid || ' (claim xms_mirid)' AS reason,
       'event' AS evidence_kind, m.event_id AS evidence_id
FROM (SELECT actor, raw->>'$.identity.claims.xms_mirid' AS mirid, arg_min(event_id, time) AS event_id
      FROM events WHERE source = {source} AND actor_type = 'managed_identity'
        AND raw->>'$.identity.claims.xms_mirid' IS NOT NULL AND actor IS NOT NULL
      GROUP BY ALL) m
"""


class AzureActivitySource(Source):
    name = "azure_activity"
    sigma_logsources = (("azure", "activitylogs"),)
    category = "audit"
    containers = ("jsonl", "json")
    record_keys = ("records",)
    groupable = True

    def detect(self, probe: Probe) -> Detection:
        if _la_table(probe.document):
            return Detection.CERTAIN
        objs = probe.objects()
        doc = probe.document
        if isinstance(doc, dict) and isinstance(doc.get("records"), list):
            objs = [o for o in doc["records"][:50] if isinstance(o, dict)]
        if not objs:
            return Detection.NO
        hits = sum(
            1
            for o in objs
            if _ACTIVITY_KEYS[0] <= o.keys()
            and str(o.get("resourceId", "")).lower().startswith("/subscriptions/")
            and o.get("category") not in ("AuditLogs", "SignInLogs")
        )
        return Detection.STRONG if hits * 2 >= len(objs) else Detection.NO

    def record_path(self, probe: Probe) -> str:
        if _la_table(probe.document):
            return "$.tables"
        doc = probe.document
        if isinstance(doc, dict) and isinstance(doc.get("records"), list):
            return "$.records"
        if "records" in probe.top_keys and doc is None:
            return "$.records"
        return super().record_path(probe)

    def events_sql(self) -> str:
        return _RECORDS

    def identity_links_sql(self) -> str:
        return _MANAGED_IDENTITY_LINKS


def _la_table(doc: object) -> bool:
    if not isinstance(doc, dict) or not isinstance(doc.get("tables"), list) or not doc["tables"]:
        return False
    t = doc["tables"][0]
    if not isinstance(t, dict) or not isinstance(t.get("columns"), list):
        return False
    names = {c.get("name") for c in t["columns"] if isinstance(c, dict)}
    return _LA_COLUMNS <= names


SOURCES = [AzureActivitySource()]
