"""Secret scanning: every pattern is found where it was exposed, and only its redacted form is stored."""

from __future__ import annotations

import json

import pytest

from forensics import secrets
from forensics.display import fingerprint, redact

AWS_KEY = "AKIAEXAMPLEPLANTED01"
AWS_SECRET = "Zq9xPLANTEDsecretKEYvalue/AbCdEf+0123456"
GHP = "ghp_" + "Pl4nt3dT0k3n" * 3
GH_FINE = "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123456789"
GLPAT = "glpat-Pl4nt3dGitLabT0ken00"
SLACK = "xoxb-123456789012-abcdefghijklmnop"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwbGFudGVkIn0.c2lnbmF0dXJlUGxhbnRlZA"
PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEAplanted\n-----END RSA PRIVATE KEY-----"
GCP_KEY_ID = "0123456789abcdef0123456789abcdef01234567"
SHA1 = "c0ffee142aa0d1b5c8e2f7a9b3d4e5f60718293a"

RECORDS = [
    {"time": "2026-03-14T09:00:00Z", "msg": f"export AWS_ACCESS_KEY_ID={AWS_KEY}"},
    {"time": "2026-03-14T09:00:01Z", "msg": f"export AWS_SECRET_ACCESS_KEY={AWS_SECRET}"},
    {"time": "2026-03-14T09:00:02Z", "headers": {"authorization": f"token {GHP}"}},
    {"time": "2026-03-14T09:00:03Z", "msg": f"pat {GH_FINE} and {GLPAT}"},
    {"time": "2026-03-14T09:00:04Z", "msg": f"slack {SLACK}", "jwt": f"Bearer {JWT}"},
    {
        "time": "2026-03-14T09:00:05Z",
        "key_file": json.dumps(
            {
                "type": "service_account",
                "private_key_id": GCP_KEY_ID,
                "private_key": PEM,
                "client_email": "sa@p.iam.gserviceaccount.com",
            }
        ),
    },
    {"time": "2026-03-14T09:00:06Z", "msg": f"commit {SHA1} deployed; audit key id AKIAEXAMPLEIDONLY001"},
]
PLANTED = {AWS_SECRET, GHP, GH_FINE, GLPAT, SLACK, JWT, PEM, GCP_KEY_ID}


@pytest.fixture
def scanned(case, tmp_path):
    path = tmp_path / "app.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in RECORDS), encoding="utf-8")
    case.ingest(path)
    secrets.scan(case.con)
    return case


def test_every_pattern_is_detected_with_line_and_field(scanned):
    x = scanned.sql("SELECT kind, evidence_line, field FROM secret_exposures ORDER BY evidence_line, kind")
    found = set(x.iter_rows())
    assert ("aws_access_key_id", 1, "$.msg") in found
    assert ("aws_secret_access_key", 2, "$.msg") in found
    assert ("github_token", 3, "$.headers.authorization") in found
    assert ("github_fine_grained_pat", 4, "$.msg") in found
    assert ("gitlab_pat", 4, "$.msg") in found
    assert ("slack_token", 5, "$.msg") in found
    assert ("jwt", 5, "$.jwt") in found
    assert ("private_key_pem", 6, "$.key_file") in found
    assert ("gcp_service_account_key", 6, "$.key_file") in found


def test_secret_key_is_paired_with_the_access_key_id_printed_nearby(scanned):
    rows = scanned.sql(
        "SELECT kind, credential_id, secret_nearby FROM secret_exposures WHERE kind LIKE 'aws%' ORDER BY kind"
    )
    assert rows.rows() == [("aws_access_key_id", AWS_KEY, True), ("aws_secret_access_key", AWS_KEY, None)]


def test_identifiers_and_hashes_alone_are_not_exposures(scanned):
    text = " ".join(str(v) for row in scanned.table("secret_exposures").iter_rows() for v in row)
    assert "AKIAEXAMPLEIDONLY001" not in text  # a key id with no secret beside it
    assert (
        scanned.sql("SELECT count(*) FROM secret_exposures WHERE evidence_line = 7").item() == 0
    )  # a commit SHA


def test_stored_form_is_the_display_redaction_and_never_the_secret(scanned):
    table = scanned.table("secret_exposures")
    text = " ".join(str(v) for row in table.iter_rows() for v in row)
    for secret in PLANTED - {GCP_KEY_ID}:
        assert secret not in text
    row = scanned.sql(
        "SELECT kind, fingerprint, redacted FROM secret_exposures WHERE kind = 'github_token'"
    ).row(0)
    assert row[1] == fingerprint(GHP)
    assert row[2] == redact(GHP, "github_token")


def test_secrets_in_rejected_records_are_found_too(case, tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(
        '{"time": "2026-03-14T09:00:00Z", "ok": 1}\n{"broken": "' + GLPAT + '"\n', encoding="utf-8"
    )
    case.ingest(path)
    secrets.scan(case.con)
    x = case.sql("SELECT kind, location, evidence_line FROM secret_exposures")
    assert x.rows() == [("gitlab_pat", "rejects", 2)]


def test_scan_runs_after_every_ingest_and_is_idempotent(scanned, tmp_path):
    before = scanned.sql("SELECT count(*) FROM secret_exposures").item()
    assert before >= 9
    assert secrets.scan(scanned.con) == before


def test_post_ingest_scan_is_incremental_and_matches_a_full_rescan(case, tmp_path):
    from forensics import secrets as fsecrets

    def log(name, token):
        p = tmp_path / name
        p.write_text(
            json.dumps({"time": "2026-03-14T09:00:00Z", "msg": f"token={token}"}) + "\n", encoding="utf-8"
        )
        return p

    case.ingest([log("a.jsonl", "ghp_" + "A" * 36)])
    first = case.sql("SELECT count(*) FROM secret_exposures").item()
    case.ingest([log("b.jsonl", "ghp_" + "B" * 36)])
    incremental = case.sql(
        "SELECT kind, fingerprint, evidence_sha256 FROM secret_exposures ORDER BY ALL"
    ).rows()
    assert first == 1 and len(incremental) == 2
    assert case.sql("SELECT count(*) FROM secret_scans").item() == 2
    fsecrets.scan(case.con)
    assert (
        case.sql("SELECT kind, fingerprint, evidence_sha256 FROM secret_exposures ORDER BY ALL").rows()
        == incremental
    )


def test_audit_records_that_only_log_a_key_id_are_not_tree_walked_and_yield_nothing(case, tmp_path):
    records = [
        {
            "eventTime": "2026-03-14T09:00:00Z",
            "eventSource": "s3.amazonaws.com",
            "eventName": "GetObject",
            "eventID": f"e{i}",
            "userIdentity": {"type": "IAMUser", "accessKeyId": "AKIAEXAMPLEIDONLY001"},
        }
        for i in range(3)
    ]
    p = tmp_path / "trail.json"
    p.write_text(json.dumps({"Records": records}), encoding="utf-8")
    (res,) = case.ingest([p])
    assert res.loader == "cloudtrail" and res.records_loaded == 3
    assert case.sql("SELECT count(*) FROM secret_exposures").item() == 0
