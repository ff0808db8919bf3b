"""Certificates, signatures and the encodings the verification steps share (no policy here)."""

from __future__ import annotations

import base64

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from forensics.verified import loads as strict_loads
from forensics.verify.model import _OID, _V1, _V2


def _ext_text(cert: x509.Certificate, n: int, der: bool) -> str | None:
    try:
        raw = cert.extensions.get_extension_for_oid(x509.ObjectIdentifier(_OID + str(n))).value.value
    except x509.ExtensionNotFound:
        return None
    if der and raw[:1] == b"\x0c":  # DER UTF8String
        length, i = raw[1], 2
        if length & 0x80:
            k = length & 0x7F
            length, i = int.from_bytes(raw[2 : 2 + k], "big"), 2 + k
        raw = raw[i : i + length]
    return raw.decode("utf-8", errors="replace")


def certificate_identity(cert: x509.Certificate) -> dict:
    """Signer identity from a Fulcio certificate: SAN, issuer and the GitHub/OIDC extensions."""
    san = None
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = ext.get_values_for_type(x509.UniformResourceIdentifier) + ext.get_values_for_type(
            x509.RFC822Name
        )
        san = names[0] if names else None
    except x509.ExtensionNotFound:
        pass
    v2 = {k: _ext_text(cert, n, True) for k, n in _V2.items()}
    v1 = {k: _ext_text(cert, n, False) for k, n in _V1.items()}
    repo_uri = v2["source_repository_uri"]
    repo = v1["repository"] or (repo_uri.removeprefix("https://github.com/") if repo_uri else None)
    return {
        "signer_san": san,
        "signer_issuer": v2["issuer"] or v1["issuer"],
        "cert_repository": repo,
        "cert_workflow_ref": v2["ref"] or v1["ref"],
        "cert_sha": v2["sha"] or v1["sha"],
        "cert_trigger": v2["trigger"] or v1["trigger"],
        "cert_runner_environment": v2["runner_environment"],
        "cert_not_before": cert.not_valid_before_utc,
        "cert_not_after": cert.not_valid_after_utc,
    }


def _record_certificate(record: dict) -> x509.Certificate | None:
    vm = record.get("verificationMaterial") or {}
    raw = (vm.get("certificate") or {}).get("rawBytes")
    if not raw:
        chain = (vm.get("x509CertificateChain") or {}).get("certificates") or []
        raw = chain[0].get("rawBytes") if chain else None
    try:
        if raw:
            return x509.load_der_x509_certificate(base64.b64decode(raw))
        env = record.get("envelope") or record
        sigs = env.get("signatures") or []
        pem = sigs[0].get("cert") if sigs and isinstance(sigs[0], dict) else None
        if pem:
            return x509.load_pem_x509_certificate(pem.encode())
    except (ValueError, TypeError):
        return None
    return None


# --------------------------------------------------------------------------------------------
# the verifier


class _AcceptChain:
    """A sigstore VerificationPolicy that accepts any identity: the kit checks identity itself
    (``_identity_problem``) so that it can tell a broken signature from an unexpected signer."""

    def verify(self, cert) -> None:
        return None


def _pae(payload_type: str, payload: bytes) -> bytes:
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def _b64_either(text: str) -> bytes:
    """Standard or URL-safe base64 (Cloud Build writes URL-safe signatures)."""
    text = text.strip()
    padded = text + "=" * (-len(text) % 4)
    if "-" in text or "_" in text:
        return base64.urlsafe_b64decode(padded)
    return base64.b64decode(padded, validate=True)


def _allowed(value) -> list:
    return [value] if isinstance(value, str) else list(value)


def _san_workflow(san: str, repo: str) -> str | None:
    """The workflow file a GitHub Actions SAN names: ``https://github.com/<repo>/<path>@<ref>``."""
    head = f"https://github.com/{repo}/"
    if not repo or not san.lower().startswith(head):
        return None
    return san[len(head) :].split("@", 1)[0]


def _log_entry_changed(record: dict) -> str | None:
    """Why a bundle's log entry disagrees with its own signed body (kind and version), if it does:
    a changed entry is tampering, not an unsupported type."""
    for entry in (record.get("verificationMaterial") or {}).get("tlogEntries") or []:
        kv = entry.get("kindVersion") or {}
        raw = entry.get("canonicalizedBody")
        if not raw:
            continue
        try:
            body = strict_loads(base64.b64decode(raw, validate=True))
        except (ValueError, TypeError) as e:
            return f"log entry body cannot be read ({type(e).__name__}: {e}): the entry was changed"
        if not isinstance(body, dict):
            return "log entry body is not a JSON object: the entry was changed"
        if (body.get("kind"), body.get("apiVersion")) != (kv.get("kind"), kv.get("version")):
            return (
                f"log entry kindVersion {kv.get('kind')}/{kv.get('version')} differs from its signed body's "
                f"{body.get('kind')}/{body.get('apiVersion')}: the entry was changed"
            )
    return None


def _verify_with_key(pem: str, sig: bytes, message: bytes) -> None:
    key = serialization.load_pem_public_key(pem.encode())
    if isinstance(key, ed25519.Ed25519PublicKey):
        key.verify(sig, message)
    elif isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(sig, message, ec.ECDSA(hashes.SHA256()))
    elif isinstance(key, rsa.RSAPublicKey):
        key.verify(
            sig, message, padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.AUTO), hashes.SHA256()
        )
    else:
        raise ValueError(f"unsupported key type {type(key).__name__}")
