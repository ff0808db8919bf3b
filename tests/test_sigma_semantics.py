"""Sigma semantics, one modifier or condition form at a time, on CloudTrail records built here.

Each record carries its own name in ``eventID``; a test states which records a rule must match and
compares with the events behind the rule's findings."""

from __future__ import annotations

import base64
import json
import textwrap

import pytest

BASE = {"eventVersion": "1.08", "eventSource": "sts.amazonaws.com", "awsRegion": "us-east-1"}
RECORDS = [
    {
        "eventID": "r1",
        "eventName": "GetCallerIdentity",
        "userAgent": "TruffleHog/3.0 (linux)",
        "sourceIPAddress": "10.1.2.3",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::1:user/alice"},
        "requestParameters": {"items": [{"name": "a_b"}, {"name": "ZZZ"}], "port": 22, "cmd": "/quiet"},
    },
    {
        "eventID": "r2",
        "eventName": "getcalleridentity",
        "userAgent": "aws-cli/2.0 Python/3.11",
        "sourceIPAddress": "192.168.0.9",
        "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::1:assumed-role/aws:ec2/i-1"},
        "requestParameters": {"items": [{"name": "axb"}], "port": "22", "cmd": "-quiet", "note": None},
    },
    {
        "eventID": "r3",
        "eventName": "ListBuckets",
        "userAgent": "100% sure_agent \\ 'quoted'); DROP TABLE events; --",
        "sourceIPAddress": "AWS Internal",
        "userIdentity": {"type": "Root"},
        "requestParameters": {
            "note": "",
            "data": base64.b64encode(b"secret-token").decode(),
            "blob": "xx" + base64.b64encode(b"padding:secret-token").decode() + "yy",
        },
    },
    {
        "eventID": "r4",
        "eventName": "ÉtatModifié",
        "userAgent": None,
        "sourceIPAddress": "10.255.255.255",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::1:user/ALICE"},
        "errorCode": "AccessDenied",
        "requestParameters": {"we'ird\"key": "hit", "items": []},
    },
]


@pytest.fixture(scope="module")
def ct_case(tmp_path_factory):
    import forensics

    d = tmp_path_factory.mktemp("ct")
    recs = [{**BASE, "eventTime": f"2026-01-01T00:00:0{i}Z", **r} for i, r in enumerate(RECORDS)]
    (d / "trail.json").write_text(json.dumps({"Records": recs}))
    case = forensics.open_case(d / "case.duckdb")
    case.ingest([d / "trail.json"])
    yield case, d
    case.close()


def matched(ct_case, detection: str, name: str = "t") -> set[str]:
    case, d = ct_case
    rule = d / f"{name}.yml"
    rule.write_text(
        "title: test rule\nid: 11111111-2222-3333-4444-555555555555\nlevel: high\n"
        "logsource:\n  product: aws\n  service: cloudtrail\ndetection:\n" + textwrap.indent(detection, "  ")
    )
    cov = case.sigma(rule)
    assert [c.status for c in cov] in (["matched"], ["no_match"]), cov
    rows = case.sql(
        """SELECT e.raw->>'$.eventID' AS id FROM findings f, unnest(f.evidence) AS u(ev)
           JOIN events e ON e.event_id = ev.id WHERE f.detector = 'sigma'"""
    )
    ids = rows["id"].to_list()
    assert len(ids) == len(set(ids)) == cov[0].matches
    return set(ids)


CASES = [
    # plain strings are case-insensitive, whole-value matches
    ("sel:\n  eventName: GETCALLERIDENTITY\ncondition: sel", {"r1", "r2"}),
    ("sel:\n  eventName: étatmodifié\ncondition: sel", {"r4"}),
    ("sel:\n  eventName: GetCaller\ncondition: sel", set()),
    ("sel:\n  eventName|cased: GetCallerIdentity\ncondition: sel", {"r1"}),
    ("sel:\n  userAgent|contains: trufflehog\ncondition: sel", {"r1"}),
    ("sel:\n  userAgent|startswith: AWS-CLI\ncondition: sel", {"r2"}),
    ("sel:\n  userAgent|endswith: '(LINUX)'\ncondition: sel", {"r1"}),
    ("sel:\n  userAgent|contains|cased: Python\ncondition: sel", {"r2"}),
    ("sel:\n  userAgent|contains|cased: python\ncondition: sel", set()),
    # wildcards: * and ? are Sigma's; %, _ and \ in a value are literal
    ("sel:\n  eventName: 'get*identity'\ncondition: sel", {"r1", "r2"}),
    ("sel:\n  eventName: 'ListBucket?'\ncondition: sel", {"r3"}),
    ("sel:\n  requestParameters.items.name: a_b\ncondition: sel", {"r1"}),
    ("sel:\n  userAgent|startswith: '100% sure_agent \\\\ '\ncondition: sel", {"r3"}),
    ('sel:\n  userAgent|contains: "\'); DROP TABLE events; --"\ncondition: sel', {"r3"}),
    ("sel:\n  userAgent|contains: '10_'\ncondition: sel", set()),
    # all, lists as OR, maps as AND
    ("sel:\n  userAgent|contains|all: [truffle, linux]\ncondition: sel", {"r1"}),
    ("sel:\n  userAgent|contains|all: [truffle, python]\ncondition: sel", set()),
    ("sel:\n  eventName: [ListBuckets, ÉtatModifié]\ncondition: sel", {"r3", "r4"}),
    ("sel:\n  eventName: GetCallerIdentity\n  userIdentity.type: AssumedRole\ncondition: sel", {"r2"}),
    ("sel:\n  - eventName: ListBuckets\n  - userIdentity.type: AssumedRole\ncondition: sel", {"r2", "r3"}),
    # regular expressions: case-sensitive unless |i, unanchored
    ("sel:\n  userIdentity.arn|re: ':assumed-role/aws:'\ncondition: sel", {"r2"}),
    ("sel:\n  userIdentity.arn|re: 'user/alice$'\ncondition: sel", {"r1"}),
    ("sel:\n  userIdentity.arn|re|i: 'user/alice$'\ncondition: sel", {"r1", "r4"}),
    # cidr, numbers
    ("sel:\n  sourceIPAddress|cidr: 10.0.0.0/8\ncondition: sel", {"r1", "r4"}),
    ("sel:\n  sourceIPAddress|cidr: [192.168.0.0/28, 10.255.255.255/32]\ncondition: sel", {"r2", "r4"}),
    ("sel:\n  requestParameters.port: 22\ncondition: sel", {"r1", "r2"}),
    ("sel:\n  requestParameters.port|gte: 23\ncondition: sel", set()),
    # exists, null, empty
    ("sel:\n  errorCode|exists: true\ncondition: sel", {"r4"}),
    ("sel:\n  errorCode|exists: false\ncondition: sel", {"r1", "r2", "r3"}),
    ("sel:\n  requestParameters.note: null\ncondition: sel", {"r1", "r2", "r4"}),
    ("sel:\n  requestParameters.note: ''\ncondition: sel", {"r3"}),
    ("sel:\n  userAgent: null\ncondition: sel", {"r4"}),
    # windash, base64, base64offset
    ("sel:\n  requestParameters.cmd|windash: '-quiet'\ncondition: sel", {"r1", "r2"}),
    ("sel:\n  requestParameters.data|base64: secret-token\ncondition: sel", {"r3"}),
    ("sel:\n  requestParameters.blob|base64offset|contains: secret-token\ncondition: sel", {"r3"}),
    # lists in records: a leaf matches when any element does
    ("sel:\n  requestParameters.items.name: zzz\ncondition: sel", {"r1"}),
    # condition forms
    (
        "sel_a:\n  eventName: ListBuckets\nsel_b:\n  errorCode: AccessDenied\ncondition: 1 of sel_*",
        {"r3", "r4"},
    ),
    (
        "sel_a:\n  eventName: GetCallerIdentity\nsel_b:\n  userIdentity.type: IAMUser\ncondition: all of sel_*",
        {"r1"},
    ),
    (
        "sel_a:\n  eventName: GetCallerIdentity\nsel_b:\n  userIdentity.type: IAMUser\ncondition: all of them",
        {"r1"},
    ),
    (
        "sel:\n  eventSource: sts.amazonaws.com\nf:\n  errorCode: AccessDenied\ncondition: sel and not f",
        {"r1", "r2", "r3"},
    ),
    ("f:\n  userAgent|contains: aws-cli\ncondition: not f", {"r1", "r3", "r4"}),
    (
        "a:\n  eventName: ListBuckets\nb:\n  eventName: GetCallerIdentity\nc:\n  userIdentity.type: IAMUser\n"
        "condition: a or (b and not c)",
        {"r2", "r3"},
    ),
    # keywords search the whole record; fieldref compares two fields
    ("keywords:\n  - 'sure_agent'\ncondition: keywords", {"r3"}),
    ("sel:\n  requestParameters.we'ird\"key: hit\ncondition: sel", {"r4"}),
]


@pytest.mark.parametrize("detection,expected", CASES, ids=[c[0].split("\n")[1][:50] for c in CASES])
def test_modifier_and_condition(ct_case, detection, expected):
    assert matched(ct_case, detection) == expected


def test_fieldref(ct_case):
    case, d = ct_case
    det = "sel:\n  userIdentity.type|fieldref: eventName\ncondition: sel"
    assert matched(ct_case, det) == set()
    det = "sel:\n  eventSource|fieldref|startswith: awsRegion\ncondition: not sel"
    assert matched(ct_case, det) == {"r1", "r2", "r3", "r4"}


def test_hostile_values_leave_the_case_intact(ct_case):
    case, _ = ct_case
    matched(ct_case, 'sel:\n  eventName: "x\'; DELETE FROM events; --"\ncondition: sel')
    assert case.sql("SELECT count(*) AS n FROM events")["n"][0] == len(RECORDS)


def test_values_are_bound_not_pasted(ct_case):
    from sigma.collection import SigmaCollection

    from forensics.sigma.backend import Column, DuckDBRawBackend

    rule = SigmaCollection.from_yaml(
        "title: t\nlogsource: {product: aws, service: cloudtrail}\n"
        'detection:\n  sel:\n    eventName|contains: "evil\'--"\n  condition: sel\n'
    ).rules[0]
    c = DuckDBRawBackend({"eventName": Column("c0")}).compile(rule)
    assert "evil" not in c.predicate and list(c.params.values()) == ["%evil'--%"]


def test_records_that_disagree_on_a_list_are_read_both_ways(tmp_path):
    import forensics

    recs = [
        {"x": {"name": "a"}},
        {"x": [{"name": "b"}, {"name": "A"}]},
        {"x": "a"},
        {"x": {"name": ["c", "a"]}},
    ]
    recs = [
        {
            **BASE,
            "eventTime": f"2026-01-01T00:00:0{i}Z",
            "eventName": "E",
            "eventID": f"m{i}",
            "requestParameters": r,
        }
        for i, r in enumerate(recs)
    ]
    (tmp_path / "t.json").write_text(json.dumps({"Records": recs}))
    case = forensics.open_case(tmp_path / "c.duckdb")
    case.ingest([tmp_path / "t.json"])
    try:
        got = matched((case, tmp_path), "sel:\n  requestParameters.x.name: a\ncondition: sel")
        assert got == {"m0", "m1", "m3"}
        got = matched((case, tmp_path), "sel:\n  requestParameters.x.name: null\ncondition: sel")
        assert got == {"m2"}
    finally:
        case.close()
