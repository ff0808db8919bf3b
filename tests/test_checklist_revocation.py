"""The checklist on hand-built evidence: scope, proven revocation, use after revocation, the
invariants, and safe output for hostile values."""

from __future__ import annotations

import json

import pytest

from forensics import checklist

MAPPING = """\
name = "hand_audit"
category = "audit"
[fields]
time = "ts"
actor = "who"
credential_id = "key"
src_ip = "ip"
user_agent = "ua"
action = "act"
target = "tgt"
artifact_digest = "digest"
[outcome]
field = "status"
success = ["ok"]
failure = ["denied"]
"""
BOT = "arn:aws:iam::111122223333:user/deploy-bot"
SESSION = "arn:aws:sts::111122223333:assumed-role/prod-deployer/deploy-bot-session"
EVENTS = [
    ("09:25", BOT, "AKIAHANDBUILTBOT0001", "203.0.113.66", "sts:GetCallerIdentity", "ok", None, None),
    ("09:26", BOT, "AKIAHANDBUILTBOT0001", "203.0.113.66", "sts:AssumeRole", "ok", "prod-deployer", None),
    (
        "09:30",
        SESSION,
        "ASIAHANDBUILTTMP0001",
        "203.0.113.66",
        "ecr:PutImage",
        "ok",
        "payments",
        "sha256:rogue",
    ),
    (
        "09:33",
        SESSION,
        "ASIAHANDBUILTTMP0001",
        "203.0.113.66",
        "iam:CreateAccessKey",
        "ok",
        "svc-backup",
        None,
    ),
    (
        "10:20",
        "arn:aws:iam::111122223333:user/alice",
        "AKIAHANDBUILTSRE0001",
        "192.0.2.10",
        "iam:UpdateAccessKey",
        "ok",
        "deploy-bot",
        None,
    ),
    (
        "10:25",
        "arn:aws:iam::111122223333:user/alice",
        "AKIAHANDBUILTSRE0001",
        "192.0.2.10",
        "iam:PutRolePolicy",
        "ok",
        "prod-deployer",
        None,
    ),
    ("10:33", SESSION, "ASIAHANDBUILTTMP0001", "203.0.113.66", "s3:GetObject", "denied", "exports", None),
    (
        "10:45",
        "arn:aws:iam::111122223333:user/svc-backup",
        "AKIAHANDBUILTPER0001",
        "198.51.100.23",
        "s3:GetObject",
        "ok",
        "exports",
        None,
    ),
]


@pytest.fixture
def hand_case(case, tmp_path):
    path = tmp_path / "audit.jsonl"
    path.write_text(
        "".join(
            json.dumps(
                {
                    "ts": f"2026-03-14T{t}:00Z",
                    "who": who,
                    "key": key,
                    "ip": ip,
                    "ua": "tool/1",
                    "act": act,
                    "status": st,
                    "tgt": tgt,
                    "digest": dg,
                }
            )
            + "\n"
            for t, who, key, ip, act, st, tgt, dg in EVENTS
        ),
        encoding="utf-8",
    )
    (tmp_path / "audit.jsonl.mapping.toml").write_text(MAPPING, encoding="utf-8")
    case.ingest(path)
    return case


def _event_id(case, action: str) -> str:
    return case.sql("SELECT event_id FROM events WHERE action = $a", {"a": action}).item()


def _credentials(case, rows: list[tuple]) -> None:
    case.con.execute("DELETE FROM credentials")
    case.con.executemany(
        """INSERT INTO credentials (credential_id, kind, principal, issued_at, expires_at, issued_by,
                                    revoked_at, revoked_how, revoked_event_id)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        rows,
    )


def _incident_credentials(case, *, prove: bool = True) -> None:
    upd = _event_id(case, "iam:UpdateAccessKey") if prove else None
    put = _event_id(case, "iam:PutRolePolicy") if prove else None
    _credentials(
        case,
        [
            (
                "AKIAHANDBUILTBOT0001",
                "aws_access_key",
                BOT,
                None,
                None,
                None,
                "2026-03-14 10:20Z",
                "UpdateAccessKey",
                upd,
            ),
            (
                "ASIAHANDBUILTTMP0001",
                "aws_temporary_key",
                SESSION,
                "2026-03-14 09:26Z",
                "2026-03-14 10:26Z",
                "AKIAHANDBUILTBOT0001",
                "2026-03-14 10:25Z",
                "PutRolePolicy",
                put,
            ),
            (
                "AKIAHANDBUILTPER0001",
                "aws_access_key",
                "arn:aws:iam::111122223333:user/svc-backup",
                "2026-03-14 09:33Z",
                None,
                "ASIAHANDBUILTTMP0001",
                None,
                None,
                None,
            ),
            (
                "AKIAHANDBUILTSRE0001",
                "aws_access_key",
                "arn:aws:iam::111122223333:user/alice",
                None,
                None,
                None,
                None,
                None,
                None,
            ),
        ],
    )


def _by_id(df):
    return {r["credential_id"]: r for r in df.to_dicts()}


def test_scope_follows_the_chain_from_a_compromised_principal(hand_case):
    _incident_credentials(hand_case)
    rows = _by_id(checklist.build(hand_case, checklist.Scope.of(principals=["deploy-bot"])))
    assert set(rows) == {"AKIAHANDBUILTBOT0001", "ASIAHANDBUILTTMP0001", "AKIAHANDBUILTPER0001"}
    assert "minted by ASIAHANDBUILTTMP0001" in rows["AKIAHANDBUILTPER0001"]["scope_reasons"]


def test_scope_by_address_and_window_finds_the_persistence_key(hand_case):
    _incident_credentials(hand_case)
    scope = checklist.Scope.of(
        ips=["198.51.100.23"], start="2026-03-14T10:00:00Z", end="2026-03-14T11:00:00Z"
    )
    rows = _by_id(checklist.build(hand_case, scope))
    assert "AKIAHANDBUILTPER0001" in rows
    assert "AKIAHANDBUILTSRE0001" not in rows


def test_revoked_only_with_a_revocation_event_in_the_case(hand_case):
    _incident_credentials(hand_case, prove=False)  # revoked_at recorded, no event behind it
    rows = _by_id(checklist.build(hand_case))
    assert all(r["status"] != "revoked" for r in rows.values())
    assert rows["AKIAHANDBUILTBOT0001"]["status"] == "not proven revoked"
    assert "not in the case" in rows["AKIAHANDBUILTBOT0001"]["revocation_note"]
    md = checklist.to_markdown(checklist.build(hand_case), checklist.Scope())
    assert "- [x]" not in md


def test_proven_revocation_and_use_after_it_are_reported(hand_case):
    _incident_credentials(hand_case)
    df = checklist.build(hand_case)
    rows = _by_id(df)
    tmp = rows["ASIAHANDBUILTTMP0001"]
    assert tmp["status"] == "revoked" and tmp["revocation_event_id"] == _event_id(
        hand_case, "iam:PutRolePolicy"
    )
    assert tmp["uses_after_revocation"] == 1 and tmp["successful_uses_after_revocation"] == 0
    assert tmp["uses_after_expiry"] == 1
    assert tmp["lifetime"] == "short-lived" and tmp["artifacts"] == ["sha256:rogue"]
    assert set(tmp["services"]) == {"ecr", "iam", "s3"} and tmp["denied_actions"] == ["s3:GetObject"]
    assert rows["AKIAHANDBUILTPER0001"]["status"] == "not proven revoked"
    assert rows["AKIAHANDBUILTPER0001"]["risk_rank"] < tmp["risk_rank"]
    md = checklist.to_markdown(df, checklist.Scope())
    creds = md.split("## Credentials, highest rank first")[1]  # the order of work above has its own boxes
    assert creds.count("- [x]") == 2 and creds.count("- [ ]") == 2


def test_use_after_revocation_invariant_fires_and_stays_quiet(hand_case):
    _incident_credentials(hand_case)
    found = checklist.invariant_violations(hand_case)["credential_used_after_revocation"]
    assert found.get_column("credential_id").to_list() == ["ASIAHANDBUILTTMP0001"]
    assert found.get_column("outcome").to_list() == ["failure"]
    _credentials(
        hand_case,
        [
            (
                "ASIAHANDBUILTTMP0001",
                "aws_temporary_key",
                SESSION,
                None,
                None,
                None,
                "2026-03-14 11:00Z",
                "PutRolePolicy",
                None,
            )
        ],
    )
    assert hand_case.invariants()["credential_used_after_revocation"].height == 0


def test_expired_credential_invariant_fires_and_stays_quiet(hand_case):
    _incident_credentials(hand_case)
    found = hand_case.invariants()["expired_credential_used"]
    assert found.get_column("credential_id").to_list() == ["ASIAHANDBUILTTMP0001"]
    _credentials(
        hand_case,
        [
            (
                "ASIAHANDBUILTTMP0001",
                "aws_temporary_key",
                SESSION,
                "2026-03-14 09:26Z",
                "2026-03-14 21:26Z",
                None,
                None,
                None,
                None,
            )
        ],
    )
    assert hand_case.invariants()["expired_credential_used"].height == 0


def test_without_a_credentials_table_uses_still_make_rows(hand_case):
    hand_case.con.execute("DELETE FROM credentials")
    rows = _by_id(checklist.build(hand_case))
    assert rows["ASIAHANDBUILTTMP0001"]["kind"] == "aws_temporary_key"
    assert all(r["status"] == "not proven revoked" for r in rows.values())


def test_revoke_templates_per_provider_quote_hostile_values():
    aws = checklist.revoke_commands(
        {
            "kind": "aws_access_key",
            "credential_id": "AKIAHANDBUILTBOT0001",
            "principal": "arn:aws:iam::1:user/x'; rm -rf ~",
        }
    )
    assert aws[0].startswith(
        "aws iam update-access-key --user-name 'x'\"'\"'; rm -rf ~' --access-key-id AKIAHANDBUILTBOT0001"
    )
    assert "--status Inactive" in aws[0] and aws[-1].startswith("aws iam delete-access-key")
    phases = [
        s.phase for s in checklist.steps({"kind": "aws_access_key", "credential_id": "AKIAHANDBUILTBOT0001"})
    ]
    assert (
        phases[0] == "contain" and phases[-1] == "cleanup"
    )  # deactivate now, delete after the evidence is kept
    sts = checklist.revoke_commands(
        {"kind": "aws_temporary_key", "credential_id": "ASIAX", "principal": SESSION}
    )
    assert "--role-name prod-deployer" in sts[0] and "aws:TokenIssueTime" in sts[0]
    assert "credentials/revoke" in checklist.revoke_commands({"kind": "github_pat", "credential_id": "h"})[0]
    assert (
        "deploy-key delete"
        in checklist.revoke_commands({"kind": "github_deploy_key", "credential_id": "7"})[0]
    )
    k8s = checklist.revoke_commands(
        {
            "kind": "k8s_service_account_token",
            "credential_id": "JTI=1",
            "principal": "system:serviceaccount:ci:ci-deployer",
        }
    )
    assert any("delete secret" in c for c in k8s) and any(
        "delete serviceaccount ci-deployer" in c for c in k8s
    )
    gcp = checklist.revoke_commands(
        {"kind": "gcp_service_account_key", "credential_id": "abc", "principal": "sa@p"}
    )
    assert gcp[1] == "gcloud iam service-accounts keys delete abc --iam-account sa@p"


def test_markdown_escapes_hostile_values(hand_case, tmp_path):
    _credentials(
        hand_case,
        [
            (
                "AKIAHANDBUILTBOT0001",
                "aws_access_key",
                "<script>alert(1)</script> | [x](http://e)\n- [x] fake",
                None,
                None,
                None,
                None,
                None,
                None,
            )
        ],
    )
    df = checklist.build(hand_case, checklist.Scope.of(credentials=["AKIAHANDBUILTBOT0001"]))
    md = checklist.to_markdown(df, checklist.Scope())
    assert "<script>" not in md and "](http" not in md
    assert "\n- [x] fake" not in md and md.count("- [x]") == 0
    written = checklist.write(df, checklist.Scope(), tmp_path)
    data = json.loads(written.json.read_text())
    assert data["credentials"][0]["credential_id"] == "AKIAHANDBUILTBOT0001"
    assert written.csv.read_text().splitlines()[0].startswith("risk_rank,credential_id")
