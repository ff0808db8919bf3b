"""Issue 23: a report run's in-toto statement, its signatures and ``forensics verify-report``.

These tests build the outputs of a run by hand (no kernel); tests/test_report_runs.py runs real
notebooks."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

import forensics
from forensics import attest
from forensics.cli import main

PARAMS = {"case_path": "c.duckdb", "start": "2026-03-14T08:00:00Z", "out_dir": "/out"}


def _case(path, lines):
    src = path.parent / f"{path.stem}-evidence.jsonl"
    src.write_text("".join(json.dumps({"time": t, "action": a}) + "\n" for t, a in lines))
    with forensics.open_case(path) as c:
        c.ingest([src])
    return src


@pytest.fixture
def run(tmp_path):
    """A folder as a run leaves it: notebook, HTML, CSV and the statement; and its case."""
    case = tmp_path / "case.duckdb"
    src = _case(case, [("2026-03-14T09:00:00Z", "login"), ("2026-03-14T09:05:00Z", "CreateAccessKey")])
    out = tmp_path / "out"
    out.mkdir()
    nb = {"cells": [], "metadata": {"papermill": {"parameters": PARAMS}}, "nbformat": 4, "nbformat_minor": 5}
    (out / "r.ipynb").write_text(json.dumps(nb))
    (out / "r.html").write_text("<html>report</html>\n")
    (out / "r-checklist.csv").write_text("a,b\n1,2\n")
    return case, src, out


def _statement(run):
    case, _, out = run
    return attest.build_statement(
        out,
        report="r",
        case_path=str(case),
        notebook_sha256="ab" * 32,
        parameters=PARAMS,
        started=datetime(2026, 12, 1, tzinfo=UTC),
        ended=datetime(2026, 12, 1, 0, 1, tzinfo=UTC),
    )


def _write(run, signer=None):
    out = run[2]
    kind = attest.write_statement(out / "r.intoto.json", _statement(run), signer=signer, sigstore=False)
    return out / "r.intoto.json", kind


def _fails(checks):
    return {c.name: c.detail for c in checks if not c.ok}


def test_statement_records_subjects_case_evidence_and_environment(run):
    case, src, out = run
    path, kind = _write(run)
    st = json.loads(path.read_bytes())
    assert kind == "unsigned" and st["_type"] == "https://in-toto.io/Statement/v1"
    assert st["predicateType"] == attest.PREDICATE_TYPE
    want = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in out.iterdir() if p.name != path.name}
    assert {s["name"]: s["digest"]["sha256"] for s in st["subject"]} == want
    pred = st["predicate"]
    assert pred["case"]["sha256"] == hashlib.sha256(case.read_bytes()).hexdigest()
    assert pred["case"]["schema"]["files"] and len(pred["case"]["schema"]["sha256"]) == 64
    assert pred["evidence"] == [
        {
            "path": str(src),
            "sha256": hashlib.sha256(src.read_bytes()).hexdigest(),
            "size": src.stat().st_size,
            "loader": pred["evidence"][0]["loader"],
        }
    ]
    assert pred["parameters"] == PARAMS and pred["notebook"]["sha256"] == "ab" * 32
    names = {d["name"] for d in pred["dependencies"]}
    assert {"duckdb", "polars", "papermill", "cryptography"} <= names
    assert pred["kit"]["version"] == forensics.__version__
    assert pred["run"] == {
        "startedOn": "2026-12-01T00:00:00.000000Z",
        "finishedOn": "2026-12-01T00:01:00.000000Z",
    }
    assert pred["signing"]["signed"] is False and "no --sign-key" in pred["signing"]["reason"]
    assert isinstance(pred["findings"], list)


def test_clean_run_verifies_from_any_output(run, capsys):
    case, _, out = run
    _write(run)
    for name in ("r.html", "r-checklist.csv", "r.intoto.json"):
        assert main(["verify-report", str(out / name), "--case", str(case)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1].startswith("verified:") and not any(line.startswith("FAIL") for line in lines)


@pytest.mark.parametrize("name", ["r.html", "r-checklist.csv", "r.ipynb"])
def test_one_changed_byte_in_any_output_fails(run, capsys, name):
    case, _, out = run
    _write(run)
    p = out / name
    data = bytearray(p.read_bytes())
    data[-2] ^= 1
    p.write_bytes(bytes(data))
    assert main(["verify-report", str(out / "r.html")]) == 1
    out_text = capsys.readouterr().out
    assert f"FAIL subject {name}: sha256" in out_text and "but the statement records" in out_text
    assert out_text.splitlines()[-1].startswith("NOT VERIFIED")


def test_a_changed_parameter_in_the_statement_fails(run):
    path, _ = _write(run)
    st = json.loads(path.read_bytes())
    st["predicate"]["parameters"]["start"] = "2026-03-14T09:30:00Z"
    path.write_text(json.dumps(st))
    fails = _fails(attest.verify(run[2] / "r.html"))
    assert list(fails) == ["parameters"] and "start" in fails["parameters"]


def test_a_swapped_evidence_file_fails(run, tmp_path):
    case, src, _ = run
    _write(run)
    other = tmp_path / "case2.duckdb"
    _case(other, [("2026-03-14T09:00:00Z", "login"), ("2026-03-14T09:05:00Z", "DeleteAccessKey")])
    fails = _fails(attest.verify(run[2] / "r.html", case=other))
    assert "case evidence" in fails and "recorded but not in the case" in fails["case evidence"]
    assert str(src) in fails["case evidence"] and "case file" not in fails  # said, evidence decides


def test_a_different_case_fails_and_a_grown_case_too(run, tmp_path):
    case, _, out = run
    _write(run)
    assert not _fails(attest.verify(out / "r.html", case=case))
    extra = tmp_path / "more.jsonl"
    extra.write_text(json.dumps({"time": "2026-03-14T10:00:00Z", "action": "x"}) + "\n")
    with forensics.open_case(case) as c:
        c.ingest([extra])
    fails = _fails(attest.verify(out / "r.html", case=case))
    assert "in the case but not recorded: " + str(extra) in fails["case evidence"]


def _pem(key):
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _pub(key):
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.mark.parametrize(
    "make", [ed25519.Ed25519PrivateKey.generate, lambda: ec.generate_private_key(ec.SECP256R1())]
)
def test_signed_statement_verifies_with_its_key_only(run, tmp_path, capsys, make):
    key, other = make(), make()
    (tmp_path / "k.pem").write_bytes(_pem(key))
    (tmp_path / "k.pub").write_bytes(_pub(key))
    (tmp_path / "o.pub").write_bytes(_pub(other))
    path, kind = _write(run, signer=attest.load_signer(tmp_path / "k.pem"))
    env = json.loads(path.read_bytes())
    assert kind == "key" and env["payloadType"] == "application/vnd.in-toto+json"
    st = json.loads(base64.b64decode(env["payload"]))
    assert st["predicate"]["signing"]["signed"] is True
    html = str(run[2] / "r.html")
    assert main(["verify-report", html, "--key", str(tmp_path / "k.pub")]) == 0
    assert main(["verify-report", html, "--key", str(tmp_path / "o.pub")]) == 1
    assert "FAIL signature: no signature verifies" in capsys.readouterr().out
    assert main(["verify-report", html]) == 1  # signed, but nothing to check it with: not a pass
    assert "pass --key PUB" in capsys.readouterr().out
    # the payload changed after signing (a parameter): the signature no longer verifies
    st["predicate"]["parameters"]["start"] = "2026-03-14T09:30:00Z"
    env["payload"] = base64.b64encode(attest.canonical(st)).decode()
    path.write_text(json.dumps(env))
    assert main(["verify-report", html, "--key", str(tmp_path / "k.pub")]) == 1


def test_unsigned_statement_fails_when_a_key_is_expected(run, tmp_path):
    key = ed25519.Ed25519PrivateKey.generate()
    (tmp_path / "k.pub").write_bytes(_pub(key))
    _write(run)
    fails = _fails(attest.verify(run[2] / "r.html", key=tmp_path / "k.pub"))
    assert "statement is unsigned" in fails["signature"]


def test_a_statement_that_claims_a_signature_it_lacks_fails(run):
    path, _ = _write(run)
    st = json.loads(path.read_bytes())
    st["predicate"]["signing"] = {"signed": True, "method": "dsse-key"}
    path.write_text(json.dumps(st))
    assert "signature" in _fails(attest.verify(run[2] / "r.html"))


def test_a_file_that_is_no_subject_is_refused(run):
    _write(run)
    (run[2] / "x.html").write_text("other")
    with pytest.raises(attest.BadStatement, match="no statement beside"):
        attest.verify(run[2] / "x.html")


def test_bad_sign_key_is_one_line_error(tmp_path):
    (tmp_path / "k.pem").write_text("not a key")
    with pytest.raises(attest.BadStatement, match="not a usable PEM private key"):
        attest.load_signer(tmp_path / "k.pem")


def test_keyless_signing_that_fails_leaves_the_statement_unsigned_with_the_reason(run, monkeypatch):
    import sigstore.oidc

    monkeypatch.setattr(sigstore.oidc, "detect_credential", lambda *a, **k: "not-a-jwt")
    out = run[2]
    st = _statement(run)
    assert attest.write_statement(out / "r.intoto.json", st, sigstore=True) == "unsigned"
    signing = json.loads((out / "r.intoto.json").read_bytes())["predicate"]["signing"]
    assert signing["signed"] is False and signing["reason"].startswith("sigstore signing failed")
    assert not _fails(attest.verify(out / "r.html"))


def test_no_ambient_identity_means_unsigned(run, monkeypatch):
    import sigstore.oidc

    monkeypatch.setattr(sigstore.oidc, "detect_credential", lambda *a, **k: None)
    path, kind = _write(run)
    assert kind == "unsigned"
    assert attest._ambient_identity() == (None, "no --sign-key and no ambient OIDC identity")
