"""GuardDuty and Security Hub findings as findings of the kit's own table (issue 21, part e), on the
real files of ../shared/data/findings: one per provider finding id, severity mapped by AWS's bands,
access keys, addresses and resources as entities. Expected values are computed here with json."""

from __future__ import annotations

import json

import pytest

import forensics


def _bands(x: float, scale: float) -> str:
    x = x / scale
    return "critical" if x >= 9 else "high" if x >= 7 else "medium" if x >= 4 else "low" if x >= 1 else "info"


def _expected(shared) -> dict[str, dict]:
    out: dict[str, dict] = {}
    gd = json.loads((shared / "findings/guardduty/aws-cli__guardduty_get-findings_example.json").read_text())
    for f in gd["Findings"]:
        ak = f["Resource"].get("AccessKeyDetails", {})
        ip = f["Service"]["Action"]["AwsApiCallAction"]["RemoteIpDetails"]["IpAddressV4"]
        out[f["Id"]] = {"severity": _bands(float(f["Severity"]), 1), "keys": {ak["AccessKeyId"]}, "ips": {ip},
                        "region": f["Region"], "actor": ak.get("UserName")}  # fmt: skip
    sh = []
    for p in sorted((shared / "findings/securityhub").glob("*.json")):
        doc = json.loads(p.read_text())
        sh += doc if isinstance(doc, list) else doc["detail"]["findings"]
    labels = {
        "CRITICAL": "critical",
        "HIGH": "high",
        "MEDIUM": "medium",
        "LOW": "low",
        "INFORMATIONAL": "info",
    }
    for f in sh:
        sev = f["Severity"]
        want = labels[sev["Label"]] if "Label" in sev else _bands(float(sev["Normalized"]), 10)
        out[f["Id"]] = {"severity": want, "resources": {r["Id"] for r in f.get("Resources", [])},
                        "region": f.get("Region")}  # fmt: skip
    return out


@pytest.fixture(scope="module")
def found(shared_data, tmp_path_factory):
    with forensics.open_case(tmp_path_factory.mktemp("pf") / "c.duckdb") as c:
        c.ingest(shared_data / "findings")
        rows = c.con.execute(
            """SELECT attributes->>'provider_id', severity, entities, summary, evidence
               FROM findings WHERE detector = 'provider_findings'"""
        ).fetchall()
    return rows, _expected(shared_data)


def test_one_kit_finding_per_provider_finding(found):
    rows, want = found
    assert sorted(r[0] for r in rows) == sorted(want)
    assert all(len(r[4]) >= 1 for r in rows)  # each with its events as evidence


def test_severity_mapped(found):
    rows, want = found
    assert {r[0]: r[1] for r in rows} == {k: v["severity"] for k, v in want.items()}


def test_keys_addresses_and_resources_extracted(found):
    rows, want = found
    for fid, _sev, ents, summary, _ev in rows:
        kinds: dict[str, set] = {}
        for e in ents:
            kinds.setdefault(e["kind"], set()).add(e["id"])
        w = want[fid]
        assert w.get("keys", set()) <= kinds.get("credential", set()), fid
        assert w.get("ips", set()) <= kinds.get("ip", set()), fid
        assert w.get("resources", set()) <= kinds.get("resource", set()), fid
        if w.get("actor"):
            assert w["actor"] in kinds.get("actor", set())
        if w.get("region"):
            assert "region " + w["region"] in summary
