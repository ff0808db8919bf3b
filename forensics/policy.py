"""The provenance policy as a file: TOML or JSON, one documented schema (docs/provenance.md),
unknown keys an error. ``load_policy(path)`` reads and checks a file; ``validate(d)`` checks a dict
(notebook parameters, the stored policy); ``policy_for(case, path)`` is what every consumer uses:
the file when one is given, else the policy stored in the case.

Schema (TOML)::

    issuer = "https://token.actions.githubusercontent.com"   # expected OIDC issuer
    trusted_root = "trusted_root.json"                        # optional; relative to the policy file
    artifacts = "ARTIFACT_DIGESTS.tsv"                        # optional; or a table name -> digests
    ci_actors = ["github-actions[bot]"]
    rollout_window_minutes = 30

    [repositories."owner/repo"]         # who may sign for this repository (all given rules must hold)
    issuer = "..."                      # overrides the top-level issuer
    identity = "https://github.com/owner/repo/.github/workflows/release.yml@refs/heads/main"  # or a list
    identity_prefix = "https://github.com/owner/repo/"       # must end in "/"
    identity_regex = "^https://github\\.com/owner/repo/.*$"  # full match
    ref = "refs/heads/main"             # certificate source ref (alias: workflow_ref)
    commit = "<40 hex>"                 # certificate source commit
    workflow = ".github/workflows/release.yml"               # the signing workflow (from the SAN)
    trigger = "push"
    runner_environment = "github-hosted"
    builder_id = "https://github.com/actions/runner/github-hosted"

    [signers."release@example.org"]     # identities not tied to a repository (a person's e-mail SAN),
    issuer = "https://github.com/login/oauth"   # as `sigstore verify identity` takes them: issuer required

    [services]                          # which repositories may build each service
    payments = ["owner/payments"]

    [[keys]]                            # keyed DSSE / raw-payload signers (Cloud Build, test keys)
    keyid = "..."
    public_key_pem = "-----BEGIN PUBLIC KEY-----..."
    label = "..."
    repositories = ["owner/repo"]
    raw_payload = false                 # true: the key signs the payload bytes, not the DSSE PAE
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING

from forensics.errors import BadPolicy
from forensics.verified import DuplicateKey
from forensics.verified import loads as strict_loads

if TYPE_CHECKING:
    from forensics.case import Case


TOP_KEYS = {
    "issuer",
    "repositories",
    "services",
    "trusted_root",
    "keys",
    "artifacts",
    "ci_actors",
    "rollout_window_minutes",
    "signers",
}
SIGNER_KEYS = {"issuer"}
RULE_KEYS = {
    "issuer",
    "identity",
    "identity_prefix",
    "identity_regex",
    "ref",
    "workflow_ref",
    "commit",
    "workflow",
    "trigger",
    "runner_environment",
    "builder_id",
}
KEY_KEYS = {"keyid", "public_key_pem", "label", "repositories", "raw_payload"}


def _unknown(where: str, got, allowed: set[str]) -> None:
    extra = sorted(set(got) - allowed)
    if extra:
        raise BadPolicy(f"unknown policy key(s) {extra} in {where}; allowed: {', '.join(sorted(allowed))}")


def _strings(where: str, value) -> None:
    if isinstance(value, str):
        return
    if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        raise BadPolicy(f"{where} must be a string or a list of strings")


def validate(d: dict | None) -> dict:
    """``d`` checked against the schema (module docstring); repository names lower-cased. Raises
    ``BadPolicy`` with what to fix."""
    d = dict(d or {})
    if not isinstance(d, dict):
        raise BadPolicy("a policy is a table (TOML) or an object (JSON)")
    _unknown("the policy", d, TOP_KEYS)
    repos = {}
    for repo, rules in (d.get("repositories") or {}).items():
        where = f"repositories.{repo!r}"
        if not isinstance(rules, dict):
            raise BadPolicy(f"{where} must be a table of rules")
        _unknown(where, rules, RULE_KEYS)
        for k, v in rules.items():
            _strings(f"{where}.{k}", v)
        prefix = rules.get("identity_prefix")
        if prefix is not None and not all(
            p.endswith("/") for p in ([prefix] if isinstance(prefix, str) else prefix)
        ):
            raise BadPolicy(f"{where}.identity_prefix must end in '/' (else …/.git matches …/.github)")
        for rx in [rules["identity_regex"]] if isinstance(rules.get("identity_regex"), str) else []:
            try:
                re.compile(rx)
            except re.error as e:
                raise BadPolicy(f"{where}.identity_regex is not a regular expression: {e}") from None
        repos[repo.lower().removeprefix("https://github.com/")] = rules
    services = {}
    for service, allowed in (d.get("services") or {}).items():
        _strings(f"services.{service!r}", allowed)
        services[service] = [
            r.lower().removeprefix("https://github.com/")
            for r in ([allowed] if isinstance(allowed, str) else allowed)
        ]
    for i, key in enumerate(d.get("keys") or []):
        if not isinstance(key, dict):
            raise BadPolicy(f"keys[{i}] must be a table")
        _unknown(f"keys[{i}]", key, KEY_KEYS)
        if not key.get("keyid") or not key.get("public_key_pem"):
            raise BadPolicy(f"keys[{i}] needs keyid and public_key_pem")
    for san, rules in (d.get("signers") or {}).items():
        where = f"signers.{san!r}"
        if not isinstance(rules, dict) or not isinstance(rules.get("issuer"), str):
            raise BadPolicy(f"{where} must be a table with an issuer")
        _unknown(where, rules, SIGNER_KEYS)
    if d.get("repositories") is not None:
        d["repositories"] = repos
    if d.get("services") is not None:
        d["services"] = services
    return d


def load_policy(path: str | Path) -> dict:
    """Read a policy file (``.toml``, or ``.json``; by content when the suffix says neither), check
    it (``validate``) and resolve ``trusted_root`` and ``artifacts`` paths relative to the file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise BadPolicy(f"cannot read policy file {path}: {e.strerror}") from None
    try:
        if p.suffix.lower() == ".json" or (p.suffix.lower() != ".toml" and text.lstrip().startswith("{")):
            d = strict_loads(text)
        else:
            d = tomllib.loads(text)
    except (DuplicateKey, ValueError, tomllib.TOMLDecodeError) as e:
        raise BadPolicy(f"policy file {path} cannot be read: {e}") from None
    if not isinstance(d, dict):
        raise BadPolicy(f"policy file {path} must hold a table (TOML) or an object (JSON)")
    for key in ("trusted_root", "artifacts"):
        if isinstance(d.get(key), str) and d[key] and not Path(d[key]).is_absolute():
            d[key] = str((p.parent / d[key]).resolve())
    return validate(d)


def policy_for(case: Case, path: str | Path | None = None) -> dict | None:
    """The policy a consumer uses: the file at ``path`` when given, else the one stored in the case."""
    if path:
        return load_policy(path)
    from forensics.verify import stored_policy

    return stored_policy(case)


def service_repositories(policy: dict | None) -> list[str] | None:
    """``service=owner/repo`` pairs for SQL (``$service_repos``), None when the policy maps none."""
    services = (policy or {}).get("services") or {}
    pairs = [f"{s}={r}" for s, repos in services.items() for r in repos]
    return pairs or None
