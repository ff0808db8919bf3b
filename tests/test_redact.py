"""The one redaction rule (forensics.redact): each kind of secret, in text, nested values and frames."""

from __future__ import annotations

import base64
import hashlib
import json

import polars as pl
import pytest

from forensics.redact import redact_frame, redact_text, redact_value

GHP = "ghp_" + "A1b2" * 9
GHO = "gho_" + "Zy9x" * 9
PAT = "github_pat_11ABCDEFG0" + "q" * 40 + "_" + "R7" * 15
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
SLACK = "xoxb-1234567890-abcdefghijkl"
AWS = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
GLPAT = "glpat-abcdefghij0123456789"
URLPW = "s3cr3t-Pa55"


def fp(secret: str) -> str:
    return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()[:12]


@pytest.mark.parametrize(
    ("kind", "secret", "text"),
    [
        ("github_token", GHP, f"token {GHP} here"),
        ("github_token", GHO, f"Mozilla/5.0 ({GHO})"),
        ("github_fine_grained_pat", PAT, f"auth={PAT}"),
        ("jwt", JWT, f"Authorization: Bearer {JWT}"),
        ("slack_token", SLACK, f"hook {SLACK}"),
        ("aws_secret_access_key", AWS, f"The request signature we calculated does not match {AWS}."),
        ("gitlab_pat", GLPAT, f"x {GLPAT}"),
        ("url_password", URLPW, f"clone https://deploy:{URLPW}@git.example.com/repo.git"),
    ],
)
def test_each_kind_is_replaced_by_kind_and_fingerprint(kind, secret, text):
    out = redact_text(text)
    assert secret not in out
    assert f"<{kind}:{fp(secret)}>" in out


def test_plain_text_paths_and_commit_shas_are_kept():
    for text in (
        "/home/user/projects/forensics/notebooks/x",
        "0123456789abcdef0123456789abcdef01234567",
        "ok",
    ):
        assert redact_text(text) == text
    assert redact_text(None) is None


def test_kubernetes_secret_data_is_redacted_in_values_and_json_text():
    b64 = base64.b64encode(GHP.encode()).decode()
    doc = {"kind": "Secret", "data": {"token": b64, "other": "aGVsbG8="}, "stringData": {"pw": "hunter2"}}
    for out in (json.dumps(redact_value(doc)), redact_text(json.dumps(doc))):
        assert b64 not in out and "aGVsbG8=" not in out and "hunter2" not in out
        assert f"<kubernetes_secret:{fp(b64)}>" in out


def test_nested_value_redacts_every_string():
    out = redact_value({"a": [GHP, {"b": f"x {JWT}"}], "n": 3})
    assert GHP not in json.dumps(out) and JWT not in json.dumps(out) and out["n"] == 3


def test_frame_redacts_string_and_list_columns_and_keeps_others():
    df = pl.DataFrame({"s": [f"u {GHP}", "plain", None], "l": [[SLACK, "x"], ["y"], None], "n": [1, 2, 3]})
    out = redact_frame(df)
    dumped = json.dumps(out.rows())
    assert GHP not in dumped and SLACK not in dumped
    assert out["s"].to_list()[1:] == ["plain", None]
    assert out["n"].to_list() == [1, 2, 3]
    assert out["l"].to_list()[0] == [f"<slack_token:{fp(SLACK)}>", "x"]
