"""AWS detector findings: GuardDuty and Security Hub (ASFF), as events of category ``finding``.
(The findings detectors in ``queries/findings/`` turn them into the kit's own findings too.)

Shapes: a ``GetFindings`` answer (``{"Findings": [...]}``), an EventBridge event (GuardDuty
``{"detail-type": "GuardDuty Finding", "detail": <finding>}``, Security Hub ``{"detail-type":
"Security Hub Findings - Imported", "detail": {"findings": [...]}}``), a JSON array, or one finding
per line (the S3 export).

GuardDuty: ``Service.EventFirstSeen`` (else ``CreatedAt``) -> time, ``EventLastSeen`` -> end_time;
``Type`` -> action (``finding:Recon:IAMUser/UserPermissions``); ``Resource.AccessKeyDetails``:
``UserName`` (else ``PrincipalId``) -> actor, ``UserType`` -> actor_type, ``AccessKeyId`` ->
credential_id; the remote address of the action (API call, network connection, DNS, port probe,
Kubernetes API call) -> src_ip; the instance, bucket, cluster or key -> target; ``AccountId`` ->
environment; ``Region`` -> region; ``Id`` -> event_uid. Security Hub: ``FirstObservedAt`` (else ``CreatedAt``) -> time,
``LastObservedAt`` -> end_time, ``GeneratorId`` -> action, ``Resources[0].Id`` -> target,
``Network.SourceIpV4`` or the API call's remote address -> src_ip, ``AwsAccountId`` -> environment,
``Region`` -> region.

A finding reports a detection, not the result of an action: outcome ``unknown``, with the severity,
the title and (Security Hub) the compliance and workflow status in outcome_reason; an archived or
resolved finding says so. All times are RFC 3339 with a zone.
"""

from __future__ import annotations

from typing import Any

from forensics.sources.contract import Detection, Probe, Source, most

_REMOTE = """coalesce(
    f->>'$.Service.Action.AwsApiCallAction.RemoteIpDetails.IpAddressV4',
    f->>'$.Service.Action.NetworkConnectionAction.RemoteIpDetails.IpAddressV4',
    f->>'$.Service.Action.DnsRequestAction.RemoteIpDetails.IpAddressV4',
    f->>'$.Service.Action.KubernetesApiCallAction.RemoteIpDetails.IpAddressV4',
    f->>'$.Service.Action.PortProbeAction.PortProbeDetails[0].RemoteIpDetails.IpAddressV4',
    f->>'$.Service.Action.AwsApiCallAction.RemoteIpDetails.IpAddressV6')"""

_GUARDDUTY = f"""
WITH b AS (SELECT record_no, doc AS f FROM {{batch}})
SELECT record_no,
       fx_time(coalesce(f->>'$.Service.EventFirstSeen', f->>'CreatedAt'), false) AS time,
       fx_time_problem(coalesce(f->>'$.Service.EventFirstSeen', f->>'CreatedAt'), false) AS time_problem,
       coalesce(f->>'$.Service.EventFirstSeen', f->>'CreatedAt') AS time_raw,
       fx_time(f->>'$.Service.EventLastSeen', false) AS end_time,
       'finding' AS category,
       'finding:' || (f->>'Type') AS action,
       coalesce(f->>'$.Resource.AccessKeyDetails.UserName', f->>'$.Resource.AccessKeyDetails.PrincipalId',
                f->>'$.Resource.KubernetesDetails.KubernetesUserDetails.Username') AS actor,
       f->>'$.Resource.AccessKeyDetails.UserType' AS actor_type,
       f->>'$.Resource.AccessKeyDetails.AccessKeyId' AS credential_id,
       {_REMOTE} AS src_ip,
       f->>'$.Service.Action.AwsApiCallAction.UserAgent' AS user_agent,
       coalesce(f->>'$.Resource.InstanceDetails.InstanceId', f->>'$.Resource.S3BucketDetails[0].Name',
                f->>'$.Resource.EksClusterDetails.Name', f->>'$.Resource.AccessKeyDetails.AccessKeyId',
                f->>'$.Resource.ResourceType') AS target,
       coalesce(f->>'$.Service.Action.AwsApiCallAction.ServiceName', 'guardduty') AS service,
       f->>'AccountId' AS environment, f->>'Region' AS region,
       'unknown' AS outcome,
       'GuardDuty finding, severity ' || coalesce(f->>'Severity', '?') || ': ' || coalesce(f->>'Title', '')
           || CASE WHEN f->>'$.Service.Archived' = 'true' THEN ' (archived)' ELSE '' END AS outcome_reason,
       f->>'Id' AS event_uid
FROM b
"""

_SECURITYHUB = """
WITH b AS (SELECT record_no, doc AS f FROM {batch})
SELECT record_no,
       fx_time(coalesce(f->>'FirstObservedAt', f->>'CreatedAt'), false) AS time,
       fx_time_problem(coalesce(f->>'FirstObservedAt', f->>'CreatedAt'), false) AS time_problem,
       coalesce(f->>'FirstObservedAt', f->>'CreatedAt') AS time_raw,
       fx_time(f->>'LastObservedAt', false) AS end_time,
       'finding' AS category,
       'finding:' || coalesce(f->>'GeneratorId', f->>'$.Types[0]') AS action,
       coalesce(f->>'$.Resources[0].Details.AwsIamAccessKey.PrincipalName',
                f->>'$.Resources[0].Details.AwsIamAccessKey.UserName') AS actor,
       f->>'$.Resources[0].Details.AwsIamAccessKey.PrincipalType' AS actor_type,
       CASE WHEN f->>'$.Resources[0].Type' = 'AwsIamAccessKey' THEN f->>'$.Resources[0].Id' END AS credential_id,
       coalesce(f->>'$.Network.SourceIpV4', f->>'$.Action.AwsApiCallAction.RemoteIpDetails.IpAddressV4') AS src_ip,
       f->>'$.Resources[0].Id' AS target,
       coalesce(f->>'ProductName', 'securityhub') AS service,
       f->>'AwsAccountId' AS environment, f->>'Region' AS region,
       'unknown' AS outcome,
       'Security Hub finding, severity ' || coalesce(f->>'$.Severity.Label', f->>'$.Severity.Normalized', '?')
           || coalesce(', compliance ' || (f->>'$.Compliance.Status'), '')
           || coalesce(', workflow ' || coalesce(f->>'$.Workflow.Status', f->>'WorkflowState'), '')
           || ': ' || coalesce(f->>'Title', '') AS outcome_reason,
       f->>'Id' || '|' || coalesce(f->>'UpdatedAt', '') AS event_uid
FROM b
"""


def _findings(probe: Probe) -> list[dict[str, Any]]:
    doc = probe.document
    if isinstance(doc, dict) and probe.wrapper is None:  # ``Findings`` is unwrapped by record_keys
        detail = doc.get("detail")
        if isinstance(detail, dict):
            inner = detail.get("findings")
            return [o for o in inner[:50] if isinstance(o, dict)] if isinstance(inner, list) else [detail]
    return probe.objects()


def _path(probe: Probe) -> str | None:
    doc = probe.document
    if isinstance(doc, dict) and probe.wrapper is None:  # ``Findings`` is unwrapped by record_keys
        detail = doc.get("detail")
        if isinstance(detail, dict):
            return "$.detail.findings" if isinstance(detail.get("findings"), list) else "$.detail"
    return None


class _Findings(Source):
    category = "finding"
    containers = ("jsonl", "json")
    record_keys = ("Findings",)

    def _is_mine(self, o: dict[str, Any]) -> bool:
        raise NotImplementedError

    def detect(self, probe: Probe) -> Detection:
        objs = _findings(probe)
        return most(objs, lambda o: self._is_mine(o))

    def record_path(self, probe: Probe) -> str:
        return _path(probe) or super().record_path(probe)


class GuardDutySource(_Findings):
    name = "guardduty"

    def _is_mine(self, o: dict[str, Any]) -> bool:
        return {"Type", "Severity", "Service", "Resource"} <= o.keys() and (
            str(o.get("Arn", "")).startswith("arn:aws:guardduty")
            or o["Service"].get("ServiceName") == "guardduty"
        )

    def events_sql(self) -> str:
        return _GUARDDUTY


class SecurityHubSource(_Findings):
    name = "securityhub"

    def _is_mine(self, o: dict[str, Any]) -> bool:
        return {"SchemaVersion", "GeneratorId", "ProductArn", "AwsAccountId"} <= o.keys()

    def events_sql(self) -> str:
        return _SECURITYHUB


SOURCES = [GuardDutySource(), SecurityHubSource()]
