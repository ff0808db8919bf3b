"""The checklist on real CloudTrail (../shared/data): the OTRF instance-credential theft and the
Stratus/Invictus set-up and tear-down. Expectations are read from the JSON records here, not from
the kit: who each key acts as, which session was used from outside AWS, when each session was
created, which failures were "not found"."""

from __future__ import annotations

import csv
import json
import re

import pytest

import forensics
from forensics import checklist

OTRF = "audit_logs/aws_otrf/ec2_proxy_s3_exfiltration_2020-09-14011940.json"
STRATUS = "audit_logs/aws_cloudtrail_invictus-stratus"
NOW_EXPR = "$(date -u +%Y-%m-%dT%H:%M:%SZ)"


def _otrf_records(shared_data):
    return [json.loads(line) for line in (shared_data / OTRF).read_text().splitlines() if line.strip()]


def _stratus_records(shared_data):
    out = []
    for p in sorted((shared_data / STRATUS).iterdir()):
        out += json.loads(p.read_text())["Records"]
    return out


@pytest.fixture(scope="module")
def otrf(shared_data, tmp_path_factory):
    case = forensics.open_case(tmp_path_factory.mktemp("otrf") / "c.duckdb")
    case.ingest([shared_data / OTRF])
    rows = checklist.build(case)
    yield case, rows, {r["credential_id"]: r for r in rows.to_dicts()}
    case.close()


@pytest.fixture(scope="module")
def stratus(shared_data, tmp_path_factory):
    case = forensics.open_case(tmp_path_factory.mktemp("stratus") / "c.duckdb")
    case.ingest([shared_data / STRATUS])
    rows = checklist.build(case)
    yield case, rows, {r["credential_id"]: r for r in rows.to_dicts()}
    case.close()


def test_assumerole_minted_keys_act_as_the_role_named_in_the_request(otrf, shared_data):
    _, _, rows = otrf
    minted = {
        r["responseElements"]["credentials"]["accessKeyId"]: r["requestParameters"]
        for r in _otrf_records(shared_data)
        if r.get("eventName") == "AssumeRole" and r.get("responseElements")
    }
    assert len(minted) == 5
    for key, req in minted.items():
        role = req["roleArn"].split(":role/", 1)[1].split("/")[-1]
        account = req["roleArn"].split(":")[4]
        assert (
            rows[key]["principal"] == f"arn:aws:sts::{account}:assumed-role/{role}/{req['roleSessionName']}"
        )
        cmds = checklist.revoke_commands(rows[key])
        assert f"aws iam put-role-policy --role-name {role} --policy-name AWSRevokeOlderSessions" in cmds[0]
        assert not any("<ROLE_NAME>" in c or "<INSTANCE_ID>" in c for c in cmds)
        # an instance role: the metadata path is closed on the instance named by the session
        assert any(
            f"modify-instance-metadata-options --instance-id {req['roleSessionName']}" in c for c in cmds
        )


def test_the_stolen_instance_session_ranks_in_the_top_three(otrf, shared_data):
    _, _, rows = otrf
    stolen = {
        r["userIdentity"]["accessKeyId"]
        for r in _otrf_records(shared_data)
        if re.search(r":assumed-role/[^/]+/i-[0-9a-f]+$", r["userIdentity"].get("arn", ""))
        and not r["sourceIPAddress"].endswith("amazonaws.com")
    }
    assert stolen  # the data holds the theft
    for key in stolen:
        assert rows[key]["risk_rank"] <= 3, rows[key]["rank_reasons"]
        assert any(x.startswith("critical:") for x in rows[key]["rank_reasons"])  # the finding is the reason


def _creation_dates(records):
    dates: dict[str, str] = {}
    for r in records:
        ui = r.get("userIdentity") or {}
        created = ((ui.get("sessionContext") or {}).get("attributes") or {}).get("creationDate")
        key = ui.get("accessKeyId", "")
        if created and key.startswith("ASIA"):
            dates[key] = min(dates.get(key, created), created)
    return dates


def test_issued_at_comes_from_the_session_creation_date(otrf, stratus, shared_data):
    for (_, _, rows), records in (
        (otrf, _otrf_records(shared_data)),
        (stratus, _stratus_records(shared_data)),
    ):
        minted = {
            r["responseElements"]["credentials"]["accessKeyId"]
            for r in records
            if r.get("eventName") == "AssumeRole" and r.get("responseElements")
        }
        dates = {k: v for k, v in _creation_dates(records).items() if k not in minted}
        assert dates
        for key, created in dates.items():
            assert rows[key]["issued_at"].strftime("%Y-%m-%dT%H:%M:%SZ") == created, key


def test_iam_user_sessions_get_a_user_deny_on_token_issue_time(otrf, stratus, shared_data):
    for (_, _, rows), records in (
        (otrf, _otrf_records(shared_data)),
        (stratus, _stratus_records(shared_data)),
    ):
        users = {
            r["userIdentity"]["accessKeyId"]: (
                r["userIdentity"]["userName"],
                r.get("sessionCredentialFromConsole") == "true",
            )
            for r in records
            if r.get("userIdentity", {}).get("type") == "IAMUser"
            and r["userIdentity"].get("accessKeyId", "").startswith("ASIA")
        }
        assert users
        for key, (user, console) in users.items():
            cmds = checklist.revoke_commands(rows[key])
            assert cmds[0].startswith(
                f"aws iam put-user-policy --user-name {user} --policy-name AWSRevokeOlderSessions"
            )
            assert f'"aws:TokenIssueTime":"\'"{NOW_EXPR}"\'"' in cmds[0]  # the cutoff is taken when it runs
            assert not any("put-role-policy" in c or "<" in c for c in cmds)
            assert any(c == f"aws iam delete-login-profile --user-name {user}" for c in cmds) == console


def test_long_lived_keys_are_deactivated_first_and_deleted_last(stratus, shared_data):
    case, rows, by_id = stratus
    keys = {
        r["userIdentity"]["accessKeyId"]: r["userIdentity"]["userName"]
        for r in _stratus_records(shared_data)
        if r.get("userIdentity", {}).get("accessKeyId", "").startswith("AKIA")
    }
    assert keys
    work = checklist.plan(rows, checklist.items(case, list(by_id)))
    for key, user in keys.items():
        deactivate = [
            w
            for w in work
            if w["command"].startswith(
                f"aws iam update-access-key --user-name {user} --access-key-id {key} --status Inactive"
            )
        ]
        delete = [
            w
            for w in work
            if w["command"] == f"aws iam delete-access-key --user-name {user} --access-key-id {key}"
        ]
        assert len(deactivate) == 1 and len(delete) == 1
        assert deactivate[0]["phase"] == "contain" and delete[0]["phase"] == "cleanup"
        assert deactivate[0]["order"] < delete[0]["order"]
    phases = [w["phase"] for w in work]
    assert phases == sorted(phases, key=checklist.PHASES.index)


def test_failures_are_classified_not_all_denied(stratus, shared_data):
    _, _, rows = stratus
    not_found: dict[str, set] = {}
    for r in _stratus_records(shared_data):
        if str(r.get("errorCode", "")).startswith("NoSuch"):
            action = r["eventSource"].split(".")[0] + ":" + r["eventName"]
            not_found.setdefault(r["userIdentity"]["accessKeyId"], set()).add(action)
    assert any("s3:GetBucketPolicy" in v for v in not_found.values())  # NoSuchBucketPolicy is in the data
    for key, actions in not_found.items():
        assert actions <= set(rows[key]["not_found_actions"])
        assert not actions & set(rows[key]["denied_actions"])


def test_every_aws_command_names_what_the_logs_name(otrf, stratus):
    for _, df, _ in (otrf, stratus):
        for row in df.to_dicts():
            for cmd in checklist.revoke_commands(row):
                assert not re.search(r"<(USER_NAME|ROLE_NAME|ACCESS_KEY_ID|INSTANCE_ID)>", cmd), (
                    row["credential_id"],
                    cmd,
                )


def test_exports_render_and_are_safe(otrf, tmp_path):
    case, rows, _ = otrf
    written = checklist.write(rows, checklist.Scope(), tmp_path, case=case)
    md = written.markdown.read_text()
    outside_fences = re.sub(r"(?ms)^\s*```+sh$.*?^\s*```+$", "", md)
    spans = re.findall(r"(`+)(.+?)\1", outside_fences)
    assert spans and all("\\" not in body for _, body in spans)  # code spans are literal: no escapes inside
    assert "s3://mordors3stack-s3bucket-llp2yingx64a" in md.replace("\\", "")  # the read bucket is an item
    for path in (written.csv, written.plan_csv):
        with path.open(newline="", encoding="utf-8") as f:
            cells = [c for row in csv.reader(f) for c in row]
        assert cells and not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    data = json.loads(written.json.read_text())
    assert data["order_of_work"][0]["phase"] == "contain" and data["persistence_and_exposure"]
