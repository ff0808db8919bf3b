"""The audit loaders on the real-data corpus (../shared/data/audit_logs): every record accounted
for, counted independently with json/csv, identities and credentials as written in the files."""

from __future__ import annotations

import ast
import csv
import io
import json
from pathlib import Path

import pytest

AUDIT_LOADERS = {
    "cloudtrail",
    "k8s_audit",
    "k8s_audit_csv",
    "github_audit",
    "github_admin_webhook",
    "gcp_audit",
    "azure_activity",
    "entra_audit",
    "entra_signin",
    "m365_ual",
    "okta",
    "google_workspace",
}
MALFORMED = "fal_01_003.json"
TRUNCATED_CSV = "perfspec__audit-logs.csv"
#: Panther's hand-written Workspace fixtures: some records carry no ``id.time`` at all
WORKSPACE_FIXTURES = "panther__gsuite_activityevent_test_logs.jsonl"
NO_TIME_WEBHOOKS = {
    "gh-webhook__member__added.payload.json",
    "gh-webhook__organization__member_added.payload.json",
}


def _records_in(path: Path) -> int:
    """Records in a file, counted with the standard library (not with the kit)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".csv" and (
        "Parameters" in text.split("\n", 1)[0] or "AuditData" in text.split("\n", 1)[0]
    ):
        return sum(1 for _ in csv.DictReader(io.StringIO(text)))  # quoted fields span lines
    if path.suffix == ".csv":
        rows = list(csv.reader(text.splitlines()))
        has_header = any(h in rows[0] for h in ("Event Name", "eventName", "action"))
        return len(rows) - (1 if has_header else 0)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        return sum(1 for line in text.splitlines() if line.strip())
    if isinstance(doc, dict):
        for key in ("Records", "records", "value", "items"):
            if isinstance(doc.get(key), list):
                return len(doc[key])
        if isinstance(doc.get("tables"), list):  # a Log Analytics answer: one record per table
            return len(doc["tables"])
    return len(doc) if isinstance(doc, list) else 1


def _audit_files(root: Path) -> list[Path]:
    return sorted(p for p in (root / "audit_logs").rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def audit_case(shared_data, tmp_path_factory):
    import forensics

    c = forensics.open_case(tmp_path_factory.mktemp("audit") / "audit.duckdb")
    results = {Path(r.path).name: r for r in c.ingest([shared_data / "audit_logs"])}
    yield c, results
    c.close()


def test_every_audit_file_is_placed_by_an_audit_loader(audit_case, shared_data):
    _, results = audit_case
    names = {p.name for p in _audit_files(shared_data)}
    assert set(results) == names
    wrong = {n: r.loader for n, r in results.items() if r.loader not in AUDIT_LOADERS}
    assert wrong == {}


def test_records_read_equals_records_counted_with_json(audit_case, shared_data):
    _, results = audit_case
    for path in _audit_files(shared_data):
        assert results[path.name].records_read == _records_in(path), path.name


def test_well_formed_files_load_every_record_with_no_rejects(audit_case, shared_data):
    _, results = audit_case
    for path in _audit_files(shared_data):
        if path.name in {MALFORMED, TRUNCATED_CSV, WORKSPACE_FIXTURES} | NO_TIME_WEBHOOKS:
            continue
        r = results[path.name]
        assert (r.records_loaded, r.records_rejected) == (_records_in(path), 0), path.name


def test_falco_malformed_kind_zero_event_is_rejected_with_reason(audit_case):
    c, results = audit_case
    r = results[MALFORMED]
    assert (r.loader, r.records_read, r.records_loaded, r.records_rejected) == ("k8s_audit", 1, 0, 1)
    reasons = c.rejects(r.sha256)["reason"].to_list()
    assert reasons == ['not a Kubernetes audit Event: kind is 0, expected "Event"']


def test_truncated_last_row_of_flattened_k8s_csv_is_rejected_with_reason(audit_case, shared_data):
    c, results = audit_case
    r = results[TRUNCATED_CSV]
    rows = list(
        csv.reader((shared_data / "audit_logs/k8s_audit_v1" / TRUNCATED_CSV).read_text().splitlines())
    )
    complete = sum(1 for row in rows if len(row) == 15)
    assert (r.records_loaded, r.records_rejected) == (complete, len(rows) - complete)
    assert c.rejects(r.sha256)["reason"].to_list() == ["truncated or malformed CSV row: 10 of 15 fields"]


def test_workspace_fixtures_without_a_time_are_rejected_and_the_rest_loaded(audit_case, shared_data):
    c, results = audit_case
    r = results[WORKSPACE_FIXTURES]
    records = [
        json.loads(line) for line in (shared_data / "audit_logs/google_workspace" / WORKSPACE_FIXTURES).open()
    ]
    timeless = sum(1 for d in records if not d.get("id", {}).get("time"))
    distinct = {json.dumps(d, sort_keys=True) for d in records if d.get("id", {}).get("time")}
    assert (r.loader, r.records_rejected, r.records_loaded) == (
        "google_workspace",
        timeless,
        len(records) - timeless,
    )
    assert set(c.rejects(r.sha256)["reason"]) == {"no time field"}
    n = c.sql("SELECT count(*) AS n FROM events WHERE evidence_sha256 = $s", {"s": r.sha256})["n"][0]
    assert n == len(distinct)


def test_webhooks_without_any_event_time_are_rejected_not_given_one(audit_case):
    c, results = audit_case
    for name in NO_TIME_WEBHOOKS:
        r = results[name]
        assert (r.loader, r.records_loaded, r.records_rejected) == ("github_admin_webhook", 0, 1)
        assert "carries no event time" in c.rejects(r.sha256)["reason"][0]


def test_reconciliation_holds_for_every_audit_file(audit_case):
    c, _ = audit_case
    ev = c.evidence()
    assert ev["reconciled"].all()
    assert len(ev) > 60


def test_cloudtrail_identities_and_keys_are_as_in_the_files(audit_case, shared_data):
    c, _ = audit_case
    expected = set()
    for p in (shared_data / "audit_logs/aws_cloudtrail_invictus-stratus").iterdir():
        for rec in json.loads(p.read_text())["Records"]:
            u = rec["userIdentity"]
            actor = (
                u.get("arn")
                or u.get("userName")
                or u.get("principalId")
                or u.get("invokedBy")
                or u.get("accountId")
            )
            action = rec["eventSource"].removesuffix(".amazonaws.com") + ":" + rec["eventName"]
            expected.add(
                (rec["eventID"], action, actor, u.get("accessKeyId") or None, rec["sourceIPAddress"])
            )
    got = c.sql("""SELECT event_uid, action, actor, credential_id, src_ip FROM events
                   WHERE source = 'cloudtrail' AND environment = '123837392027'""")
    assert set(got.iter_rows()) == expected


def test_otrf_instance_role_temporary_key_used_from_outside_aws(audit_case):
    c, _ = audit_case
    cred = c.sql(
        """SELECT kind, principal, src_ips FROM credentials WHERE credential_id = 'ASIA5FLZVX4OPVKKVBMX'"""
    )
    assert cred["kind"].to_list() == ["aws_temporary_key"]
    principal = cred["principal"][0]
    assert principal.startswith("arn:aws:sts::123456789123:assumed-role/") and principal.endswith(
        "/i-0317f6c6b66ae9c40"
    )
    # used from an IP literal, not from an AWS service or the instance's AWS-internal path
    ips = cred["src_ips"][0]
    assert list(ips) == ["1.2.3.4"]
    uses = c.sql(
        """SELECT DISTINCT action FROM events WHERE credential_id = 'ASIA5FLZVX4OPVKKVBMX' ORDER BY 1"""
    )
    assert uses["action"].to_list() == ["s3:GetObject", "s3:ListBuckets", "s3:ListObjects"]


def test_k8s_usernames_and_source_ips_are_as_in_the_files(audit_case, shared_data):
    c, _ = audit_case
    expected = set()
    for p in (shared_data / "audit_logs/k8s_audit_falco").iterdir():
        for line in p.read_text().splitlines():
            d = json.loads(line) if line.strip() else None
            if isinstance(d, dict) and d.get("kind") == "Event":
                expected.add((d["auditID"], d["user"]["username"], d["sourceIPs"][0]))
    got = c.sql("SELECT request_id, actor, src_ip FROM events WHERE source = 'k8s_audit'")
    assert set(got.iter_rows()) == expected


def test_gcp_principal_and_service_account_key_are_as_in_the_files(audit_case, shared_data):
    c, _ = audit_case
    expected = set()
    for p in (shared_data / "audit_logs/gcp_audit").iterdir():
        d = json.loads(p.read_text())
        auth = d["protoPayload"]["authenticationInfo"]
        expected.add(
            (
                d["insertId"],
                auth["principalEmail"],
                auth.get("serviceAccountKeyName"),
                d["protoPayload"]["requestMetadata"]["callerIp"],
            )
        )
    got = c.sql(
        "SELECT split_part(event_uid, '|', 2), actor, credential_id, src_ip FROM events WHERE source = 'gcp_audit'"
    )
    assert set(got.iter_rows()) == expected
    kinds = c.sql("SELECT DISTINCT kind FROM credentials WHERE source = 'gcp_audit'")["kind"].to_list()
    assert kinds == ["gcp_service_account_key"]


def test_github_audit_actors_and_document_ids_are_as_in_the_file(audit_case, shared_data):
    c, _ = audit_case
    doc = json.loads(
        (shared_data / "audit_logs/github_audit_api/ghec-openapi-example__audit-log.json").read_text()
    )
    expected = {(d["_document_id"], d["action"], d["actor"]) for d in doc}
    got = c.sql("SELECT event_uid, action, actor FROM events WHERE source = 'github_audit'")
    assert set(got.iter_rows()) == expected


def test_github_admin_webhooks_become_audit_events_with_sender_as_actor(audit_case, shared_data):
    c, _ = audit_case
    got = c.sql("SELECT action, actor FROM events WHERE source = 'github_admin_webhook' ORDER BY action")
    assert got["action"].to_list() == [
        "branch_protection_rule.edited",
        "deploy_key.created",
        "installation.created",
        "organization.member_invited",
        "repository.publicized",
        "repository.transferred",
    ]
    senders = {
        json.loads(p.read_text())["sender"]["login"]
        for p in (shared_data / "audit_logs/github_org_webhooks").iterdir()
    }
    assert set(got["actor"]) <= senders


def test_deploy_webhooks_are_not_claimed_as_admin_audit_events(shared_data, case):
    from forensics.ingest import sniff
    from forensics.sources import registry

    for p in sorted((shared_data / "deploy_events/github_webhooks").iterdir()):
        chosen = registry.detect(sniff(str(p)))
        assert chosen is None or chosen.name != "github_admin_webhook", p.name


def test_honeybucket_csv_rows_keep_source_ip_user_agent_and_anonymous_principal(audit_case, shared_data):
    c, _ = audit_case
    path = shared_data / "audit_logs/aws_otrf/AWS_S3_HoneyBucketLogs.csv"
    rows = list(csv.DictReader(path.read_text(encoding="utf-8").splitlines()))
    expected = {
        (r["Event ID"], r["Source IP"], r["Request User Agent"] or None) for r in rows
    }  # empty CSV field: NULL
    got = c.sql("""SELECT event_uid, src_ip, user_agent FROM events e JOIN evidence v ON v.sha256 = e.evidence_sha256
                   WHERE v.path LIKE '%HoneyBucket%'""")
    assert set(got.iter_rows()) == expected
    who = [ast.literal_eval(r["User ID"]) for r in rows]
    want = {u.get("arn") or u.get("principalId") or u.get("accountId") for u in who}
    actors = c.sql(
        "SELECT DISTINCT actor, outcome FROM events WHERE evidence_sha256 IN "
        "(SELECT sha256 FROM evidence WHERE path LIKE '%HoneyBucket%')"
    )
    assert set(actors["actor"]) == want and "ANONYMOUS_PRINCIPAL" in want
    assert set(actors["outcome"]) == {"unknown"}  # the export has no error column
