"""Small JSON documents of one source (a bucket of CloudTrail Records files) are read together, in
one transaction and one batch. What lands must be exactly what reading each file alone lands:
per-file reconciliation, rejects, de-duplication (the earlier file wins), evidence rows."""

from __future__ import annotations

import gzip
import json
import shutil

import pytest

import forensics
import forensics.ingest as ingest
from forensics.sources.cloudtrail import CloudTrailSource


def _event(eid: str, t: str | None = "2026-03-01T10:00:00Z", name: str = "GetObject") -> dict:
    e = {
        "eventVersion": "1.08",
        "eventSource": "s3.amazonaws.com",
        "eventName": name,
        "eventID": eid,
        "userIdentity": {
            "type": "IAMUser",
            "arn": "arn:aws:iam::111122223333:user/alice",
            "accessKeyId": "AKIAEXAMPLEKEY000001",
        },
        "sourceIPAddress": "203.0.113.7",
        "requestParameters": {"bucketName": "b", "key": eid},
    }
    if t is not None:
        e["eventTime"] = t
    return e


def _bucket(root):
    """A bucket tree whose files exercise every fate a record can have in a group."""
    d = root / "AWSLogs" / "111122223333" / "CloudTrail" / "us-east-1" / "2026" / "03" / "01"
    d.mkdir(parents=True)
    a = {"Records": [_event("e1"), _event("e2", t=None), _event("e3", "2026-03-01T09:00:00Z")]}
    (d / "a.json.gz").write_bytes(gzip.compress(json.dumps(a).encode()))
    # e3 again (an overlapping export), a record that is not an object, a JSON null record
    b = {
        "Records": [_event("e3", "2026-03-01T09:00:00Z"), _event("e4", "2026-03-01T11:00:00+02:00"), 5, None]
    }
    (d / "b.json").write_text(json.dumps(b))
    (d / "c.json").write_text('{"Records": []}')  # CloudTrail writes empty files
    (d / "d.json").write_text(
        '{"Records": [{"eventVersion": "1.08", "eventTime": "2026-03-01T10:00:00Z"'
    )  # cut off
    shutil.copy(d / "a.json.gz", d / "e-copy.json.gz")  # the same bytes twice in one bucket
    bad = json.dumps({"Records": [_event("e5", name="Put\udcffObject")]}, ensure_ascii=False)
    (d / "f.json").write_bytes(bad.encode("utf-8", "surrogateescape"))  # invalid UTF-8: read alone
    (d / "g.json").write_text(
        json.dumps({"Records": [_event(f"g{i}", f"2026-03-01T12:00:{i:02d}Z") for i in range(5)]})
    )
    return root / "AWSLogs"


def _state(case):
    ev = case.sql("""SELECT regexp_replace(path, '.*/', '') AS name, format, loader, records_read, records_loaded,
                            records_rejected, records_duplicate, blank_lines
                     FROM evidence ORDER BY name""").rows()
    events = case.sql("""SELECT e.event_id, e.event_uid, e.evidence_record, e.time, e.action, e.actor, e.credential_id,
                                e.outcome, CAST(e.raw AS VARCHAR), regexp_replace(v.path, '.*/', '')
                         FROM events e JOIN evidence v ON v.sha256 = e.evidence_sha256
                         ORDER BY e.event_id""").rows()
    rejects = case.sql("""SELECT regexp_replace(v.path, '.*/', ''), r.line, r.byte_offset, r.record_index, r.reason,
                                 r.raw_text, r.raw_length
                          FROM rejects r JOIN evidence v ON v.sha256 = r.evidence_sha256
                          ORDER BY ALL""").rows()
    return ev, events, rejects


def _spy_groups(monkeypatch) -> list[int]:
    sizes: list[int] = []
    real = ingest.Ingestor.ingest_group

    def spy(self, plans):
        sizes.append(len(plans))
        return real(self, plans)

    monkeypatch.setattr(ingest.Ingestor, "ingest_group", spy)
    return sizes


def _together_and_apart(tmp_path, monkeypatch, root, min_group: int):
    """Ingest ``root`` in one call (its files in groups) and, into another case, each of its files in
    a call of its own; assert that a group of at least ``min_group`` files formed, that no group fell
    back to file-by-file reading, that every file reconciles, and that both cases hold the same.
    Returns the results of the grouped ingest and its state."""
    files = [path for path, _ in ingest.iter_input_files([root])]  # the order an ingest walks them in
    sizes = _spy_groups(monkeypatch)
    with forensics.open_case(tmp_path / "together.duckdb") as together:
        results = together.ingest([root])
        assert sizes and max(sizes) >= min_group, f"no group of {min_group} files formed: {sizes}"
        assert not [r.note for r in results if "read on its own" in r.note], "a group failed"
        assert all(r.reconciled for r in results)
        state = _state(together)
    seen = list(sizes)
    with forensics.open_case(tmp_path / "apart.duckdb") as apart:
        for f in files:
            apart.ingest([f])
        assert sizes == seen, "a file given alone was read as a group"
        assert _state(apart) == state
    assert [r.path for r in results] == files, "results are in the order of the walk"
    return results, state


def test_a_bucket_read_as_a_group_lands_exactly_what_each_file_read_alone_lands(tmp_path, monkeypatch):
    bucket = _bucket(tmp_path / "in")
    results, together = _together_and_apart(tmp_path, monkeypatch, bucket, 4)
    # and what that is: every file reconciles, the copy is known, the earlier file keeps e3
    by_name = {r.path.rsplit("/", 1)[1]: r for r in results}
    assert by_name["e-copy.json.gz"].status == "already ingested"
    assert (by_name["a.json.gz"].records_loaded, by_name["a.json.gz"].records_rejected) == (2, 1)
    assert (
        by_name["b.json"].records_read,
        by_name["b.json"].records_rejected,
        by_name["b.json"].records_duplicate,
    ) == (4, 2, 1)
    assert by_name["c.json"].records_read == 0 and by_name["c.json"].status == "ingested"
    assert by_name["d.json"].records_rejected == 1
    assert by_name["f.json"].records_rejected == 1 and "UTF-8" in _reason(together, "f.json")
    assert by_name["g.json"].records_loaded == 5
    holders = {row[1]: row[-1] for row in together[1]}
    assert holders["e3"] == "a.json.gz"
    assert {r[4] for r in together[2] if r[0] == "b.json"} == {
        "non-object record (UBIGINT)",
        "non-object record (NULL)",
    }


def _reason(state, name: str) -> str:
    return " ".join(r[4] for r in state[2] if r[0] == name)


def test_a_group_that_fails_is_read_again_file_by_file_and_says_so(tmp_path, monkeypatch):
    bucket = _bucket(tmp_path / "in")
    real = CloudTrailSource.load_batch

    def fails_in_a_group(self, batch):
        if batch.grouped:
            raise RuntimeError("boom")
        return real(self, batch)

    monkeypatch.setattr(CloudTrailSource, "load_batch", fails_in_a_group)
    with forensics.open_case(tmp_path / "c.duckdb") as case:
        results = case.ingest([bucket])
        assert all(r.reconciled for r in results)
        ingested = [r for r in results if r.status == "ingested"]
        assert len(ingested) == 6
        grouped = [r for r in ingested if "read on its own" in r.note]
        assert grouped and all("boom" in r.note for r in grouped)
        assert case.sql("SELECT count(*) FROM events").item() == 2 + 1 + 5  # e1, e3 | e4 | g0-g4
        assert case.sql("SELECT count(DISTINCT sha256) FROM evidence").item() == 6


def test_a_group_is_bounded_by_bytes(tmp_path, monkeypatch):
    bucket = _bucket(tmp_path / "in")
    sizes = _spy_groups(monkeypatch)
    monkeypatch.setattr(ingest.limits, "GROUP_MAX_BYTES", 1500)
    with forensics.open_case(tmp_path / "c.duckdb") as case:
        results = case.ingest([bucket])
    assert all(r.reconciled for r in results)
    assert sizes and max(sizes) < 4


@pytest.mark.parametrize("name", ["digest.json"])
def test_a_digest_file_beside_records_files_is_not_grouped_with_them(tmp_path, monkeypatch, name):
    bucket = _bucket(tmp_path / "in")
    digest = {
        "awsAccountId": "111122223333",
        "digestStartTime": "2026-03-01T09:00:00Z",
        "digestEndTime": "2026-03-01T10:00:00Z",
        "digestS3Bucket": "b",
        "digestS3Object": "o",
        "logFiles": [{"s3Bucket": "b", "s3Object": "a.json.gz"}],
    }
    (bucket / name).write_text(json.dumps(digest))
    with forensics.open_case(tmp_path / "c.duckdb") as case:
        results = case.ingest([bucket])
        assert all(r.reconciled for r in results)
        assert case.sql("SELECT count(*) FROM cloudtrail_digests").item() == 1


def test_real_audit_logs_read_together_land_exactly_what_each_file_read_alone_lands(
    shared_data, tmp_path, monkeypatch
):
    """Every audit file of the corpus (CloudTrail, GCP, GitHub, Kubernetes), read in one ingest (where
    documents of one source share groups) and read one file per ingest: the same evidence rows, events
    and rejects."""
    _together_and_apart(tmp_path, monkeypatch, shared_data / "audit_logs", 2)


def test_a_document_over_the_group_document_bound_is_read_alone(tmp_path, monkeypatch):
    bucket = _bucket(tmp_path / "in")
    seen: list[str] = []
    real = ingest.Ingestor.ingest_group

    def names(self, plans):
        seen.extend(p.path.rsplit("/", 1)[1] for p in plans)
        return real(self, plans)

    monkeypatch.setattr(ingest.Ingestor, "ingest_group", names)
    big = next(bucket.rglob("g.json"))
    monkeypatch.setattr(ingest.limits, "GROUP_DOCUMENT_BYTES", big.stat().st_size - 1)
    with forensics.open_case(tmp_path / "c.duckdb") as case:
        results = case.ingest([bucket])
        assert all(r.reconciled for r in results)
        assert "g.json" not in seen and "a.json.gz" in seen
        assert case.sql("SELECT count(*) FROM events WHERE event_uid LIKE 'g%'").item() == 5


def test_single_event_documents_are_read_as_a_group_and_land_as_each_alone(tmp_path, monkeypatch):
    """A directory of one-event JSON files (Falco's Kubernetes audit events, webhook deliveries)."""
    d = tmp_path / "in" / "events"
    d.mkdir(parents=True)
    for i in range(5):
        ev = {
            "kind": "Event",
            "apiVersion": "audit.k8s.io/v1",
            "level": "Metadata",
            "auditID": f"id-{i}",
            "stage": "ResponseComplete",
            "verb": "create",
            "user": {"username": f"user-{i}"},
            "objectRef": {"resource": "pods", "namespace": "default", "name": f"p{i}"},
            "responseStatus": {"code": 201},
            "requestReceivedTimestamp": f"2026-03-01T10:00:0{i}.000000Z",
            "stageTimestamp": f"2026-03-01T10:00:0{i}.100000Z",
        }
        if i == 2:
            del ev["requestReceivedTimestamp"], ev["stageTimestamp"]
        (d / f"e{i}.json").write_text(json.dumps(ev, indent=2))
        if i == 0:  # the same event in another file (other bytes): one copy is kept
            (d / "e5.json").write_text(json.dumps(ev, indent=4))
    (d / "e6.json").write_text('{"kind": "Event", "auditID": "cut-off", "verb": "get",\n')
    _, together = _together_and_apart(tmp_path, monkeypatch, d, 5)
    assert len(together[1]) == 4  # six events, one without a time, id-0 twice
    assert [r for r in together[0] if r[0] == "e5.json"][0][6] == 1  # e5's copy is the duplicate
    assert any(r[0] == "e6.json" and "malformed" in r[4] for r in together[2])


def _k8s_line(i: int, t: str | None = "2026-03-01T10:00:00.000000Z") -> str:
    ev = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "Metadata",
        "auditID": f"a-{i}",
        "stage": "ResponseComplete",
        "verb": "get",
        "user": {"username": "system:serviceaccount:ci:runner"},
        "objectRef": {"resource": "secrets", "namespace": "prod", "name": f"s{i}"},
        "responseStatus": {"code": 200},
    }
    if t is not None:
        ev["requestReceivedTimestamp"] = ev["stageTimestamp"] = t
    return json.dumps(ev)


def test_small_json_lines_files_are_read_as_a_group_and_land_as_each_alone(tmp_path, monkeypatch):
    d = tmp_path / "in" / "audit"
    d.mkdir(parents=True)
    (d / "a.log").write_text(
        "\n".join([_k8s_line(1), "", _k8s_line(2), "{not json", "[1, 2]", _k8s_line(3, None)]) + "\n"
    )
    (d / "b.log").write_bytes(
        b"\xef\xbb\xbf" + "\r\n".join([_k8s_line(3), "   ", _k8s_line(4)]).encode()
    )  # BOM, CRLF, no last newline
    (d / "c.log.gz").write_bytes(
        gzip.compress((_k8s_line(1) + "\n" + _k8s_line(5) + "\n").encode())
    )  # a-1 again
    (d / "d.log").write_bytes(
        (_k8s_line(6) + "\n").encode()
        + b'{"kind": "Event", "auditID": "\xff"}\n'
        + (_k8s_line(7) + "\n").encode()
    )
    (d / "e.log").write_text(
        "\n".join(_k8s_line(10 + i, f"2026-03-01T09:{59 - i:02d}:00Z") for i in range(20)) + "\n"
    )
    _, together = _together_and_apart(tmp_path, monkeypatch, d, 3)  # a, b, c (d is not UTF-8: read alone)
    by_name = {r[0]: r for r in together[0]}
    assert by_name["a.log"][3:] == (5, 2, 3, 0, 1)  # read, loaded, rejected, duplicate, blank
    assert by_name["b.log"][3:] == (2, 2, 0, 0, 1)
    assert by_name["c.log.gz"][1] == "gzip+jsonl" and by_name["c.log.gz"][6] == 1
    assert by_name["d.log"][5] == 1 and "UTF-8" in _reason(together, "d.log")
    assert by_name["e.log"][4] == 20
    assert {r[1] for r in together[2] if r[0] == "a.log"} == {4, 5, 6}  # line numbers of the rejects


_MAPPING = """name = "app"
category = "audit"
[fields]
time = "ts"
action = "op"
actor = "who"
event_uid = "id"
"""


def _with_mapping(path, text: str) -> None:
    path.write_text(text)
    (path.parent / (path.name + ".mapping.toml")).write_text(_MAPPING)


@pytest.mark.parametrize("kind", ["jsonl", "csv", "json"])
def test_small_files_with_a_mapping_are_read_as_a_group_and_land_as_each_alone(tmp_path, monkeypatch, kind):
    import csv
    import hashlib
    import io

    d = tmp_path / "in" / kind
    d.mkdir(parents=True)
    rows = {
        "a": [("2026-03-01T10:00:01Z", "read", "u1", "a1"), ("2026-03-01T10:00:02Z", "write", "u2", "a2")],
        "b": [("2026-03-01T10:00:03Z", "read", "u1", "a1"), ("not a time", "read", "u3", "b2")],  # a1 again
        "c": [("2026-03-01T10:00:04Z", "delete", "u4", "c1"), ("2026-03-01T10:00:06Z", "read", "u4", "c2")],
    }  # (two records each: a JSON Lines file of one line is sniffed as a JSON document)
    for name, recs in rows.items():
        dicts = [dict(zip(("ts", "op", "who", "id"), r, strict=True)) for r in recs]
        if kind == "jsonl":
            text = "".join(json.dumps(r) + "\n" for r in dicts)
        elif kind == "json":
            text = json.dumps(dicts)
        else:
            out = io.StringIO()
            w = csv.DictWriter(out, fieldnames=["ts", "op", "who", "id"], lineterminator="\n")
            w.writeheader()
            w.writerows(dicts)
            if name == "b":
                out.write("2026-03-01T10:00:05Z,read,u5,b3,EXTRA\n")  # one column too many: a reject
            text = out.getvalue()
        _with_mapping(d / f"{name}.{kind}", text)
    _, together = _together_and_apart(tmp_path, monkeypatch, d, 3)
    by_name = {r[0]: r for r in together[0]}
    extra = 1 if kind == "csv" else 0
    # read, loaded, rejected, duplicate: counted from the records written above
    assert by_name[f"a.{kind}"][3:7] == (2, 2, 0, 0)
    assert by_name[f"b.{kind}"][3:7] == (2 + extra, 1, 1 + extra, 1)  # a1 kept once; the bad time rejected
    assert by_name[f"c.{kind}"][3:7] == (2, 2, 0, 0)
    with forensics.open_case(tmp_path / "together.duckdb", read_only=True) as case:
        ev = case.sql("SELECT path, mapping_path, mapping_sha256 FROM evidence").rows()
    assert len(ev) == 3
    for path, mapping_path, mapping_sha in ev:  # each file's own mapping is its evidence of how it was read
        assert mapping_path == path + ".mapping.toml"
        assert mapping_sha == hashlib.sha256(_MAPPING.encode()).hexdigest()
    if kind == "csv":
        assert "CSV too many columns" in _reason(together, f"b.{kind}")
