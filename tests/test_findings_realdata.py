"""Findings on real attack data in ../shared/data (SOURCES.md): the Stratus CloudTrail files, the OTRF
IMDS credential theft and Falco's Kubernetes audit traces. Expectations come from the files, read
with json here."""

from __future__ import annotations

import json
import re

import pytest

import forensics

PERSISTENCE_NAMES = {
    "CreateUser", "CreateLoginProfile", "UpdateLoginProfile", "AttachUserPolicy", "AttachRolePolicy",
    "AttachGroupPolicy", "UpdateAssumeRolePolicy", "CreateVirtualMFADevice", "ImportKeyPair",
}  # fmt: skip
EVASION_NAMES = {"StopLogging", "DeleteTrail", "UpdateTrail", "DeleteFlowLogs", "DeleteDetector"}


@pytest.fixture(scope="module")
def real(shared_data, tmp_path_factory):
    d = shared_data / "audit_logs"
    c = forensics.open_case(tmp_path_factory.mktemp("real") / "real.duckdb")
    c.ingest([d / "aws_cloudtrail_invictus-stratus", d / "aws_otrf" / "ec2_proxy_s3_exfiltration_2020-09-14011940.json",
              d / "k8s_audit_falco"])  # fmt: skip
    yield c, d
    c.close()


def _stratus(d) -> list[dict]:
    return [
        r
        for f in sorted((d / "aws_cloudtrail_invictus-stratus").glob("*.json"))
        for r in json.loads(f.read_text())["Records"]
    ]


def test_stratus_enumeration_named(real):
    c, d = real
    recs = _stratus(d)
    dumpers = {
        r["userIdentity"].get("accessKeyId")
        for r in recs
        if r["eventName"] == "GetAccountAuthorizationDetails"
    }
    assert dumpers
    df = c.findings(detector="discovery_burst")
    named = {e["id"] for ents in df["entities"] for e in ents if e["kind"] == "credential"}
    assert dumpers <= named
    # No persistence or defence evasion happened in these files, so none is claimed.
    names = {r["eventName"] for r in recs}
    assert not names & (PERSISTENCE_NAMES | EVASION_NAMES)
    stratus_events = set(c.sql("SELECT event_id FROM events e JOIN evidence v ON v.sha256 = e.evidence_sha256"
                               " WHERE v.path LIKE '%stratus%'")["event_id"])  # fmt: skip
    for det in ("persistence", "defence_evasion"):
        ev = {e["id"] for evs in c.findings(detector=det)["evidence"] for e in evs}
        assert not ev & stratus_events


def test_otrf_instance_credential_theft(real):
    c, d = real
    lines = (d / "aws_otrf" / "ec2_proxy_s3_exfiltration_2020-09-14011940.json").read_text().splitlines()
    recs = [json.loads(x) for x in lines if x.strip()]
    stolen = [r for r in recs if re.search(r":assumed-role/[^/]+/i-[0-9a-f]+$", r["userIdentity"].get("arn", ""))
              and not r["sourceIPAddress"].endswith("amazonaws.com")]  # fmt: skip
    assert stolen
    df = c.findings(detector="instance_credential_outside_provider")
    assert df["severity"].to_list() == ["critical"] * df.height
    assert df["matches"].sum() == len(stolen)
    assert {e["id"] for ents in df["entities"] for e in ents if e["kind"] == "ip"} == {
        r["sourceIPAddress"] for r in stolen
    }
    reads = [r for r in stolen if r["eventName"] == "GetObject"]
    s3 = c.findings(detector="collection_s3")
    assert s3["matches"].sum() == len(reads)


def test_k8s_cluster_admin_binding(real):
    c, d = real
    events = []
    for f in sorted((d / "k8s_audit_falco").glob("*.json")):
        for line in f.read_text().splitlines():
            try:
                events.append(json.loads(line))
            except ValueError:
                continue
    want = [e for e in events if isinstance(e, dict) and e.get("verb") == "create"
            and (e.get("objectRef") or {}).get("resource") == "clusterrolebindings"
            and ((e.get("requestObject") or {}).get("roleRef") or {}).get("name") == "cluster-admin"]  # fmt: skip
    assert want
    df = c.findings(detector="persistence").filter(rule_id="k8s_cluster_admin_binding")
    assert df["matches"].sum() == len(want)
