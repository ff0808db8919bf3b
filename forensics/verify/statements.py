"""What a verified statement must show: the signer's identity under the policy, its subjects matched to known artifacts."""

from __future__ import annotations

import os
import re

from forensics.verified import DuplicateKey
from forensics.verified import loads as strict_loads
from forensics.verify.model import FAILED, INDETERMINATE, INTOTO_PAYLOAD_TYPE, VERIFIED, Policy, Verdict
from forensics.verify.signing import _allowed, _san_workflow


class StatementChecks:
    """The statement and identity steps of ``KitVerifier``."""

    policy: Policy

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
