"""The identity, findings and Kubernetes-state loaders on the real files of section 5 of
../shared/data/SOURCES.md: each file placed by its own loader, every record counted independently
with json/csv, no rejects, and actors and outcomes as the files write them."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

import forensics

#: folder -> the loader that must place every file in it
PLACED_BY = {
    "audit_logs/okta": "okta",
    "audit_logs/entra_signin": "entra_signin",
    "audit_logs/entra_audit": "entra_audit",
    "audit_logs/azure_activity": "azure_activity",
    "audit_logs/m365_ual": "m365_ual",
    "findings/guardduty": "guardduty",
    "findings/securityhub": "securityhub",
    "k8s_state/pods": "k8s_pods",
    "k8s_state/workloads": "k8s_workloads",
    "k8s_state/events": "k8s_events",
    "network/vpc_flow": "vpc_flow",
    "network/alb": "alb_access",
    "network/s3_access": "s3_access",
    "network/cloudfront": "cloudfront",
    "network/route53_resolver": "route53_resolver",
}


def _records(path: Path) -> list:
    """The file's records, read with the standard library (not with the kit)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".log":  # text logs: one record per non-blank line, headers included
        return [line for line in text.splitlines() if line.strip()]
    if path.suffix == ".csv":
        return list(csv.DictReader(io.StringIO(text)))
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    if isinstance(doc, list):
        return doc
    for key in ("Findings", "records", "value", "items", "tables"):
        if isinstance(doc.get(key), list):
            return doc[key]
    if isinstance(doc.get("detail"), dict) and isinstance(doc["detail"].get("findings"), list):
        return doc["detail"]["findings"]
    return [doc]


@pytest.fixture(scope="module")
def new_case(shared_data, tmp_path_factory):
    c = forensics.open_case(tmp_path_factory.mktemp("new") / "new.duckdb")
    results = {r.path: r for r in c.ingest([shared_data / d for d in PLACED_BY])}
    yield c, results
    c.close()


@pytest.mark.realdata
@pytest.mark.parametrize("folder", sorted(PLACED_BY))
def test_each_file_is_placed_by_its_own_loader_and_loads_every_record(new_case, shared_data, folder):
    _, results = new_case
    files = sorted(p for p in (shared_data / folder).iterdir() if p.is_file())
    assert files
    for path in files:
        r = results[str(path)]
        n = len(_records(path))
        assert r.loader == PLACED_BY[folder], path.name
        assert (r.records_read, r.records_loaded, r.records_rejected) == (n, n, 0), path.name


@pytest.mark.realdata
def test_okta_actors_sessions_and_outcomes_are_as_written(new_case, shared_data):
    c, _ = new_case
    recs = _records(shared_data / "audit_logs/okta/cribl-okta__system_log_1-70.jsonl")
    got = c.sql(
        "SELECT actor, credential_id, src_ip, outcome FROM events WHERE source = 'okta' ORDER BY evidence_record"
    )
    assert got["actor"].to_list() == [r["actor"]["alternateId"] for r in recs]
    assert got["credential_id"].to_list() == [r["authenticationContext"]["externalSessionId"] for r in recs]
    assert got["src_ip"].to_list() == [r["client"]["ipAddress"] for r in recs]
    assert (
        set(got["outcome"]) == {"success"} == {"success" for r in recs if r["outcome"]["result"] == "SUCCESS"}
    )


@pytest.mark.realdata
def test_entra_and_azure_actors_come_from_each_shape(new_case, shared_data):
    c, _ = new_case
    golden = _records(shared_data / "audit_logs/entra_audit/otrf-goldensaml__AADAuditEvents.json")
    upns = {json.loads(r["InitiatedBy"])["user"]["userPrincipalName"] for r in golden}
    got = set(c.sql("SELECT actor FROM events WHERE source = 'entra_audit' AND actor LIKE '%@%'")["actor"])
    assert upns <= got
    signin = _records(shared_data / "audit_logs/entra_signin/cribl-graph__signIns_1.jsonl")[0]
    row = c.sql("SELECT actor, src_ip, outcome FROM events WHERE source = 'entra_signin'").row(0)
    assert row == (signin["userPrincipalName"], signin["ipAddress"], "success")
    la = json.loads(
        (shared_data / "audit_logs/azure_activity/wazuh__log_analytics_AzureActivity.json").read_text()
    )
    cols = [col["name"] for col in la["tables"][0]["columns"]]
    callers = [dict(zip(cols, row, strict=True))["Caller"] for row in la["tables"][0]["rows"]]
    got = c.sql(
        "SELECT actor FROM events WHERE source = 'azure_activity' AND evidence_sha256 IN "
        "(SELECT sha256 FROM evidence WHERE path LIKE '%log_analytics%') ORDER BY event_seq"
    )
    assert got["actor"].to_list() == callers


@pytest.mark.realdata
def test_guardduty_finding_names_its_key_and_address(new_case, shared_data):
    c, _ = new_case
    f = _records(shared_data / "findings/guardduty/aws-cli__guardduty_get-findings_example.json")[0]
    row = c.sql("SELECT credential_id, src_ip, action, category FROM events WHERE source = 'guardduty'").row(
        0
    )
    assert row == (
        f["Resource"]["AccessKeyDetails"]["AccessKeyId"],
        f["Service"]["Action"]["AwsApiCallAction"]["RemoteIpDetails"]["IpAddressV4"],
        "finding:" + f["Type"],
        "finding",
    )


@pytest.mark.realdata
def test_pod_snapshot_gives_one_row_per_container_with_its_running_digest(new_case, shared_data):
    c, _ = new_case
    pods = _records(shared_data / "k8s_state/pods/troubleshoot-sb2022__pods__kube-system.json")
    want = sorted(
        (
            p["metadata"]["namespace"] + "/" + p["metadata"]["name"] + "/" + s["name"],
            s["imageID"].split("@")[-1],
        )
        for p in pods
        for s in p["status"].get("containerStatuses", [])
    )
    got = c.sql(
        "SELECT target, artifact_digest FROM events WHERE source = 'k8s_pods' AND environment = 'kube-system' "
        "ORDER BY target"
    )
    assert sorted(got.rows()) == want


def test_workspace_api_answer_gives_one_event_per_activity_event(tmp_path):
    api = {
        "kind": "admin#reports#activities",
        "items": [
            {
                "kind": "admin#reports#activity",
                "id": {
                    "time": "2026-03-14T09:01:00.000Z",
                    "uniqueQualifier": "42",
                    "applicationName": "login",
                },
                "actor": {"email": "mallory@acme.example"},
                "ipAddress": "203.0.113.66",
                "events": [
                    {
                        "type": "login",
                        "name": "login_failure",
                        "parameters": [
                            {"name": "login_failure_type", "value": "login_failure_invalid_password"}
                        ],
                    },
                    {"type": "login", "name": "login_success", "parameters": []},
                ],
            }
        ],
    }
    (tmp_path / "ws.json").write_text(json.dumps(api))
    c = forensics.open_case(tmp_path / "c.duckdb")
    (r,) = c.ingest([tmp_path / "ws.json"])
    assert (r.loader, r.records_read, r.records_loaded) == ("google_workspace", 1, 1)
    got = c.sql("SELECT action, actor, src_ip, outcome, category FROM events ORDER BY event_seq").rows()
    assert got == [
        ("login:login_failure", "mallory@acme.example", "203.0.113.66", "failure", "authentication"),
        ("login:login_success", "mallory@acme.example", "203.0.113.66", "success", "authentication"),
    ]
    c.close()


def test_entra_signin_failure_code_is_access_denied(tmp_path):
    rec = {
        "id": "a",
        "createdDateTime": "2026-03-14T09:00:00Z",
        "userPrincipalName": "deploy@acme.example",
        "appDisplayName": "Azure Portal",
        "ipAddress": "203.0.113.66",
        "status": {"errorCode": 50126, "failureReason": "Invalid username or password."},
    }
    (tmp_path / "s.json").write_text(json.dumps({"@odata.context": "x", "value": [rec]}))
    c = forensics.open_case(tmp_path / "c.duckdb")
    (r,) = c.ingest([tmp_path / "s.json"])
    assert r.loader == "entra_signin"
    outcome, reason = c.sql("SELECT outcome, outcome_reason FROM events").row(0)
    assert outcome == "failure" and reason.startswith("access denied: errorCode 50126")
    c.close()


@pytest.mark.realdata
def test_vpc_flow_bytes_are_kept_per_flow(new_case, shared_data):
    c, _ = new_case
    (path,) = (shared_data / "network/vpc_flow").iterdir()
    lines = [line.split() for line in path.read_text().splitlines() if line.strip()]
    header, rows = lines[0], lines[1:]
    want = sum(int(r[header.index("bytes")]) for r in rows)
    got = c.sql("SELECT count(*) AS n, sum(bytes) AS b FROM network_flows").row(0)
    assert got == (len(rows), want)
    rejects = sum(1 for r in rows if r[header.index("action")] == "REJECT")
    n = c.sql("SELECT count(*) AS n FROM events WHERE source = 'vpc_flow' AND outcome = 'failure'")["n"][0]
    assert n == rejects


def test_a_line_that_is_not_a_flow_record_is_rejected_with_its_line_number(tmp_path):
    header = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"
    good = (
        "2 111122223333 eni-0abc 203.0.113.66 10.0.0.5 443 51000 6 10 52000 1773480000 1773480060 ACCEPT OK"
    )
    (tmp_path / "flows.log").write_text(
        "\n".join([header, good, "2 111122223333 eni-0abc cut here", good]) + "\n"
    )
    c = forensics.open_case(tmp_path / "c.duckdb")
    (r,) = c.ingest([tmp_path / "flows.log"])
    assert (r.loader, r.records_read, r.records_loaded, r.records_rejected) == ("vpc_flow", 4, 3, 1)
    assert c.rejects()["line"].to_list() == [3]
    assert "fields" in c.rejects()["reason"][0]
    c.close()
