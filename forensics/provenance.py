"""What code was running: deploys joined to attestations by digest, with verdicts.

    from forensics import provenance
    provenance.verify(case, policy)                      # verdicts into attestations (forensics.verify)
    provenance.running_at(case, "2026-03-14T09:50Z")     # what ran at that instant, per service
    provenance.what_was_running(case)                    # service x environment x interval table
    provenance.invariant_results(case, policy)           # the provenance invariants, with reasons
    provenance.provenance_summary(case, policy)          # headline rows for the incident report

All questions are SQL files under ``queries/provenance`` and ``queries/invariants/provenance_*``;
this module binds their parameters from the policy (see ``forensics.verify`` for its format).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import polars as pl

from forensics import verify as _verify
from forensics.policy import service_repositories
from forensics.timewindow import parse_user_time

if TYPE_CHECKING:
    from forensics.case import Case


GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
INVARIANTS = (
    "provenance_deploy_without_attestation",
    "provenance_attestation_failed",
    "provenance_unexpected_identity",
    "provenance_downgrade",
    "provenance_deploy_outside_pipeline",
    "provenance_mixed_versions",
    "provenance_rollback_unverified",
)


def verify(case: Case, policy: dict | None, store: bool | None = None) -> int:
    """Verify every attestation in the case against ``policy``. ``store``: keep it as the case's
    policy (used by every later consumer); None stores it only when the case has none, so a report
    run never replaces the stored policy unless asked."""
    if store is None:
        store = _verify.stored_policy(case) is None
    n = _verify.verify_case(case, policy, store=store)
    case.rederive()  # Kubernetes deploys take 'via' from the policy's ci_actors
    return n


def _time(t) -> datetime | None:
    return parse_user_time(t) if isinstance(t, str) else t


def what_was_running(case: Case, service: str | None = None) -> pl.DataFrame:
    """Service x environment x lane x interval: running digest, who deployed it, how and when, its
    attestation verdict and reason, builder, signer and repository@commit."""
    return case.query("provenance/what_was_running", at=None, service=service)


def running_at(case: Case, t, service: str | None = None) -> pl.DataFrame:
    """What code was running at instant ``t`` (a datetime or an ISO 8601 text with a zone)."""
    return case.query("provenance/what_was_running", at=_time(t), service=service)


def deploy_evidence(case: Case, start=None, end=None, service: str | None = None) -> pl.DataFrame:
    """Every deploy with the attestations of its digest, verdicts and the evidence files."""
    return case.query("provenance/deploy_evidence", start=_time(start), end=_time(end), service=service)


def attestation_verdicts(case: Case) -> pl.DataFrame:
    return case.query("provenance/attestation_verdicts")


def invariant_params(policy: dict | None) -> dict:
    """Bind the invariants' parameters from a policy: CI actors, expected issuer, identities
    (keys as ``key:<keyid>``) and builders, rollout window."""
    policy = policy or {}
    repos = policy.get("repositories") or {}
    identities = [r["identity"] for r in repos.values() if r.get("identity")]
    identities += [f"key:{k['keyid']}" for k in policy.get("keys") or [] if k.get("keyid")]
    builders = sorted({r["builder_id"] for r in repos.values() if r.get("builder_id")})
    prefixes = [r["identity_prefix"] for r in repos.values() if r.get("identity_prefix")]
    return {
        "ci_actors": list(policy.get("ci_actors") or []) or None,
        "expected_issuer": policy.get("issuer"),
        # identity prefixes cannot be listed exhaustively: with prefixes only, identities are not checked here
        "expected_identities": identities if identities and not prefixes else None,
        "expected_builders": builders or None,
        "rollout_window_minutes": policy.get("rollout_window_minutes"),
        "service_repos": service_repositories(policy),
    }


def invariant_results(case: Case, policy: dict | None = None) -> dict[str, pl.DataFrame]:
    """Each provenance invariant's violations (empty frame: healthy)."""
    return case.invariants(names=INVARIANTS, **invariant_params(policy))


def provenance_summary(case: Case, policy: dict | None = None, at=None) -> dict:
    """Headline for the incident report: counts, the invariant violations with their reasons, and
    (with ``at``) what was running then. Returns {"counts": frame, "violations": frame,
    "running": frame}; every value is a polars frame ready for ``nb.table``."""
    counts = case.sql(
        """SELECT (SELECT count(*) FROM deploys) AS deploys, a.*,
                  (SELECT count(*) FROM sbom_components) AS sbom_components,
                  (SELECT count(*) FROM ci_runs) AS ci_events
           FROM (SELECT count(DISTINCT attestation_id) AS attestations,
                        count(DISTINCT attestation_id) FILTER (WHERE verdict = 'verified') AS verified,
                        count(DISTINCT attestation_id) FILTER (WHERE verdict = 'failed') AS failed,
                        count(DISTINCT attestation_id) FILTER (WHERE verdict = 'indeterminate') AS indeterminate
                 FROM attestations) a"""
    )
    rows = []
    for name, df in invariant_results(case, policy).items():
        for r in df.iter_rows(named=True):
            rows.append(
                {
                    "invariant": name,
                    "time": r.get("time") or r.get("mixed_from"),
                    "service": r.get("service"),
                    "digest": r.get("artifact_digest") or r.get("digests"),
                    "actor": r.get("actor") or r.get("signer_san"),
                    "reason": r.get("reason"),
                }
            )
    violations = pl.DataFrame(
        rows,
        schema={
            "invariant": pl.Utf8,
            "time": pl.Datetime("us", "UTC"),
            "service": pl.Utf8,
            "digest": pl.Utf8,
            "actor": pl.Utf8,
            "reason": pl.Utf8,
        },
    )
    running = running_at(case, at) if at is not None else what_was_running(case)
    return {"counts": counts, "violations": violations, "running": running}


def report_policy(case: Case, policy_file: str = "", **parameters) -> dict:
    """The policy a report uses: the file when given; else, when the parameters name no
    repositories and no sample key, the policy stored in the case (a report run without a policy
    keeps the case's verdicts); else the policy built from the parameters (``policy_from_parameters``)."""
    from forensics.policy import policy_for

    sample_key = parameters.pop("use_sample_test_key", False)
    if policy_file:
        return policy_for(case, policy_file)
    stored = policy_for(case)
    if stored is not None and not parameters.get("repositories") and not sample_key:
        return stored
    return policy_from_parameters(**parameters)


def policy_from_parameters(
    issuer: str | None = GITHUB_ISSUER,
    repositories: dict | None = None,
    ci_actors: list | None = None,
    trusted_root: str = "",
    artifacts: str = "",
    rollout_window_minutes: int = 30,
) -> dict:
    """A policy from notebook parameters. The demo adds the sample data's TEST key with
    ``forensics.sample.policy.with_sample_test_key``."""
    policy: dict = {
        "issuer": issuer or None,
        "repositories": dict(repositories or {}),
        "ci_actors": list(ci_actors or []),
        "rollout_window_minutes": int(rollout_window_minutes or 30),
    }
    if trusted_root:
        policy["trusted_root"] = trusted_root
    if artifacts:
        policy["artifacts"] = artifacts
    return policy
