"""Bounded memory on bombs: a newline bomb is counted without per-line arrays, dense short lines are cut
into chunks of a bounded number of lines, and a per-file decompressed cap stops reading with a reject.
Caps are set small here (FORENSICS_LIMIT_* / monkeypatch); bench/bombs.py measures the real sizes."""

from __future__ import annotations

import gzip
import json
import resource
import subprocess
import sys
from pathlib import Path

import forensics.ingest as ingest

FORENSICS = str(Path(sys.executable).with_name("forensics"))


def test_a_gzip_newline_bomb_is_blank_lines_in_bounded_memory(tmp_path):
    n = 64 * 1024 * 1024  # 64 MiB of newlines from a 64 KiB gzip
    p = tmp_path / "bomb.jsonl.gz"
    with gzip.open(p, "wb", compresslevel=9) as f:
        f.write(b'{"time": "2026-03-14T09:00:00Z", "a": 1}\n')
        for _ in range(64):
            f.write(b"\n" * (1024 * 1024))
        f.write(b'{"time": "2026-03-14T09:00:01Z", "a": 2}\n')
    assert p.stat().st_size < 200_000
    case = tmp_path / "c.duckdb"
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    res = subprocess.run(
        [FORENSICS, "ingest", "--case", str(case), str(p)], capture_output=True, text=True, timeout=600
    )
    assert res.returncode == 0, res.stderr
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    assert max(peak, before) < 1_000_000  # KiB
    import forensics

    with forensics.open_case(case, read_only=True) as c:
        assert c.sql("SELECT records_loaded, blank_lines FROM evidence").row(0) == (2, n)


def test_dense_short_lines_are_cut_into_bounded_chunks(case, tmp_path, monkeypatch):
    monkeypatch.setattr(ingest.limits, "MAX_CHUNK_LINES", 100)
    lines = [
        json.dumps({"time": f"2026-03-14T09:00:{i % 60:02d}Z", "n": i}) if i % 3 else "" for i in range(1000)
    ]
    lines[500] = "x"
    p = tmp_path / "d.jsonl"
    p.write_text("\n".join(lines) + "\n")
    seen = []
    orig = ingest.chunks._prepare

    def spy(chunk):
        out = orig(chunk)
        seen.append(0 if out.table is None else out.table.num_rows)
        return out

    monkeypatch.setattr(ingest.chunks, "_prepare", spy)
    (res,) = case.ingest([p])
    assert max(seen) <= 100 and sum(seen) <= 1000
    want = sum(1 for ln in lines if ln.strip() and ln != "x")
    assert (res.records_loaded, res.records_rejected, res.blank_lines) == (want, 1, lines.count(""))
    assert case.sql("SELECT line FROM rejects").item() == 501
    got = case.sql("SELECT list(evidence_line ORDER BY evidence_line) FROM events").item().to_list()
    assert got == [i + 1 for i, ln in enumerate(lines) if ln.strip() and ln != "x"]


def test_a_file_over_the_decompressed_cap_is_read_to_the_cap_and_the_rest_rejected(
    case, tmp_path, monkeypatch
):
    monkeypatch.setattr(ingest.limits, "MAX_FILE_BYTES", 10_000)
    recs = [json.dumps({"time": "2026-03-14T09:00:00Z", "n": i}) + "\n" for i in range(2000)]
    p = tmp_path / "big.jsonl.gz"
    p.write_bytes(gzip.compress("".join(recs).encode()))
    (res,) = case.ingest([p])
    within = len("".join(recs).encode()[:10_000].split(b"\n")) - 1  # whole lines inside the cap
    assert res.reconciled and res.records_loaded == within
    assert any("cap per file" in r for r in case.rejects()["reason"])


def test_a_single_huge_document_is_secret_scanned_as_text(case, tmp_path):
    token = "ghp_" + "A1b2C3d4E5" * 3 + "abcdef"  # 36 characters after the prefix
    doc = {
        "time": "2026-03-14T09:00:00Z",
        "action": "huge",
        "items": ["x" * 1000] * 9000,
        "note": f"token={token}",
    }
    p = tmp_path / "doc.json"
    p.write_text(json.dumps(doc))
    assert p.stat().st_size > 8_388_608
    (res,) = case.ingest([p])
    assert res.records_loaded == 1
    got = case.sql("SELECT kind, field FROM secret_exposures").rows()
    assert ("github_token", "$") in got
    q = tmp_path / "later.jsonl"
    q.write_text(json.dumps({"time": "2026-03-14T10:00:00Z"}) + "\n")
    (later,) = case.ingest([q])  # a later ingest does not scan the big record again
    assert later.records_loaded == 1
