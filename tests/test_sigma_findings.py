"""Sigma matches as findings, and the coverage of rules that cannot run."""

from __future__ import annotations

import hashlib
import json

import pytest

from forensics.cli import main

RULE = """title: {title}
id: {id}
status: test
author: Jane Doe
level: {level}
tags:
  - attack.defense-evasion
  - attack.t1078.004
  - attack.t1078.004
  - attack.t1562
logsource:
  product: {product}
  service: {service}
detection:
{detection}
"""


def write_rule(d, name, *, id, detection, title="Rule", level="high", product="aws", service="cloudtrail"):
    p = d / f"{name}.yml"
    p.write_text(
        RULE.format(title=title, id=id, level=level, product=product, service=service, detection=detection)
    )
    return p


@pytest.fixture
def ct(tmp_path, case):
    recs = [
        {
            "eventVersion": "1.08",
            "eventTime": f"2026-01-01T00:00:0{i}Z",
            "eventSource": "s3.amazonaws.com",
            "eventName": name,
            "eventID": f"e{i}",
            "sourceIPAddress": ip,
            "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::1:user/{who}", "userName": who},
        }
        for i, (name, who, ip) in enumerate(
            [
                ("DeleteBucket", "alice", "1.1.1.1"),
                ("DeleteBucket", "alice", "2.2.2.2"),
                ("DeleteBucket", "bob", "1.1.1.1"),
                ("ListBuckets", "bob", "3.3.3.3"),
            ]
        )
    ]
    (tmp_path / "ct.json").write_text(json.dumps({"Records": recs}))
    case.ingest([tmp_path / "ct.json"])
    rules = tmp_path / "rules"
    rules.mkdir()
    return case, rules


DELETE = "  sel:\n    eventName: DeleteBucket\n  condition: sel"


def test_one_finding_per_rule_and_actor_with_its_events(ct):
    case, rules = ct
    write_rule(
        rules, "del", id="aaaaaaaa-0000-0000-0000-000000000001", title="Bucket deleted", detection=DELETE
    )
    (cov,) = case.sigma(rules)
    assert (cov.status, cov.matches, cov.findings) == ("matched", 3, 2)
    f = case.sql("SELECT * FROM findings WHERE detector = 'sigma' ORDER BY matches DESC").to_dicts()
    assert [r["matches"] for r in f] == [2, 1]
    top = f[0]
    assert top["rule_id"] == "aaaaaaaa-0000-0000-0000-000000000001"
    assert (top["severity"], top["severity_rank"], top["title"]) == ("high", 3, "Bucket deleted")
    assert top["technique"] == "T1078.004,T1562"
    actor = {e["id"] for e in top["entities"] if e["kind"] == "actor"}
    assert len(actor) == 1 and "alice" in actor.pop()
    assert {e["id"] for e in top["entities"] if e["kind"] == "ip"} == {"1.1.1.1", "2.2.2.2"}
    ids = [e["id"] for e in top["evidence"]]
    raw = case.sql("SELECT event_id, raw->>'$.eventID' AS eid FROM events WHERE event_id IN ?", [ids])
    assert sorted(raw["eid"].to_list()) == ["e0", "e1"] and {e["kind"] for e in top["evidence"]} == {"event"}
    attrs = json.loads(top["attributes"])
    assert attrs["rule_path"].endswith("del.yml") and attrs["author"] == "Jane Doe" and attrs["matches"] == 2
    key = f"sigma|{top['rule_id']}|cloudtrail|{case.sql('SELECT actor FROM events WHERE event_id = ?', [ids[0]])['actor'][0]}"
    assert top["finding_id"] == "F-" + hashlib.sha256(key.encode()).hexdigest()[:16]
    assert str(top["time"]).startswith("2026-01-01 00:00:00") and str(top["end"]).startswith(
        "2026-01-01 00:00:01"
    )


def test_rerun_replaces_only_sigma_rows_and_ids_are_stable(ct):
    case, rules = ct
    case.con.execute(
        "INSERT INTO findings (finding_id, detector, rule_id, severity, severity_rank, title) "
        "VALUES ('F-other', 'other', 'x', 'low', 1, 'kept')"
    )
    write_rule(rules, "del", id="aaaaaaaa-0000-0000-0000-000000000001", detection=DELETE)
    case.sigma(rules)
    first = set(case.sql("SELECT finding_id FROM findings WHERE detector = 'sigma'")["finding_id"])
    case.sigma(rules)
    assert set(case.sql("SELECT finding_id FROM findings WHERE detector = 'sigma'")["finding_id"]) == first
    assert case.sql("SELECT count(*) AS n FROM findings WHERE detector = 'other'")["n"][0] == 1
    (rules / "del.yml").unlink()
    write_rule(
        rules,
        "none",
        id="aaaaaaaa-0000-0000-0000-000000000002",
        detection="  sel:\n    eventName: Nope\n  condition: sel",
    )
    (cov,) = case.sigma(rules)
    assert cov.status == "no_match" and cov.matches == 0
    assert case.sql("SELECT count(*) AS n FROM findings WHERE detector = 'sigma'")["n"][0] == 0


def test_coverage_states_every_rule_that_cannot_run(ct):
    case, rules = ct
    write_rule(
        rules,
        "absent",
        id="aaaaaaaa-0000-0000-0000-000000000003",
        detection="  sel:\n    eventName: DeleteBucket\n    status: success\n  condition: sel",
    )
    write_rule(
        rules,
        "absent_filter",
        id="aaaaaaaa-0000-0000-0000-000000000004",
        detection="  sel:\n    eventName: DeleteBucket\n  f:\n    status: x\n  condition: sel and not f",
    )
    write_rule(
        rules,
        "k8s",
        id="aaaaaaaa-0000-0000-0000-000000000005",
        product="kubernetes",
        service="audit",
        detection="  sel:\n    verb: delete\n  condition: sel",
    )
    write_rule(
        rules,
        "win",
        id="aaaaaaaa-0000-0000-0000-000000000006",
        product="windows",
        service="security",
        detection="  sel:\n    EventID: 4624\n  condition: sel",
    )
    write_rule(
        rules,
        "dup",
        id="aaaaaaaa-0000-0000-0000-000000000006",
        product="windows",
        service="security",
        detection="  sel:\n    EventID: 4625\n  condition: sel",
    )
    (rules / "broken.yml").write_text(
        "title: broken\nlogsource: {product: aws, service: cloudtrail}\ndetection: {}\n"
    )
    by = {(c.path.rsplit("/", 1)[-1], c.source): c for c in case.sigma(rules)}
    assert by[("absent.yml", "cloudtrail")].status == "cannot_match"
    assert "status" in by[("absent.yml", "cloudtrail")].reason
    assert by[("absent_filter.yml", "cloudtrail")].status == "matched"
    assert by[("absent_filter.yml", "cloudtrail")].fields_absent == ["status"]
    assert by[("k8s.yml", "k8s_audit")].status == "no_records"
    assert by[("k8s.yml", "k8s_audit_csv")].status == "no_records"
    # dup.yml is read first (files in name order), so win.yml repeats its id
    assert by[("dup.yml", None)].status == "no_loader" and "windows/security" in by[("dup.yml", None)].reason
    assert by[("win.yml", None)].status == "invalid" and "already used" in by[("win.yml", None)].reason
    assert by[("broken.yml", None)].status == "invalid"
    from forensics.sigma import coverage

    stored = coverage(case)
    assert stored.height == len(by) and set(stored["status"]) >= {"cannot_match", "no_loader", "invalid"}


def test_regex_refused_by_re2_is_indeterminate_not_zero(ct):
    case, rules = ct
    write_rule(
        rules,
        "look",
        id="aaaaaaaa-0000-0000-0000-000000000007",
        detection="  sel:\n    eventName|re: '(?<=Delete)Bucket'\n  condition: sel",
    )
    (cov,) = case.sigma(rules)
    assert cov.status in ("error", "unsupported", "invalid") and "(?<=" in cov.reason
    assert cov.matches == 0 and case.sql("SELECT count(*) AS n FROM findings")["n"][0] == 0


def test_cli_sigma_leads_with_the_answer(ct, capsys, tmp_path):
    case, rules = ct
    write_rule(
        rules,
        "del",
        id="aaaaaaaa-0000-0000-0000-000000000001",
        title='"Bucket \\e[31mdeleted"',
        detection=DELETE,
    )
    write_rule(
        rules,
        "win",
        id="aaaaaaaa-0000-0000-0000-000000000006",
        product="windows",
        service="security",
        detection="  sel:\n    EventID: 4624\n  condition: sel",
    )
    path = case.path
    case.close()
    (rules / "bad.yml").write_bytes(b"title: x\x1b\n")
    assert main(["sigma", "--case", path, "--rules", str(rules)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("sigma: 2 findings from 1 matching rules (3 events); 3 rules read")
    assert any("no loader" in line for line in out) and "\x1b" not in "\n".join(out)
    assert main(["sigma", "--case", path, "--rules", str(tmp_path / "missing")]) == 2
    assert main(["sigma", "--case", str(tmp_path / "nocase.duckdb"), "--rules", str(rules)]) == 2


def test_demo_runs_the_shared_rules_when_present(ct, capsys, monkeypatch, tmp_path, shared_data):
    from forensics.cli import _demo_sigma

    case, _ = ct
    path = case.path
    case.close()
    monkeypatch.setenv("FORENSICS_SHARED_DATA", str(shared_data))
    _demo_sigma(path)
    # SigmaHQ's "bucket deleted" (eventName DeleteBucket: 3 events by 2 actors) and "bucket
    # enumeration" (s3 ListBuckets by a caller that is not an AssumedRole: 1 event)
    out = capsys.readouterr().out
    assert out.startswith("sigma: 3 findings from 2 matching rules (4 events); 114 rules read"), out
    import forensics

    with forensics.open_case(path) as c:
        got = dict(c.sql("SELECT rule_id, sum(matches)::INT AS n FROM findings GROUP BY ALL").iter_rows())
    assert got == {"39c9f26d-6e3b-4dbb-9c7a-4154b0281112": 3, "f305fd62-beca-47da-ad95-7690a0620084": 1}
    monkeypatch.setenv("FORENSICS_SHARED_DATA", str(tmp_path / "nothing"))
    _demo_sigma(path)
    assert "skipped" in capsys.readouterr().out


def test_run_rules_missing_path_is_one_line_and_exit_2(tmp_path, capsys):
    import forensics

    case_path = tmp_path / "c.duckdb"
    forensics.open_case(case_path).close()
    code = main(
        ["run", "incident_reconstruction", "--case", str(case_path), "--rules", str(tmp_path / "nope")]
    )
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no such rule" in err[0]


@pytest.mark.slow
def test_run_rules_puts_the_rules_findings_in_the_report(tmp_path, capsys):
    import html
    import re

    import forensics

    recs = [
        {
            "eventVersion": "1.08",
            "eventTime": "2026-01-01T00:00:01Z",
            "eventSource": "s3.amazonaws.com",
            "eventName": "DeleteBucket",
            "eventID": "e1",
            "sourceIPAddress": "1.1.1.1",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::1:user/alice", "userName": "alice"},
        }
    ]
    (tmp_path / "ct.json").write_text(json.dumps({"Records": recs}))
    case_path = tmp_path / "c.duckdb"
    with forensics.open_case(case_path) as c:
        c.ingest([tmp_path / "ct.json"])
    rules = tmp_path / "rules"
    rules.mkdir()
    write_rule(
        rules,
        "del",
        id="11111111-2222-3333-4444-555555555555",
        title="Bucket deleted by run-rules test",
        detection="  sel:\n    eventName: DeleteBucket\n  condition: sel",
    )
    out = tmp_path / "out"
    code = main(
        [
            "run",
            "incident_reconstruction",
            "--case",
            str(case_path),
            "--rules",
            str(rules),
            "--out",
            str(out),
            "-q",
        ]
    )
    assert code == 0
    text = html.unescape(re.sub(r"<[^>]+>", " ", (out / "incident_reconstruction.html").read_text()))
    assert "Bucket deleted by run-rules test" in text
