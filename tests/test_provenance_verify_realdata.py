"""Verdicts on the real bundles in ../shared/data/provenance (offline, sigstore-python 4.5.1)."""

from __future__ import annotations

import base64
import csv
import json

import pytest

import forensics
from forensics import verify

GITHUB = "https://token.actions.githubusercontent.com"
MUST_VERIFY = [
    "reusable-workflow-attestation.sigstore.json",
    "rules_lint-v1.3.1.tar.gz.intoto.jsonl",
    "slsa-verifier__gha_generic_v2.1.0__binary-linux-amd64-push-v14.intoto.jsonl",
    "bundle_v3_github.whl.sigstore",
]
NEVER_VERIFIED = {
    "bundle_cve_2022_36056.txt.sigstore": "failed",
    "sigstoreBundle-invalid-signature.json": "failed",
    "slsa-verifier__binary-linux-amd64-expired-cert.intoto.jsonl": None,
    "sigstore-go__dsse-2sigs.sigstore.json": "failed",
    "a.dsse.staging-rekor-v2.txt.sigstore.json": "indeterminate",
    "bundle.many_timestamp.sigstore": "failed",
}
SECOND_PATH = [
    "sigstore.js@2.0.0-provenance.sigstore.json",
    "sigstore-go__bundle-provenance.json",
    "slsa-verifier__gha_delegator_v2.1.0__binary-linux-amd64-push-v14.build.slsa",
    "github_provenance_demo-0.0.12-py3-none-any-bundle.jsonl",
]


@pytest.fixture(scope="module")
def prov_case(shared_data, tmp_path_factory):
    c = forensics.open_case(tmp_path_factory.mktemp("prov") / "c.duckdb")
    c.ingest([shared_data / "provenance"])
    yield c
    c.close()


def _policy_from_certificates(case, shared_data, **extra) -> dict:
    ids = case.sql(
        "SELECT DISTINCT cert_repository, signer_san FROM attestations WHERE cert_repository IS NOT NULL"
    )
    repos: dict[str, dict] = {}
    for r in ids.iter_rows(named=True):
        repos.setdefault(r["cert_repository"], {"identity": []})["identity"].append(r["signer_san"])
    return {
        "issuer": GITHUB,
        "repositories": repos,
        "artifacts": str(shared_data / "provenance" / "ARTIFACT_DIGESTS.tsv"),
        **extra,
    }


def _verdicts(case) -> dict[str, tuple[str, str, str]]:
    df = case.sql("""SELECT regexp_extract(e.path, '[^/]+$') AS f, any_value(verdict) AS v, any_value(verdict_reason) AS r,
                            any_value(artifact_match) AS m
                     FROM attestations a JOIN evidence e ON e.sha256 = a.evidence_sha256 GROUP BY 1""")
    return {r["f"]: (r["v"], r["r"], r["m"]) for r in df.iter_rows(named=True)}


def test_attestations_are_indeterminate_until_checked(prov_case):
    df = prov_case.sql("SELECT DISTINCT verdict, verdict_reason FROM attestations")
    assert df["verdict"].to_list() == ["indeterminate"]
    assert "not checked yet" in df["verdict_reason"][0]


def test_real_bundles_get_the_expected_verdicts_with_reasons(prov_case, shared_data):
    verify.verify_case(prov_case, _policy_from_certificates(prov_case, shared_data))
    got = _verdicts(prov_case)
    for f in MUST_VERIFY:
        assert got[f][0] == "verified", (f, got[f])
        assert "production" in got[f][1] or "root" in got[f][1]
    assert got["bundle_v3_github.whl.sigstore"][2] == "match"
    assert got["rules_lint-v1.3.1.tar.gz.intoto.jsonl"][2] == "match"
    for f, expected in NEVER_VERIFIED.items():
        assert got[f][0] != "verified", (f, got[f])
        assert got[f][1], f
        if expected:
            assert got[f][0] == expected, (f, got[f])
    assert "not enough sources of verified time" in got["a.dsse.staging-rekor-v2.txt.sigstore.json"][1]
    assert "DSSE" in got["sigstoreBundle-invalid-signature.json"][1]
    for f in SECOND_PATH:
        assert got[f][0] in ("verified", "indeterminate"), (f, got[f])
        assert got[f][1]
    # npm provenance (Rekor intoto 0.0.2) goes through the kit's own complete check
    assert got["sigstore.js@2.0.0-provenance.sigstore.json"][0] == "verified"
    assert got["sigstore.js@2.0.0-provenance.sigstore.json"][2] == "match"
    assert "tlogEntries" in got["github_provenance_demo-0.0.12-py3-none-any-bundle.jsonl"][1]


def test_verified_rows_carry_signer_identity_and_rekor_entry(prov_case, shared_data):
    verify.verify_case(prov_case, _policy_from_certificates(prov_case, shared_data))
    row = prov_case.sql("""SELECT * FROM attestations a JOIN evidence e ON e.sha256 = a.evidence_sha256
                           WHERE e.path LIKE '%rules_lint%'""").row(0, named=True)
    # signed by the reusable release workflow, on behalf of the repository
    assert (
        row["signer_san"]
        == "https://github.com/bazel-contrib/.github/.github/workflows/release_ruleset.yaml@refs/tags/v7.1.0"
    )
    assert row["signer_issuer"] == GITHUB
    assert row["cert_repository"] == "aspect-build/rules_lint"
    assert row["rekor_log_index"] and row["rekor_integrated_time"] is not None
    assert row["source_commit"] == "8f70009fde0c94ade6ce2a054b94718c819126ec"
    assert row["trust_root"] == verify.PRODUCTION_ROOT_LABEL


def test_unexpected_signer_identity_fails_with_reason(prov_case, shared_data):
    pol = _policy_from_certificates(prov_case, shared_data)
    pol["repositories"]["aspect-build/rules_lint"] = {
        "identity": "https://github.com/aspect-build/rules_lint/.github/workflows/evil.yml@refs/heads/main"
    }
    verify.verify_case(prov_case, pol)
    v, reason, _ = _verdicts(prov_case)["rules_lint-v1.3.1.tar.gz.intoto.jsonl"]
    assert v == "failed" and "is not the expected" in reason


def test_no_policy_for_the_repository_is_indeterminate_never_verified(prov_case):
    verify.verify_case(prov_case, {"issuer": GITHUB})
    assert "verified" not in prov_case.sql("SELECT DISTINCT verdict FROM attestations")["verdict"].to_list()


def test_message_signature_against_a_different_artifact_digest_fails(prov_case, shared_data):
    pol = _policy_from_certificates(prov_case, shared_data)
    pol["artifacts"] = {"bundle_v3_github.whl": {"sha256": "00" * 32, "sha512": "00" * 64}}
    verify.verify_case(prov_case, pol)
    v, reason, match = _verdicts(prov_case)["bundle_v3_github.whl.sigstore"]
    assert v == "failed" and match == "mismatch"


def test_demo_wheel_under_githubs_trust_root_is_still_not_verified(prov_case, shared_data):
    pol = _policy_from_certificates(
        prov_case, shared_data, trusted_root=str(shared_data / "provenance" / "cli__trusted_root.json")
    )
    verify.verify_case(prov_case, pol)
    v, reason, _ = _verdicts(prov_case)["github_provenance_demo-0.0.12-py3-none-any-bundle.jsonl"]
    assert v == "indeterminate" and reason


def _subject_digests(path) -> dict[str, dict]:
    out = {}
    text = path.read_text()
    try:
        docs = [json.loads(text)]
    except ValueError:
        docs = [json.loads(line) for line in text.splitlines() if line.strip()]
    for d in docs:
        env = d.get("dsseEnvelope") or (d if "payload" in d else None)
        if env:
            for s in json.loads(base64.b64decode(env["payload"])).get("subject", []):
                out[s["name"]] = s["digest"]
        elif "messageSignature" in d:
            md = d["messageSignature"]["messageDigest"]
            out[path.name.removesuffix(".sigstore")] = {"sha256": base64.b64decode(md["digest"]).hex()}
    return out


def test_artifact_digests_tsv_match_their_subjects(shared_data):
    p = shared_data / "provenance"
    with open(p / "ARTIFACT_DIGESTS.tsv", newline="") as f:
        rows = {r["file"]: r for r in csv.DictReader(f, delimiter="\t")}
    subjects = {}
    for name in [
        "rules_lint-v1.3.1.tar.gz.intoto.jsonl",
        "bundle_v3_github.whl.sigstore",
        "sigstore.js@2.0.0-provenance.sigstore.json",
        "sigstore-go__bundle-provenance.json",
        "slsa-verifier__gha_generic_v2.1.0__binary-linux-amd64-push-v14.intoto.jsonl",
    ]:
        subjects.update(_subject_digests(p / name))
    pairs = [
        ("rules_lint-v1.3.1.tar.gz", "rules_lint-v1.3.1.tar.gz", "sha256"),
        ("bundle_v3_github.whl", "bundle_v3_github.whl", "sha256"),
        ("sigstore-2.0.0.tgz", "pkg:npm/sigstore@2.0.0", "sha512"),
        ("sigstore-1.3.0.tgz", "pkg:npm/sigstore@1.3.0", "sha512"),
        (
            "slsa-verifier__gha_generic_v2.1.0__binary-linux-amd64-push-v14",
            "gha_generic-binary-linux-amd64-v14",
            "sha256",
        ),
    ]
    for file, subject, alg in pairs:
        assert subjects[subject][alg] == rows[file][alg], file
