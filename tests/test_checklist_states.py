"""Checklist states, failure classes, persistence and exposure items on CloudTrail records written
here as CloudTrail writes them (and GitHub's deploy_key webhook from ../shared/data). Expectations
come from the records."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

import forensics
from forensics import checklist
from tests.test_findings_detectors import ACCOUNT, T0, ct  # CloudTrail records as CloudTrail writes them

ADMIN = "AKIAEXAMPLEADMIN0001"
BOB = "AKIAEXAMPLEBOB000001"
EVE = "AKIAEXAMPLEEVE000001"


def build(tmp_path, records, extra_files=()):
    d = tmp_path / "logs"
    d.mkdir(parents=True, exist_ok=True)
    (d / f"{ACCOUNT}_CloudTrail_us-east-1_20260105T0800Z_t.json").write_text(json.dumps({"Records": records}))
    case = forensics.open_case(tmp_path / "c.duckdb")
    case.ingest([d, *extra_files])
    return case


def rows_of(case, **scope):
    return {r["credential_id"]: r for r in checklist.build(case, checklist.Scope.of(**scope)).to_dicts()}


def test_deactivated_reactivated_then_used_is_not_revoked(tmp_path):
    admin = dict(user="admin", key=ADMIN)
    recs = [
        ct(0, "ListBuckets", source="s3"),
        ct(
            1,
            "UpdateAccessKey",
            params={"userName": "bob", "accessKeyId": BOB, "status": "Inactive"},
            **admin,
        ),
        ct(2, "UpdateAccessKey", params={"userName": "bob", "accessKeyId": BOB, "status": "Active"}, **admin),
        ct(3, "ListBuckets", source="s3"),
    ]
    case = build(tmp_path, recs)
    bob = rows_of(case)[BOB]
    assert bob["status"] == "reactivated" and bob["state"] == "reactivated"
    assert [e.split()[0] for e in bob["state_events"]] == ["revoked", "reactivated"]
    md = checklist.to_markdown(checklist.build(case), checklist.Scope())
    creds = md.split("## Credentials, highest rank first")[1]
    assert "- [x]" not in creds
    # the contain step is still there: the key works again
    assert any(w["command"].startswith("aws iam update-access-key --user-name bob --access-key-id " + BOB)
               for w in checklist.plan(checklist.build(case), checklist.items(case, [BOB])))  # fmt: skip


def test_a_revocation_event_is_never_a_use(tmp_path):
    recs = [
        ct(0, "ListBuckets", source="s3"),
        ct(1, "ListBuckets", source="s3"),
        # bob deactivates his own key with that key: the record carries the key it revokes
        ct(2, "UpdateAccessKey", params={"userName": "bob", "accessKeyId": BOB, "status": "Inactive"}),
        ct(3, "ListBuckets", source="s3", error="InvalidClientTokenId"),
    ]
    case = build(tmp_path, recs)
    bob = rows_of(case)[BOB]
    uses = sum(
        1 for r in recs if r["userIdentity"]["accessKeyId"] == BOB and r["eventName"] != "UpdateAccessKey"
    )
    assert bob["uses"] == uses == 3
    assert bob["status"] == "revoked" and bob["uses_after_revocation"] == 1
    assert "iam:UpdateAccessKey" not in bob["actions"]


def test_failures_are_classified(tmp_path):
    codes = {
        "GetBucketPolicy": ("s3", "NoSuchBucketPolicy", "not_found_actions"),
        "GetObject": ("s3", "AccessDenied", "denied_actions"),
        "DescribeInstances": ("ec2", "Client.RequestLimitExceeded", "throttled_actions"),
        "ListUsers": ("iam", "ServiceFailure", "error_actions"),
    }
    recs = [ct(i, name, source=src, error=code) for i, (name, (src, code, _)) in enumerate(codes.items())]
    case = build(tmp_path, recs)
    bob = rows_of(case)[BOB]
    for name, (src, _, column) in codes.items():
        action = f"{src}:{name}"
        assert bob[column] == [action]
        others = {"not_found_actions", "denied_actions", "throttled_actions", "error_actions"} - {column}
        assert all(action not in bob[o] for o in others)


def test_user_level_token_issue_time_deny_revokes_older_sessions(tmp_path):
    session = {"type": "IAMUser", "principalId": "AIDAEXAMPLE", "userName": "bob",
               "arn": f"arn:aws:iam::{ACCOUNT}:user/bob", "accountId": ACCOUNT, "accessKeyId": "ASIAEXAMPLEBOBSESS01",
               "sessionContext": {"attributes": {"creationDate": "2026-01-05T07:30:00Z", "mfaAuthenticated": "false"}}}  # fmt: skip
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": ["*"], "Resource": ["*"],
                         "Condition": {"DateLessThan": {"aws:TokenIssueTime": "2026-01-05T08:05:00Z"}}}]})  # fmt: skip
    recs = [
        ct(0, "ListBuckets", source="s3", identity=session, extra={"sessionCredentialFromConsole": "true"}),
        ct(10, "PutUserPolicy", user="admin", key=ADMIN,
           params={"userName": "bob", "policyName": "AWSRevokeOlderSessions", "policyDocument": policy}),
        ct(12, "ListBuckets", source="s3", identity=session, error="AccessDenied"),
    ]  # fmt: skip
    case = build(tmp_path, recs)
    s = rows_of(case)["ASIAEXAMPLEBOBSESS01"]
    assert s["issued_at"] == datetime(2026, 1, 5, 7, 30, tzinfo=UTC)
    assert s["status"] == "revoked" and "PutUserPolicy" in s["revoked_how"]
    assert s["uses_after_revocation"] == 1 and s["successful_uses_after_revocation"] == 0
    cmds = checklist.revoke_commands(s)
    assert cmds[0].startswith("aws iam put-user-policy --user-name bob --policy-name AWSRevokeOlderSessions")
    assert "aws iam delete-login-profile --user-name bob" in cmds


@pytest.fixture
def attack(tmp_path):
    eve = dict(user="eve", key=EVE, ip="203.0.113.9")
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                        "Principal": {"AWS": "arn:aws:iam::999988887777:root"}}]})  # fmt: skip
    recs = [
        ct(0, "CreateUser", params={"userName": "backdoor"}, response={"user": {"userName": "backdoor"}}, **eve),
        ct(1, "CreateLoginProfile", params={"userName": "backdoor"}, **eve),
        ct(2, "AttachUserPolicy", params={"userName": "backdoor",
                                          "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}, **eve),  # fmt: skip
        ct(3, "CreateVirtualMFADevice", params={"virtualMFADeviceName": "backdoor-mfa"},
           response={"virtualMFADevice": {"serialNumber": f"arn:aws:iam::{ACCOUNT}:mfa/backdoor-mfa"}}, **eve),
        ct(4, "UpdateAssumeRolePolicy", params={"roleName": "ops", "policyDocument": trust}, **eve),
        ct(5, "ImportKeyPair", source="ec2", params={"keyName": "eve-key"}, response={"keyName": "eve-key"}, **eve),
        ct(6, "CreateAccessKey", params={"userName": "backdoor"},
           response={"accessKey": {"userName": "backdoor", "accessKeyId": "AKIAEXAMPLEBACKDOOR1", "status": "Active"}}, **eve),
        ct(7, "GetSecretValue", source="secretsmanager", params={"secretId": "prod/db"}, **eve),
        ct(8, "GetParameters", source="ssm", params={"names": ["/prod/api-key"], "withDecryption": True}, **eve),
        ct(9, "GetSecretValue", source="secretsmanager", params={"secretId": "prod/db"}, user="app", key="AKIAEXAMPLEAPP00001"),
        ct(10, "CreateUser", params={"userName": "denied"}, error="AccessDenied", **eve),
    ]  # fmt: skip
    case = build(tmp_path, recs)
    yield case, recs
    case.close()


def test_persistence_and_reads_are_items_with_undo_and_rotate(attack):
    case, recs = attack
    df = checklist.build(case, checklist.Scope.of(credentials=[EVE]))
    acts = checklist.items(case, df.get_column("credential_id").to_list())
    ok = [r for r in recs if r["userIdentity"]["accessKeyId"] == EVE and "errorCode" not in r]
    persistence = [r for r in ok if r["eventSource"].startswith(("iam", "ec2"))]
    reads = {r["requestParameters"].get("secretId") for r in ok if r["eventName"] == "GetSecretValue"}
    reads |= {n for r in ok if r["eventName"] == "GetParameters" for n in r["requestParameters"]["names"]}
    got = acts.to_dicts()
    assert sum(a["phase"] == "persistence" for a in got) == len(
        persistence
    )  # the denied CreateUser is no item
    assert {a["what"] for a in got if a["phase"] == "rotate"} == reads
    commands = [s["command"] for a in got for s in a["steps"]]
    for expected in (
        "aws iam delete-login-profile --user-name backdoor",
        "aws iam detach-user-policy --user-name backdoor --policy-arn arn:aws:iam::aws:policy/AdministratorAccess",
        f"aws iam delete-virtual-mfa-device --serial-number arn:aws:iam::{ACCOUNT}:mfa/backdoor-mfa",
        "aws iam update-assume-role-policy --role-name ops",
        "aws ec2 delete-key-pair --key-name eve-key --region us-east-1",
        "aws iam update-access-key --user-name backdoor --access-key-id AKIAEXAMPLEBACKDOOR1 --status Inactive",
        "aws secretsmanager rotate-secret --secret-id prod/db --region us-east-1",
        "aws ssm put-parameter --name /prod/api-key",
    ):
        assert any(expected in c for c in commands), expected
    secret = next(a for a in got if a["what"] == "prod/db")
    assert secret["also_read_by"] == [f"arn:aws:iam::{ACCOUNT}:user/app"]  # who breaks when it is rotated
    trust = next(a for a in got if a["item"] == "trust_policy")
    assert "999988887777" in trust["steps"][0]["does"]


def test_order_of_work_follows_the_phases(attack, tmp_path):
    case, _ = attack
    df = checklist.build(case, checklist.Scope.of(credentials=[EVE]))
    written = checklist.write(df, checklist.Scope.of(credentials=[EVE]), tmp_path / "out", case=case)
    work = json.loads(written.json.read_text())["order_of_work"]
    phases = [w["phase"] for w in work]
    assert phases == sorted(phases, key=checklist.PHASES.index) and set(phases) == set(checklist.PHASES)
    md = written.markdown.read_text()
    assert (
        md.index("### Contain")
        < md.index("### Persistence")
        < md.index("### Rotate")
        < md.index("### Clean up")
    )


def test_deploy_keys_are_inventoried(shared_data, tmp_path):
    hook = shared_data / "audit_logs/github_org_webhooks/gh-webhook__deploy_key__created.payload.json"
    doc = json.loads(hook.read_text())
    case = build(tmp_path, [ct(0, "ListBuckets", source="s3")], [hook])
    cid = f"{doc['repository']['full_name']}:key/{doc['key']['id']}"
    row = rows_of(case)[cid]
    assert row["kind"] == "github_deploy_key" and row["principal"] == doc["repository"]["full_name"]
    assert checklist.revoke_commands(row)[0] == (
        f"gh repo deploy-key delete {doc['key']['id']} --repo {doc['repository']['full_name']}"
    )


def _k8s(verb, resource, user, *, name="x", ns=None, impersonate=None, minute=10):
    ev = {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata", "stage": "ResponseComplete",
          "auditID": str(uuid.uuid4()), "requestURI": f"/apis/x/{resource}", "verb": verb,
          "user": {"username": user}, "sourceIPs": ["10.0.0.5"],
          "objectRef": {"resource": resource, "name": name, "namespace": ns, "apiVersion": "v1"},
          "responseStatus": {"code": 201},
          "requestReceivedTimestamp": (T0 + timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:%S.000000Z"),
          "stageTimestamp": (T0 + timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:%S.100000Z")}  # fmt: skip
    if impersonate:
        ev["impersonatedUser"] = {"username": impersonate}
    return ev


def test_impersonated_identity_is_searchable_as_an_actor(tmp_path):
    from forensics.findings import entities

    imp = "system:serviceaccount:prod:deployer"
    log = tmp_path / "k8s" / "kube-apiserver-audit.log"
    log.parent.mkdir()
    events = [_k8s("get", "secrets", "mallory", name="db", ns="prod", impersonate=imp),
              _k8s("get", "pods", "alice", ns="prod", minute=11)]  # fmt: skip
    log.write_text("".join(json.dumps(e) + "\n" for e in events))
    case = build(tmp_path, [ct(0, "ListBuckets", source="s3")], [log.parent])
    match = entities.resolve(case.con, [imp])
    assert "mallory" in match.ids and "alice" not in match.ids
    got = case.timeline(actors=[imp])
    assert got.get_column("actor").to_list() == ["mallory"]


def test_github_grants_are_persistence_items(tmp_path):
    ms = int(T0.timestamp() * 1000)
    entries = [
        {"@timestamp": ms, "action": "git.clone", "actor": "deploy-bot", "created_at": ms, "_document_id": "a1",
         "org": "octo-corp", "repo": "octo-corp/app", "hashed_token": "TOKENHASH1"},
        {"@timestamp": ms + 1000, "action": "oauth_authorization.create", "actor": "deploy-bot", "created_at": ms + 1000,
         "_document_id": "a2", "org": "octo-corp", "oauth_application_name": "evil-sync", "hashed_token": "TOKENHASH1"},
        {"@timestamp": ms + 2000, "action": "personal_access_token.access_granted", "actor": "deploy-bot",
         "created_at": ms + 2000, "_document_id": "a3", "org": "octo-corp", "token_id": 4242, "hashed_token": "TOKENHASH1"},
    ]  # fmt: skip
    gh = tmp_path / "gh" / "audit-log.json"
    gh.parent.mkdir()
    gh.write_text(json.dumps(entries))
    case = build(tmp_path, [ct(0, "ListBuckets", source="s3")], [gh.parent])
    acts = {a["item"]: a for a in checklist.items(case, ["TOKENHASH1"]).to_dicts()}
    granted = [e for e in entries if e["action"].endswith(("access_granted", "authorization.create"))]
    assert len(acts) == len(granted)
    cmd = acts["github_pat_granted"]["steps"][0]["command"]
    assert (
        cmd
        == f"gh api --method POST /orgs/{entries[2]['org']}/personal-access-tokens/{entries[2]['token_id']} -f action=revoke"
    )
    assert entries[1]["oauth_application_name"] in acts["github_oauth_app"]["steps"][0]["command"]
