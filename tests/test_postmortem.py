"""The postmortem (forensics.postmortem) on the sample incident, on audit logs only and on traces only.
Expected numbers and times come from forensics/sample/scenario.py or are counted in the sample files."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

import forensics
from forensics import postmortem
from forensics.sample import scenario as S

SECTIONS = ["## Summary", "## Impact", "## Trigger and root cause", "## Detection", "## Response and mitigation",
            "## Timeline", "## Action items", "## Lessons learned"]  # fmt: skip


def _numbers(nums):
    return {n.name: n for n in nums}


def _payments_server_spans(sample_dir):
    """Distinct payments server spans in the sample traces file, and those with an error status."""
    seen, bad, starts = set(), set(), []
    for line in (sample_dir / "traces" / "otel-collector-traces.jsonl").read_text().splitlines():
        for rs in json.loads(line)["resourceSpans"]:
            svc = {a["key"]: a["value"].get("stringValue") for a in rs["resource"]["attributes"]}[
                "service.name"
            ]
            for ss in rs["scopeSpans"]:
                for sp in ss["spans"]:
                    if svc == "payments" and sp["kind"] == 2:
                        key = (sp["traceId"], sp["spanId"])
                        seen.add(key)
                        starts.append(int(sp["startTimeUnixNano"]))
                        if sp.get("status", {}).get("code") == 2:
                            bad.add(key)
    return seen, bad, (max(starts) - min(starts)) / 1e9


@pytest.fixture(scope="module")
def pm(sample_case):
    return postmortem.build(sample_case, title="PM")


def test_impact_numbers_match_the_scenario(pm, sample_dir):
    n = _numbers(pm.impact)
    assert n["timed-out requests"].value == str(S.RETRIED_CALLS)
    assert n["double charges (requests applied twice)"].value == f"1: {S.DOUBLE_CHARGE_ORDER}"
    assert S.DOUBLE_CHARGE_ORDER in n["affected orders (requests)"].value
    total, bad, seconds = _payments_server_spans(sample_dir)
    budget = n["error budget consumed"]
    assert (
        f"{len(bad)} bad (failed or timed-out) of {len(total)} server requests of service payments"
        in budget.how
    )
    expected = len(bad) / ((1 - 0.999) * len(total) * 30 * 86400 / seconds)
    assert budget.value == f"{expected:.1%} of a 30-day budget"
    assert all(x.how for x in pm.impact)  # every number says how it was computed


def test_detection_and_response_times_match_the_readme(pm):
    d, r = _numbers(pm.detection), _numbers(pm.response)
    # the first act of the story: the phished identity-provider session (the prologue), before the CI leak
    assert d["first bad event"].value == f"{S.PHISH_TIME:%Y-%m-%d %H:%M:%S}Z"
    first_impact = d["first user impact"].value
    t = first_impact.replace("Z", "")
    assert (
        S.PAYMENTS_SLOW_FROM.strftime("%Y-%m-%d %H:%M:%S")
        <= t
        < S.ROLLBACK.time.strftime("%Y-%m-%d %H:%M:%S")
    )
    alert = next(v for k, v in d.items() if k.startswith("burn-rate alert"))
    fired = alert.value.split("fired ")[1].split(",")[0]
    assert (
        S.PAYMENTS_SLOW_FROM.strftime("%Y-%m-%d %H:%M:%SZ")
        <= fired
        < S.ROLLBACK.time.strftime("%Y-%m-%d %H:%M:%SZ")
    )
    rb = r["rollback of payments"].value
    assert rb.startswith(f"{S.ROLLBACK.time:%Y-%m-%d %H:%M:%S}Z to {S.ROLLBACK.image.version}")
    for c in S.CREDENTIALS:
        if c.revoked_at is not None and f"revoked {c.id}" in r:
            assert r[f"revoked {c.id}"].value == f"{c.revoked_at:%Y-%m-%d %H:%M:%S}Z"
    assert f"revoked {S.DEPLOY_BOT_KEY}" in r
    never = [c.id for c in S.CREDENTIALS if c.revoked_at is None]
    assert all(x in r["still not revoked"].value for x in never)
    last_revoke = max(c.revoked_at for c in S.CREDENTIALS if c.revoked_at is not None)
    minutes = (last_revoke - S.PHISH_TIME) / timedelta(minutes=1)  # from the first bad event
    assert r["time to revoke"].value in (f"{minutes:.1f} min", f"{minutes / 60:.1f} h")


def test_timeline_and_actions(pm):
    times = pm.timeline["time"].to_list()
    assert times == sorted(times)
    whats = " ".join(pm.timeline["what"])
    assert S.DOUBLE_CHARGE_ORDER in whats and "rollback of payments" in whats
    assert any(S.PERSIST_KEY in a and a.startswith("Revoke") for a in pm.actions["action"])
    assert set(pm.actions["owner"]) == {"<owner>"}


def test_markdown_has_every_section_and_names_the_story(pm):
    md = postmortem.to_markdown(pm)
    pos = [md.index(s) for s in SECTIONS]
    assert pos == sorted(pos)
    top = md[: md.index("## Impact")]
    for needle in (S.ATTACKER_IP, S.PERSIST_KEY, S.PAYMENTS_ROGUE.digest, S.DOUBLE_CHARGE_ORDER):
        assert needle in top.replace("\\", ""), needle
    assert S.DEPLOY_BOT_SECRET not in md  # one redaction rule


@pytest.fixture(scope="module")
def partial_cases(sample_dir, tmp_path_factory):
    out = {}
    for name, dirs in {"audit": ["cloudtrail", "github", "k8s", "ci"], "traces": ["traces"]}.items():
        path = tmp_path_factory.mktemp(name) / "c.duckdb"
        with forensics.open_case(path) as c:
            c.ingest([sample_dir / d for d in dirs])
        out[name] = forensics.open_case(path, read_only=True)
    yield out
    for c in out.values():
        c.close()


def test_audit_only_case(partial_cases):
    pm = postmortem.build(partial_cases["audit"])
    md = postmortem.to_markdown(pm)
    assert all(s in md for s in SECTIONS)
    assert _numbers(pm.impact)["requests"].value == "not in the data"
    assert S.ATTACKER_IP in md and S.PERSIST_KEY in md
    assert any("no traces" in n for n in pm.notes)


def test_traces_only_case(partial_cases):
    pm = postmortem.build(partial_cases["traces"])
    md = postmortem.to_markdown(pm)
    assert all(s in md for s in SECTIONS)
    n = _numbers(pm.impact)
    assert n["timed-out requests"].value == str(S.RETRIED_CALLS)
    assert n["double charges (requests applied twice)"].value == f"1: {S.DOUBLE_CHARGE_ORDER}"
    assert S.DOUBLE_CHARGE_ORDER in md
