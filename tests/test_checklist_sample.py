"""The checklist on the sample incident and on real CloudTrail: every credential with its true
status, the planted CI-log secret found and never shown, the stolen instance-role session flagged."""

from __future__ import annotations

import json

import pytest

import forensics
from forensics import checklist, secrets
from forensics.display import fingerprint
from forensics.report import run_report
from forensics.sample import scenario as S

INCIDENT_SCOPE = dict(
    principals=[S.DEPLOY_BOT_GH_USER],
    runners=[S.COMPROMISED_RUNNER],
    ips=[S.ATTACKER_IP, S.ATTACKER_IP_2],
    start=S.DAY_START.isoformat(),
    end=S.DAY_END.isoformat(),
)


@pytest.fixture(scope="module")
def sample_rows(sample_case):
    df = checklist.build(sample_case, checklist.Scope.of(**INCIDENT_SCOPE), scan=False)
    return {r["credential_id"]: r for r in df.to_dicts()}


@pytest.mark.parametrize("cred", S.CREDENTIALS, ids=lambda c: c.id)
def test_every_scenario_credential_is_found_with_its_true_status(sample_rows, cred):
    assert cred.id in sample_rows, f"{cred.id} ({cred.note}) missing from the checklist"
    row = sample_rows[cred.id]
    assert row["kind"] == cred.kind
    assert row["status"] == ("revoked" if cred.revoked_at else "not proven revoked")
    if cred.revoked_at:
        assert row["revoked_at"] == cred.revoked_at and row["revocation_event_id"]
    assert (row["uses_after_revocation"] > 0) == bool(cred.used_after_revoke)


def test_unrevoked_attacker_credentials_outrank_every_revoked_one(sample_rows):
    revoked = [r["risk_rank"] for r in sample_rows.values() if r["status"] == "revoked"]
    for cid in (
        S.PERSIST_KEY,
        S.K8S_DEPLOY_BOT_CRED,
    ):  # the forgotten key, and the cert that deployed the rogue image
        assert sample_rows[cid]["status"] == "not proven revoked"
        assert sample_rows[cid]["risk_rank"] < min(revoked)
    assert S.PAYMENTS_ROGUE.digest in sample_rows[S.K8S_DEPLOY_BOT_CRED]["artifacts"]


def test_the_planted_ci_log_secret_is_detected_where_it_was_printed(sample_case):
    x = secrets.exposures(sample_case).filter(pl_kind("aws_secret_access_key"))
    assert x.height == 1
    row = x.row(0, named=True)
    assert row["credential_id"] == S.DEPLOY_BOT_KEY and row["actor"] == S.COMPROMISED_RUNNER
    assert row["source"] == "ci_joblog" and row["time"].replace(microsecond=0) == S.CI_LEAK_TIME
    assert fingerprint(S.DEPLOY_BOT_SECRET) in row["redacted"]


def pl_kind(kind: str):
    import polars as pl

    return pl.col("kind") == kind


def test_the_secret_is_redacted_in_every_output(sample_dir, tmp_path):
    case_path = tmp_path / "case.duckdb"
    with forensics.open_case(case_path) as c:
        c.ingest([sample_dir])
    out = tmp_path / "report"
    params = {k: ",".join(v) if isinstance(v, list) else v for k, v in INCIDENT_SCOPE.items()}
    res = run_report("credential_revocation", case_path, params, out)
    outputs = [
        res.html,
        res.notebook,
        out / "credential_revocation.md",
        out / "credential_revocation.json",
        out / "credential_revocation.csv",
    ]
    for path in outputs:
        text = path.read_text(encoding="utf-8")
        assert S.DEPLOY_BOT_SECRET not in text, f"the secret is shown in full in {path.name}"
        assert json.dumps(S.DEPLOY_BOT_SECRET)[1:-1] not in text
    md = (out / "credential_revocation.md").read_text(encoding="utf-8")
    assert fingerprint(S.DEPLOY_BOT_SECRET) in md  # shown, redacted
    assert S.PERSIST_KEY in md and "delete-access-key" in md
    data = json.loads((out / "credential_revocation.json").read_text(encoding="utf-8"))
    assert {r["credential_id"] for r in data["credentials"]} >= {c.id for c in S.CREDENTIALS}


OTRF = "audit_logs/aws_otrf/ec2_proxy_s3_exfiltration_2020-09-14011940.json"


def test_stolen_instance_role_session_is_listed_with_its_use_outside_aws(shared_data, tmp_path):
    from forensics.sources import registry

    if "cloudtrail" not in registry.names():
        pytest.skip("the CloudTrail loader has not landed")
    records = [json.loads(line) for line in (shared_data / OTRF).read_text().splitlines() if line.strip()]
    stolen = {
        r["userIdentity"]["accessKeyId"]
        for r in records
        if r["userIdentity"].get("arn", "").split("/")[-1].startswith("i-")
    }
    assert len(stolen) == 1
    key = stolen.pop()
    outside = sum(
        1
        for r in records
        if r["userIdentity"].get("accessKeyId") == key and not r["sourceIPAddress"].endswith("amazonaws.com")
    )
    with forensics.open_case(tmp_path / "otrf.duckdb") as c:
        c.ingest(shared_data / OTRF)
        rows = {r["credential_id"]: r for r in checklist.build(c).to_dicts()}
    assert key in rows
    row = rows[key]
    assert row["instance_role_uses_outside_aws"] == outside > 0
    assert row["status"] != "revoked"
    assert "s3" in row["services"]
