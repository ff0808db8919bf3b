"""Findings on the sample incident: every act of the story in sample_data/README.md is named, with
evidence, and the chain orders them. Expected values are the README's facts, written out here."""

from __future__ import annotations

import polars as pl
import pytest

import forensics
from forensics.cli import main
from forensics.findings.entities import UnknownEntity

ATTACKER_IP = "203.0.113.66"
DEPLOY_KEY = "AKIAEXAMPLEDEPLOY001"
SESSION = "ASIAEXAMPLETEMP00001"
PERSIST = "AKIAEXAMPLEPERSIST01"
ROGUE = "sha256:f0a93edd28a698a36dc5051c5d9347641de3e64ad9e96ab53b8bd626b2128a3a"

# (act, predicate over a findings row) in the README's order.
ACTS = [
    ("CI log exposure", lambda r: r["detector"] == "secret_exposed" and _has(r, "credential", DEPLOY_KEY)),
    ("PAT from a new IP", lambda r: r["detector"] == "credential_new_address" and _has(r, "ip", ATTACKER_IP)
        and _has(r, "actor", "deploy-bot")),
    ("AWS key from the same IP", lambda r: r["detector"] == "credential_new_address"
        and _has(r, "credential", DEPLOY_KEY) and _has(r, "ip", ATTACKER_IP)),
    ("AssumeRole", lambda r: r["detector"] == "session_from_new_address" and _has(r, "credential", SESSION)),
    ("PutImage without provenance", lambda r: r["detector"] == "image_without_provenance" and _has(r, "artifact", ROGUE)),
    ("CreateAccessKey", lambda r: r["rule_id"] == "aws_access_key_for_other_user" and _has(r, "credential", PERSIST)),
    ("S3 reads", lambda r: r["detector"] == "collection_s3" and _has(r, "credential", SESSION)),
    ("manual deploy", lambda r: r["rule_id"] == "provenance_deploy_outside_pipeline"),
    ("latency", lambda r: r["detector"] == "burn_rate_alert" and _has(r, "service", "payments")),
    ("double charge", lambda r: r["rule_id"] == "double_apply" and _has(r, "request", "ord-10042")),
    ("partial revocation", lambda r: r["detector"] == "partial_revocation" and _has(r, "credential", PERSIST)),
    ("persistence key used", lambda r: r["detector"] == "persistence_credential_used" and _has(r, "credential", PERSIST)),
]  # fmt: skip


def _has(row, kind, ident) -> bool:
    return {"kind": kind, "id": ident} in (row["entities"] or [])


def _find(df: pl.DataFrame, pred) -> list[dict]:
    return [r for r in df.iter_rows(named=True) if pred(r)]


@pytest.fixture(scope="module")
def ro_case(sample_dir, tmp_path_factory):
    """A closed sample case, to reopen read-only as reports do: findings were stored at ingest."""
    path = str(tmp_path_factory.mktemp("ro") / "sample.duckdb")
    with forensics.open_case(path) as c:
        c.ingest([sample_dir])
    return path


def test_every_act_is_named_with_evidence(sample_case):
    df = sample_case.findings()
    for act, pred in ACTS:
        rows = _find(df, pred)
        assert rows, f"no finding names the act {act!r}"
        for r in rows:
            assert r["evidence"], f"finding for {act!r} has no evidence"
            assert r["severity"] in ("critical", "high", "medium", "low", "info")


def test_evidence_opens_the_records(sample_case):
    df = sample_case.findings()
    ev = df.select(pl.col("evidence").explode().struct.unnest())
    events = set(ev.filter(pl.col("kind") == "event")["id"])
    found = set(
        sample_case.sql("SELECT event_id FROM events WHERE list_contains($i, event_id)", {"i": list(events)})[
            "event_id"
        ]
    )
    assert events == found
    spans = set(ev.filter(pl.col("kind") == "span")["id"])
    known = set(sample_case.sql("SELECT trace_id || ':' || span_id AS k FROM spans")["k"])
    assert spans and spans <= known
    deploys = set(ev.filter(pl.col("kind") == "deploy")["id"])
    assert deploys and deploys <= set(sample_case.sql("SELECT deploy_id FROM deploys")["deploy_id"])


def test_no_secret_shown_in_full(sample_case, sample_dir):
    text = (sample_dir / "ci/job_logs/run-9001-job-90011.log").read_text()
    import re

    secrets = re.findall(r"[A-Za-z0-9/+]{40}", text)
    assert secrets
    dump = sample_case.findings().write_ndjson()
    assert not any(s in dump for s in secrets)


def test_chain_orders_the_story(sample_case):
    chain = sample_case.chain()
    assert chain.columns == [
        "step",
        "time",
        "finding_id",
        "detector",
        "severity",
        "title",
        "entities",
        "evidence",
    ]
    full = chain.join(sample_case.findings().select("finding_id", "rule_id"), on="finding_id")
    steps = []
    for act, pred in ACTS:
        rows = _find(full, pred)
        assert rows, f"the chain misses {act!r}"
        steps.append(min(r["step"] for r in rows))
    assert steps == sorted(steps), list(zip([a for a, _ in ACTS], steps, strict=True))
    assert chain["time"].is_sorted()


def test_finding_ids_stable_and_rederive_is_a_noop(sample_case):
    before = sample_case.findings().select("finding_id", "title", "matches")
    sample_case.refresh_findings()
    assert sample_case.findings().select("finding_id", "title", "matches").equals(before)


def test_read_only_case_has_findings(ro_case, capsys):
    with forensics.open_case(ro_case, read_only=True) as c:
        assert c.findings().height > 0
    assert main(["findings", "--case", ro_case, "--min-severity", "critical"]) == 0
    out = capsys.readouterr().out
    assert PERSIST in out and "critical" in out and "high " not in out


def test_findings_json_and_csv(ro_case, capsys):
    assert main(["findings", "--case", ro_case, "--format", "json"]) == 0
    import json

    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    ranks = [r["severity_rank"] for r in rows]
    assert ranks == sorted(ranks, reverse=True)
    assert main(["findings", "--case", ro_case, "--format", "csv", "--since", "2026-03-14T10:30:00Z"]) == 0
    csv = pl.read_csv(capsys.readouterr().out.encode())
    assert csv.height and all(t >= "2026-03-14T10:30" for t in csv["time"].cast(pl.String))


def test_actor_matches_identity_and_links(sample_case):
    df = sample_case.timeline(actors=["deploy-bot"])
    actors = set(df["actor"])
    assert {"deploy-bot", "arn:aws:iam::111122223333:user/deploy-bot"} <= actors
    assert SESSION in set(df["credential_id"])  # the session assumed with its key, through the link
    assert any("user name" in n for n in sample_case.last_pivot)
    role = sample_case.timeline(actors=["prod-deployer"])
    assert any(":assumed-role/prod-deployer/" in a for a in role["actor"])


def test_unknown_actor_says_nearest(sample_case, ro_case, capsys):
    with pytest.raises(UnknownEntity, match="deploy-bot"):
        sample_case.timeline(actors=["deploy-bott"])
    assert main(["timeline", "--case", ro_case, "--actor", "deploy-bott"]) == 2
    assert "nearest" in capsys.readouterr().err


def test_ip_cidr_credential_and_finding_pivots(sample_case):
    by_ip = sample_case.timeline(ips=["203.0.113.0/24"])
    assert by_ip.height and set(by_ip["src_ip"]) == {ATTACKER_IP}
    by_cred = sample_case.timeline(credentials=[PERSIST])
    assert set(by_cred["credential_id"]) == {PERSIST}
    f = _find(sample_case.findings(), ACTS[5][1])[0]
    around = sample_case.timeline(finding=f["finding_id"])
    ev = {e["id"] for e in f["evidence"]}
    assert ev <= set(around["event_id"])


def test_entity_view(sample_case):
    e = sample_case.entity("deploy-bot")
    assert DEPLOY_KEY in e.match.ids and SESSION in e.match.ids
    assert "ci-runner-7" in set(e.links["linked_id"])  # the key printed in the runner's job log
    assert e.events.height > 0 and (e.links["reason"].str.len_chars() > 0).all()


def test_annotations(tmp_path, sample_dir):
    with forensics.open_case(tmp_path / "c.duckdb") as c:
        c.ingest([sample_dir])
        fid = _find(c.findings(), ACTS[-1][1])[0]["finding_id"]
        kms = c.findings().filter(pl.col("rule_id") == "aws_kms_decrypt")["finding_id"][0]
        c.annotate(fid, star=True, tag="persistence", comment="confirmed with the owner", author="ana")
        c.annotate(kms, status="false_positive", author="ana")
        rows = {r["finding_id"]: r for r in c.findings().iter_rows(named=True)}
        assert (
            rows[fid]["starred"]
            and rows[fid]["tags"] == ["persistence"]
            and "ana" in rows[fid]["comments"][0]
        )
        assert rows[kms]["status"] == "false_positive"
        assert kms not in set(c.chain()["finding_id"])
        evidence = c.sql("SELECT count(*) AS n FROM events")["n"][0]
        c.refresh_findings()
        assert c.findings().filter(pl.col("finding_id") == kms)["status"][0] == "false_positive"
        assert c.sql("SELECT count(*) AS n FROM events")["n"][0] == evidence
    assert main(["annotate", "F-nope", "--case", str(tmp_path / "c.duckdb"), "--star"]) == 2
    assert main(["annotate", fid, "--case", str(tmp_path / "c.duckdb"), "--status", "acknowledged"]) == 0


def test_alias_file_links_identities(tmp_path, sample_dir, capsys):
    path = tmp_path / "a.duckdb"
    with forensics.open_case(path) as c:
        c.ingest([sample_dir])
        before = set(c.entity("mallory-dev").match.ids)
    aliases = tmp_path / "aliases.toml"
    aliases.write_text(
        '[[alias]]\nids = ["mallory-dev", "ci-runner-7"]\nreason = "the fork\'s author ran the job"\n'
    )
    assert main(["findings", "--case", str(path), "--aliases", str(aliases)]) == 0
    capsys.readouterr()
    with forensics.open_case(path, read_only=True) as c:
        e = c.entity("mallory-dev")
        assert "ci-runner-7" in set(e.match.ids) - before
        assert "the fork's author ran the job" in set(e.links["reason"])
    aliases.write_text("[[alias]]\nids = ['only-one']\n")
    assert main(["findings", "--case", str(path), "--aliases", str(aliases)]) == 2


def test_old_case_read_only_says_how_to_derive(tmp_path, capsys):
    import duckdb

    old = tmp_path / "old.duckdb"
    duckdb.connect(str(old)).close()  # a case file with none of the findings tables
    assert main(["findings", "--case", str(old)]) == 2
    assert "--refresh" in capsys.readouterr().err
