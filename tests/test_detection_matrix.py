"""The detection matrix (issue 14, part 8): one fixture per source; each is placed by its own loader, and
no other loader is as sure of it (no tie decides). A source added without a fixture fails here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from forensics.ingest import sniff
from forensics.sources import registry
from forensics.sources.contract import Detection

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"
CT = "cloudtrail/AWSLogs/111122223333/CloudTrail/us-east-1/2026/03/14"

#: fixtures in the repository's sample data, by source
SAMPLE_FIXTURES = {
    "generic": "app/payments-app.jsonl",
    "github_actions": "ci/github_actions_runs.jsonl",
    "ci_joblog": "ci/job_logs/run-8000-job-80001.log",
    "cloudtrail": f"{CT}/111122223333_CloudTrail_us-east-1_20260314T0800Z_EaXy6w72AFMj1aVd.json.gz",
    "deploys": "deploys/deploys.jsonl",
    "github_audit": "github/acme-pay-audit-log-export.json",
    "k8s_audit": "k8s/prod-eu-1-kube-apiserver-audit.log",
    "prometheus": "metrics/http_server_requests.prom",
    "otlp-logs": "otlp/payments-logs.jsonl",
    "intoto": "provenance/payments-1.4.2.intoto.jsonl",
    "otlp": "traces/otel-collector-traces.jsonl",
}


def _jsonl(*records: dict) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


_SPAN = {"traceID": "a1", "spanID": "b1", "operationName": "GET", "startTime": 1, "duration": 2}

#: small fixtures written here, by source: (file name, content)
INLINE_FIXTURES: dict[str, tuple[str, str]] = {
    "argocd": (
        "app.json",
        json.dumps({"kind": "Application", "metadata": {"name": "pay"}, "status": {"history": []}}),
    ),
    "gcp_audit": (
        "gcp.jsonl",
        _jsonl(
            {
                "insertId": "1",
                "logName": "projects/p/logs/cloudaudit.googleapis.com%2Factivity",
                "timestamp": "2026-03-14T09:30:00Z",
                "protoPayload": {"@type": "type.googleapis.com/google.cloud.audit.AuditLog"},
            }
        ),
    ),
    "github_admin_webhook": (
        "hook.json",
        json.dumps(
            {"action": "created", "sender": {"login": "a"}, "key": {"id": 1}, "repository": {"id": 2}}
        ),
    ),
    "github_deployment": (
        "deployment.json",
        json.dumps({"action": "created", "deployment": {"id": 1, "sha": "abc"}, "repository": {"id": 2}}),
    ),
    "jaeger": ("jaeger.json", json.dumps({"data": [{"traceID": "a1", "spans": [_SPAN], "processes": {}}]})),
    "k8s_audit_csv": (
        "audit.csv",
        "c1,2023-01-10T10:00:00Z,admin,get,pods,default,p,/api/v1/pods,"
        "0f2e6a9c-1b7d-4c3e-9a8b-5d6f7e8a9b0c,0f2e6a9c-1b7d-4c3e-9a8b-5d6f7e8a9b0c,ResponseComplete,"
        "200,x,y,z\n"
        "c1,2023-01-10T10:00:01Z,admin,get,pods,default,p,/api/v1/pods,"
        "1f2e6a9c-1b7d-4c3e-9a8b-5d6f7e8a9b0c,1f2e6a9c-1b7d-4c3e-9a8b-5d6f7e8a9b0c,ResponseComplete,"
        "200,x,y,z\n",
    ),
    "otlp-metrics": ("metrics.jsonl", _jsonl({"resourceMetrics": [{"resource": {}, "scopeMetrics": []}]})),
    "sbom": ("bom.json", json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.5", "components": []})),
    "sbom_xml": (
        "bom.xml",
        '<?xml version="1.0"?>\n<bom xmlns="http://cyclonedx.org/schema/bom/1.5" version="1">\n'
        "<components/>\n</bom>\n",
    ),
    "sigstore_bundle": (
        "bundle.sigstore.json",
        json.dumps(
            {"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json", "verificationMaterial": {}}
        ),
    ),
    "tempo-search": (
        "search.json",
        json.dumps({"traces": [{"traceID": "a1", "rootServiceName": "pay", "spanSets": []}]}),
    ),
    "zipkin": (
        "zipkin.json",
        json.dumps([[{"traceId": "a1", "id": "b1", "timestamp": 1, "duration": 2, "name": "get"}]]),
    ),
}

_VPC_HEADER = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"
_POD_STATUS = {
    "phase": "Running",
    "startTime": "2026-03-14T10:30:00Z",
    "containerStatuses": [
        {
            "name": "app",
            "state": {"running": {"startedAt": "2026-03-14T10:30:00Z"}},
            "ready": True,
            "image": "pay:1",
            "imageID": "pay@sha256:" + "a" * 64,
        }
    ],
}
_CONTAINERS = {"template": {"spec": {"containers": [{"name": "app", "image": "pay:1"}]}}}

#: the loaders added for issue 21
INLINE_FIXTURES.update(
    {
        "okta": (
            "okta.jsonl",
            _jsonl(
                {
                    "uuid": "u1",
                    "published": "2026-03-14T09:00:00Z",
                    "eventType": "user.session.start",
                    "actor": {"alternateId": "a@x"},
                    "outcome": {"result": "SUCCESS"},
                }
            ),
        ),
        "entra_signin": (
            "signin.json",
            json.dumps(
                {
                    "value": [
                        {
                            "id": "1",
                            "createdDateTime": "2026-03-14T09:00:00Z",
                            "userPrincipalName": "a@x",
                            "status": {"errorCode": 0},
                        }
                    ]
                }
            ),
        ),
        "entra_audit": (
            "audit.json",
            json.dumps(
                {
                    "value": [
                        {
                            "id": "1",
                            "activityDateTime": "2026-03-14T09:00:00Z",
                            "activityDisplayName": "Add user",
                            "initiatedBy": {},
                        }
                    ]
                }
            ),
        ),
        "azure_activity": (
            "activity.json",
            json.dumps(
                {
                    "records": [
                        {
                            "time": "2026-03-14T09:00:00Z",
                            "resourceId": "/subscriptions/s/resourceGroups/g",
                            "operationName": "X/write",
                            "category": "Administrative",
                        }
                    ]
                }
            ),
        ),
        "m365_ual": (
            "ual.jsonl",
            _jsonl(
                {
                    "CreationTime": "2026-03-14T09:00:00",
                    "Id": "1",
                    "Operation": "MailItemsAccessed",
                    "RecordType": 50,
                    "UserId": "a@x",
                }
            ),
        ),
        "google_workspace": (
            "ws.jsonl",
            _jsonl(
                {
                    "kind": "admin#reports#activity",
                    "id": {
                        "time": "2026-03-14T09:00:00Z",
                        "applicationName": "login",
                        "uniqueQualifier": "1",
                    },
                    "events": [{"name": "login_success"}],
                }
            ),
        ),
        "guardduty": (
            "gd.json",
            json.dumps(
                {
                    "Findings": [
                        {
                            "Type": "Recon:IAMUser/UserPermissions",
                            "Severity": 5,
                            "Service": {"ServiceName": "guardduty"},
                            "Resource": {},
                            "Arn": "arn:aws:guardduty:x",
                        }
                    ]
                }
            ),
        ),
        "securityhub": (
            "sh.json",
            json.dumps(
                {
                    "Findings": [
                        {
                            "SchemaVersion": "2018-10-08",
                            "GeneratorId": "g",
                            "ProductArn": "p",
                            "AwsAccountId": "1",
                        }
                    ]
                }
            ),
        ),
        "k8s_pods": (
            "pods.json",
            json.dumps(
                {
                    "kind": "PodList",
                    "items": [{"kind": "Pod", "metadata": {"name": "p"}, "status": _POD_STATUS}],
                }
            ),
        ),
        "k8s_workloads": (
            "deploys.json",
            json.dumps(
                {
                    "kind": "DeploymentList",
                    "items": [{"kind": "Deployment", "metadata": {"name": "pay"}, "spec": _CONTAINERS}],
                }
            ),
        ),
        "k8s_events": (
            "events.json",
            json.dumps(
                {
                    "kind": "EventList",
                    "apiVersion": "v1",
                    "items": [
                        {
                            "kind": "Event",
                            "apiVersion": "v1",
                            "involvedObject": {"kind": "Pod", "name": "p"},
                            "reason": "Pulled",
                            "lastTimestamp": "2026-03-14T09:00:00Z",
                            "type": "Normal",
                            "metadata": {"name": "e"},
                        }
                    ],
                }
            ),
        ),
        "vpc_flow": (
            "flows.log",
            _VPC_HEADER
            + "\n2 1 eni-1 203.0.113.66 10.0.0.5 443 5000 6 1 40 1773480000 1773480060 ACCEPT OK\n",
        ),
        "alb_access": (
            "alb.log",
            "http 2026-03-14T09:00:00.000000Z app/lb/1 203.0.113.66:1 10.0.0.1:80 0.0 0.0 0.0 200 200 1 2 "
            '"GET http://x:80/ HTTP/1.1" "curl" - - arn:tg "Root=1" "-" "-" 0 2026-03-14T09:00:00.000000Z '
            '"forward" "-" "-"\n',
        ),
        "s3_access": (
            "s3.log",
            "a" * 64 + " b [14/Mar/2026:09:00:00 +0000] 203.0.113.66 - R1 REST.GET.OBJECT k "
            '"GET /b/k HTTP/1.1" 200 - 10 10 1 1 "-" "curl" -\n',
        ),
        "cloudfront": (
            "cf.log",
            "#Version: 1.0\n"
            + "\t".join(
                [
                    "2026-03-14",
                    "09:00:00",
                    "LAX1",
                    "10",
                    "203.0.113.66",
                    "GET",
                    "d.cloudfront.net",
                    "/",
                    "200",
                    "-",
                    "curl",
                    "-",
                    "-",
                    "Hit",
                    "id1",
                    "d",
                    "https",
                    "1",
                    "0.1",
                ]
            )
            + "\n",
        ),
        "route53_resolver": (
            "dns.json",
            json.dumps(
                {
                    "query_timestamp": "2026-03-14T09:00:00Z",
                    "query_name": "x.",
                    "query_type": "A",
                    "srcaddr": "10.0.0.5",
                    "rcode": "NOERROR",
                }
            ),
        ),
    }
)


# issue 21 (a, b): Linux host logs; CloudWatch Logs subscription payloads
INLINE_FIXTURES.update(
    {
        "cloudwatch_logs": (
            "cwl.json",
            json.dumps(
                {
                    "messageType": "DATA_MESSAGE",
                    "owner": "111122223333",
                    "logGroup": "/aws/vpc/flow-logs",
                    "logStream": "eni-1-all",
                    "subscriptionFilters": ["f"],
                    "logEvents": [
                        {
                            "id": "1",
                            "timestamp": 1548934870000,
                            "message": "2 111122223333 eni-1 10.0.0.1 203.0.113.66 443 50000 6 10 8000"
                            " 1548934870 1548934929 ACCEPT OK",
                        }
                    ],
                }
            ),
        ),
        "auth_log": (
            "auth.log",
            "Aug 20 15:13:47 ip-172-31-12-76 sshd[28883]: Invalid user admin from 121.18.238.115 port 58191\n"
            "Aug 20 15:13:49 ip-172-31-12-76 sshd[28883]: Failed password for invalid user admin from"
            " 121.18.238.115 port 58191 ssh2\n"
            "Aug 20 15:20:01 ip-172-31-12-76 sudo:   ubuntu : TTY=pts/0 ; PWD=/home/ubuntu ; USER=root ;"
            " COMMAND=/bin/ls\n",
        ),
        "auditd": (
            "audit.log",
            "type=USER_AUTH msg=audit(1551485408.371:22): pid=15745 uid=0 auid=4294967295 ses=4294967295"
            ' msg=\'op=PAM:authentication acct="root" exe="/usr/sbin/sshd" hostname=36.156.24.99'
            " addr=36.156.24.99 terminal=ssh res=failed'\n"
            "type=SYSCALL msg=audit(1551487424.869:753): arch=c000003e syscall=59 success=yes exit=0 items=2"
            ' ppid=19197 pid=19198 auid=4294967295 uid=0 comm="iptables" exe="/sbin/xtables-multi"\n'
            'type=EXECVE msg=audit(1551487424.869:753): argc=2 a0="iptables" a1="--version"\n',
        ),
    }
)


def _levels(path: Path) -> list[tuple[Detection, str]]:
    """Every source's level for the file, most sure first (ties side by side)."""
    probe = sniff(str(path))
    return sorted(
        (
            (Detection(s.detect(probe)), s.name)
            for s in registry.all_sources()
            if probe.container in s.containers
        ),
        key=lambda t: (-t[0], t[1]),
    )


def test_every_source_has_one_fixture():
    assert sorted(SAMPLE_FIXTURES.keys() | INLINE_FIXTURES.keys()) == registry.names()
    assert not SAMPLE_FIXTURES.keys() & INLINE_FIXTURES.keys()


@pytest.mark.parametrize("name", sorted(SAMPLE_FIXTURES.keys() | INLINE_FIXTURES.keys()))
def test_each_fixture_is_placed_by_its_own_loader_by_no_tie(name, tmp_path):
    if name in SAMPLE_FIXTURES:
        path = SAMPLE / SAMPLE_FIXTURES[name]
    else:
        file_name, text = INLINE_FIXTURES[name]
        path = tmp_path / file_name
        path.write_text(text)
    levels = _levels(path)
    (top, winner), (runner_up, second) = levels[0], levels[1]
    assert winner == name, f"{path.name} is placed by {winner}, not {name}: {levels[:3]}"
    assert top > runner_up, f"{name} ties with {second} at {top.name}"
    assert top > Detection.FALLBACK or name == "generic"
    assert registry.detect(sniff(str(path))).name == name
