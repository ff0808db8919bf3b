"""The sample incident's provenance policy and its TEST trust key, for the demo and the tests. The
analysis modules never import this; a caller that wants the sample's trust adds it explicitly."""

from __future__ import annotations

from forensics.provenance import GITHUB_ISSUER
from forensics.sample import scenario as S
from forensics.sample.writers import provenance as W


def sample_policy() -> dict:
    """The policy for the sample incident: the acme-pay repositories, GitHub's hosted builder, the
    CI identities, and the sample's TEST signing key (labelled as test trust, never production)."""
    key = W.test_trust_key()
    repos = [W.repository(i.service) for i in W.LEGIT]
    key["repositories"] = repos
    return {
        "issuer": GITHUB_ISSUER,
        "repositories": {
            r: {"builder_id": W.BUILDER_ID, "identity_prefix": f"https://github.com/{r}/"} for r in repos
        },
        "keys": [key],
        "ci_actors": [S.CI_ACTOR, S.K8S_CI_SA],
        "rollout_window_minutes": 30,
    }


def with_sample_test_key(policy: dict) -> dict:
    """``policy`` plus the sample data's TEST key and repositories, and its CI identities when the
    policy names none (demo only; the verdicts then name the TEST trust root)."""
    sample = sample_policy()
    out = dict(policy)
    out["keys"] = sample["keys"]
    out["repositories"] = {**sample["repositories"], **dict(policy.get("repositories") or {})}
    out["ci_actors"] = list(policy.get("ci_actors") or []) or sample["ci_actors"]
    return out
