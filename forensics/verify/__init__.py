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

Layout: ``model`` (verdicts, policy, constants), ``signing`` (certificates, signatures, encodings),
``bundles`` / ``statements`` / ``keyed`` (the steps ``KitVerifier`` in ``verifier`` combines), ``store``
(verification of a case: verdicts into ``attestations``, the stored policy).
"""

from forensics.verify.model import (
    FAILED,
    INDETERMINATE,
    INTOTO_PAYLOAD_TYPE,
    NOT_CHECKED,
    POLICY_META_KEY,
    PRODUCTION_ROOT_LABEL,
    VERIFIED,
    Policy,
    Verdict,
    load_artifact_digests,
)
from forensics.verify.signing import certificate_identity
from forensics.verify.store import refresh, stored_policy, verify_case
from forensics.verify.verifier import KitVerifier

__all__ = [
    "FAILED",
    "INDETERMINATE",
    "INTOTO_PAYLOAD_TYPE",
    "NOT_CHECKED",
    "POLICY_META_KEY",
    "PRODUCTION_ROOT_LABEL",
    "VERIFIED",
    "KitVerifier",
    "Policy",
    "Verdict",
    "certificate_identity",
    "load_artifact_digests",
    "refresh",
    "stored_policy",
    "verify_case",
]
