"""Hash what you read: the sha256 and size recorded are those of the bytes the reading read, in the same
pass; a file that changed between planning and reading is not evidence but a skipped entry with both
hashes."""

from __future__ import annotations

import gzip
import hashlib
import json

import pytest

from forensics import ingest


def _write(path, n, start=0):
    with open(path, "a", encoding="utf-8") as f:
        for i in range(start, start + n):
            f.write(json.dumps({"time": f"2026-03-14T09:{i % 60:02d}:00Z", "n": i}) + "\n")


@pytest.mark.parametrize("kind", ["jsonl", "jsonl.gz", "document", "csv"])
def test_a_file_that_grows_after_planning_is_skipped_with_both_hashes(case, tmp_path, kind):
    p = tmp_path / f"f.{kind}"
    if kind == "jsonl":
        _write(p, 300)
    elif kind == "jsonl.gz":
        p.write_bytes(
            gzip.compress(
                b"".join(
                    json.dumps({"time": "2026-03-14T09:00:00Z", "n": i}).encode() + b"\n" for i in range(300)
                )
            )
        )
    elif kind == "document":
        p.write_text(json.dumps([{"time": "2026-03-14T09:00:00Z", "n": i} for i in range(300)]))
    else:
        p.write_text("time,n\n" + "".join(f"2026-03-14T09:00:00Z,{i}\n" for i in range(300)))
    planned_sha = hashlib.sha256(p.read_bytes()).hexdigest()
    ing = ingest.Ingestor(case.con)
    plan = ing.plan_file(str(p), loader="generic")
    assert plan.sha == planned_sha
    # the file grows between the hash of planning and the reading
    with open(p, "ab") as f:
        f.write(
            b'{"time": "2026-03-14T10:00:00Z", "n": 9999}\n'
            if kind != "csv"
            else b"2026-03-14T10:00:00Z,9999\n"
        )
    now = hashlib.sha256(p.read_bytes()).hexdigest()
    if kind == "document":
        plan.probe.content = None  # read from disk, as a document over the probe's bound is
    res = ing.ingest_planned(plan)
    assert res.status == "skipped" and planned_sha in res.note and now in res.note
    assert case.sql("SELECT count(*) FROM evidence").item() == 0
    assert case.sql("SELECT count(*) FROM events").item() == 0
    assert case.sql("SELECT kind, sha256 FROM skipped_entries").rows() == [("changed", planned_sha)]
    # read again once complete, it is evidence with the hash of its final bytes
    (again,) = case.ingest([p], loader="generic")
    assert again.status == "ingested" and again.sha256 == now


def test_recorded_sha256_and_size_are_those_of_the_bytes_read(case, tmp_path):
    p = tmp_path / "a.jsonl.gz"
    raw = b"".join(json.dumps({"time": "2026-03-14T09:00:00Z", "n": i}).encode() + b"\n" for i in range(500))
    p.write_bytes(gzip.compress(raw))
    (res,) = case.ingest([p])
    want = hashlib.sha256(p.read_bytes()).hexdigest()
    assert case.sql("SELECT sha256, size_bytes FROM evidence").row(0) == (want, p.stat().st_size)
    assert res.records_loaded == 500


def test_the_stream_digest_is_the_whole_file_even_when_reading_stops_early(tmp_path):
    p = tmp_path / "big.bin"
    p.write_bytes(b"x\n" * 100_000)
    s = ingest.ByteStream(str(p), piece_bytes=1000, digest=True)
    it = iter(s)
    next(it)
    it.close()
    assert s.digest == (hashlib.sha256(p.read_bytes()).hexdigest(), 200_000)
