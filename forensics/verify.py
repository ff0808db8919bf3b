"""Offline verification of attestations: a verdict (verified | failed | indeterminate) with a reason
for every attestation, never ``verified`` without a complete check.

Paths (``attestations.verification_path``):

``sigstore-python``
    Sigstore bundles whose Rekor entry is dsse/hashedrekord 0.0.1 (or Rekor v2 hashedrekord 0.0.2):
    ``Verifier(trusted_root).verify_dsse`` / ``verify_artifact``, offline, with the trust root the
    policy names (default: the production root embedded in sigstore-python). Then the kit checks
    the signer identity against the policy, re-reads the subjects from the *verified* payload and
    compares them with the artifact digests it knows (sha256 and sha512).
``kit-intoto-0.0.2``
    Bundles with a Rekor ``intoto`` 0.0.2 entry (npm provenance, slsa-github-generator), which
    sigstore-python 4.5.1 refuses ("Integrated time only supported for dsse/hashedrekord 0.0.1").
    The kit runs the same steps with sigstore-python's building blocks: the Rekor entry's inclusion
    proof, checkpoint and SignedEntryTimestamp against the trust root's log keys; the certificate
    chain to a Fulcio root valid at the integrated time; the SCT; key usage and code-signing EKU;
    the certificate's validity at the integrated time; the DSSE signature by the leaf key; and the
    entry body's consistency (payload sha256, signature and certificate equal the bundle's).
``keyed-dsse``
    DSSE envelopes signed by a key the policy lists (``keys``), e.g. the sample's TEST key: the
    PAE signature by that key. The verdict names the key's label as its trust root.
``none``
    Nothing the kit can check completely (unsigned statements, bare envelopes with a Fulcio
    certificate but no log entry or timestamp, unknown keys): ``indeterminate`` with the reason.

Policy (a dict, JSON-friendly, given as a notebook parameter)::

    {"issuer": "https://token.actions.githubusercontent.com",
     "repositories": {"owner/repo": {"identity": "<certificate SAN>" | [SANs], "identity_prefix": "...",
                                     "workflow_ref": "refs/heads/main", "builder_id": "..."}},
     "trusted_root": "/path/trusted_root.json",       # optional; default: production (embedded)
     "keys": [{"keyid": "...", "public_key_pem": "...", "label": "TEST key ...", "repositories": ["owner/repo"]}],
     "artifacts": "/path/ARTIFACT_DIGESTS.tsv" | {"name": {"sha256": "...", "sha512": "..."}},
     "ci_actors": ["github-actions[bot]"], "rollout_window_minutes": 30}
"""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from forensics import rekor_set
from forensics.policy import validate as validate_policy
from forensics.verified import DuplicateKey, column_differences, statement_columns
from forensics.verified import loads as strict_loads

VERIFIED, FAILED, INDETERMINATE = "verified", "failed", "indeterminate"
PRODUCTION_ROOT_LABEL = "sigstore public-good production root (embedded in sigstore-python, offline)"
NOT_CHECKED = "not checked yet: run forensics.verify.verify_case(case, policy)"
INTOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
POLICY_META_KEY = "provenance_policy"

# Fulcio certificate extensions (https://github.com/sigstore/fulcio/blob/main/docs/oid-info.md)
_OID = "1.3.6.1.4.1.57264.1."
_V1 = {"issuer": 1, "trigger": 2, "sha": 3, "workflow_name": 4, "repository": 5, "ref": 6}
_V2 = {
    "issuer": 8,
    "runner_environment": 11,
    "source_repository_uri": 12,
    "sha": 13,
    "ref": 14,
    "build_config_uri": 18,
    "trigger": 20,
    "run_invocation_uri": 21,
}
# sigstore-python messages that mean "cannot establish", not "broken"
_INDETERMINATE_MARKERS = (
    "not enough sources of verified time",
    "Integrated time only supported",
    "no Timestamp Authorities",
    "Unsupported",
    "unsupported",
    "trusted root contains no",
)

logging.getLogger("sigstore").setLevel(logging.ERROR)


@dataclass(frozen=True)
class Verdict:
    verdict: str
    reason: str
    path: str = "none"
    trust_root: str | None = None
    artifact_match: str = "unknown"
    identity: dict = field(default_factory=dict)
    statement: dict | None = None  # the verified in-toto statement, when there is one


@dataclass
class Policy:
    issuer: str | None = None
    repositories: dict[str, dict] = field(default_factory=dict)
    trusted_root: str | None = None
    keys: list[dict] = field(default_factory=list)
    artifacts: dict[str, dict] = field(default_factory=dict)
    ci_actors: list[str] = field(default_factory=list)
    rollout_window_minutes: int = 30
    raw: dict = field(default_factory=dict)

    services: dict[str, list[str]] = field(default_factory=dict)
    #: identities not tied to a repository (an e-mail SAN) and the issuer each must come from
    signers: dict[str, dict] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict | None) -> Policy:
        """A policy from a dict checked against the schema (``forensics.policy.validate``)."""
        d = validate_policy(d)
        arts = d.get("artifacts") or {}
        if isinstance(arts, str | os.PathLike):
            arts = load_artifact_digests(arts)
        return cls(
            d.get("issuer"),
            dict(d.get("repositories") or {}),
            d.get("trusted_root"),
            list(d.get("keys") or []),
            dict(arts),
            list(d.get("ci_actors") or []),
            int(d.get("rollout_window_minutes") or 30),
            d,
            dict(d.get("services") or {}),
            dict(d.get("signers") or {}),
        )


def load_artifact_digests(path: str | os.PathLike) -> dict[str, dict]:
    """``ARTIFACT_DIGESTS.tsv`` (file, size, sha256, sha512) as {name: {"sha256":..., "sha512":...}}."""
    with open(path, encoding="utf-8", newline="") as f:
        return {
            row["file"]: {"sha256": row["sha256"].lower(), "sha512": row["sha512"].lower()}
            for row in csv.DictReader(f, delimiter="\t")
            if row.get("file")
        }


# --------------------------------------------------------------------------------------------
# certificates


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


class KitVerifier:
    """Verifies attestation records against a policy. One instance per policy."""

    def __init__(self, policy: Policy):
        self.policy = policy
        self._verifier = None
        self._root_label = PRODUCTION_ROOT_LABEL
        self._root_error: str | None = None

    # -- trust ------------------------------------------------------------------------------
    def sigstore_verifier(self):
        if self._verifier is None and self._root_error is None:
            from sigstore.models import ClientTrustConfig, TrustedRoot
            from sigstore.verify import Verifier

            try:
                if self.policy.trusted_root:
                    root = TrustedRoot.from_file(self.policy.trusted_root)
                    self._root_label = (
                        f"trusted root file {Path(self.policy.trusted_root).name} (given in the policy)"
                    )
                else:
                    root = ClientTrustConfig.production(offline=True).trusted_root
                self._verifier = Verifier(trusted_root=root)
            except Exception as e:  # noqa: BLE001 - any failure to load trust is reported, not raised
                self._root_error = f"cannot load the trust root: {type(e).__name__}: {e}"
        return self._verifier

    # -- entry point ----------------------------------------------------------------------------
    def verify(
        self,
        record: dict,
        content: str,
        subjects: list[tuple[str | None, str, str]],
        name_hint: str | None = None,
    ) -> Verdict:
        """``subjects``: (name, algorithm, value) rows the loader read; ``name_hint``: the artifact
        name a detached bundle belongs to (its file name without .sigstore/.sigstore.json)."""
        cert = _record_certificate(record)
        identity = certificate_identity(cert) if cert is not None else {}
        if content == "unsigned":
            return Verdict(
                INDETERMINATE,
                "unsigned statement or predicate: there is no signature to verify",
                identity=identity,
            )
        if content == "signed_link":
            return self._keyed_link(record, identity)
        env = record.get("dsseEnvelope") if "mediaType" in record else (record.get("envelope") or record)
        if content == "dsse" and env is not None:
            n = len(env.get("signatures") or [])
            if "mediaType" in record and n != 1:
                return Verdict(
                    FAILED,
                    f"DSSE envelope carries {n} signatures; a Sigstore bundle must carry exactly one",
                    identity=identity,
                )
        if "mediaType" not in record:
            return self._bare_envelope(env, subjects, identity)
        return self._bundle(record, content, subjects, name_hint, identity)

    # -- sigstore bundles ---------------------------------------------------------------------
    def _bundle(self, record, content, subjects, name_hint, identity) -> Verdict:
        from sigstore.errors import VerificationError
        from sigstore.models import Bundle

        verifier = self.sigstore_verifier()
        if verifier is None:
            return Verdict(INDETERMINATE, self._root_error or "no trust root", identity=identity)
        root = self._root_label
        if rekor_set.applies(record):
            return self._set_bundle(verifier, record, content, subjects, name_hint, identity, root)
        try:
            bundle = Bundle.from_json(json.dumps(record))
        except Exception as e:  # noqa: BLE001 - InvalidBundle, pydantic errors: the bundle cannot be checked
            msg = " ".join(str(e).split())[:300]
            return Verdict(
                INDETERMINATE,
                f"sigstore-python cannot load this bundle ({type(e).__name__}: {msg}); "
                "the kit has no other complete check for it",
                trust_root=root,
                identity=identity,
            )
        kv = bundle.log_entry._inner.kind_version if bundle.log_entry else None
        kind_version = f"{kv.kind}/{kv.version}" if kv else "none"
        changed = _log_entry_changed(record)
        if changed:
            return Verdict(FAILED, changed, "sigstore-python", root, identity=identity)
        path = "sigstore-python"
        try:
            if content == "dsse":
                if kind_version == "intoto/0.0.2":
                    path = "kit-intoto-0.0.2"
                    payload_type, payload = self._intoto_002(verifier, bundle)
                else:
                    payload_type, payload = verifier.verify_dsse(bundle, _AcceptChain())
            else:
                return self._message_signature(verifier, bundle, subjects, name_hint, identity, root)
        except VerificationError as e:
            return self._from_error(e, path, root, identity)
        return self._after_dsse(payload_type, payload, subjects, identity, path, root)

    def _set_bundle(self, verifier, record, content, subjects, name_hint, identity, root) -> Verdict:
        """A v0.1 bundle proven by its signed entry timestamp (``forensics.rekor_set``)."""
        path = rekor_set.PATH
        key = None
        try:
            entry = rekor_set.check_set(verifier._trusted_root, record)
            if entry.kind_version == "hashedrekord/0.0.1":
                if content == "dsse":
                    raise rekor_set.SetCheckFailed("a DSSE envelope cannot be proven by a hashedrekord entry")
                declared = rekor_set.check_message(entry, record)
            else:
                if content != "dsse":
                    raise rekor_set.SetCheckFailed(
                        f"a {entry.kind_version} entry proves a DSSE envelope only"
                    )
                if entry.certificate is None:
                    key = self._key(entry.key_hint)
                pem = key["public_key_pem"] if key else None
                payload_type, payload = rekor_set.check_dsse(entry, record, pem)
        except rekor_set.SetUnsupported as e:
            return Verdict(INDETERMINATE, f"{path}: {e}", path, root, identity=identity)
        except (rekor_set.SetCheckFailed, ValueError, KeyError, TypeError) as e:
            return Verdict(FAILED, f"{path}: {e}", path, root, identity=identity)
        if entry.kind_version == "hashedrekord/0.0.1":
            known = self._known_artifact(name_hint, "sha256", declared)
            target = known.get("sha256") if known else declared
            match = "unknown" if known is None else ("match" if target == declared else "mismatch")
            return self._message_verdict(target, declared, match, name_hint, identity, root, path)
        if key is not None:
            label = key.get("label") or f"key {key['keyid'][:16]}"
            return self._keyed_statement(key, label, payload_type, payload, subjects, path)
        return self._after_dsse(payload_type, payload, subjects, identity, path, root)

    def _from_error(self, e: Exception, path: str, root: str, identity: dict) -> Verdict:
        msg = " ".join(str(e).split())[:400]
        if any(m in msg for m in _INDETERMINATE_MARKERS):
            return Verdict(INDETERMINATE, f"{path}: {msg}", path, root, identity=identity)
        return Verdict(FAILED, f"{path}: {msg}", path, root, identity=identity)

    def _message_signature(self, verifier, bundle, subjects, name_hint, identity, root) -> Verdict:
        from sigstore.errors import VerificationError
        from sigstore.hashes import Hashed
        from sigstore_models.common.v1 import HashAlgorithm

        declared = next((v for _, a, v in subjects if a == "sha256"), None)
        known = self._known_artifact(name_hint, "sha256", declared)
        if known is None:
            target, match = declared, "unknown"
        else:
            target = known["sha256"]
            match = "match" if target == declared else "mismatch"
        if not target:
            return Verdict(
                INDETERMINATE,
                "message signature without a sha256 digest to check",
                "sigstore-python",
                root,
                identity=identity,
            )
        try:
            verifier.verify_artifact(
                Hashed(algorithm=HashAlgorithm.SHA2_256, digest=bytes.fromhex(target)), bundle, _AcceptChain()
            )
        except VerificationError as e:
            v = self._from_error(e, "sigstore-python", root, identity)
            return Verdict(v.verdict, v.reason, v.path, v.trust_root, match, identity)
        return self._message_verdict(target, declared, match, name_hint, identity, root, "sigstore-python")

    def _message_verdict(self, target, declared, match, name_hint, identity, root, path) -> Verdict:
        """The verdict on a message signature that verified over ``declared`` (the bundle's digest);
        ``target`` is the known artifact's sha256 and ``match`` how the two compare."""
        if match == "mismatch":
            return Verdict(
                FAILED,
                f"artifact {name_hint} sha256 {target} differs from the signed digest {declared}",
                path,
                root,
                match,
                identity,
            )
        problem = self._identity_problem(identity, None)
        if problem:
            return Verdict(problem[0], problem[1], path, root, match, identity)
        if match == "unknown":
            return Verdict(
                INDETERMINATE,
                "signature, certificate chain and log entry verify over the digest the bundle "
                "declares, but no known artifact has that digest (give its sha256 in policy.artifacts)",
                path,
                root,
                match,
                identity,
            )
        return Verdict(
            VERIFIED,
            f"message signature over {name_hint} (sha256 {target[:12]}...) by {identity.get('signer_san')}, "
            f"certificate chain, SCT and Rekor entry checked against the {root}"
            + (" (log entry by its signed entry timestamp)" if path == rekor_set.PATH else ""),
            path,
            root,
            match,
            identity,
        )

    def _intoto_002(self, verifier, bundle) -> tuple[str, bytes]:
        """The kit's complete check for Rekor intoto 0.0.2 entries (see module docstring)."""
        from cryptography.x509 import ExtendedKeyUsage, KeyUsage
        from cryptography.x509.oid import ExtendedKeyUsageOID
        from sigstore import dsse
        from sigstore._internal.sct import verify_sct
        from sigstore._internal.timestamp import TimestampSource, TimestampVerificationResult
        from sigstore._internal.trust import KeyringPurpose
        from sigstore.errors import VerificationError

        entry = bundle.log_entry._inner
        if not (entry.integrated_time and entry.inclusion_promise):
            raise VerificationError(
                "Unsupported: intoto 0.0.2 entry without an integrated time and inclusion promise"
            )
        if (
            bundle.verification_material.timestamp_verification_data
            and bundle.verification_material.timestamp_verification_data.rfc3161_timestamps
        ):
            raise VerificationError(
                "Unsupported: intoto 0.0.2 entry with RFC 3161 timestamps (not checked by the kit)"
            )
        cert = bundle.signing_certificate
        when = datetime.fromtimestamp(entry.integrated_time, tz=UTC)
        keyring = verifier._trusted_root.rekor_keyring(KeyringPurpose.VERIFY)
        try:
            bundle.log_entry._verify(keyring)  # inclusion proof + checkpoint + SignedEntryTimestamp
        except VerificationError as e:
            raise VerificationError(f"invalid log entry: {e}") from None
        vts = TimestampVerificationResult(source=TimestampSource.TRANSPARENCY_SERVICE, time=when)
        chain = verifier._verify_chain_at_time(cert, vts)
        verify_sct(cert, chain, verifier._trusted_root.ct_keyring(KeyringPurpose.VERIFY))
        if not cert.extensions.get_extension_for_class(KeyUsage).value.digital_signature:
            raise VerificationError("Key usage is not of type `digital signature`")
        if (
            ExtendedKeyUsageOID.CODE_SIGNING
            not in cert.extensions.get_extension_for_class(ExtendedKeyUsage).value
        ):
            raise VerificationError("Extended usage does not contain `code signing`")
        if not (cert.not_valid_before_utc <= when <= cert.not_valid_after_utc):
            raise VerificationError(f"invalid signing cert: expired at integrated time {when.isoformat()}")
        envelope = bundle._dsse_envelope
        try:
            dsse._verify(cert.public_key(), envelope)
        except VerificationError as e:
            raise VerificationError(f"DSSE signature does not verify with the certificate key: {e}") from None
        raw_body = entry.canonicalized_body
        body = strict_loads(raw_body if raw_body[:1] in (b"{", "{") else base64.b64decode(raw_body))
        content = (body.get("spec") or {}).get("content") or {}
        payload = envelope._inner.payload
        ph = (content.get("payloadHash") or {}).get("value")
        if ph != hashlib.sha256(payload).hexdigest():
            raise VerificationError("log entry payloadHash differs from the sha256 of the DSSE payload")
        body_sigs = (content.get("envelope") or {}).get("signatures") or []
        env_sigs = envelope._inner.signatures
        if len(body_sigs) != 1 or len(env_sigs) != 1:
            raise VerificationError("log entry and envelope must each carry exactly one signature")
        if base64.b64decode(body_sigs[0].get("sig", "")) != base64.b64encode(env_sigs[0].sig):
            raise VerificationError("log entry signature differs from the envelope signature")
        body_cert = x509.load_pem_x509_certificate(base64.b64decode(body_sigs[0].get("publicKey", "")))
        if body_cert != cert:
            raise VerificationError("log entry certificate differs from the bundle certificate")
        return envelope._inner.payload_type, payload

    def _after_dsse(self, payload_type, payload, subjects, identity, path, root) -> Verdict:
        if payload_type != INTOTO_PAYLOAD_TYPE:
            return Verdict(
                INDETERMINATE,
                f"signature verifies but the payload type {payload_type!r} is not in-toto",
                path,
                root,
                identity=identity,
            )
        try:
            stmt = strict_loads(payload)
        except DuplicateKey as e:
            return Verdict(
                FAILED,
                f"signed statement has a {e}: refused, parsers disagree on it",
                path,
                root,
                identity=identity,
            )
        except ValueError:
            return Verdict(FAILED, "signed payload is not JSON", path, root, identity=identity)
        if not isinstance(stmt, dict):
            return Verdict(FAILED, "signed payload is not a JSON object", path, root, identity=identity)
        signed = sorted(
            (s.get("name"), a.lower(), str(v).lower())
            for s in stmt.get("subject") or []
            for a, v in (s.get("digest") or {}).items()
        )
        if signed != sorted((n, a, v) for n, a, v in subjects):
            return Verdict(
                FAILED,
                "subjects in the table differ from the subjects of the signed statement",
                path,
                root,
                identity=identity,
            )
        match = self._subjects_match(signed)
        if match[0] == "mismatch":
            return Verdict(FAILED, match[1], path, root, "mismatch", identity)
        builder = ((stmt.get("predicate") or {}).get("runDetails") or {}).get("builder", {}).get("id") or (
            (stmt.get("predicate") or {}).get("builder") or {}
        ).get("id")
        problem = self._identity_problem(identity, builder)
        if problem:
            return Verdict(problem[0], problem[1], path, root, match[0], identity)
        names = ", ".join(sorted({str(n) for n, _, _ in signed}))[:200]
        return Verdict(
            VERIFIED,
            f"DSSE statement for {names} signed by {identity.get('signer_san')} "
            f"(issuer {identity.get('signer_issuer')}); chain, SCT, log entry and signature checked "
            f"against the {root}; artifact digests: {match[0]}",
            path,
            root,
            match[0],
            identity,
            stmt,
        )

    # -- identity policy ------------------------------------------------------------------------
    def _identity_problem(self, identity: dict, builder: str | None) -> tuple[str, str] | None:
        repo = (identity.get("cert_repository") or "").lower()
        if not repo and identity.get("signer_san") in self.policy.signers:
            want = self.policy.signers[identity["signer_san"]]["issuer"]
            if identity.get("signer_issuer") != want:
                return (FAILED, f"signer issuer {identity.get('signer_issuer')} is not the expected {want}")
            return None
        rules = self.policy.repositories.get(repo)
        if rules is None:
            return (
                INDETERMINATE,
                f"signature checks passed, but the policy names no expected identity for "
                f"repository {repo or '(none in certificate)'}",
            )
        issuer = rules.get("issuer") or self.policy.issuer
        if not issuer:
            return (INDETERMINATE, "signature checks passed, but the policy names no expected OIDC issuer")
        if identity.get("signer_issuer") != issuer:
            return (FAILED, f"signer issuer {identity.get('signer_issuer')} is not the expected {issuer}")
        san = identity.get("signer_san") or ""
        expected = rules.get("identity")
        if expected is not None and san not in ([expected] if isinstance(expected, str) else expected):
            return (FAILED, f"signer identity {san} is not the expected {expected}")
        prefixes = rules.get("identity_prefix")
        if prefixes is not None:
            prefixes = [prefixes] if isinstance(prefixes, str) else prefixes
            if not any(san.startswith(p) for p in prefixes):
                return (FAILED, f"signer identity {san} does not start with {' or '.join(prefixes)}")
        if "identity_regex" in rules and not re.fullmatch(rules["identity_regex"], san):
            return (FAILED, f"signer identity {san} does not match {rules['identity_regex']}")
        checks = (
            ("ref", identity.get("cert_workflow_ref"), "source ref"),
            ("workflow_ref", identity.get("cert_workflow_ref"), "workflow ref"),
            ("commit", identity.get("cert_sha"), "source commit"),
            ("trigger", identity.get("cert_trigger"), "trigger"),
            ("runner_environment", identity.get("cert_runner_environment"), "runner environment"),
            ("workflow", _san_workflow(san, repo), "signing workflow"),
            ("builder_id", builder, "builder"),
        )
        for key, actual, label in checks:
            if key in rules and actual not in _allowed(rules[key]):
                return (FAILED, f"{label} {actual} is not the expected {rules[key]}")
        if not (
            {"identity", "identity_prefix", "identity_regex", "workflow_ref", "ref", "workflow"} & set(rules)
        ):
            return (
                INDETERMINATE,
                f"the policy for {repo} names no identity, identity_prefix, identity_regex, ref or workflow",
            )
        return None

    # -- artifacts ------------------------------------------------------------------------------
    def _known_artifact(self, name: str | None, alg: str, value: str | None) -> dict | None:
        arts = self.policy.artifacts
        if name:
            for candidate in (name, os.path.basename(name)):
                if candidate in arts:
                    return arts[candidate]
        if value:
            for a in arts.values():
                if a.get(alg) == value:
                    return a
        return None

    def _subjects_match(self, signed: list[tuple]) -> tuple[str, str]:
        state, detail = "unknown", ""
        for name, alg, value in signed:
            known = self._known_artifact(name, alg, value)
            if known is None or alg not in known:
                continue
            if known[alg] != value:
                return (
                    "mismatch",
                    f"subject {name} {alg} {value[:16]}... differs from the known artifact's {known[alg][:16]}...",
                )
            state = "match"
        return state, detail

    # -- keyed envelopes and links --------------------------------------------------------------
    def _key(self, keyid: str | None) -> dict | None:
        return next((k for k in self.policy.keys if keyid and k.get("keyid") == keyid), None)

    def _bare_envelope(self, env: dict, subjects, identity) -> Verdict:
        sigs = env.get("signatures") or []
        key = self._key(sigs[0].get("keyid") if sigs else None)
        if key is None:
            if identity:
                return Verdict(
                    INDETERMINATE,
                    "bare DSSE envelope with a Fulcio certificate but no transparency-log "
                    "entry or signed timestamp: the signing time, and so the short-lived certificate, "
                    "cannot be checked (verify the bundle form instead)",
                    identity=identity,
                )
            return Verdict(
                INDETERMINATE,
                "DSSE envelope signed by a key the policy does not list "
                f"(keyid {sigs[0].get('keyid') if sigs else None})",
                identity=identity,
            )
        if len(sigs) != 1:
            return Verdict(
                FAILED, f"keyed DSSE envelope carries {len(sigs)} signatures; the kit accepts exactly one"
            )
        label = key.get("label") or f"key {key['keyid'][:16]}"
        try:
            payload = base64.b64decode(env["payload"], validate=True)
            sig = _b64_either(sigs[0]["sig"])
            try:
                _verify_with_key(key["public_key_pem"], sig, _pae(env.get("payloadType", ""), payload))
            except InvalidSignature:
                # Google Cloud Build signs the payload bytes themselves, not the DSSE PAE
                _verify_with_key(key["public_key_pem"], sig, payload)
                label = f"{label} (raw-payload signature, as Cloud Build signs)"
        except (InvalidSignature, ValueError, KeyError) as e:
            return Verdict(
                FAILED,
                f"DSSE signature does not verify with {label}: {type(e).__name__}",
                "keyed-dsse",
                label,
            )
        return self._keyed_statement(key, label, env.get("payloadType"), payload, subjects, "keyed-dsse")

    def _keyed_statement(self, key, label, payload_type, payload, subjects, path) -> Verdict:
        """The verdict on a statement whose signature by the policy's ``key`` verified."""
        v = self._after_dsse(payload_type, payload, subjects, {}, path, label)
        if v.verdict == FAILED or payload_type != INTOTO_PAYLOAD_TYPE:
            return Verdict(v.verdict, v.reason, path, label, v.artifact_match)
        stmt = strict_loads(payload)
        pred = stmt.get("predicate") or {}
        builder = (pred.get("runDetails") or {}).get("builder", {}).get("id") or (
            pred.get("builder") or {}
        ).get("id")
        cols = statement_columns(stmt)
        repo_uri = (cols["source_repo"] or "").removeprefix("git+")
        repo = repo_uri.lower().removeprefix("https://github.com/").removesuffix(".git")
        ident = {"signer_san": f"key:{key['keyid']}", "signer_issuer": label, "cert_repository": repo or None}
        allowed = [r.lower() for r in key.get("repositories") or []]
        if allowed and repo not in allowed:
            return Verdict(
                FAILED,
                f"{label} is not trusted for repository {repo or '(none)'}",
                path,
                label,
                v.artifact_match,
                ident,
            )
        rules = self.policy.repositories.get(repo)
        if rules is None:
            return Verdict(
                INDETERMINATE,
                f"signature by {label} verifies, but the policy names no rules for repository "
                f"{repo or '(none in the statement)'}",
                path,
                label,
                v.artifact_match,
                ident,
            )
        for key_, actual in (
            ("builder_id", builder),
            ("commit", cols["source_commit"]),
            ("ref", cols["source_ref"]),
            ("workflow_ref", cols["source_ref"]),
            ("workflow", cols["workflow_path"]),
        ):
            if key_ in rules and actual not in _allowed(rules[key_]):
                return Verdict(
                    FAILED,
                    f"{key_} {actual} is not the expected {rules[key_]}",
                    path,
                    label,
                    v.artifact_match,
                    ident,
                )
        return Verdict(
            VERIFIED,
            f"DSSE statement for {repo} built by {builder}, signed by {label} (keyid {key['keyid'][:16]}...)",
            path,
            label,
            v.artifact_match,
            ident,
            stmt,
        )

    def _keyed_link(self, record: dict, identity: dict) -> Verdict:
        sigs = record.get("signatures") or []
        keyid = sigs[0].get("keyid") if sigs else None
        return Verdict(
            INDETERMINATE,
            f"in-toto link signed by keyid {keyid}; classic in-toto links are verified "
            "against a layout and its keys, which the kit does not check",
            identity=identity,
        )


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


# --------------------------------------------------------------------------------------------
# the case


def _con(case_or_con):
    return getattr(case_or_con, "con", case_or_con)


def _name_hint(path: str | None) -> str | None:
    if not path:
        return None
    name = os.path.basename(path)
    for suffix in (".sigstore.json", ".sigstore", ".intoto.jsonl", ".jsonl", ".json"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def verify_case(case, policy: dict | Policy | None, store: bool = True) -> int:
    """Verify every attestation of the case against ``policy`` and write verdicts, reasons, trust
    root and signer identity into ``attestations``. The policy is kept in ``case_meta`` (unless
    ``store`` is false) so later ingests are verified the same way. Returns attestations checked."""
    con = _con(case)
    pol = policy if isinstance(policy, Policy) else Policy.from_dict(policy)
    if store and not isinstance(policy, Policy):
        con.execute(
            "INSERT OR REPLACE INTO case_meta VALUES (?, ?)",
            [POLICY_META_KEY, json.dumps(policy or {}, default=str)],
        ).fetchall()
    return _verify_rows(con, pol, only_unchecked=False)


def stored_policy(case) -> dict | None:
    row = _con(case).execute("SELECT value FROM case_meta WHERE key = ?", [POLICY_META_KEY]).fetchall()
    return json.loads(row[0][0]) if row else None


def refresh(con) -> None:
    """After an ingest: verify new attestations with the stored policy, or, with none, record the
    signer identity only (the verdict stays indeterminate, "not checked yet")."""
    pol = stored_policy(con)
    _verify_rows(con, Policy.from_dict(pol) if pol is not None else None, only_unchecked=True)


def _with_artifact_files(con, pol: Policy) -> Policy:
    """The policy's known artifacts plus the artifact files hashed at ingest (``artifact_files``):
    a subject whose name is such a file must carry its sha256. The policy's own entries win."""
    files = con.execute("SELECT name, sha256 FROM artifact_files ORDER BY path").fetchall()
    if not files:
        return pol
    arts = {name: {"sha256": sha} for name, sha in files}
    arts.update(pol.artifacts)
    return replace(pol, artifacts=arts)


def _shown_from_verified(v: Verdict, shown: dict) -> Verdict:
    """A verified verdict stands only if the columns the table shows are the verified statement's."""
    if v.verdict != VERIFIED or v.statement is None:
        return v
    diff = column_differences(shown, statement_columns(v.statement))
    if not diff:
        return v
    return Verdict(
        FAILED,
        f"the signature verifies, but the table's {', '.join(diff)} differ from the verified statement "
        "(the record reads differently in another parser)",
        v.path,
        v.trust_root,
        v.artifact_match,
        v.identity,
    )


def _verify_rows(con, pol: Policy | None, only_unchecked: bool) -> int:
    rows = con.execute(
        """SELECT a.attestation_id, any_value(a.content), CAST(any_value(a.envelope) AS VARCHAR), any_value(e.path),
                  list({'n': a.subject_name, 'a': a.digest_algorithm, 'v': a.digest_value})
                      FILTER (WHERE a.digest_algorithm IS NOT NULL),
                  to_json({'statement_type': any_value(a.statement_type), 'predicate_type': any_value(a.predicate_type),
                           'builder_id': any_value(a.builder_id), 'build_type': any_value(a.build_type),
                           'source_repo': any_value(a.source_repo), 'source_ref': any_value(a.source_ref),
                           'source_commit': any_value(a.source_commit), 'workflow_path': any_value(a.workflow_path),
                           'run_id': any_value(a.run_id)})::VARCHAR
           FROM attestations a LEFT JOIN evidence e ON e.sha256 = a.evidence_sha256
           WHERE NOT $only OR (a.verdict_reason = $nc AND a.signer_san IS NULL)
           GROUP BY a.attestation_id ORDER BY a.attestation_id""",
        {"only": only_unchecked, "nc": NOT_CHECKED},
    ).fetchall()
    if not rows:
        return 0
    if pol is not None:
        pol = _with_artifact_files(con, pol)
    kv = KitVerifier(pol) if pol is not None else None
    out = []
    for att_id, content, envelope, path, subj, shown in rows:
        subjects = [(s["n"], s["a"], s["v"]) for s in (subj or [])]
        try:
            record = strict_loads(envelope)
        except DuplicateKey as e:
            out.append(
                (att_id, FAILED, f"{e} in the record: refused, parsers disagree on it", "none") + (None,) * 11
            )
            continue
        if kv is None:
            cert = _record_certificate(record)
            v = Verdict(
                INDETERMINATE, NOT_CHECKED, identity=certificate_identity(cert) if cert is not None else {}
            )
        else:
            try:
                v = kv.verify(record, content, subjects, _name_hint(path))
            except Exception as e:  # noqa: BLE001 - a crash in a check is an indeterminate verdict, never a pass
                v = Verdict(
                    INDETERMINATE, f"verification raised {type(e).__name__}: {' '.join(str(e).split())[:300]}"
                )
        v = _shown_from_verified(v, json.loads(shown))
        i = v.identity
        out.append(
            (
                att_id,
                v.verdict,
                v.reason,
                v.path,
                v.trust_root,
                v.artifact_match,
                i.get("signer_san"),
                i.get("signer_issuer"),
                i.get("cert_repository"),
                i.get("cert_workflow_ref"),
                i.get("cert_sha"),
                i.get("cert_trigger"),
                i.get("cert_runner_environment"),
                i.get("cert_not_before"),
                i.get("cert_not_after"),
            )
        )
    con.execute("""CREATE OR REPLACE TEMP TABLE _fx_verdicts (attestation_id VARCHAR, verdict VARCHAR, reason VARCHAR,
                   path VARCHAR, trust_root VARCHAR, artifact_match VARCHAR, san VARCHAR, issuer VARCHAR, repo VARCHAR,
                   wref VARCHAR, sha VARCHAR, trig VARCHAR, runner VARCHAR, nb TIMESTAMPTZ, na TIMESTAMPTZ)""").fetchall()
    con.executemany("INSERT INTO _fx_verdicts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", out)
    con.execute(
        """UPDATE attestations a SET verdict = v.verdict, verdict_reason = v.reason, verification_path = v.path,
                  trust_root = v.trust_root, artifact_match = v.artifact_match, signer_san = v.san,
                  signer_issuer = v.issuer, cert_repository = v.repo, cert_workflow_ref = v.wref, cert_sha = v.sha,
                  cert_trigger = v.trig, cert_runner_environment = v.runner, cert_not_before = v.nb, cert_not_after = v.na
           FROM _fx_verdicts v WHERE a.attestation_id = v.attestation_id"""
    ).fetchall()
    con.execute("DROP TABLE _fx_verdicts").fetchall()
    return len(out)
