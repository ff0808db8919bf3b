"""Exports for sharing: Timesketch JSONL (the fields Timesketch's JSONL import requires, the kit's
fields, annotations as tags) and OCSF 1.3 (API Activity, Authentication, Network Activity), checked
against OCSF's published JSON schema (shipped by the ocsf-json-schema package); both redacted."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import jsonschema
import pytest
from ocsf_json_schema import OcsfJsonSchemaEmbedded, get_ocsf_schema

import forensics
from forensics.cli import main

GHP = "ghp_" + "Zq9x" * 9  # a GitHub token shape forensics.redact detects


@pytest.fixture(scope="module")
def small(sample_case, tmp_path_factory):
    """The sample's audit events and a few others, a planted token, an annotated event, one flow."""
    path = tmp_path_factory.mktemp("exports") / "small.duckdb"
    rows = sample_case.sql(
        "SELECT * FROM events WHERE category = 'audit' OR source = 'deploys' ORDER BY event_id"
    )
    with forensics.open_case(path) as c:
        c.con.register("rows", rows)
        c.con.execute("INSERT INTO events SELECT * FROM rows")
        c.con.execute(
            "UPDATE events SET actor = ?, raw = json_object('token', ?) WHERE event_id = "
            "(SELECT min(event_id) FROM events WHERE source = 'github_audit')",
            [f"bot using {GHP}", GHP],
        )
        first = c.sql("SELECT min(event_id) FROM events WHERE source = 'cloudtrail'").item()
        c.annotate(first, tag="exfil", author="tester")
        c.annotate(first, star=True, author="tester")
        c.con.execute(
            "INSERT INTO network_flows VALUES ('ab' || repeat('0', 62), 1, TIMESTAMPTZ '2026-03-14 09:00:00+00',"
            " TIMESTAMPTZ '2026-03-14 09:01:00+00', '10.0.0.5', 44321, '198.51.100.7', 443, 'tcp', 12, 3400,"
            " 'ACCEPT', 'eni-0abc', '111122223333')"
        )
    return path, first


def _lines(path) -> list[dict]:
    text = path.read_text(encoding="utf-8")
    assert GHP not in text  # redacted, everywhere
    return [json.loads(x) for x in text.splitlines()]


def test_timesketch_jsonl(small, tmp_path):
    path, starred = small
    assert main(["export", "--case", str(path), "--timesketch", str(tmp_path / "t.jsonl")]) == 0
    lines = _lines(tmp_path / "t.jsonl")
    with forensics.open_case(path, read_only=True) as c:
        n = c.sql("SELECT count(*) FROM events").item()
    assert len(lines) == n
    for doc in lines:
        # what Timesketch's JSONL import requires: message, datetime (ISO 8601), timestamp_desc
        assert doc["message"] and doc["timestamp_desc"]
        t = dt.datetime.fromisoformat(doc["datetime"])
        assert t.utcoffset() == dt.timedelta(0)
        assert doc["timestamp"] == round(t.timestamp() * 1_000_000)
        assert doc["event_id"] and doc["source"] and "raw" not in doc
    by_id = {d["event_id"]: d for d in lines}
    assert by_id[starred]["tag"] == ["exfil", "starred"]
    fp = "sha256:" + hashlib.sha256(GHP.encode()).hexdigest()[:12]
    assert any(fp in d["message"] and fp in d["actor"] for d in lines)


def test_ocsf_validates_against_the_published_schema(small, tmp_path):
    path, _ = small
    assert main(["export", "--case", str(path), "--ocsf", str(tmp_path / "o.jsonl")]) == 0
    lines = _lines(tmp_path / "o.jsonl")
    schema = OcsfJsonSchemaEmbedded(get_ocsf_schema(version="1.3.0"))
    validators: dict = {}
    for doc in lines:
        key = (doc["class_uid"], tuple(doc["metadata"].get("profiles", [])))
        if key not in validators:
            name = schema.lookup_class_name_from_uid(doc["class_uid"])
            validators[key] = jsonschema.Draft202012Validator(schema.get_class_schema(name, list(key[1])))
        errors = [e.message for e in validators[key].iter_errors(doc)]
        assert not errors, (doc["metadata"].get("uid"), errors[:3])
    classes = [d["class_uid"] for d in lines]
    with forensics.open_case(path, read_only=True) as c:
        audit = c.sql("SELECT count(*) FROM events WHERE category = 'audit'").item()
        times = dict(c.sql("SELECT event_id, time_raw FROM events").iter_rows())
    assert classes.count(6003) + classes.count(3002) == audit  # deploys are not written
    assert classes.count(4001) == 1 and classes.count(3002) >= 1
    for doc in lines:
        if doc["class_uid"] != 4001:
            assert doc["metadata"]["original_time"] == times[doc["metadata"]["uid"]]
            json.loads(doc["raw_data"])
    flow = next(d for d in lines if d["class_uid"] == 4001)
    assert flow["dst_endpoint"] == {"ip": "198.51.100.7", "port": 443}
    assert flow["traffic"] == {"packets": 12, "bytes": 3400} and flow["status_id"] == 1
