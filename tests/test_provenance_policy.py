"""The policy as a file, one parse for provenance, and deploy bindings."""

from __future__ import annotations

import base64
import json

import pytest

import forensics
from forensics import verify
from forensics.cli import main
from forensics.errors import BadPolicy
from forensics.policy import load_policy, validate

GITHUB = "https://token.actions.githubusercontent.com"
BUNDLE = "reusable-workflow-attestation.sigstore.json"


def test_policy_file_toml_and_json_read_the_same(tmp_path):
    toml = tmp_path / "p.toml"
    toml.write_text(
        'issuer = "https://token.actions.githubusercontent.com"\n'
        '[repositories."Owner/Repo"]\nidentity_prefix = "https://github.com/owner/repo/"\ntrigger = "push"\n'
        '[services]\npayments = ["owner/repo"]\n'
    )
    js = tmp_path / "p.json"
    js.write_text(json.dumps(tomllib_load(toml)))
    assert load_policy(toml) == load_policy(js)
    assert load_policy(toml)["repositories"] == {
        "owner/repo": {"identity_prefix": "https://github.com/owner/repo/", "trigger": "push"}
    }


def tomllib_load(path):
    import tomllib

    return tomllib.loads(path.read_text())


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ({"repositories": {"o/r": {"identitty": "x"}}}, "identitty"),
        ({"repositories": {"o/r": {"sha": "x"}}}, "sha"),
        ({"repositories": {"o/r": {"identity_prefix": "https://github.com/o/r/.git"}}}, "end in '/'"),
        ({"repositories": {"o/r": {"identity_regex": "("}}}, "regular expression"),
        ({"issuers": "x"}, "issuers"),
        ({"keys": [{"keyid": "k", "public_key_pem": "p", "colour": "red"}]}, "colour"),
    ],
)
def test_unknown_or_unsafe_policy_keys_are_errors(policy, message):
    with pytest.raises(BadPolicy, match=message):
        validate(policy)
    with pytest.raises(BadPolicy):
        verify.Policy.from_dict(policy)


def test_a_duplicate_json_key_in_a_policy_file_is_an_error(tmp_path):
    p = tmp_path / "p.json"
    p.write_text('{"issuer": "a", "issuer": "b"}')
    with pytest.raises(BadPolicy, match="duplicate"):
        load_policy(p)


def test_bad_policy_file_is_a_user_error_on_the_cli(tmp_path, capsys):
    case = tmp_path / "c.duckdb"
    forensics.open_case(case).close()
    p = tmp_path / "p.toml"
    p.write_text('[repositories."o/r"]\nidentitty = "x"\n')
    assert main(["verify", "--case", str(case), "--policy", str(p)]) == 2
    assert "identitty" in capsys.readouterr().err


@pytest.fixture
def bundle_text(shared_data):
    return (shared_data / "provenance" / BUNDLE).read_text()


def _policy_file(case, tmp_path, **rules) -> str:
    ids = case.sql(
        "SELECT DISTINCT cert_repository AS r, signer_san AS s FROM attestations WHERE signer_san IS NOT NULL"
    )
    repo, san = ids.row(0)
    (tmp_path / "policy.json").write_text(
        json.dumps({"issuer": GITHUB, "repositories": {repo: {"identity": san, **rules}}})
    )
    return str(tmp_path / "policy.json")


def _one_verdict(case) -> tuple[str, str]:
    return case.sql("SELECT any_value(verdict), any_value(verdict_reason) FROM attestations").row(0)


def test_the_real_bundle_verifies_with_a_policy_file(bundle_text, tmp_path, capsys):
    (tmp_path / "ev").mkdir()
    (tmp_path / "ev" / BUNDLE).write_text(bundle_text)
    case = tmp_path / "c.duckdb"
    assert main(["ingest", str(tmp_path / "ev"), "--case", str(case)]) == 0
    with forensics.open_case(case) as c:
        pol = _policy_file(c, tmp_path)
    assert main(["verify", "--case", str(case), "--policy", pol]) == 0
    assert "verified 1" in capsys.readouterr().out
    with forensics.open_case(case) as c:
        assert _one_verdict(c)[0] == "verified"
        assert verify.stored_policy(c) == load_policy(pol)


def test_a_rule_the_certificate_does_not_meet_fails(bundle_text, tmp_path):
    (tmp_path / "ev").mkdir()
    (tmp_path / "ev" / BUNDLE).write_text(bundle_text)
    with forensics.open_case(tmp_path / "c.duckdb") as c:
        c.ingest([tmp_path / "ev"])
        for rules in (
            {"trigger": "not-a-trigger"},
            {"runner_environment": "self-hosted"},
            {"commit": "0" * 40},
        ):
            verify.verify_case(c, load_policy(_policy_file(c, tmp_path, **rules)))
            v, reason = _one_verdict(c)
            assert v == "failed", (rules, reason)


def test_a_bundle_that_repeats_the_payload_key_is_failed(bundle_text, tmp_path):
    doc = json.loads(bundle_text)
    stmt = json.loads(base64.b64decode(doc["dsseEnvelope"]["payload"]))
    stmt["predicate"]["buildDefinition"]["externalParameters"]["workflow"]["repository"] = (
        "https://github.com/evil/x"
    )
    forged = base64.b64encode(json.dumps(stmt).encode()).decode()
    text = json.dumps(doc)
    at = text.index('"dsseEnvelope": {') + len('"dsseEnvelope": {')
    text = text[:at] + f'"payload": "{forged}", ' + text[at:]  # DuckDB keeps this one, Python the last
    (tmp_path / "ev").mkdir()
    (tmp_path / "ev" / BUNDLE).write_text(text)
    with forensics.open_case(tmp_path / "c.duckdb") as c:
        c.ingest([tmp_path / "ev"])
        ids = c.sql("SELECT DISTINCT cert_repository AS r, signer_san AS s FROM attestations")
        assert "evil" in c.sql("SELECT any_value(source_repo) FROM attestations").item()
        verify.verify_case(
            c, {"issuer": GITHUB, "repositories": {r: {"identity": s} for r, s in ids.rows() if r}}
        )
        v, reason = _one_verdict(c)
    assert v == "failed" and "duplicate" in reason


def test_a_changed_log_entry_kind_is_failed(bundle_text, tmp_path):
    doc = json.loads(bundle_text)
    doc["verificationMaterial"]["tlogEntries"][0]["kindVersion"]["kind"] = "hashedrekord"
    (tmp_path / "ev").mkdir()
    (tmp_path / "ev" / BUNDLE).write_text(json.dumps(doc))
    with forensics.open_case(tmp_path / "c.duckdb") as c:
        c.ingest([tmp_path / "ev"])
        verify.verify_case(c, load_policy(_policy_file(c, tmp_path)))
        v, reason = _one_verdict(c)
    assert v == "failed", reason


def _deploy_case(
    tmp_path, *, content="dsse", logged="2026-03-14 07:00:00+00", repo="acme/payments", subject="sha256:ab"
):
    c = forensics.open_case(tmp_path / "b.duckdb")
    c.con.execute(
        """INSERT INTO deploys (deploy_id, time, service, artifact_digest, actor, via, action, status, source,
                                evidence_sha256, evidence_record)
           VALUES ('d1', TIMESTAMPTZ '2026-03-14 08:00:00+00', 'payments', 'sha256:ab', 'bot', 'pipeline',
                   'deploy', 'success', 'test', 'e', 0)"""
    )
    c.con.execute(
        """INSERT INTO attestations (attestation_id, subject_digest, kind, content, cert_repository,
                                     rekor_integrated_time, evidence_sha256, evidence_record)
           VALUES ('a1', $subject, 'sigstore_bundle', $content, $repo, CAST($logged AS TIMESTAMPTZ), 'e', 0)""",
        {"content": content, "repo": repo, "logged": logged, "subject": subject},
    )
    return c


@pytest.mark.parametrize(
    ("kw", "fires"),
    [
        ({}, False),
        ({"content": "unsigned"}, True),
        ({"logged": "2026-03-14 09:00:00+00"}, True),
        ({"repo": "acme/ledger"}, True),
        ({"subject": "sha256:cd"}, True),
        ({"logged": "2026-03-14 08:00:00+00"}, False),  # logged at the deploy's own second: not after it
    ],
)
def test_an_attestation_counts_for_a_deploy_only_when_bound_to_it(tmp_path, kw, fires):
    from forensics.provenance import invariant_params

    with _deploy_case(tmp_path, **kw) as c:
        params = invariant_params(validate({"services": {"payments": ["acme/payments"]}}))
        df = c.invariants(names=["provenance_deploy_without_attestation"], **params)
    assert (df["provenance_deploy_without_attestation"].height == 1) is fires


def test_an_artifact_file_in_the_evidence_is_hashed_and_matched_to_its_subject(bundle_text, tmp_path):
    import hashlib

    (tmp_path / "ev").mkdir()
    (tmp_path / "ev" / BUNDLE).write_text(bundle_text)
    stmt = json.loads(base64.b64decode(json.loads(bundle_text)["dsseEnvelope"]["payload"]))
    name = stmt["subject"][0]["name"].rsplit("/", 1)[-1]
    (tmp_path / "ev" / name).write_bytes(b"\x00\x01 not the attested artifact \xff")
    with forensics.open_case(tmp_path / "c.duckdb") as c:
        c.ingest([tmp_path / "ev"])
        files = c.sql("SELECT name, sha256 FROM artifact_files")
        assert files.rows() == [(name, hashlib.sha256((tmp_path / "ev" / name).read_bytes()).hexdigest())]
        verify.verify_case(c, load_policy(_policy_file(c, tmp_path)))
        v, reason = _one_verdict(c)
        match = c.sql("SELECT any_value(artifact_match) FROM attestations").item()
    assert (v, match) == ("failed", "mismatch"), reason


# Google Cloud Build's public us-west2 attestor key (slsa-framework/slsa-verifier,
# verifiers/internal/gcb/keys/materials/us-west2.key): public key material, not a secret
GCB_KEY = (
    "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEw/gdczl7qDD4ww9B6WmJ6++/hQ5S\n"
    "mdw/1RBcwNNQE9qN0O+DilRE9/AjH7OvJUhNznOzEzH7mFq5mNdmUjYlXg==\n-----END PUBLIC KEY-----\n"
)
GCB_KEYID = (
    "projects/verified-builder/locations/us-west2/keyRings/attestor/cryptoKeys/builtByGCB/cryptoKeyVersions/1"
)
GCB_FILE = "slsa-verifier__gcb__gcloud-container-github.json"


def _gcb_verdict(tmp_path, text: str) -> tuple[str, str]:
    (tmp_path / "ev").mkdir()
    (tmp_path / "ev" / GCB_FILE).write_text(text)
    policy = {
        "keys": [{"keyid": GCB_KEYID, "public_key_pem": GCB_KEY, "label": "Cloud Build us-west2"}],
        "repositories": {
            "laurentsimon/gcb-tests": {
                "builder_id": "https://cloudbuild.googleapis.com/GoogleHostedWorker@v0.3"
            }
        },
    }
    with forensics.open_case(tmp_path / "c.duckdb") as c:
        c.ingest([tmp_path / "ev"])
        verify.verify_case(c, policy)
        return c.sql("SELECT any_value(verdict), any_value(verdict_reason) FROM attestations").row(0)


def test_cloud_build_raw_payload_signature_verifies_with_its_key(shared_data, tmp_path):
    v, reason = _gcb_verdict(tmp_path, (shared_data / "provenance" / GCB_FILE).read_text())
    assert v == "verified", reason
    assert "raw-payload" in reason


def test_a_tampered_cloud_build_payload_fails(shared_data, tmp_path):
    doc = json.loads((shared_data / "provenance" / GCB_FILE).read_text())
    env = doc["provenance_summary"]["provenance"][0]["envelope"]
    stmt = json.loads(base64.b64decode(env["payload"]))
    stmt["predicate"]["materials"][0]["digest"]["sha1"] = "0" * 40
    env["payload"] = base64.b64encode(json.dumps(stmt).encode()).decode()
    v, reason = _gcb_verdict(tmp_path, json.dumps(doc))
    assert v == "failed", reason


def test_the_policy_file_drives_the_report_and_a_run_without_one_keeps_it(bundle_text, tmp_path, capsys):
    (tmp_path / "ev").mkdir()
    (tmp_path / "ev" / BUNDLE).write_text(bundle_text)
    case = tmp_path / "c.duckdb"
    with forensics.open_case(case) as c:
        c.ingest([tmp_path / "ev"])
        pol = _policy_file(c, tmp_path)
    out = tmp_path / "reports"
    assert main(["run", "provenance_audit", "--case", str(case), "--policy", pol, "--out", str(out)]) == 0
    with forensics.open_case(case) as c:
        assert _one_verdict(c)[0] == "verified"
        assert verify.stored_policy(c) == load_policy(pol)
    assert main(["run", "provenance_audit", "--case", str(case), "--out", str(out)]) == 0
    with forensics.open_case(case) as c:
        assert _one_verdict(c)[0] == "verified"
        assert verify.stored_policy(c) == load_policy(pol)
    assert main(["invariants", "--case", str(case), "--policy", pol]) in (0, 1)


def _invariant_findings(case_path, capsys, *argv) -> list[str]:
    assert main(["findings", "--case", str(case_path), "--format", "json", *argv]) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.strip()]
    return [r["rule_id"] for r in rows if r["detector"] == "invariant"]


def test_findings_take_the_policy_file_then_the_stored_policy(tmp_path, capsys):
    """``forensics findings --policy``: invariant findings bound by that file, the stored policy kept;
    without it, findings and ``forensics invariants`` use the policy stored in the case."""
    rule = "provenance_deploy_without_attestation"
    policy = {"services": {"payments": ["acme/payments"]}}
    pol = tmp_path / "policy.toml"
    pol.write_text('[services]\npayments = ["acme/payments"]\n')
    case_path = tmp_path / "b.duckdb"
    _deploy_case(tmp_path, repo="acme/ledger").close()  # signed, in time, for the digest: another repository
    assert rule not in _invariant_findings(case_path, capsys, "--refresh")  # no policy: any repository
    assert rule in _invariant_findings(case_path, capsys, "--policy", str(pol))
    with forensics.open_case(case_path) as c:
        assert verify.stored_policy(c) is None  # a consumer's file does not replace the stored policy
    assert rule not in _invariant_findings(case_path, capsys, "--refresh")
    with forensics.open_case(case_path) as c:
        c.con.execute(
            "INSERT INTO case_meta (key, value) VALUES (?, ?)", [verify.POLICY_META_KEY, json.dumps(policy)]
        )
    assert rule in _invariant_findings(case_path, capsys, "--refresh")
    assert main(["invariants", "--case", str(case_path)]) == 1
    assert f"VIOLATED {rule}" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text('[services]\npayments = ["acme/payments"]\nunknown_key = 1\n')
    assert main(["findings", "--case", str(case_path), "--policy", str(bad)]) == 2
    assert "unknown_key" in capsys.readouterr().err
