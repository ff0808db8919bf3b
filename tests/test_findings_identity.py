"""The identity-provider detectors: a sign-in from a new address and an MFA factor added. Expected
values come from reading the Okta records with json, not from the kit."""

from __future__ import annotations

import json

import forensics


def _okta(actor: str, ip: str, t: str, event_type: str = "user.session.start", session: str = "s1") -> dict:
    return {
        "uuid": f"{actor}-{ip}-{t}-{event_type}",
        "published": t,
        "eventType": event_type,
        "version": "0",
        "severity": "INFO",
        "displayMessage": event_type,
        "actor": {"id": "00u" + actor, "type": "User", "alternateId": actor, "displayName": actor},
        "client": {"ipAddress": ip, "userAgent": {"rawUserAgent": "Mozilla/5.0"}},
        "outcome": {"result": "SUCCESS", "reason": None},
        "authenticationContext": {"externalSessionId": session},
        "target": [],
    }


def _case(tmp_path, records):
    p = tmp_path / "okta.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in records))
    case = forensics.open_case(tmp_path / "c.duckdb")
    case.ingest([p])
    return case


def _of(case, detector):
    return case.findings().filter(case.findings()["detector"] == detector)


def test_a_sign_in_from_a_new_address_fires_and_is_high_when_the_address_acts_as_another(tmp_path):
    recs = [
        _okta("ann", "192.0.2.10", "2026-03-14T08:00:00Z", session="a1"),
        _okta("ann", "192.0.2.10", "2026-03-14T08:30:00Z", session="a2"),
        _okta("ann", "203.0.113.9", "2026-03-14T09:00:00Z", session="evil"),
        _okta("ann", "203.0.113.9", "2026-03-14T09:01:00Z", "user.authentication.sso", session="evil"),
        _okta("bob", "203.0.113.9", "2026-03-14T09:30:00Z", session="b1"),  # first sign-in ever: no history
    ]
    with _case(tmp_path, recs) as case:
        df = _of(case, "identity_sign_in_new_address")
        assert df.height == 1
        row = df.row(0, named=True)
        assert "ann" in row["title"] and "203.0.113.9" in row["title"]
        assert row["severity"] == "high"  # 203.0.113.9 also signs in as bob
        assert row["matches"] == 2
        assert {"kind": "credential", "id": "evil"} in row["entities"]


def test_quiet_when_a_person_keeps_one_address_or_has_no_history(tmp_path):
    recs = [_okta("ann", "192.0.2.10", f"2026-03-14T0{h}:00:00Z", session=f"a{h}") for h in range(8, 10)]
    recs.append(_okta("carl", "198.51.100.7", "2026-03-14T09:00:00Z", session="c1"))
    with _case(tmp_path, recs) as case:
        assert _of(case, "identity_sign_in_new_address").height == 0
        assert _of(case, "mfa_factor_added").height == 0


def test_mfa_factor_added_is_high_from_a_new_address_and_medium_from_a_known_one(tmp_path):
    recs = [
        _okta("ann", "192.0.2.10", "2026-03-14T08:00:00Z", session="a1"),
        _okta("ann", "192.0.2.10", "2026-03-14T08:05:00Z", "user.mfa.factor.activate", session="a1"),
        _okta("dan", "192.0.2.20", "2026-03-14T08:00:00Z", session="d1"),
        _okta("dan", "203.0.113.9", "2026-03-14T09:00:00Z", session="evil"),
        _okta("dan", "203.0.113.9", "2026-03-14T09:10:00Z", "user.mfa.factor.activate", session="evil"),
    ]
    with _case(tmp_path, recs) as case:
        df = _of(case, "mfa_factor_added").sort("time")
        assert df["severity"].to_list() == ["medium", "high"]
        assert "dan" in df["title"][1]


def test_the_sample_chain_starts_with_the_phished_okta_session(sample_case, sample_dir):
    # independently: the first successful Okta record of a person from an address they had not used
    recs = [
        json.loads(x) for x in (sample_dir / "idp" / "okta-system-log.jsonl").read_text().splitlines() if x
    ]
    recs.sort(key=lambda r: r["published"])
    seen: dict[str, set[str]] = {}
    expected = None
    for r in recs:
        if r["outcome"]["result"] != "SUCCESS":
            continue
        who, ip = r["actor"]["alternateId"], r["client"]["ipAddress"]
        if seen.get(who) and ip not in seen[who] and expected is None:
            expected = (who, ip, r["published"][:19])
        seen.setdefault(who, set()).add(ip)
    assert expected is not None
    chain = sample_case.chain()
    first = chain.row(0, named=True)
    assert first["detector"] == "identity_sign_in_new_address"
    assert expected[0] in first["title"] and expected[1] in first["title"]
    assert first["time"].strftime("%Y-%m-%dT%H:%M:%S") == expected[2]
    assert "mfa_factor_added" in chain["detector"].to_list()
