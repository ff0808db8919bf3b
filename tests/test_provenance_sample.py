"""The sample incident: signed provenance verifies under the TEST key, the rogue deploy is flagged."""

from __future__ import annotations

import random

import pytest

import forensics
from forensics import provenance
from forensics.sample import scenario as S
from forensics.sample.policy import sample_policy
from forensics.sample.writers import deploys as deploys_writer
from forensics.sample.writers import provenance as W


@pytest.fixture(scope="module")
def prov_sample(sample_dir, tmp_path_factory):
    c = forensics.open_case(tmp_path_factory.mktemp("provsample") / "c.duckdb")
    c.ingest([sample_dir / "deploys", sample_dir / "provenance", sample_dir / "ci"])
    provenance.verify(c, sample_policy())
    yield c
    c.close()


def test_sample_provenance_verifies_under_the_test_trust_root_only(prov_sample):
    df = prov_sample.sql(
        "SELECT DISTINCT subject_digest, verdict, trust_root, verdict_reason FROM attestations"
    )
    assert sorted(df["subject_digest"]) == sorted(i.digest for i in W.LEGIT)
    assert set(df["verdict"]) == {"verified"}
    assert all("TEST" in t and "not production" in t for t in df["trust_root"])


def test_sample_provenance_without_the_test_key_is_not_verified(sample_dir, tmp_path):
    c = forensics.open_case(tmp_path / "c.duckdb")
    c.ingest([sample_dir / "provenance"])
    policy = sample_policy() | {"keys": []}
    provenance.verify(c, policy)
    df = c.sql("SELECT DISTINCT verdict, verdict_reason FROM attestations")
    assert df["verdict"].to_list() == ["indeterminate"] and "does not list" in df["verdict_reason"][0]
    c.close()


def test_rogue_deploy_is_flagged_with_reasons(prov_sample):
    res = provenance.invariant_results(prov_sample, sample_policy())
    for name in ("provenance_deploy_without_attestation", "provenance_deploy_outside_pipeline"):
        df = res[name]
        assert df["artifact_digest"].to_list() == [S.PAYMENTS_ROGUE.digest], name
        assert df["actor"][0] == S.K8S_DEPLOY_BOT and df["reason"][0]
    assert res["provenance_downgrade"]["artifact_digest"].to_list() == [S.PAYMENTS_ROGUE.digest]
    assert res["provenance_rollback_unverified"].is_empty()  # the rollback went to the verified image
    assert res["provenance_attestation_failed"].is_empty()


def test_running_at_answers_what_code_was_running(prov_sample):
    during = provenance.running_at(prov_sample, "2026-03-14T09:50:00Z", service="payments").row(0, named=True)
    assert during["artifact_digest"] == S.PAYMENTS_ROGUE.digest and during["verdict"] == "no attestation"
    assert (during["deployed_by"], during["via"]) == (S.K8S_DEPLOY_BOT, "manual")
    after = provenance.running_at(prov_sample, S.t("10:30"))
    assert after.height == 3 and set(after["verdict"]) == {"verified"}
    pay = after.filter(after["service"] == "payments").row(0, named=True)
    assert pay["repo_at_commit"] == f"{S.REPO}@{S.PAYMENTS_GOOD.commit[:12]}" and pay["action"] == "rollback"


def test_what_was_running_has_one_interval_per_deploy(prov_sample):
    df = provenance.what_was_running(prov_sample)
    assert df.height == len(S.DEPLOYS)
    pay = df.filter(df["service"] == "payments")
    assert pay["until"].to_list()[:2] == [S.ROGUE_DEPLOY.time, S.ROLLBACK.time] and pay["until"][2] is None


def test_ci_leak_run_is_a_ci_event_on_the_compromised_runner(prov_sample):
    df = prov_sample.sql(
        "SELECT * FROM ci_runs WHERE run_id = $r AND kind = 'workflow_job'", {"r": str(S.CI_LEAK_RUN_ID)}
    )
    row = df.row(0, named=True)
    assert row["runner_name"] == S.COMPROMISED_RUNNER and row["job_id"] == str(S.CI_LEAK_JOB_ID)
    run = prov_sample.sql(
        "SELECT * FROM ci_runs WHERE run_id = $r AND kind = 'workflow_run'", {"r": str(S.CI_LEAK_RUN_ID)}
    )
    assert run["trigger"][0] == "pull_request_target" and run["actor"][0] == S.ATTACKER_GH_USER


def test_summary_lists_the_rogue_deploy(prov_sample):
    s = provenance.provenance_summary(prov_sample, sample_policy())
    assert s["counts"]["verified"][0] == 3
    v = s["violations"]
    assert set(v.filter(v["digest"] == S.PAYMENTS_ROGUE.digest)["invariant"]) >= {
        "provenance_deploy_without_attestation",
        "provenance_deploy_outside_pipeline",
    }


def test_writers_are_deterministic(tmp_path):
    for writer in (W, deploys_writer):
        a = [p.read_bytes() for p in writer.write(tmp_path / "a", random.Random(1), 1)]
        b = [p.read_bytes() for p in writer.write(tmp_path / "b", random.Random(1), 1)]
        assert a == b


def test_what_was_running_chart_renders_offline_with_verdict_colours(prov_sample):
    import vl_convert as vlc

    from forensics.charts.provenance import VERDICT_COLOURS, what_was_running

    svg = vlc.vegalite_to_svg(what_was_running(provenance.what_was_running(prov_sample)).to_dict())
    assert (
        svg.startswith("<svg")
        and VERDICT_COLOURS["no attestation"] in svg
        and VERDICT_COLOURS["verified"] in svg
    )


def test_provenance_audit_notebook_reports_the_rogue_deploy(sample_dir, tmp_path):
    from forensics.report import run_report

    c = forensics.open_case(tmp_path / "c.duckdb")
    c.ingest([sample_dir / "deploys", sample_dir / "provenance", sample_dir / "ci"])
    c.close()
    r = run_report("provenance_audit", tmp_path / "c.duckdb", {"use_sample_test_key": True}, tmp_path / "out")
    html = r.html.read_text()
    assert S.PAYMENTS_ROGUE.digest in html and "deployed by hand" in html and "<script" not in html


def test_case_running_at_is_the_provenance_answer(prov_sample):
    t = "2026-03-14T09:50:00Z"
    assert prov_sample.running_at(t, service="payments").equals(
        provenance.running_at(prov_sample, t, "payments")
    )
