"""Sigstore bundles: sigstore-python's verifier, Rekor intoto 0.0.2 and v0.1 bundles with a signed entry timestamp."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime

from cryptography import x509

from forensics import rekor_set
from forensics.verified import loads as strict_loads
from forensics.verify.model import _INDETERMINATE_MARKERS, FAILED, INDETERMINATE, VERIFIED, Policy, Verdict
from forensics.verify.signing import _AcceptChain, _log_entry_changed


class BundleChecks:
    """The sigstore-bundle steps of ``KitVerifier``."""

    policy: Policy

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
