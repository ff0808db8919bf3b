"""Envelopes and links signed by a key the policy lists (keyed DSSE, raw-payload Cloud Build), and bare envelopes."""

from __future__ import annotations

import base64

from cryptography.exceptions import InvalidSignature

from forensics.verified import loads as strict_loads
from forensics.verified import statement_columns
from forensics.verify.model import FAILED, INDETERMINATE, INTOTO_PAYLOAD_TYPE, VERIFIED, Policy, Verdict
from forensics.verify.signing import _allowed, _b64_either, _pae, _verify_with_key


class KeyedChecks:
    """The keyed-signature steps of ``KitVerifier``."""

    policy: Policy

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
