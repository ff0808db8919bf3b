"""The sample incident's identity-provider prologue, VPC Flow records of the export and GuardDuty finding
(issue 21 f). Expected values come from the generated files, read here with json and str.split, and
from forensics.sample.scenario."""

from __future__ import annotations

import json

from forensics.sample import scenario as S


def test_phished_okta_session_in_the_inventory(sample_case, sample_dir):
    events = [json.loads(ln) for ln in (sample_dir / "idp/okta-system-log.jsonl").read_text().splitlines()]
    mine = [e for e in events if e["authenticationContext"]["externalSessionId"] == S.OKTA_PHISHED_SESSION]
    rows = sample_case.sql(
        "SELECT * FROM credentials WHERE credential_id = $c", {"c": S.OKTA_PHISHED_SESSION}
    ).to_dicts()
    assert len(rows) == 1
    row = rows[0]
    assert (row["kind"], row["principal"]) == ("okta_session", S.CI_ADMIN)
    assert row["issued_at"] == S.PHISH_TIME < S.CI_LEAK_TIME  # before the CI compromise
    assert row["revoked_at"] == S.OKTA_SESSION_END and "user.session.end" in row["revoked_how"]
    assert list(row["src_ips"]) == sorted({e["client"]["ipAddress"] for e in mine}) == [S.ATTACKER_IP]
    assert row["event_count"] == len(mine)
    # the session leads to GitHub through Okta SSO before the fork's workflow ran
    sso = sample_case.sql(
        """SELECT time, target FROM events WHERE source = 'okta' AND credential_id = $c
           AND action = 'user.authentication.sso'""",
        {"c": S.OKTA_PHISHED_SESSION},
    ).to_dicts()
    assert [(r["time"] < S.CI_LEAK_TIME, S.GITHUB_OKTA_APP in r["target"]) for r in sso] == [(True, True)]


def test_the_attacker_ip_links_the_session_to_the_aws_key(sample_case):
    df = sample_case.timeline(ips=[S.ATTACKER_IP])
    sources = set(df["source"])
    assert {"okta", "cloudtrail", "guardduty"} <= sources  # flows name it as their destination (below)
    first = df.sort("time").row(0, named=True)
    assert (first["source"], first["time"]) == ("okta", S.PHISH_TIME)


def test_vpc_flow_sizes_the_export(sample_case, sample_dir):
    (log,) = (sample_dir / "network").glob("*.log")
    lines = log.read_text().splitlines()
    names = lines[0].split()
    want = 0
    for ln in lines[1:]:
        f = dict(zip(names, ln.split(), strict=True))
        if f["dstaddr"] == S.ATTACKER_IP and f["action"] == "ACCEPT":
            want += int(f["bytes"])
    got = sample_case.sql(
        "SELECT sum(bytes) AS b, min(time) AS t FROM network_flows WHERE dst_ip = $ip AND action = 'ACCEPT'",
        {"ip": S.ATTACKER_IP},
    ).to_dicts()[0]
    assert got["b"] == want == S.EXFIL_BYTES
    assert got["t"] == S.EXFIL_START


def test_guardduty_finding_is_a_kit_finding(sample_case):
    df = sample_case.findings(detector="provider_findings")
    rows = df.to_dicts()
    assert len(rows) == 1
    r = rows[0]
    assert r["severity"] == "high" and r["time"] == S.GUARDDUTY_TIME
    ents = {(e["kind"], e["id"]) for e in r["entities"]}
    assert {("credential", S.TEMP_KEY), ("ip", S.ATTACKER_IP)} <= ents
