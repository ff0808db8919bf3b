"""Damaged containers recovered record by record, compared with what ``zcat``, Python's gzip streaming
and Python's ``json`` recover from the same bytes (the expectations are derived here, not by the kit)."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import zlib

import pytest

import forensics.ingest as ingest


def _event(i: int) -> dict:
    return {
        "eventVersion": "1.09",
        "eventTime": f"2026-03-14T09:{i % 60:02d}:{i % 59:02d}Z",
        "eventSource": "s3.amazonaws.com",
        "eventName": "GetObject",
        "eventID": f"e{i}",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.7",
        "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::1:user/u{i % 7}"},
    }


def _records_text(n: int) -> list[str]:
    return [json.dumps(_event(i)) for i in range(n)]


def _parseable(texts: list[str]) -> int:
    ok = 0
    for t in texts:
        try:
            json.loads(t)
            ok += 1
        except ValueError:
            pass
    return ok


def _python_gzip_stream(path) -> bytes:
    out = bytearray()
    with gzip.open(path, "rb") as f:
        try:
            while piece := f.read(1024):
                out += piece
        except (OSError, EOFError, zlib.error):
            pass
    return bytes(out)


def _zcat(path) -> bytes:
    """What zcat recovers (its exit status ignored: it reports the damage), or Python's gzip streaming
    when zcat is missing."""
    if shutil.which("zcat"):
        return subprocess.run(["zcat", str(path)], capture_output=True).stdout
    return _python_gzip_stream(path)


def test_a_stray_comma_in_a_records_file_rejects_only_the_damaged_record(case, tmp_path):
    texts = _records_text(5000)
    bad = 1234
    texts[bad] = texts[bad].replace('"eventSource"', ',"eventSource"', 1)  # one stray comma
    body = '{"Records": [' + ", ".join(texts) + "]}"
    p = tmp_path / "trail.json"
    p.write_text(body)
    want = _parseable(texts)
    assert want == 4999
    (res,) = case.ingest([p])
    assert res.status == "ingested" and res.loader == "cloudtrail"
    assert (res.records_read, res.records_loaded, res.records_rejected) == (5000, want, 1)
    rej = case.rejects().row(0, named=True)
    assert rej["byte_offset"] == body.index(texts[bad]) and rej["record_index"] == bad + 1
    assert rej["raw_text"] == texts[bad]
    assert case.sql("SELECT count(*) FROM events").item() == want
    assert "e1234" not in case.sql("SELECT list(event_uid) FROM events").item().to_list()


def test_an_unbalanced_brace_loses_only_its_record(case, tmp_path):
    texts = _records_text(200)
    texts[50] = texts[50][:-1]  # its closing brace is gone
    p = tmp_path / "trail.json"
    p.write_text('{"Records": [' + ",\n".join(texts) + "]}")
    (res,) = case.ingest([p])
    assert res.reconciled and res.records_loaded == _parseable(texts) == 199


def test_a_truncated_gzip_records_file_keeps_every_complete_record(case, tmp_path):
    texts = _records_text(30)
    body = ('{"Records": [' + ", ".join(texts) + "]}").encode()
    packed = gzip.compress(body)
    p = tmp_path / "trail.json.gz"
    p.write_bytes(packed[: len(packed) * 2 // 3])
    recovered = _zcat(p)
    assert 0 < len(recovered) < len(body)
    # the complete records in what zcat recovers: each record whose whole text lies inside it
    want = sum(1 for t in texts if body.index(t.encode()) + len(t) <= len(recovered))
    assert recovered.startswith(_python_gzip_stream(p))  # Python's streaming gives up earlier
    (res,) = case.ingest([p])
    assert res.loader == "cloudtrail" and res.reconciled
    assert res.records_loaded == want > 0
    reasons = case.rejects()["reason"].to_list()
    assert any("truncated" in r for r in reasons)


def test_a_gzip_crc_error_keeps_what_decompresses(case, tmp_path):
    lines = [json.dumps({"time": f"2026-03-14T09:00:{i % 60:02d}Z", "n": i}) for i in range(2000)]
    packed = bytearray(gzip.compress(("\n".join(lines) + "\n").encode()))
    packed[-8] ^= 0x01  # the stored CRC-32
    p = tmp_path / "log.jsonl.gz"
    p.write_bytes(bytes(packed))
    want = sum(1 for ln in _zcat(p).splitlines() if ln.strip())
    assert want == 2000
    (res,) = case.ingest([p])
    assert res.records_loaded == want and res.reconciled
    assert any(r.startswith("gzip CRC mismatch") for r in case.rejects()["reason"])


def test_a_corrupt_block_keeps_what_came_before_it(tmp_path):
    lines = b"".join(json.dumps({"n": i, "pad": "x" * (i % 50)}).encode() + b"\n" for i in range(200_000))
    packed = bytearray(gzip.compress(lines, compresslevel=1))
    mid = len(packed) // 2
    packed[mid : mid + 64] = bytes(64)  # a corrupt block in the middle
    p = tmp_path / "c.gz"
    p.write_bytes(bytes(packed))
    want = _python_gzip_stream(p)
    s = ingest.ByteStream(str(p))
    got = b"".join(s)
    assert s.damage  # a corrupt block, or a CRC mismatch when the damage still inflates
    assert len(got) >= len(want) and got.startswith(want)  # at least what Python's gzip streaming gives
    assert len(got) > len(lines) // 3


@pytest.mark.parametrize("ending", [b"\r", b"\r\n", "mixed"])
def test_cr_only_and_mixed_line_endings_split_into_lines(case, tmp_path, ending):
    recs = [json.dumps({"time": f"2026-03-14T09:00:{i % 60:02d}Z", "n": i}).encode() for i in range(2000)]
    if ending == "mixed":
        body = b"".join(r + (b"\r", b"\n", b"\r\n")[i % 3] for i, r in enumerate(recs))
    else:
        body = ending.join(recs) + ending
    p = tmp_path / "x.jsonl"
    p.write_bytes(body)
    # independent count: Python's universal newlines split on CR, LF and CRLF
    want = sum(1 for ln in body.decode().splitlines() if ln.strip())
    (res,) = case.ingest([p])
    assert (res.records_read, res.records_loaded) == (want, want) == (2000, 2000)
    assert res.format == "jsonl"
    offs = case.sql(
        "SELECT list(byte_offset ORDER BY evidence_line) FROM (SELECT e.evidence_line, 0 AS byte_offset FROM events e)"
    )
    assert offs.height == 1
    lines = case.sql("SELECT evidence_line, raw->>'n' AS n FROM events ORDER BY evidence_line").rows()
    assert lines[:3] == [(1, "0"), (2, "1"), (3, "2")] and lines[-1] == (2000, "1999")
