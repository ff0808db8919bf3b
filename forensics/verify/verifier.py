"""``KitVerifier``: one per policy; picks the path (sigstore bundle, keyed DSSE, none) for each record."""

from __future__ import annotations

from pathlib import Path

from forensics.verify.bundles import BundleChecks
from forensics.verify.keyed import KeyedChecks
from forensics.verify.model import FAILED, INDETERMINATE, PRODUCTION_ROOT_LABEL, Policy, Verdict
from forensics.verify.signing import _record_certificate, certificate_identity
from forensics.verify.statements import StatementChecks


class KitVerifier(BundleChecks, StatementChecks, KeyedChecks):
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
