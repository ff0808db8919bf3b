"""Invariant violation rates (issue 22): each invariant's denominator, violations and rate per window,
against counts made here from the evidence files."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime

import pytest

from forensics import cli, queries
from forensics.rates import BadWindow

DEPLOYS = [  # (HH:MM, via, action, status)
    ("08:10", "pipeline", "deploy", "success"),
    ("08:40", "manual", "deploy", "success"),
    ("09:05", "pipeline", "deploy", "success"),
    ("09:20", "manual", "rollback", "success"),
    ("09:50", "manual", "scale", "success"),
    ("10:15", "pipeline", "deploy", "success"),
    ("10:20", "manual", "deploy", "failure"),
]


def _deploy_case(case, tmp_path):
    p = tmp_path / "deploys.jsonl"
    p.write_text(
        "".join(
            json.dumps(
                {
                    "id": f"d{i}",
                    "time": f"2026-03-14T{t}:00Z",
                    "service": "api",
                    "environment": "production",
                    "digest": "sha256:" + f"{i:x}" * 64,
                    "actor": "someone",
                    "via": via,
                    "action": action,
                    "status": status,
                }
            )
            + "\n"
            for i, (t, via, action, status) in enumerate(DEPLOYS)
        )
    )
    case.ingest(p)
    return p


def _hour(t: str) -> datetime:
    return datetime(2026, 3, 14, int(t[:2]), tzinfo=UTC)


def _rows(df, name):
    return {
        r["window_start"]: (r["checked"], r["violations"])
        for r in df.filter(df["invariant"] == name).iter_rows(named=True)
    }


def test_every_invariant_declares_a_denominator_that_exists():
    for name in queries.invariant_names():
        head = queries.header(queries.load(f"invariants/{name}"))
        assert head.get("denominator"), name
        queries.load(f"denominators/{head['denominator']}")  # raises when missing


def test_deploy_invariant_rates_per_hour_match_the_deploy_log(case, tmp_path):
    path = _deploy_case(case, tmp_path)
    rows = [json.loads(x) for x in path.read_text().splitlines()]
    acted = [r for r in rows if r["action"] in ("deploy", "rollback", "scale") and r["status"] != "failure"]
    shipped = [r for r in rows if r["action"] in ("deploy", "rollback") and r["status"] == "success"]
    hour = lambda r: _hour(r["time"][11:16])  # noqa: E731
    df = case.invariant_rates(by="1h")

    checked, bad = Counter(map(hour, acted)), Counter(hour(r) for r in acted if r["via"] == "manual")
    assert _rows(df, "provenance_deploy_outside_pipeline") == {h: (checked[h], bad[h]) for h in checked}
    # no attestation anywhere: every shipped deploy violates
    checked = Counter(map(hour, shipped))
    assert _rows(df, "provenance_deploy_without_attestation") == {h: (n, n) for h, n in checked.items()}
    rb = Counter(hour(r) for r in shipped if r["action"] == "rollback")
    assert _rows(df, "provenance_rollback_unverified") == {h: (n, n) for h, n in rb.items()}
    out = df.filter(df["invariant"] == "provenance_deploy_outside_pipeline")
    assert out["rate"].to_list() == [v / c for c, v in zip(out["checked"], out["violations"], strict=True)]

    whole = case.invariant_rates()
    total = whole.filter(whole["invariant"] == "provenance_deploy_outside_pipeline").row(0, named=True)
    assert (total["window_start"], total["checked"], total["violations"]) == (
        None,
        len(acted),
        sum(r["via"] == "manual" for r in acted),
    )
    assert total["rate"] == pytest.approx(sum(r["via"] == "manual" for r in acted) / len(acted))


def test_rates_cli_json_and_a_bad_window(case, tmp_path, capsys):
    _deploy_case(case, tmp_path)
    case.close()
    db = str(tmp_path / "case.duckdb")
    assert cli.main(["invariants", "--case", db, "--rate", "--by", "30m", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    mine = [r for r in out if r["invariant"] == "provenance_deploy_outside_pipeline"]
    halves = Counter(
        f"2026-03-14 {t[:2]}:{'00' if int(t[3:]) < 30 else '30'}:00+00:00"
        for t, _, a, s in DEPLOYS
        if s != "failure"
    )
    assert {r["window_start"]: r["checked"] for r in mine} == dict(halves)
    assert cli.main(["invariants", "--case", db, "--rate", "--by", "5 minutes"]) == 2
    with pytest.raises(BadWindow):
        import forensics

        with forensics.open_case(db, read_only=True) as c:
            c.invariant_rates(by="soon")


def _ct(t: str, key: str, name: str, n: int, params: dict | None = None, error: str | None = None) -> dict:
    r = {
        "eventVersion": "1.08",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/u", "accessKeyId": key},
        "eventTime": f"2026-03-14T{t}:00Z",
        "eventSource": name.split(":")[0] + ".amazonaws.com",
        "eventName": name.split(":")[1],
        "awsRegion": "us-east-1",
        "sourceIPAddress": "192.0.2.1",
        "eventID": f"00000000-0000-4000-8000-{n:012d}",
        "recipientAccountId": "111122223333",
        "requestParameters": params,
    }
    if error:
        r["errorCode"] = error
    return r


def test_use_after_revocation_rate_matches_the_uses_of_the_revoked_key(case, tmp_path):
    key, admin = "AKIAEXAMPLEREVOKED01", "AKIAEXAMPLEADMIN0001"
    recs = [_ct(t, key, "s3:GetObject", i) for i, t in enumerate(["08:00", "08:10", "08:20", "09:05"])]
    recs.append(_ct("08:30", admin, "iam:UpdateAccessKey", 50, {"accessKeyId": key, "status": "Inactive"}))
    recs += [
        _ct(t, key, "s3:GetObject", 60 + i, error="AccessDenied") for i, t in enumerate(["08:40", "09:10"])
    ]
    recs += [_ct("08:45", admin, "s3:ListBuckets", 70)]
    p = tmp_path / "ct.json"
    p.write_text(json.dumps({"Records": recs}))
    case.ingest(p)
    revoked_at = "08:30"
    uses = [r for r in recs if r["userIdentity"]["accessKeyId"] == key]
    df = case.invariant_rates(by="1h")
    checked = Counter(_hour(r["eventTime"][11:16]) for r in uses)
    bad = Counter(_hour(r["eventTime"][11:16]) for r in uses if r["eventTime"][11:16] > revoked_at)
    assert _rows(df, "credential_used_after_revocation") == {h: (checked[h], bad[h]) for h in checked}


def test_sample_attestation_and_deploy_denominators_match_the_files(sample_case, sample_dir):
    attestations = sum(
        1
        for f in (sample_dir / "provenance").glob("*.intoto.jsonl")
        for x in f.read_text().splitlines()
        if x.strip()
    )
    deploys = [json.loads(x) for x in (sample_dir / "deploys" / "deploys.jsonl").read_text().splitlines()]
    shipped = [d for d in deploys if d["status"] == "success" and d["action"] in ("deploy", "rollback")]
    whole = sample_case.invariant_rates()
    by = {r["invariant"]: r for r in whole.iter_rows(named=True)}
    assert by["provenance_attestation_failed"]["checked"] == attestations
    for name in (
        "provenance_downgrade",
        "provenance_mixed_versions",
        "provenance_deploy_without_attestation",
    ):
        assert by[name]["checked"] == len(shipped), name
    assert by["provenance_rollback_unverified"]["checked"] == sum(d["action"] == "rollback" for d in shipped)
    # violations are the invariant's own rows, whatever the window
    inv = sample_case.invariants()
    for name, r in by.items():
        assert r["violations"] == inv[name].height, name
    per_window = sample_case.invariant_rates(by="5m")
    sums = Counter()
    for r in per_window.iter_rows(named=True):
        sums[r["invariant"]] += r["violations"]
    assert {n: sums[n] for n in inv} == {n: inv[n].height for n in inv}


def test_rate_and_coverage_charts_render_offline(sample_case):
    import vl_convert as vlc

    from forensics.charts import rates as charts

    svg = vlc.vegalite_to_svg(charts.violation_rate(sample_case.invariant_rates(by="15m")).to_json())
    assert "<svg" in svg and "double_apply" in svg and "<script" not in svg
    cov = sample_case.coverage()
    svg = vlc.vegalite_to_svg(charts.coverage(cov.sources, cov.gaps).to_json())
    assert "<svg" in svg and "cloudtrail" in svg
    empty = charts.violation_rate(sample_case.invariant_rates())  # untimed rows only: nothing to plot
    assert "no timed invariant checks" in empty.to_json()
