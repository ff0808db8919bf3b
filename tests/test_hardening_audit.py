"""Issue 16 bullets the audit found without a test of their own: a duplicate key inside a signed
statement, a duplicate key anywhere in a bundle, every tamper of a valid v0.3 bundle, hostile file
names printed by ``ingest``, notebook names given to ``forensics run`` as paths, formula cells in
``timeline --format csv``."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import re

import pytest

import forensics
from forensics import verify
from forensics.cli import main
from forensics.sample.writers import provenance as W

REPO = "acme-pay/api"
DIGEST = "ab" * 32
EVIL = "ee" * 32
BUNDLE = "reusable-workflow-attestation.sigstore.json"
GITHUB = "https://token.actions.githubusercontent.com"


def _statement(digest: str) -> dict:
    return {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "registry/api", "digest": {"sha256": digest}}],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {
            "buildDefinition": {
                "buildType": W.BUILD_TYPE,
                "externalParameters": {
                    "workflow": {
                        "repository": f"https://github.com/{REPO}",
                        "ref": "refs/tags/v1",
                        "path": "r.yml",
                    }
                },
            },
            "runDetails": {"builder": {"id": W.BUILDER_ID}},
        },
    }


def _signed_envelope(payload: bytes) -> dict:
    """A DSSE envelope over ``payload`` exactly as given, signed with the sample's TEST key."""
    t = b"application/vnd.in-toto+json"
    pae = b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)
    sig = W._private_key().sign(pae)
    return {
        "payloadType": t.decode(),
        "payload": base64.b64encode(payload).decode(),
        "signatures": [{"keyid": W.test_trust_key()["keyid"], "sig": base64.b64encode(sig).decode()}],
    }


def _keyed_verdict(tmp_path, payload: bytes) -> tuple[str, str, str | None]:
    (tmp_path / "ev").mkdir()
    (tmp_path / "ev" / "att.intoto.jsonl").write_text(json.dumps(_signed_envelope(payload)) + "\n")
    policy = {
        "repositories": {REPO: {"builder_id": W.BUILDER_ID}},
        "keys": [W.test_trust_key() | {"repositories": [REPO]}],
    }
    with forensics.open_case(tmp_path / "c.duckdb") as c:
        c.ingest([tmp_path / "ev"])
        verify.verify_case(c, policy)
        return c.sql(
            "SELECT any_value(verdict), any_value(verdict_reason), any_value(subject_digest) FROM attestations"
        ).row(0)


def test_a_signed_statement_verifies_by_its_key(tmp_path):
    verdict, reason, subject = _keyed_verdict(tmp_path, json.dumps(_statement(DIGEST)).encode())
    assert verdict == "verified", reason
    assert subject == f"sha256:{DIGEST}"


def test_a_signed_statement_that_repeats_a_key_is_failed(tmp_path):
    """The signer's own bytes name two subjects under one key: DuckDB reads the first, Python the last."""
    body = json.dumps(_statement(DIGEST))
    payload = (
        json.dumps({"subject": [{"name": "registry/api", "digest": {"sha256": EVIL}}]})[:-1] + ", " + body[1:]
    ).encode()
    verdict, reason, _ = _keyed_verdict(tmp_path, payload)
    assert verdict == "failed" and "duplicate" in reason, reason


@pytest.fixture
def bundle(shared_data) -> dict:
    return json.loads((shared_data / "provenance" / BUNDLE).read_text())


def _bundle_verdict(tmp_path, text: str) -> tuple[str, str]:
    (tmp_path / "ev").mkdir(exist_ok=True)
    (tmp_path / "ev" / BUNDLE).write_text(text)
    with forensics.open_case(tmp_path / "c.duckdb") as c:
        c.ingest([tmp_path / "ev"])
        ids = c.sql(
            "SELECT DISTINCT cert_repository AS r, signer_san AS s FROM attestations WHERE s IS NOT NULL"
        )
        policy = {"issuer": GITHUB, "repositories": {r: {"identity": s} for r, s in ids.rows() if r}}
        verify.verify_case(c, policy or {"issuer": GITHUB})
        return c.sql("SELECT any_value(verdict), any_value(verdict_reason) FROM attestations").row(0)


def test_the_untouched_bundle_verifies(bundle, tmp_path):
    assert _bundle_verdict(tmp_path, json.dumps(bundle))[0] == "verified"


@pytest.mark.parametrize("where", ["top", "verificationMaterial", "tlogEntry"])
def test_a_duplicate_key_anywhere_in_a_bundle_is_failed(bundle, tmp_path, where):
    """A key repeated with another value (DuckDB reads the first, Python the last) fails the bundle."""
    text = json.dumps(bundle)
    if where == "top":
        forged = text[:-1] + ', "mediaType": "application/vnd.dev.sigstore.bundle+json;version=0.1"}'
    else:
        anchor = {"verificationMaterial": '"verificationMaterial": {', "tlogEntry": '"tlogEntries": [{'}[
            where
        ]
        dup = {
            "verificationMaterial": '"certificate": {"rawBytes": "AA=="}, ',
            "tlogEntry": '"logIndex": "1", ',
        }
        at = text.index(anchor) + len(anchor)
        forged = text[:at] + dup[where] + text[at:]
    verdict, reason = _bundle_verdict(tmp_path, forged)
    assert verdict == "failed" and "duplicate" in reason, reason


def _flip(b64: str) -> str:
    raw = bytearray(base64.b64decode(b64))
    raw[len(raw) // 2] ^= 1
    return base64.b64encode(bytes(raw)).decode()


def _tamper(b: dict, what: str) -> dict:
    b = json.loads(json.dumps(b))
    entry = b["verificationMaterial"]["tlogEntries"][0]
    env = b["dsseEnvelope"]
    if what == "signature":
        env["signatures"][0]["sig"] = _flip(env["signatures"][0]["sig"])
    elif what == "payload":
        stmt = json.loads(base64.b64decode(env["payload"]))
        stmt["subject"][0]["digest"]["sha256"] = EVIL
        env["payload"] = base64.b64encode(json.dumps(stmt).encode()).decode()
    elif what == "payload_type":
        env["payloadType"] = "application/json"
    elif what == "certificate":
        cert = b["verificationMaterial"]["certificate"]
        cert["rawBytes"] = _flip(cert["rawBytes"])
    elif what == "integrated_time":
        entry["integratedTime"] = str(int(entry["integratedTime"]) + 3600)
    elif what == "log_index":
        entry["logIndex"] = str(int(entry["logIndex"]) + 1)
    elif what == "root_hash":
        entry["inclusionProof"]["rootHash"] = _flip(entry["inclusionProof"]["rootHash"])
    elif what == "set":
        entry["inclusionPromise"]["signedEntryTimestamp"] = _flip(
            entry["inclusionPromise"]["signedEntryTimestamp"]
        )
    elif what == "body":
        body = json.loads(base64.b64decode(entry["canonicalizedBody"]))
        body["spec"]["content"] = body["spec"].get("content", {}) | {"payloadHash": {"algorithm": "sha256",
                                  "value": hashlib.sha256(b"x").hexdigest()}}  # fmt: skip
        entry["canonicalizedBody"] = base64.b64encode(json.dumps(body).encode()).decode()
    elif what == "kind":
        entry["kindVersion"]["kind"] = "hashedrekord"
    return b


@pytest.mark.parametrize(
    "what",
    ["signature", "payload", "payload_type", "certificate", "integrated_time", "log_index", "root_hash", "set",
     "body", "kind"],
)  # fmt: skip
def test_every_tamper_of_a_valid_bundle_is_failed(bundle, tmp_path, what):
    verdict, reason = _bundle_verdict(tmp_path, json.dumps(_tamper(bundle, what)))
    assert verdict == "failed", (what, reason)


def test_ingest_prints_hostile_file_names_escaped(tmp_path, capsys):
    ev = tmp_path / "ev"
    ev.mkdir()
    (ev / "a\x1b[31mred\x07\u202eevil.jsonl").write_text('{"time": "2026-03-14T09:00:00Z", "id": 1}\n')
    assert main(["ingest", str(ev), "--case", str(tmp_path / "c.duckdb")]) == 0
    out = capsys.readouterr()
    text = out.out + out.err
    assert "red" in text
    assert not any(ch in text for ch in "\x1b\x07\u202e")


@pytest.mark.parametrize("name", ["../notebooks/incident_reconstruction", "/tmp/incident_reconstruction"])
def test_forensics_run_refuses_a_notebook_path(tmp_path, capsys, name):
    from forensics.report import notebooks_dir

    before = {p.name: p.read_bytes() for p in notebooks_dir().glob("*.ipynb")}
    case = tmp_path / "c.duckdb"
    forensics.open_case(case).close()
    assert main(["run", name, "--case", str(case), "--out", str(tmp_path / "reports")]) == 2
    assert "unknown notebook" in capsys.readouterr().err.lower()
    assert {p.name: p.read_bytes() for p in notebooks_dir().glob("*.ipynb")} == before
    assert not (tmp_path / "reports").exists() or not any((tmp_path / "reports").iterdir())


def test_timeline_csv_neutralises_formula_cells(tmp_path, capsys):
    ev = tmp_path / "ev.jsonl"
    hostile = ['=HYPERLINK("http://evil")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]
    ev.write_text("".join(json.dumps({"time": f"2026-03-14T09:00:0{i}Z", "actor": a}) + "\n"
                          for i, a in enumerate(hostile)))  # fmt: skip
    case = tmp_path / "c.duckdb"
    assert main(["ingest", str(ev), "--case", str(case)]) == 0
    capsys.readouterr()
    assert main(["timeline", "--case", str(case), "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    actors = [r["actor"] for r in rows]
    assert len(actors) == len(hostile)
    assert all(a.startswith("'") for a in actors), actors


def _rule_verdict(bundle: dict, tmp_path, rules_of) -> tuple[str, str]:
    (tmp_path / "ev").mkdir(exist_ok=True)
    (tmp_path / "ev" / BUNDLE).write_text(json.dumps(bundle))
    with forensics.open_case(tmp_path / "c.duckdb") as c:
        c.ingest([tmp_path / "ev"])
        repo, san = c.sql(
            "SELECT cert_repository, signer_san FROM attestations WHERE signer_san IS NOT NULL"
        ).row(0)
        verify.verify_case(c, {"issuer": GITHUB, "repositories": {repo: rules_of(repo, san)}})
        return c.sql("SELECT any_value(verdict), any_value(verdict_reason) FROM attestations").row(0)


@pytest.mark.parametrize(
    "rule",
    [
        {"issuer": "https://accounts.google.com"},
        {"identity": "https://github.com/other/repo/.github/workflows/x.yml@refs/heads/main"},
        {"identity_prefix": "https://github.com/other/"},
        {"identity_regex": "^https://github\\.com/other/.*$"},
        {"ref": "refs/heads/not-the-ref"},
        {"workflow": ".github/workflows/not-the-workflow.yml"},
        {"builder_id": "https://example.com/not-the-builder"},
    ],
)
def test_each_rule_the_certificate_does_not_meet_fails(bundle, tmp_path, rule):
    verdict, reason = _rule_verdict(bundle, tmp_path, lambda repo, san: rule)
    assert verdict == "failed", (rule, reason)


def test_an_identity_prefix_and_regex_the_certificate_meets_verify(bundle, tmp_path):
    def rules(repo: str, san: str) -> dict:
        prefix = (
            "/".join(san.split("/")[:5]) + "/"
        )  # https://github.com/<owner>/<repo>/ of the signing workflow
        return {"identity_prefix": prefix, "identity_regex": "^" + re.escape(prefix) + ".*$"}

    verdict, reason = _rule_verdict(bundle, tmp_path, rules)
    assert verdict == "verified", reason
