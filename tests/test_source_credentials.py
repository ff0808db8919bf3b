"""Credentials and entities from the identity, findings and host sources (issue 21 d), contributed by the
sources through the loader contract: Okta sessions, Entra tokens, Workspace OAuth grants, AWS keys in
GuardDuty findings, SSH keys on hosts. Expected values are computed here from the files."""

from __future__ import annotations

import json
import re

import forensics


def _okta(uuid: str, event: str, session: str, when: str, result: str = "SUCCESS") -> dict:
    return {
        "uuid": uuid,
        "published": when,
        "eventType": event,
        "displayMessage": event,
        "actor": {
            "id": "00u1",
            "type": "User",
            "alternateId": "ci-admin@acme.example",
            "displayName": "CI Admin",
        },
        "client": {"ipAddress": "198.51.100.23", "userAgent": {"rawUserAgent": "Mozilla/5.0"}},
        "outcome": {"result": result},
        "authenticationContext": {"externalSessionId": session},
        "target": [],
    }


def test_okta_session_minted_and_revoked(tmp_path):
    p = tmp_path / "okta.jsonl"
    events = [
        _okta("u1", "user.session.start", "102abc", "2026-03-14T08:40:00.000Z"),
        _okta("u2", "user.authentication.sso", "102abc", "2026-03-14T08:41:00.000Z"),
        _okta("u3", "user.session.end", "102abc", "2026-03-14T09:30:00.000Z"),
        _okta("u4", "application.user_membership.add", "102abc", "2026-03-14T09:31:00.000Z"),
    ]
    p.write_text("".join(json.dumps(e) + "\n" for e in events))
    with forensics.open_case(":memory:") as c:
        c.ingest(p)
        row = c.con.execute(
            """SELECT credential_id, kind, principal, issued_at IS NOT NULL, revoked_how, used_after_revoke,
                      event_count FROM credentials"""
        ).fetchall()
        links = c.con.execute(
            "SELECT kind, id, linked_kind, linked_id FROM entity_links WHERE id = '102abc'"
        ).fetchall()
    assert len(row) == 1
    cid, kind, principal, issued, how, after, n = row[0]
    assert (cid, kind, principal, issued) == ("102abc", "okta_session", "ci-admin@acme.example", True)
    assert how.startswith("okta:user.session.end") and after == 1 and n == len(events)
    assert ("credential", "102abc", "actor", "ci-admin@acme.example") in links


def test_workspace_grant_guardduty_key_and_ssh_key(tmp_path):
    ws = {
        "kind": "admin#reports#activity",
        "id": {"time": "2026-03-14T08:50:00.000Z", "uniqueQualifier": "1", "applicationName": "token"},
        "actor": {"email": "ci-admin@acme.example", "profileId": "1"},
        "ipAddress": "198.51.100.23",
        "events": [
            {"type": "auth", "name": "authorize", "parameters": [{"name": "app_name", "value": "Evil Sync"}]}
        ],
    }
    (tmp_path / "ws.json").write_text(json.dumps({"kind": "admin#reports#activities", "items": [ws]}))
    (tmp_path / "auth.log").write_text(
        "Mar 14 09:12:01 bastion sshd[77]: Accepted publickey for deploy from 203.0.113.66 port 50022 ssh2:"
        " ED25519 SHA256:Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWprbG0\n"
    )
    with forensics.open_case(":memory:") as c:
        c.ingest([tmp_path / "ws.json", tmp_path / "auth.log"], year=2026)
        got = dict(c.con.execute("SELECT kind, principal FROM credentials").fetchall())
    assert got["workspace_oauth_grant"] == "ci-admin@acme.example"
    assert got["ssh_key"] == "deploy"


def test_real_files_sessions_keys(shared_data, tmp_path):
    with forensics.open_case(tmp_path / "c.duckdb") as c:
        c.ingest(
            [
                shared_data / "audit_logs/okta",
                shared_data / "host/auth_log",
                shared_data / "findings/guardduty",
            ],
            year=2018,
        )
        kinds = c.con.execute("SELECT kind, credential_id FROM credentials").fetchall()
    by_kind: dict[str, set] = {}
    for k, cid in kinds:
        by_kind.setdefault(k, set()).add(cid)
    sessions = set()
    for f in (shared_data / "audit_logs/okta").iterdir():
        text = f.read_text()
        try:
            doc = json.loads(text)
            recs = doc if isinstance(doc, list) else [doc]
        except json.JSONDecodeError:
            recs = [json.loads(ln) for ln in text.splitlines() if ln.strip()]
        for r in recs:
            ac = r.get("authenticationContext") or {}
            s = ac.get("externalSessionId") or ac.get("rootSessionId")
            if s:
                sessions.add(s)
    assert by_kind.get("okta_session", set()) == sessions
    fps = set()
    for f in (shared_data / "host/auth_log").iterdir():
        fps |= set(
            re.findall(r"Accepted publickey for \S+ from \S+ port \d+ ssh2: \S+ (SHA256:\S+)", f.read_text())
        )
    assert by_kind["ssh_key"] == fps and fps
    gd = json.loads(
        (shared_data / "findings/guardduty/aws-cli__guardduty_get-findings_example.json").read_text()
    )
    key = gd["Findings"][0]["Resource"]["AccessKeyDetails"]["AccessKeyId"]
    assert key in by_kind["aws_temporary_key" if key.startswith("ASIA") else "aws_access_key"]


def test_azure_managed_identity_linked(tmp_path):
    mirid = (
        "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/ci-id"
    )
    rec = {
        "time": "2026-03-14T09:00:00.0000000Z",
        "resourceId": "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv1",
        "operationName": "Microsoft.KeyVault/vaults/secrets/read",
        "category": "Administrative",
        "resultType": "Success",
        "callerIpAddress": "10.0.0.4",
        "correlationId": "c1",
        "location": "westeurope",
        "identity": {"claims": {"appid": "11111111-2222-3333-4444-555555555555", "xms_mirid": mirid}},
    }
    p = tmp_path / "PT1H.json"
    p.write_text(json.dumps({"records": [rec]}))
    with forensics.open_case(":memory:") as c:
        c.ingest(p)
        ev = c.con.execute("SELECT actor, actor_type, region FROM events").fetchall()
        links = c.con.execute(
            "SELECT kind, id, linked_kind, linked_id FROM entity_links WHERE linked_id = ?", [mirid]
        ).fetchall()
    assert ev == [("11111111-2222-3333-4444-555555555555", "managed_identity", "westeurope")]
    assert links == [("actor", "11111111-2222-3333-4444-555555555555", "resource", mirid)]
