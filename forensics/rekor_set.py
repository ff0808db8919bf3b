"""Offline checks of Sigstore bundles v0.1 that prove their log entry with a signed entry timestamp only.

A bundle v0.1 (``application/vnd.dev.sigstore.bundle+json;version=0.1``) may carry, for its Rekor entry,
an inclusion promise (the Signed Entry Timestamp, SET: Rekor's signature over the entry's body,
integrated time, log id and index) without an inclusion proof, or with a proof that has no signed
checkpoint. npm's first provenance bundles and CPython's release signatures are such bundles.
sigstore-python 4.5.1 refuses them ("entry must contain inclusion proof, with checkpoint"); sigstore-js
and sigstore-go verify them offline by the SET. The kit does the same with sigstore-python's building
blocks (why not sigstore-python itself: it will not load these bundles):

1. the SET verifies with a Rekor key of the trust root, over the RFC 8785 canonical form of
   ``{body, integratedTime, logID, logIndex}`` (what Rekor signed);
2. the signed body's kind and version are the bundle's (a changed entry fails);
3. the signing certificate chains to a Fulcio root valid at the integrated time, its SCT verifies, it is
   a code-signing certificate valid at that time (the integrated time is the SET's, so it is signed);
4. the signature verifies with the certificate's key (the DSSE pre-authentication encoding, or the
   artifact digest of a message signature), and the signed body names the same signature, certificate
   and payload digest as the bundle.

What a SET does not prove offline: that the entry is in the log's Merkle tree (an inclusion proof with
a checkpoint would). A verdict on this path names it ``kit-set-v0.1`` so a reader can tell.
Keyed entries (a ``publicKey`` hint instead of a certificate, as npm's registry signs publish
attestations) verify against a key the policy lists; otherwise they stay indeterminate.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

from forensics.verified import loads as strict_loads

PATH = "kit-set-v0.1"
BUNDLE_V01 = "application/vnd.dev.sigstore.bundle+json;version=0.1"
#: The Rekor entry kinds this path checks.
KINDS = ("intoto/0.0.2", "hashedrekord/0.0.1")


class SetCheckFailed(Exception):
    """A check on the SET path did not pass; the message says which."""


class SetUnsupported(Exception):
    """The bundle is not one this path can check completely; the message says why."""


@dataclass
class SetEntry:
    """A log entry whose SET verified, with what the rest of the checks need."""

    kind_version: str
    integrated_time: datetime
    body: dict[str, Any]
    certificate: x509.Certificate | None
    key_hint: str | None


def applies(record: dict[str, Any]) -> bool:
    """A v0.1 bundle whose one log entry has a SET but no inclusion proof with a checkpoint."""
    if record.get("mediaType") != BUNDLE_V01:
        return False
    entries = (record.get("verificationMaterial") or {}).get("tlogEntries") or []
    if len(entries) != 1 or not isinstance(entries[0], dict):
        return False
    entry = entries[0]
    proof = entry.get("inclusionProof") or {}
    has_set = bool((entry.get("inclusionPromise") or {}).get("signedEntryTimestamp"))
    return has_set and not (isinstance(proof, dict) and proof.get("checkpoint"))


def _b64(value: Any, what: str) -> bytes:
    if not isinstance(value, str) or not value:
        raise SetCheckFailed(f"{what} is missing")
    try:
        return base64.b64decode(value, validate=True)
    except ValueError as e:
        raise SetCheckFailed(f"{what} is not base64: {e}") from None


def _int(value: Any, what: str) -> int:
    try:
        return int(str(value))
    except ValueError:
        raise SetCheckFailed(f"{what} {value!r} is not an integer") from None


def check_set(trusted_root: Any, record: dict[str, Any]) -> SetEntry:
    """Verify the bundle's SET and certificate (steps 1-3 of the module docstring)."""
    import rfc8785
    from sigstore._internal.trust import KeyringPurpose
    from sigstore.errors import VerificationError

    vm = record.get("verificationMaterial") or {}
    entry = vm["tlogEntries"][0]
    body_bytes = _b64(entry.get("canonicalizedBody"), "log entry body")
    log_id = _b64((entry.get("logId") or {}).get("keyId"), "log id")
    set_sig = _b64((entry.get("inclusionPromise") or {}).get("signedEntryTimestamp"), "SET")
    integrated = _int(entry.get("integratedTime"), "integrated time")
    index = _int(entry.get("logIndex"), "log index")
    canonical = rfc8785.dumps(
        {
            "body": base64.b64encode(body_bytes).decode(),
            "integratedTime": integrated,
            "logID": log_id.hex(),
            "logIndex": index,
        }
    )
    try:
        from sigstore._internal.trust import KeyID  # type: ignore[attr-defined]

        trusted_root.rekor_keyring(KeyringPurpose.VERIFY).verify(
            key_id=KeyID(log_id), signature=set_sig, data=canonical
        )
    except VerificationError as e:
        raise SetCheckFailed(f"SET does not verify with the trust root's Rekor keys: {e}") from None
    body = strict_loads(body_bytes)
    if not isinstance(body, dict):
        raise SetCheckFailed("log entry body is not a JSON object")
    kv = entry.get("kindVersion") or {}
    kind_version = f"{body.get('kind')}/{body.get('apiVersion')}"
    if kind_version != f"{kv.get('kind')}/{kv.get('version')}":
        raise SetCheckFailed(f"log entry kindVersion differs from its signed body's {kind_version}")
    if kind_version not in KINDS:
        raise SetUnsupported(
            f"Rekor entry {kind_version} is not one the kit checks by SET ({', '.join(KINDS)})"
        )
    when = datetime.fromtimestamp(integrated, tz=UTC)
    cert = _certificate(vm)
    if cert is not None:
        check_certificate_at(trusted_root, cert, when)
    hint = (vm.get("publicKey") or {}).get("hint")
    if cert is None and not hint:
        raise SetCheckFailed("bundle has neither a certificate nor a public key hint")
    return SetEntry(kind_version, when, body, cert, hint)


def _certificate(vm: dict[str, Any]) -> x509.Certificate | None:
    chain = (vm.get("x509CertificateChain") or {}).get("certificates") or []
    raw = chain[0].get("rawBytes") if chain else (vm.get("certificate") or {}).get("rawBytes")
    if raw is None:
        return None
    return x509.load_der_x509_certificate(_b64(raw, "certificate"))


def check_certificate_at(trusted_root: Any, cert: x509.Certificate, when: datetime) -> None:
    """Fulcio chain valid at ``when``, the SCT, digital-signature key usage, code-signing EKU and the
    certificate's validity at ``when``; raises ``VerificationError`` or ``SetCheckFailed``."""
    from cryptography.x509 import ExtendedKeyUsage, KeyUsage
    from cryptography.x509.oid import ExtendedKeyUsageOID
    from sigstore._internal.sct import verify_sct
    from sigstore._internal.timestamp import TimestampSource, TimestampVerificationResult
    from sigstore._internal.trust import KeyringPurpose
    from sigstore.errors import VerificationError
    from sigstore.verify.verifier import Verifier

    verifier = Verifier(trusted_root=trusted_root)
    vts = TimestampVerificationResult(source=TimestampSource.TRANSPARENCY_SERVICE, time=when)
    try:
        chain = verifier._verify_chain_at_time(cert, vts)
        verify_sct(cert, chain, trusted_root.ct_keyring(KeyringPurpose.VERIFY))
    except VerificationError as e:
        raise SetCheckFailed(f"certificate: {e}") from None
    if not cert.extensions.get_extension_for_class(KeyUsage).value.digital_signature:
        raise SetCheckFailed("certificate key usage is not digital signature")
    if (
        ExtendedKeyUsageOID.CODE_SIGNING
        not in cert.extensions.get_extension_for_class(ExtendedKeyUsage).value
    ):
        raise SetCheckFailed("certificate extended key usage does not contain code signing")
    if not (cert.not_valid_before_utc <= when <= cert.not_valid_after_utc):
        raise SetCheckFailed(f"certificate is not valid at the integrated time {when.isoformat()}")


def _pae(payload_type: str, payload: bytes) -> bytes:
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def _verify(public_key: Any, sig: bytes, message: bytes, prehashed: bool = False) -> None:
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        raise SetUnsupported(f"signing key type {type(public_key).__name__} is not checked on this path")
    algorithm = ec.ECDSA(utils.Prehashed(hashes.SHA256()) if prehashed else hashes.SHA256())
    try:
        public_key.verify(sig, message, algorithm)
    except InvalidSignature:
        raise SetCheckFailed("signature does not verify with the signing key") from None


def check_dsse(entry: SetEntry, record: dict[str, Any], key_pem: str | None) -> tuple[str, bytes]:
    """Step 4 for an intoto 0.0.2 entry: the envelope's one signature verifies with the certificate's key
    (or ``key_pem``, a policy key for a keyed entry) and the signed body names the same payload
    digest, signature and signer. Returns the verified payload type and payload bytes."""
    env = record.get("dsseEnvelope") or {}
    sigs = env.get("signatures") or []
    if len(sigs) != 1:
        raise SetCheckFailed(f"DSSE envelope carries {len(sigs)} signatures; a bundle must carry exactly one")
    payload = _b64(env.get("payload"), "DSSE payload")
    payload_type = env.get("payloadType")
    if not isinstance(payload_type, str):
        raise SetCheckFailed("DSSE payload type is missing")
    sig = _b64(sigs[0].get("sig"), "DSSE signature")
    content = (entry.body.get("spec") or {}).get("content") or {}
    if (content.get("payloadHash") or {}).get("value") != hashlib.sha256(payload).hexdigest():
        raise SetCheckFailed("log entry payloadHash differs from the sha256 of the DSSE payload")
    body_sigs = (content.get("envelope") or {}).get("signatures") or []
    if len(body_sigs) != 1 or _b64(body_sigs[0].get("sig"), "log entry signature") != base64.b64encode(sig):
        raise SetCheckFailed("log entry signature differs from the envelope signature")
    signer_pem = _b64(body_sigs[0].get("publicKey"), "log entry public key")
    public_key = _signer_key(entry, signer_pem, key_pem)
    _verify(public_key, sig, _pae(payload_type, payload))
    return payload_type, payload


def check_message(entry: SetEntry, record: dict[str, Any]) -> str:
    """Step 4 for a hashedrekord 0.0.1 entry: the message signature verifies over the digest the signed
    body names, which is the bundle's. Returns that sha256 (hex)."""
    ms = record.get("messageSignature") or {}
    digest = _b64((ms.get("messageDigest") or {}).get("digest"), "message digest")
    sig = _b64(ms.get("signature"), "message signature")
    spec = entry.body.get("spec") or {}
    hashed = (spec.get("data") or {}).get("hash") or {}
    if hashed.get("algorithm") != "sha256" or hashed.get("value") != digest.hex():
        raise SetCheckFailed("log entry digest differs from the bundle's message digest")
    signature = spec.get("signature") or {}
    if _b64(signature.get("content"), "log entry signature") != sig:
        raise SetCheckFailed("log entry signature differs from the bundle's message signature")
    signer_pem = _b64((signature.get("publicKey") or {}).get("content"), "log entry public key")
    _verify(_signer_key(entry, signer_pem, None), sig, digest, prehashed=True)
    return digest.hex()


def _signer_key(entry: SetEntry, body_pem: bytes, key_pem: str | None) -> Any:
    """The key that must have signed: the certificate's (which the signed body must name), or the
    policy's key for a keyed entry (which the signed body must name too)."""
    if entry.certificate is not None:
        try:
            body_cert = x509.load_pem_x509_certificate(body_pem)
        except ValueError:
            raise SetCheckFailed("log entry names no certificate, the bundle carries one") from None
        if body_cert != entry.certificate:
            raise SetCheckFailed("log entry certificate differs from the bundle certificate")
        return entry.certificate.public_key()
    if key_pem is None:
        raise SetUnsupported(
            f"keyed entry signed by {entry.key_hint}, a key the policy does not list (add it to policy keys)"
        )
    body_key = serialization.load_pem_public_key(body_pem)
    policy_key = serialization.load_pem_public_key(key_pem.encode())
    der = serialization.PublicFormat.SubjectPublicKeyInfo
    enc = serialization.Encoding.DER
    if body_key.public_bytes(enc, der) != policy_key.public_bytes(enc, der):
        raise SetCheckFailed(f"log entry key differs from the policy's key {entry.key_hint}")
    return policy_key
