"""Each detector fires on a case built here and stays quiet on a benign one. The CloudTrail and
Kubernetes records are written as the services write them; expectations come from the records."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

import forensics

ACCOUNT = "111122223333"
T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def ct(minute: float, name: str, *, source="iam", user="bob", key="AKIAEXAMPLEBOB000001", ip="198.51.100.7",
       params=None, response=None, error=None, ua="aws-cli/2.15", identity=None, extra=None) -> dict:  # fmt: skip
    rec = {
        "eventVersion": "1.08",
        "userIdentity": identity or {"type": "IAMUser", "principalId": "AIDAEXAMPLE", "userName": user,
                                     "arn": f"arn:aws:iam::{ACCOUNT}:user/{user}", "accountId": ACCOUNT,
                                     "accessKeyId": key},
        "eventTime": (T0 + timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": f"{source}.amazonaws.com", "eventName": name, "awsRegion": "us-east-1",
        "sourceIPAddress": ip, "userAgent": ua, "requestParameters": params, "responseElements": response,
        "eventID": str(uuid.UUID(int=hash((minute, name, key, ip)) & (2**128 - 1))), "eventType": "AwsApiCall",
        "recipientAccountId": ACCOUNT,
    }  # fmt: skip
    if error:
        rec["errorCode"] = error
        rec["errorMessage"] = "denied"
    rec.update(extra or {})
    return rec


def build(tmp_path, records: list[dict], k8s: list[dict] | None = None):
    d = tmp_path / "logs"
    d.mkdir(parents=True, exist_ok=True)
    (d / f"{ACCOUNT}_CloudTrail_us-east-1_20260105T0800Z_test.json").write_text(
        json.dumps({"Records": records})
    )
    if k8s:
        (d / "kube-apiserver-audit.log").write_text("".join(json.dumps(e) + "\n" for e in k8s))
    case = forensics.open_case(tmp_path / "c.duckdb")
    case.ingest([d])
    return case


def history(n=4, key="AKIAEXAMPLEBOB000001", user="bob", ip="198.51.100.7") -> list[dict]:
    return [ct(i, "ListBuckets", source="s3", key=key, user=user, ip=ip) for i in range(n)]


def found(case, detector: str) -> pl.DataFrame:
    return case.findings(detector=detector)


@pytest.fixture
def benign(tmp_path):
    """A quiet admin day: one key, one address, reads of metadata, a key created for oneself."""
    recs = history(20) + [
        ct(30, "CreateAccessKey", params={"userName": "bob"},
           response={"accessKey": {"accessKeyId": "AKIAEXAMPLEBOB000002", "userName": "bob", "status": "Active"}}),
        ct(31, "PutRolePolicy", params={"roleName": "r", "policyName": "deny-old",
           "policyDocument": json.dumps({"Statement": [{"Effect": "Deny", "Action": ["*"], "Resource": ["*"]}]})}),
        ct(32, "UpdateAssumeRolePolicy", params={"roleName": "r", "policyDocument": json.dumps(
           {"Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}}]})}),
        ct(33, "DescribeTrails", source="cloudtrail"),
        ct(34, "GetParameter", source="ssm", params={"name": "/app/flag", "withDecryption": False}),
    ]  # fmt: skip
    c = build(tmp_path, recs)
    yield c
    c.close()


def test_benign_case_is_quiet(benign):
    df = benign.findings()
    assert df.is_empty(), df.select("detector", "rule_id", "title").rows()


def test_new_address_and_session(tmp_path):
    recs = history(4) + [
        ct(10, "GetCallerIdentity", source="sts", ip="203.0.113.9"),
        ct(11, "AssumeRole", source="sts", ip="203.0.113.9", params={"roleArn": f"arn:aws:iam::{ACCOUNT}:role/admin"},
           response={"credentials": {"accessKeyId": "ASIAEXAMPLESESSION01", "expiration": "Jan 5, 2026, 9:11:00 AM"},
                     "assumedRoleUser": {"arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/admin/s"}}),
    ]  # fmt: skip
    with build(tmp_path, recs) as c:
        new = found(c, "credential_new_address")
        assert new.height == 1 and new["severity"][0] == "high" and new["matches"][0] == 2
        assert {"kind": "ip", "id": "203.0.113.9"} in new["entities"][0]
        sess = found(c, "session_from_new_address")
        assert sess.height == 1 and "ASIAEXAMPLESESSION01" in sess["title"][0]


def test_new_address_needs_a_history(tmp_path):
    with build(tmp_path, history(1) + [ct(10, "ListBuckets", source="s3", ip="203.0.113.9")]) as c:
        assert found(c, "credential_new_address").is_empty()


@pytest.mark.parametrize(
    ("rec", "rule"),
    [
        (ct(5, "CreateUser", params={"userName": "x"}), "aws_create_user"),
        (ct(5, "CreateAccessKey", params={"userName": "alice"}), "aws_access_key_for_other_user"),
        (ct(5, "CreateLoginProfile", params={"userName": "alice"}), "aws_login_profile"),
        (ct(5, "AttachUserPolicy", params={"userName": "bob", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}),
         "aws_admin_policy"),
        (ct(5, "PutUserPolicy", params={"userName": "bob", "policyName": "p", "policyDocument": json.dumps(
            {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})}), "aws_admin_policy"),
        (ct(5, "UpdateAssumeRolePolicy", params={"roleName": "r", "policyDocument": json.dumps(
            {"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999988887777:root"}}]})}),
         "aws_trust_foreign_account"),
        (ct(5, "CreateVirtualMFADevice", params={"virtualMFADeviceName": "m"}), "aws_mfa_device"),
        (ct(5, "ImportKeyPair", source="ec2", params={"keyName": "k"}), "aws_ssh_key"),
    ],
)  # fmt: skip
def test_persistence_rules(tmp_path, rec, rule):
    with build(tmp_path, history(2) + [rec]) as c:
        df = found(c, "persistence")
        assert df["rule_id"].to_list() == [rule]
        assert df["technique"][0].startswith("T1")


def test_persistence_attempt_is_medium(tmp_path):
    with build(tmp_path, [ct(5, "CreateUser", params={"userName": "x"}, error="AccessDenied")]) as c:
        assert found(c, "persistence")["severity"].to_list() == ["medium"]


@pytest.mark.parametrize(
    ("name", "source", "rule"),
    [("StopLogging", "cloudtrail", "aws_cloudtrail_tampering"), ("DeleteTrail", "cloudtrail", "aws_cloudtrail_tampering"),
     ("DeleteFlowLogs", "ec2", "aws_flow_logs_deleted"), ("DeleteDetector", "guardduty", "aws_guardduty_tampering"),
     ("StopConfigurationRecorder", "config", "aws_config_tampering")],
)  # fmt: skip
def test_defence_evasion(tmp_path, name, source, rule):
    with build(tmp_path, history(2) + [ct(5, name, source=source, params={"name": "t"})]) as c:
        df = found(c, "defence_evasion")
        assert df["rule_id"].to_list() == [rule] and df["severity"][0] == "high"


def test_credential_access(tmp_path):
    recs = [ct(i, "GetSecretValue", source="secretsmanager", params={"secretId": f"s{i}"}) for i in range(40)]
    recs += [ct(50, "GetParameters", source="ssm", params={"names": ["a"], "withDecryption": True})]
    with build(tmp_path, recs) as c:
        df = found(c, "credential_access").sort("rule_id")
        assert df["rule_id"].to_list() == ["aws_secrets_manager", "aws_ssm_decrypted"]
        assert df["matches"].to_list() == [40, 1]


def test_collection_bulk_and_minted(tmp_path):
    bulk = [ct(i / 10, "GetObject", source="s3", params={"bucketName": "data", "key": f"o{i}"},
               extra={"resources": [{"ARN": f"arn:aws:s3:::data/o{i}"}],
                      "additionalEventData": {"bytesTransferredOut": 1000}}) for i in range(120)]  # fmt: skip
    with build(tmp_path, bulk) as c:
        df = found(c, "collection_s3")
        assert df.height == 1 and df["severity"][0] == "high" and df["matches"][0] == 120
    few = bulk[:3]
    with build(tmp_path / "few", few) as c:
        assert found(c, "collection_s3").is_empty()


def test_persistence_key_used_and_partial_revocation(tmp_path):
    recs = history(3) + [
        ct(5, "CreateAccessKey", params={"userName": "backup"},
           response={"accessKey": {"accessKeyId": "AKIAEXAMPLEBACKUP001", "userName": "backup", "status": "Active"}}),
        ct(20, "UpdateAccessKey", user="admin", key="AKIAEXAMPLEADMIN0001",
           params={"userName": "bob", "accessKeyId": "AKIAEXAMPLEBOB000001", "status": "Inactive"}),
        ct(30, "ListBuckets", source="s3", user="backup", key="AKIAEXAMPLEBACKUP001", ip="192.0.2.99"),
    ]  # fmt: skip
    with build(tmp_path, recs) as c:
        used = found(c, "persistence_credential_used")
        assert used.height == 1 and used["severity"][0] == "critical"
        part = found(c, "partial_revocation")
        assert part.height == 1 and "AKIAEXAMPLEBACKUP001" in part["title"][0]


def test_instance_credential_outside(tmp_path):
    session = {"type": "AssumedRole", "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/web/i-0abc1234def567890",
               "accountId": ACCOUNT, "accessKeyId": "ASIAEXAMPLEINSTANCE1"}  # fmt: skip
    inside = [ct(i, "GetObject", source="s3", identity=session, ip="54.1.2.3", ua="aws-sdk-go/1.44 (linux)",
                 params={"bucketName": "b", "key": "k"}) for i in range(3)]  # fmt: skip
    with build(tmp_path / "in", inside) as c:
        assert found(c, "instance_credential_outside_provider").is_empty()
    outside = inside + [ct(9, "ListBuckets", source="s3", identity=session, ip="1.2.3.4",
                           ua="aws-cli/1.18 Python/3.8.5 Darwin/19.5.0")]  # fmt: skip
    with build(tmp_path / "out", outside) as c:
        df = found(c, "instance_credential_outside_provider")
        assert df.height == 1 and df["severity"][0] == "critical" and df["matches"][0] == 1


def _k8s(verb, resource, user, obj=None, name="x", code=201):
    return {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "RequestResponse", "stage": "ResponseComplete",
            "auditID": str(uuid.uuid4()), "requestURI": f"/apis/x/{resource}", "verb": verb,
            "user": {"username": user}, "sourceIPs": ["10.0.0.5"],
            "objectRef": {"resource": resource, "name": name, "apiVersion": "v1"},
            "responseStatus": {"code": code}, "requestObject": obj,
            "requestReceivedTimestamp": "2026-01-05T08:10:00.000000Z", "stageTimestamp": "2026-01-05T08:10:00.100000Z"}  # fmt: skip


def test_k8s_cluster_admin_binding_and_secrets(tmp_path):
    k8s = [
        _k8s(
            "create",
            "clusterrolebindings",
            "mallory",
            {"roleRef": {"kind": "ClusterRole", "name": "cluster-admin"}},
        ),
        _k8s(
            "create",
            "clusterrolebindings",
            "mallory",
            {"roleRef": {"kind": "ClusterRole", "name": "view"}},
            name="y",
        ),
        _k8s("list", "secrets", "mallory", code=200),
        _k8s("list", "secrets", "system:serviceaccount:kube-system:ctrl", code=200),
    ]
    with build(tmp_path, history(1), k8s) as c:
        assert found(c, "persistence")["rule_id"].to_list() == ["k8s_cluster_admin_binding"]
        acc = found(c, "credential_access")
        assert acc["rule_id"].to_list() == ["k8s_secrets"] and "mallory" in acc["title"][0]


def test_coverage_gap(tmp_path):
    recs = [ct(i, "ListBuckets", source="s3") for i in range(150)]
    recs += [ct(150 + 120 + i, "ListBuckets", source="s3") for i in range(100)]
    with build(tmp_path, recs) as c:
        df = found(c, "coverage_gap")
        assert df.height == 1 and df["severity"][0] == "low"
    with build(tmp_path / "steady", [ct(i, "ListBuckets", source="s3") for i in range(250)]) as c:
        assert found(c, "coverage_gap").is_empty()


def test_detector_rows_are_replaced_not_added(tmp_path):
    with build(tmp_path, history(2) + [ct(5, "CreateUser", params={"userName": "x"})]) as c:
        first = c.findings()
        c.refresh_findings()
        c.refresh_findings()
        assert c.findings().select("finding_id").equals(first.select("finding_id"))


def test_discovery_burst(tmp_path):
    names = ["ListUsers", "ListRoles", "ListPolicies", "GetAccountSummary", "ListGroups"]
    recs = [ct(i, n) for i, n in enumerate(names)]
    recs += [ct(10 + i, n, source="ec2") for i, n in enumerate(["DescribeInstances", "DescribeVpcs", "DescribeSubnets",
                                                                  "DescribeSecurityGroups", "DescribeKeyPairs"])]  # fmt: skip
    with build(tmp_path, recs) as c:
        df = found(c, "discovery_burst")
        assert df.height == 1 and df["matches"][0] == 10
    console = [dict(r, userAgent="console.amazonaws.com") for r in recs]
    with build(tmp_path / "console", console) as c:
        assert found(c, "discovery_burst").is_empty()
