"""Each provenance invariant: a case that fires it, and one that keeps it quiet."""

from __future__ import annotations

import base64
import json

import pytest

from forensics import provenance
from forensics.sample.writers import provenance as W

REPO = "acme-pay/api"
D1, D2, D3 = ("sha256:" + c * 64 for c in "123")


def _attest(tmp_path, digest: str, builder: str = W.BUILDER_ID, tamper: bool = False):
    stmt = {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "registry/api", "digest": {"sha256": digest.split(":")[1]}}],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {
            "buildDefinition": {
                "buildType": W.BUILD_TYPE,
                "externalParameters": {
                    "workflow": {
                        "repository": f"https://github.com/{REPO}",
                        "ref": "refs/tags/v1",
                        "path": "release.yml",
                    }
                },
            },
            "runDetails": {"builder": {"id": builder}},
        },
    }
    env = W.sign(stmt)
    if tamper:
        stmt["subject"][0]["digest"]["sha256"] = "f" * 64
        env["payload"] = base64.b64encode(json.dumps(stmt).encode()).decode()
    p = tmp_path / f"att-{digest[7:15]}-{builder[-6:].replace('/', '_')}-{int(tamper)}.intoto.jsonl"
    p.write_text(json.dumps(env) + "\n")
    return p


def _deploys(tmp_path, rows: list[tuple], name: str = "deploys.jsonl"):
    """rows: (time HH:MM, digest, actor, via, action[, instance])"""
    out = []
    for i, r in enumerate(rows):
        rec = {
            "id": f"{name}-{i}",
            "time": f"2026-03-14T{r[0]}:00Z",
            "service": "api",
            "environment": "production",
            "version": f"v{i}",
            "digest": r[1],
            "actor": r[2],
            "via": r[3],
            "action": r[4],
            "status": "success",
        }
        if len(r) > 5:
            rec["instance"] = r[5]
        out.append(json.dumps(rec))
    p = tmp_path / name
    p.write_text("\n".join(out) + "\n")
    return p


def _policy() -> dict:
    key = W.test_trust_key() | {"repositories": [REPO]}
    return {
        "issuer": provenance.GITHUB_ISSUER,
        "repositories": {REPO: {"builder_id": W.BUILDER_ID}},
        "keys": [key],
        "ci_actors": ["ci-bot"],
        "rollout_window_minutes": 30,
    }


def _run(case, tmp_path, deploys: list[tuple], attested=(D1,), extra=()):
    case.ingest([_deploys(tmp_path, deploys), *[_attest(tmp_path, d) for d in attested], *extra])
    provenance.verify(case, _policy())
    return provenance.invariant_results(case, _policy())


PIPE = ("ci-bot", "pipeline")


def test_deploy_without_attestation_fires_with_reason(case, tmp_path):
    res = _run(case, tmp_path, [("08:00", D1, *PIPE, "deploy"), ("09:00", D2, *PIPE, "deploy")])
    df = res["provenance_deploy_without_attestation"]
    assert df["artifact_digest"].to_list() == [D2] and "no attestation names digest" in df["reason"][0]


def test_deploy_without_attestation_quiet_when_all_attested(case, tmp_path):
    res = _run(
        case, tmp_path, [("08:00", D1, *PIPE, "deploy"), ("09:00", D2, *PIPE, "deploy")], attested=(D1, D2)
    )
    assert res["provenance_deploy_without_attestation"].is_empty()


def test_attestation_failed_fires_on_a_tampered_envelope(case, tmp_path):
    res = _run(case, tmp_path, [("08:00", D1, *PIPE, "deploy")], extra=[_attest(tmp_path, D2, tamper=True)])
    df = res["provenance_attestation_failed"]
    assert df.height == 1 and "signature does not verify" in df["reason"][0]


def test_attestation_failed_quiet_when_signatures_verify(case, tmp_path):
    res = _run(case, tmp_path, [("08:00", D1, *PIPE, "deploy")], attested=(D1, D2))
    assert res["provenance_attestation_failed"].is_empty()
    assert set(case.sql("SELECT verdict FROM attestations")["verdict"]) == {"verified"}


def test_unexpected_builder_fires(case, tmp_path):
    res = _run(
        case,
        tmp_path,
        [("08:00", D1, *PIPE, "deploy")],
        extra=[_attest(tmp_path, D2, builder="https://evil.example/builder")],
    )
    df = res["provenance_unexpected_identity"]
    assert df.height == 1 and "is not an expected builder" in df["reason"][0]
    assert not res[
        "provenance_attestation_failed"
    ].is_empty()  # the verdict fails too, with the builder as reason


def test_unexpected_identity_fires_on_a_signer_not_listed(case, tmp_path):
    case.ingest([_attest(tmp_path, D1)])
    df = case.query(
        "invariants/provenance_unexpected_identity",
        expected_issuer=None,
        expected_identities=["key:someone-else"],
        expected_builders=None,
    )
    assert df.height == 0  # not verified yet: the signer identity is only known once checked
    provenance.verify(case, _policy())
    df = case.query(
        "invariants/provenance_unexpected_identity",
        expected_issuer=None,
        expected_identities=["key:someone-else"],
        expected_builders=None,
    )
    assert df.height == 1 and "is not an expected identity" in df["reason"][0]


def test_unexpected_identity_quiet_for_the_expected_key_and_builder(case, tmp_path):
    res = _run(case, tmp_path, [("08:00", D1, *PIPE, "deploy")])
    assert res["provenance_unexpected_identity"].is_empty()


def test_downgrade_fires_when_verified_code_is_replaced_by_unverified(case, tmp_path):
    res = _run(case, tmp_path, [("08:00", D1, *PIPE, "deploy"), ("09:00", D2, *PIPE, "deploy")])
    df = res["provenance_downgrade"]
    assert df["artifact_digest"].to_list() == [D2] and "provenance downgrade" in df["reason"][0]


def test_downgrade_quiet_when_every_deploy_is_verified(case, tmp_path):
    res = _run(
        case, tmp_path, [("08:00", D1, *PIPE, "deploy"), ("09:00", D3, *PIPE, "deploy")], attested=(D1, D3)
    )
    assert res["provenance_downgrade"].is_empty()


def test_outside_pipeline_fires_for_a_manual_deploy_by_a_human(case, tmp_path):
    res = _run(case, tmp_path, [("08:00", D1, *PIPE, "deploy"), ("09:00", D1, "mallory", "manual", "deploy")])
    df = res["provenance_deploy_outside_pipeline"]
    assert df["actor"].to_list() == ["mallory"]
    assert "by hand" in df["reason"][0] and "not a CI identity" in df["reason"][0]


def test_outside_pipeline_quiet_when_ci_deploys(case, tmp_path):
    res = _run(case, tmp_path, [("08:00", D1, *PIPE, "deploy"), ("09:00", D1, *PIPE, "scale")])
    assert res["provenance_deploy_outside_pipeline"].is_empty()


def test_mixed_versions_fire_past_the_rollout_window(case, tmp_path):
    res = _run(
        case,
        tmp_path,
        [
            ("08:00", D1, *PIPE, "deploy", "eu"),
            ("08:00", D1, *PIPE, "deploy", "us"),
            ("09:00", D3, *PIPE, "deploy", "eu"),
            ("11:00", D3, *PIPE, "deploy", "us"),
        ],
        attested=(D1, D3),
    )
    df = res["provenance_mixed_versions"]
    assert df.height == 1 and "past the rollout window of 30 minutes" in df["reason"][0]


def test_mixed_versions_quiet_within_the_rollout_window(case, tmp_path):
    res = _run(
        case,
        tmp_path,
        [
            ("08:00", D1, *PIPE, "deploy", "eu"),
            ("08:00", D1, *PIPE, "deploy", "us"),
            ("09:00", D3, *PIPE, "deploy", "eu"),
            ("09:10", D3, *PIPE, "deploy", "us"),
        ],
        attested=(D1, D3),
    )
    assert res["provenance_mixed_versions"].is_empty()


def test_rollback_to_unverified_digest_fires(case, tmp_path):
    res = _run(
        case,
        tmp_path,
        [("08:00", D2, *PIPE, "deploy"), ("09:00", D1, *PIPE, "deploy"), ("10:00", D2, *PIPE, "rollback")],
    )
    df = res["provenance_rollback_unverified"]
    assert df["artifact_digest"].to_list() == [D2] and "no verified attestation" in df["reason"][0]


def test_rollback_to_verified_digest_quiet(case, tmp_path):
    res = _run(
        case,
        tmp_path,
        [("08:00", D1, *PIPE, "deploy"), ("09:00", D3, *PIPE, "deploy"), ("10:00", D1, *PIPE, "rollback")],
        attested=(D1, D3),
    )
    assert res["provenance_rollback_unverified"].is_empty()


@pytest.mark.parametrize("name", provenance.INVARIANTS)
def test_invariants_run_without_parameters_from_case_invariants(case, name):
    assert name in case.invariants()
