"""One JSON document per file (CloudTrail's {"Records": [...]}, arrays): probed from its start when
large, split into records with one parse, and every failure still one reject with its reason."""

from __future__ import annotations

import gzip
import json
import zlib

import pytest

import forensics.ingest as ingest
from forensics.ingest import ByteStream, Ingestor, sniff
from forensics.sources.cloudtrail import _CANONICAL_TIME


def _event(i: int, **extra) -> dict:
    return {
        "eventVersion": "1.09",
        "eventTime": f"2026-03-14T09:{i % 60:02d}:00Z",
        "eventSource": "s3.amazonaws.com",
        "eventName": "GetObject",
        "eventID": f"e{i}",
        "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::1:user/u{i}"},
        **extra,
    }


def _records(n: int, *extra) -> bytes:
    return json.dumps({"Records": [_event(i) for i in range(n)] + list(extra)}).encode()


@pytest.fixture
def small_bound(monkeypatch):
    """Documents over 2 KB count as large, so the large-document path runs on small files."""
    monkeypatch.setattr(ingest.limits, "SMALL_DOCUMENT_BYTES", 2048)


def _one(case, path):
    (res,) = case.ingest([path])
    assert res.status == "ingested" and res.reconciled
    return res


def test_multi_member_gzip_is_read_once(tmp_path):
    lines = [json.dumps(_event(i)).encode() + b"\n" for i in range(40000)]
    body = b"".join(lines)
    half = len(body) // 2
    p = tmp_path / "m.jsonl.gz"
    p.write_bytes(
        gzip.compress(body[:half]) + gzip.compress(body[half:])
    )  # members larger than a 1 MiB piece
    for piece in (1 << 20, None):
        got = bytearray()
        for chunk in ByteStream(str(p), piece_bytes=piece):
            got += chunk
            assert len(got) <= len(body), "a member was read again"
        assert bytes(got) == body
    assert ByteStream(str(p)).read_upto(len(body)) == body


def test_large_records_document_is_probed_from_its_start(tmp_path, small_bound):
    p = tmp_path / "big.json.gz"
    p.write_bytes(gzip.compress(_records(200)))
    probe = sniff(str(p))
    assert (probe.container, probe.top_keys, probe.document, probe.content) == (
        "json",
        ("Records",),
        None,
        None,
    )
    # as many of the first records as the prefix holds (an 8 MB prefix holds 50 CloudTrail events)
    ids = [s["eventID"] for s in probe.samples]
    assert 0 < len(ids) <= 50 and ids == [f"e{i}" for i in range(len(ids))]


def test_large_records_document_loads_every_record(case, tmp_path, small_bound):
    p = tmp_path / "big.json.gz"
    p.write_bytes(gzip.compress(_records(300)))
    res = _one(case, p)
    assert (res.loader, res.format, res.records_read, res.records_loaded) == (
        "cloudtrail",
        "gzip+json",
        300,
        300,
    )
    assert case.sql("SELECT min(evidence_record), max(evidence_record) FROM events").row(0) == (1, 300)


@pytest.mark.parametrize("large", [False, True])
def test_null_and_scalar_records_are_rejected_with_their_type(case, tmp_path, monkeypatch, large):
    if large:
        monkeypatch.setattr(ingest.limits, "SMALL_DOCUMENT_BYTES", 2048)
    p = tmp_path / "r.json"
    p.write_bytes(_records(30, None, 5, "x"))
    res = _one(case, p)
    assert (res.records_read, res.records_loaded, res.records_rejected) == (33, 30, 3)
    got = case.sql("SELECT record_index, reason, raw_text FROM rejects ORDER BY record_index").rows()
    assert got == [
        (31, "non-object record (NULL)", "null"),
        (32, "non-object record (UBIGINT)", "5"),
        (33, "non-object record (VARCHAR)", '"x"'),
    ]


@pytest.mark.parametrize("large", [False, True])
@pytest.mark.parametrize("tail", [b" xyz", b'{"Records": []}'])
def test_document_followed_by_more_is_one_malformed_reject(case, tmp_path, monkeypatch, large, tail):
    if large:
        monkeypatch.setattr(ingest.limits, "SMALL_DOCUMENT_BYTES", 2048)
    p = tmp_path / "r.json"
    p.write_bytes(_records(30) + tail)
    res = _one(case, p)
    # issue 15: the records that parse are kept, the text after the document is the damaged span
    assert (res.records_read, res.records_rejected) == (31, 1)
    assert case.rejects()["reason"].to_list() == ["text after the end of the JSON document"]


def test_truncated_gzip_document_is_rejected_with_its_damage(case, tmp_path, small_bound):
    packed = gzip.compress(_records(300))
    p = tmp_path / "t.json.gz"
    p.write_bytes(packed[: len(packed) // 2])
    res = _one(case, p)
    # issue 15: every complete record of what decompresses is kept; the cut record and the damage are rejects
    kept = zlib.decompressobj(wbits=31).decompress(packed[: len(packed) // 2])
    complete = sum(
        1
        for i in range(300)
        if _records(300).find(json.dumps(_event(i)).encode()) + len(json.dumps(_event(i))) <= len(kept)
    )
    assert (res.records_loaded, res.records_rejected) == (complete, 2) and complete > 0
    reasons = case.rejects()["reason"].to_list()
    assert "truncated" in reasons[0] and reasons[1].startswith("truncated gzip stream")


def test_gzip_document_with_a_bad_checksum_is_damage_not_data(case, tmp_path, small_bound):
    packed = bytearray(gzip.compress(_records(300)))
    packed[-6] ^= 0xFF  # the CRC-32 of the member
    p = tmp_path / "c.json.gz"
    p.write_bytes(bytes(packed))
    res = _one(case, p)
    # issue 15: what decompresses is kept (as zcat keeps it), and the damage is recorded
    assert res.records_loaded == 300 and res.reconciled
    assert any(r.startswith("gzip CRC mismatch") for r in case.rejects()["reason"])


def test_document_over_the_bound_is_rejected_whole(case, tmp_path, small_bound):
    p = tmp_path / "huge.json.gz"
    p.write_bytes(gzip.compress(_records(300)))
    sha, size = ingest.hash_file(str(p))
    ing = Ingestor(case.con, max_document_bytes=10_000)
    res = ing.ingest_file(str(p))
    assert (res.records_read, res.records_rejected) == (1, 1)
    rej = case.rejects().row(0, named=True)
    assert (
        rej["reason"].startswith("JSON document exceeds the 10000 byte bound") and rej["raw_length"] == size
    )


def test_invalid_utf8_in_a_large_document_is_one_reject(case, tmp_path, small_bound):
    p = tmp_path / "u.json"
    p.write_bytes(_records(30).replace(b"GetObject", b"Get\xffObject", 1))
    res = _one(case, p)
    assert (res.records_read, res.records_rejected) == (1, 1)
    assert case.rejects()["reason"].to_list() == ["invalid UTF-8 in JSON document"]


def test_large_object_document_is_probed_with_its_arrays_cut_to_three(tmp_path, small_bound):
    p = tmp_path / "o.json"
    p.write_bytes(
        json.dumps({"kind": "EventList", "items": [_event(i) for i in range(40)], "pad": [None, 1]}).encode()
    )
    probe = sniff(str(p))
    assert probe.top_keys == ("kind", "items", "pad")
    (sample,) = probe.samples
    assert [e["eventID"] for e in sample["items"]] == ["e0", "e1", "e2"] and sample["pad"] == [None, 1]


def test_records_that_are_not_an_array_leave_the_document_to_the_general_reading(case, tmp_path, small_bound):
    p = tmp_path / "o.json"
    p.write_bytes(json.dumps({"Records": {"eventTime": "2026-03-14T09:00:00Z"}, "pad": "x" * 4000}).encode())
    (res,) = case.ingest([p], loader="cloudtrail")
    assert res.reconciled and res.records_read == 1


def test_digest_record_with_an_escaped_key_is_still_a_digest(case, tmp_path):
    digest = (
        '{"digest\\u0053tartTime": "2026-03-14T08:00:00Z", "digestEndTime": "2026-03-14T09:00:00Z", '
        '"logFiles": [{"s3Object": "x"}]}'
    )
    p = tmp_path / "d.json"
    p.write_bytes(_records(3)[:-2] + b", " + digest.encode() + b"]}")
    res = _one(case, p)
    assert res.records_loaded == 4
    assert case.sql("SELECT count(*) FROM cloudtrail_digests").item() == 1
    assert case.sql("SELECT count(*) FROM events").item() == 3


def test_canonical_event_time_shortcut_agrees_with_fx_time(case):
    texts = [
        "2026-03-14T09:00:00Z",
        "2026-03-14T24:00:00Z",
        "2026-02-30T09:00:00Z",
        "2026-03-14T23:59:60Z",
        "0000-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
        "2026-03-14T09:00:00.5Z",
        "2026-03-14t09:00:00z",
        " 2026-03-14T09:00:00Z",
        "2026-03-14 09:00:00Z",
        "2026-03-14T09:00:00",
        "1773478800",
        "",
    ]
    differ = case.sql(
        f"""SELECT s FROM (SELECT s, CASE WHEN regexp_full_match(s, {_CANONICAL_TIME}) THEN try_cast(s AS TIMESTAMPTZ)
                                          ELSE fx_time(s, true) END AS fast, fx_time(s, true) AS rule
                           FROM unnest($texts) t(s))
            WHERE fast IS DISTINCT FROM rule""",
        {"texts": texts},
    )
    assert differ.height == 0, differ


def test_document_records_handed_over_in_arrow_load_the_same_as_from_a_table(tmp_path, monkeypatch):
    """A document with many records reaches its source in chunked Arrow (both cores); the events,
    rejects and counts are the same as through the temp table."""
    import forensics

    p = tmp_path / "r.json"
    p.write_bytes(_records(200, None, 5, _event(3)))  # two non-objects, one duplicate event id
    got = {}
    for minimum in (10**9, 1):  # never staged / always staged
        monkeypatch.setattr(ingest.limits, "STAGE_MIN_RECORDS", minimum)
        with forensics.open_case(tmp_path / f"c{minimum}.duckdb") as case:
            res = _one(case, p)
            got[minimum] = (
                (res.records_read, res.records_loaded, res.records_rejected, res.records_duplicate),
                case.sql("SELECT * EXCLUDE (event_id) FROM events ORDER BY evidence_record").rows(),
                case.sql("SELECT record_index, reason FROM rejects ORDER BY record_index").rows(),
            )
    assert got[1] == got[10**9]
    assert got[1][0] == (203, 201, 2, 1)
