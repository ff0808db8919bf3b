"""Issue 25 part 7, audit fields: the LookupEvents shape, region and service, verbatim mapped outcome
reasons, --reingest, the date-or-epoch rule, and --observed-at for payloads without an event time.
Each test failed before its fix (LookupEvents went to the generic loader and every line was rejected,
``--service s3`` found nothing, the mapped reason was dropped and values lowercased, a file could not be
read again, 20260314 became 1970-08-23, member.added could not be loaded)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

import forensics


def _record(i: int, name: str, source: str, region: str, error: str | None = None) -> dict:
    r = {
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "IAMUser",
            "arn": f"arn:aws:iam::111122223333:user/u{i}",
            "accessKeyId": f"AKIAEXAMPLEKEY{i:04d}",
            "userName": f"u{i}",
        },
        "eventTime": f"2026-03-14T09:{i:02d}:00Z",
        "eventSource": source,
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": f"203.0.113.{i + 1}",
        "userAgent": "aws-cli/2.15",
        "requestParameters": {"bucketName": "acme-exports"},
        "eventID": f"00000000-0000-0000-0000-{i:012d}",
    }
    if error:
        r["errorCode"] = error
    return r


RECORDS = [
    _record(0, "GetObject", "s3.amazonaws.com", "eu-west-1"),
    _record(1, "AssumeRole", "sts.amazonaws.com", "us-east-1"),
    _record(2, "ListBuckets", "s3.amazonaws.com", "eu-west-1", "AccessDenied"),
]


def _element(r: dict) -> dict:
    """A LookupEvents element as boto3/the CLI return it (EventTime as the CLI prints it)."""
    return {
        "EventId": r["eventID"],
        "EventName": r["eventName"],
        "ReadOnly": "true",
        "AccessKeyId": r["userIdentity"]["accessKeyId"],
        "EventTime": r["eventTime"].replace("Z", "+00:00"),
        "EventSource": r["eventSource"],
        "Username": r["userIdentity"]["userName"],
        "Resources": [{"ResourceType": "AWS::S3::Bucket", "ResourceName": "acme-exports"}],
        "CloudTrailEvent": json.dumps(r),
    }


@pytest.fixture(params=["page", "lines"])
def lookup_file(request, tmp_path):
    elements = [_element(r) for r in RECORDS]
    if request.param == "page":
        p = tmp_path / "lookup-events.json"
        p.write_text(json.dumps({"Events": elements, "NextToken": "abc"}, indent=2))
    else:
        p = tmp_path / "lookup-events.jsonl"
        p.write_text("".join(json.dumps(e) + "\n" for e in elements))
    return p


def test_lookup_events_read_by_cloudtrail(lookup_file):
    with forensics.open_case(":memory:") as c:
        (r,) = c.ingest(lookup_file)
        assert (r.loader, r.records_read, r.records_loaded, r.records_rejected) == ("cloudtrail", 3, 3, 0)
        rows = c.con.execute(
            """SELECT action, actor, credential_id, src_ip, service, region, outcome, event_uid,
                      raw->>'CloudTrailEvent' FROM events ORDER BY time"""
        ).fetchall()
    elements = [_element(rec) for rec in RECORDS]
    for row, rec, el in zip(rows, RECORDS, elements, strict=True):
        svc = rec["eventSource"].split(".")[0]
        assert row[:8] == (
            f"{svc}:{rec['eventName']}",
            rec["userIdentity"]["arn"],
            rec["userIdentity"]["accessKeyId"],
            rec["sourceIPAddress"],
            svc,
            rec["awsRegion"],
            "failure" if "errorCode" in rec else "success",
            rec["eventID"],
        )
        assert row[8] == el["CloudTrailEvent"]  # the element is kept whole, its embedded record as written


def test_service_filter_finds_cloudtrail_s3(lookup_file):
    with forensics.open_case(":memory:") as c:
        c.ingest(lookup_file)
        df = c.timeline(services=["s3"])
    want = sum(1 for r in RECORDS if r["eventSource"] == "s3.amazonaws.com")
    assert len(df) == want == 2


def test_records_file_maps_region_and_service(tmp_path):
    p = tmp_path / "ct.json"
    p.write_text(json.dumps({"Records": RECORDS}))
    with forensics.open_case(":memory:") as c:
        c.ingest(p)
        got = sorted(c.con.execute("SELECT service, region FROM events").fetchall())
    assert got == sorted((r["eventSource"].split(".")[0], r["awsRegion"]) for r in RECORDS)


MAPPING = """
name = "gateway"
[fields]
time = "ts"
action = "op"
outcome_reason = "detail"
[outcome]
field = "status"
success = ["ok"]
failure = ["denied"]
"""


def test_mapped_outcome_reason_verbatim(tmp_path):
    m = tmp_path / "gw.toml"
    m.write_text(MAPPING)
    recs = [
        {
            "ts": "2026-03-14T09:00:00Z",
            "op": "login",
            "status": "Denied",
            "detail": "Blocked By Policy ABC-7",
        },
        {"ts": "2026-03-14T09:01:00Z", "op": "login", "status": "OK"},
    ]
    p = tmp_path / "gw.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in recs))
    with forensics.open_case(":memory:") as c:
        c.ingest(p, mapping=str(m))
        got = c.con.execute("SELECT outcome, outcome_reason FROM events ORDER BY time").fetchall()
    assert got == [("failure", "Blocked By Policy ABC-7"), ("success", "status=OK")]


def test_reingest_replaces_one_files_rows(tmp_path, lookup_file):
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"Records": [_record(9, "GetObject", "s3.amazonaws.com", "eu-west-1")]}))
    with forensics.open_case(tmp_path / "c.duckdb") as c:
        c.ingest(other)
        (wrong,) = c.ingest(lookup_file, loader="generic")
        assert (wrong.loader, wrong.records_loaded) == ("generic", 0)
        (again,) = c.ingest(lookup_file)
        assert again.status == "already ingested"
        (fixed,) = c.ingest(lookup_file, reingest="wrong loader: generic rejected every record")
        assert (fixed.status, fixed.loader, fixed.records_loaded, fixed.records_rejected) == (
            "ingested",
            "cloudtrail",
            3,
            0,
        )
        ev = c.con.execute(
            "SELECT loader, records_loaded, note FROM evidence ORDER BY evidence_id"
        ).fetchall()
        assert [e[:2] for e in ev] == [("cloudtrail", 1), ("cloudtrail", 3)]
        assert "wrong loader" in ev[1][2] and "before: generic" in ev[1][2]
        ledger = c.con.execute(
            "SELECT reason, previous_loader, previous_records_rejected FROM reingests"
        ).fetchall()
        assert ledger == [("wrong loader: generic rejected every record", "generic", 3)]
        # the other file's rows are untouched; the re-ingested file's rejects are gone
        assert c.con.execute("SELECT count(*) FROM events").fetchall() == [(4,)]
        assert c.con.execute("SELECT count(*) FROM rejects").fetchall() == [(0,)]
        with pytest.raises(forensics.errors.ForensicsError, match="reason"):
            c.ingest(lookup_file, reingest=" ")


def test_date_like_numbers_read_as_dates_with_a_note(tmp_path):
    p = tmp_path / "x.jsonl"
    p.write_text(
        json.dumps({"time": 20260314, "action": "a"})
        + "\n"
        + json.dumps({"time": "20260314093000", "action": "b"})
        + "\n"
        + json.dumps({"time": 1773480000, "action": "c"})
        + "\n"
    )
    with forensics.open_case(":memory:") as c:
        (r,) = c.ingest(p)
        got = c.con.execute("SELECT action, time FROM events ORDER BY action").fetchall()
        note = c.con.execute("SELECT note FROM evidence").fetchall()[0][0]
    assert got == [
        ("a", datetime(2026, 3, 14, tzinfo=UTC)),
        ("b", datetime(2026, 3, 14, 9, 30, tzinfo=UTC)),
        ("c", datetime.fromtimestamp(1773480000, UTC)),
    ]
    assert "2 times read as YYYYMMDD dates" in note and r.records_rejected == 0


MEMBER = {
    "action": "added",
    "member": {"login": "mallory"},
    "changes": {},
    "repository": {"full_name": "acme/pay", "owner": {"login": "acme"}},
    "sender": {"login": "deploy-bot", "type": "User"},
}


def test_member_added_needs_a_time_then_takes_observed_at(tmp_path):
    p = tmp_path / "member.json"
    p.write_text(json.dumps(MEMBER))
    with forensics.open_case(":memory:") as c:
        (r,) = c.ingest(p)
        assert (r.loader, r.records_rejected) == ("github_admin_webhook", 1)
        assert "--observed-at" in c.con.execute("SELECT reason FROM rejects").fetchall()[0][0]
    with forensics.open_case(":memory:") as c:
        (r,) = c.ingest(p, observed_at="2026-03-14T10:05:00+01:00")
        assert (r.records_loaded, r.records_rejected) == (1, 0)
        row = c.con.execute("SELECT time, action, actor, target, outcome_reason FROM events").fetchall()[0]
    assert row[:4] == (
        datetime(2026, 3, 14, 9, 5, tzinfo=UTC),
        "member.added",
        "deploy-bot",
        "acme/pay:mallory",
    )
    assert "--observed-at" in row[4]


def test_member_added_takes_the_delivery_time_of_a_capture(tmp_path):
    guid = "0b989ba4-8a4d-11e9-9e8a-3a7a5a2a1a1a"
    delivery = {
        "id": 1,
        "guid": guid,
        "delivered_at": "2026-03-14T09:02:03Z",
        "event": "member",
        "action": "added",
        "request": {"headers": {"X-GitHub-Delivery": guid, "X-GitHub-Event": "member"}, "payload": MEMBER},
    }
    hook = {
        "headers": {"X-GitHub-Delivery": "d-2", "Date": "Sat, 14 Mar 2026 09:03:04 GMT"},
        "payload": MEMBER,
    }
    (tmp_path / "delivery.json").write_text(json.dumps(delivery))
    (tmp_path / "hook.json").write_text(json.dumps(hook))
    with forensics.open_case(":memory:") as c:
        res = c.ingest(
            [tmp_path / "delivery.json", tmp_path / "hook.json"], observed_at="2030-01-01T00:00:00Z"
        )
        assert [(r.loader, r.records_loaded) for r in res] == [("github_admin_webhook", 1)] * 2
        got = c.con.execute("SELECT time, event_uid FROM events ORDER BY time").fetchall()
    assert got == [
        (datetime(2026, 3, 14, 9, 2, 3, tzinfo=UTC), "delivery:" + guid),
        (datetime(2026, 3, 14, 9, 3, 4, tzinfo=UTC), "delivery:d-2"),
    ]


def test_region_and_service_for_other_cloud_sources(shared_data, tmp_path):
    """The same columns where the record has them: Azure Activity ``location`` and resource provider,
    GuardDuty and Security Hub ``Region``."""
    azure = shared_data / "audit_logs/azure_activity/panther__azure_activity_test_logs.jsonl"
    recs = [json.loads(ln) for ln in azure.read_text().splitlines() if ln.strip()]

    def op(r: dict) -> str:
        o = r.get("operationName")
        return o["value"] if isinstance(o, dict) else o

    gd = shared_data / "findings/guardduty/aws-cli__guardduty_get-findings_example.json"
    with forensics.open_case(tmp_path / "c.duckdb") as c:
        c.ingest([azure, gd])
        got = c.con.execute(
            "SELECT action, region, service FROM events WHERE source = 'azure_activity' ORDER BY evidence_record"
        ).fetchall()
        gd_region = c.con.execute("SELECT region FROM events WHERE source = 'guardduty'").fetchall()
    assert got == [(op(r), r.get("location") or None, op(r).split("/")[0]) for r in recs]
    assert gd_region == [(json.loads(gd.read_text())["Findings"][0]["Region"],)]
