"""Sigstore bundles v0.1 proven by a signed entry timestamp only (issue 16, part 7): verified offline
on the kit's own path (``kit-set-v0.1``) where the trust root allows it, and every tamper fails."""

from __future__ import annotations

import base64
import copy
import json

import pytest
from cryptography import x509

import forensics
from forensics import verify

PY = "Python-3.12.5.tgz.sigstore"
NPM = "sigstore-go__bundle-provenance.json"
PUBLISH = "sigstore-go__bundle-publish.json"
DSSE = "sigstore-go__dsse.sigstore.json"
GITHUB = "https://token.actions.githubusercontent.com"


def _load(shared_data, name: str) -> dict:
    return json.loads((shared_data / "provenance" / name).read_text())


def _cert(bundle: dict) -> x509.Certificate:
    raw = bundle["verificationMaterial"]["x509CertificateChain"]["certificates"][0]["rawBytes"]
    return x509.load_der_x509_certificate(base64.b64decode(raw))


def _san_and_issuer(bundle: dict) -> tuple[str, str]:
    cert = _cert(bundle)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    names = [str(v) for v in san.get_values_for_type(x509.RFC822Name)] or [
        str(v) for v in san.get_values_for_type(x509.UniformResourceIdentifier)
    ]
    issuer = cert.extensions.get_extension_for_oid(x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.1")).value
    return names[0], issuer.value.decode()


def _verdict(tmp_path, name: str, bundle: dict, policy: dict) -> tuple[str, str, str]:
    d = tmp_path / name.replace(".", "_")
    d.mkdir(parents=True)
    (d / name).write_text(json.dumps(bundle))
    case = forensics.open_case(d / "c.duckdb")
    try:
        case.ingest([d / name])
        verify.verify_case(case, policy)
        row = case.sql("SELECT verdict, verdict_reason, verification_path FROM attestations").row(0)
    finally:
        case.close()
    return row


def _digest_hex(bundle: dict) -> str:
    return base64.b64decode(bundle["messageSignature"]["messageDigest"]["digest"]).hex()


def test_message_signature_v01_verifies_by_its_set(shared_data, tmp_path):
    b = _load(shared_data, PY)
    san, issuer = _san_and_issuer(b)
    policy = {
        "signers": {san: {"issuer": issuer}},
        "artifacts": {"Python-3.12.5.tgz": {"sha256": _digest_hex(b)}},
    }
    verdict, reason, path = _verdict(tmp_path, PY, b, policy)
    assert (verdict, path) == ("verified", "kit-set-v0.1"), reason
    assert "signed entry timestamp" in reason


def test_without_a_known_artifact_or_signer_it_stays_indeterminate(shared_data, tmp_path):
    b = _load(shared_data, PY)
    san, issuer = _san_and_issuer(b)
    assert _verdict(tmp_path, PY, b, {"signers": {san: {"issuer": issuer}}})[0] == "indeterminate"
    v = _verdict(tmp_path / "x", PY, b, {"artifacts": {"Python-3.12.5.tgz": {"sha256": _digest_hex(b)}}})
    assert v[0] == "indeterminate" and "policy names no expected identity" in v[1]


def test_wrong_issuer_for_a_signer_fails(shared_data, tmp_path):
    b = _load(shared_data, PY)
    san, _ = _san_and_issuer(b)
    policy = {
        "signers": {san: {"issuer": "https://accounts.example.com"}},
        "artifacts": {"Python-3.12.5.tgz": {"sha256": _digest_hex(b)}},
    }
    assert _verdict(tmp_path, PY, b, policy)[0] == "failed"


def test_npm_provenance_v01_dsse_verifies_by_its_set(shared_data, tmp_path):
    b = _load(shared_data, NPM)
    san, issuer = _san_and_issuer(b)
    repo = san.removeprefix("https://github.com/").split("/.github/")[0]
    policy = {"issuer": GITHUB, "repositories": {repo: {"identity": san}}}
    assert issuer == GITHUB
    verdict, reason, path = _verdict(tmp_path, NPM, b, policy)
    assert (verdict, path) == ("verified", "kit-set-v0.1"), reason


def _tampers(b: dict) -> dict[str, dict]:
    out = {}
    t = copy.deepcopy(b)
    entry = t["verificationMaterial"]["tlogEntries"][0]
    entry["integratedTime"] = str(int(entry["integratedTime"]) + 1)
    out["integrated time"] = t
    t = copy.deepcopy(b)
    entry = t["verificationMaterial"]["tlogEntries"][0]
    entry["logIndex"] = str(int(entry["logIndex"]) + 1)
    out["log index"] = t
    t = copy.deepcopy(b)
    payload = bytearray(base64.b64decode(t["dsseEnvelope"]["payload"]))
    payload[-2] ^= 1
    t["dsseEnvelope"]["payload"] = base64.b64encode(bytes(payload)).decode()
    out["payload byte"] = t
    t = copy.deepcopy(b)
    sig = bytearray(base64.b64decode(t["dsseEnvelope"]["signatures"][0]["sig"]))
    sig[10] ^= 1
    t["dsseEnvelope"]["signatures"][0]["sig"] = base64.b64encode(bytes(sig)).decode()
    out["signature byte"] = t
    t = copy.deepcopy(b)
    set_ = bytearray(
        base64.b64decode(
            t["verificationMaterial"]["tlogEntries"][0]["inclusionPromise"]["signedEntryTimestamp"]
        )
    )
    set_[12] ^= 1
    t["verificationMaterial"]["tlogEntries"][0]["inclusionPromise"]["signedEntryTimestamp"] = (
        base64.b64encode(bytes(set_)).decode()
    )
    out["SET byte"] = t
    return out


@pytest.mark.parametrize(
    "what", ["integrated time", "log index", "payload byte", "signature byte", "SET byte"]
)
def test_every_tamper_of_a_v01_bundle_fails(shared_data, tmp_path, what):
    b = _load(shared_data, NPM)
    san, _ = _san_and_issuer(b)
    repo = san.removeprefix("https://github.com/").split("/.github/")[0]
    policy = {"issuer": GITHUB, "repositories": {repo: {"identity": san}}}
    verdict, reason, _ = _verdict(tmp_path, NPM, _tampers(b)[what], policy)
    assert verdict == "failed", (what, reason)


def test_a_certificate_from_another_bundle_fails(shared_data, tmp_path):
    b = _load(shared_data, NPM)
    other = _load(shared_data, DSSE)
    san, _ = _san_and_issuer(b)
    repo = san.removeprefix("https://github.com/").split("/.github/")[0]
    t = copy.deepcopy(b)
    t["verificationMaterial"]["x509CertificateChain"] = other["verificationMaterial"]["x509CertificateChain"]
    verdict, reason, _ = _verdict(
        tmp_path, NPM, t, {"issuer": GITHUB, "repositories": {repo: {"identity": san}}}
    )
    assert verdict == "failed", reason


def _body_key_pem(b: dict) -> str:
    body = json.loads(base64.b64decode(b["verificationMaterial"]["tlogEntries"][0]["canonicalizedBody"]))
    return base64.b64decode(body["spec"]["content"]["envelope"]["signatures"][0]["publicKey"]).decode()


def test_keyed_v01_entry_needs_the_policy_key(shared_data, tmp_path):
    b = _load(shared_data, PUBLISH)
    hint = b["verificationMaterial"]["publicKey"]["hint"]
    v = _verdict(tmp_path, PUBLISH, b, {})
    assert v[0] == "indeterminate" and hint in v[1]
    policy = {"keys": [{"keyid": hint, "public_key_pem": _body_key_pem(b), "label": "npm registry key"}]}
    v = _verdict(tmp_path / "k", PUBLISH, b, policy)
    assert v[0] != "failed" and "signature by npm registry key verifies" in v[1], v


def test_keyed_v01_entry_with_another_key_fails(shared_data, tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    b = _load(shared_data, PUBLISH)
    hint = b["verificationMaterial"]["publicKey"]["hint"]
    pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    v = _verdict(tmp_path, PUBLISH, b, {"keys": [{"keyid": hint, "public_key_pem": pem}]})
    assert v[0] == "failed" and "differs from the policy's key" in v[1], v
