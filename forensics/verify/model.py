"""Verdicts, the policy object and the constants every verification step shares."""

from __future__ import annotations

import csv
import logging
import os
from dataclasses import dataclass, field

from forensics.policy import validate as validate_policy

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
