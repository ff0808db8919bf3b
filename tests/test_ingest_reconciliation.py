"""Lossless ingest: every record of hostile files lands in events or in the rejects ledger."""

from __future__ import annotations

import gzip
import json

import pytest


def _line(i: int, **extra) -> str:
    return json.dumps({"time": f"2026-03-14T09:{i % 60:02d}:00Z", "action": f"a{i}", **extra})


def _ingest_one(case, path, **kw):
    (res,) = case.ingest([path], **kw)
    assert res.status == "ingested"
    return res


def _assert_reconciled(case, res):
    assert res.records_read == res.records_loaded + res.records_rejected
    ev = case.sql("SELECT * FROM evidence WHERE sha256 = $s", {"s": res.sha256}).row(0, named=True)
    assert ev["records_read"] == ev["records_loaded"] + ev["records_rejected"]
    loaded = case.sql(
        "SELECT count(DISTINCT evidence_record) AS n FROM events WHERE evidence_sha256 = $s",
        {"s": res.sha256},
    ).item()
    rejected = case.sql(
        "SELECT count(*) AS n FROM rejects WHERE evidence_sha256 = $s", {"s": res.sha256}
    ).item()
    assert loaded == res.records_loaded - res.records_duplicate
    assert rejected == res.records_rejected


def test_malformed_line_goes_to_rejects_with_line_number(case, tmp_path):
    p = tmp_path / "m.jsonl"
    p.write_text(_line(1) + "\n{not json\n" + _line(3) + "\n", encoding="utf-8")
    res = _ingest_one(case, p)
    assert (res.records_read, res.records_loaded, res.records_rejected) == (3, 2, 1)
    rej = case.rejects().row(0, named=True)
    assert rej["line"] == 2 and rej["reason"] == "malformed JSON" and rej["raw_text"] == "{not json"
    _assert_reconciled(case, res)


def test_blank_lines_are_counted_not_records(case, tmp_path):
    p = tmp_path / "b.jsonl"
    p.write_text(_line(1) + "\n\n   \n" + _line(2) + "\n\n", encoding="utf-8")
    res = _ingest_one(case, p)
    assert res.records_read == 2 and res.blank_lines == 3 and res.records_rejected == 0


def test_bom_and_crlf_are_tolerated(case, tmp_path):
    p = tmp_path / "bom.jsonl"
    p.write_bytes(b"\xef\xbb\xbf" + (_line(1) + "\r\n" + _line(2) + "\r\n").encode())
    res = _ingest_one(case, p)
    assert (res.records_loaded, res.records_rejected) == (2, 0)
    assert case.sql("SELECT count(*) FROM events WHERE raw->>'action' = 'a1'").item() == 1


def test_invalid_utf8_line_is_rejected_and_neighbours_load(case, tmp_path):
    p = tmp_path / "u.jsonl"
    p.write_bytes(
        (_line(1) + "\n").encode()
        + b'{"time":"2026-03-14T09:00:00Z","x":"\xff\xfe"}\n'
        + (_line(3) + "\n").encode()
    )
    res = _ingest_one(case, p)
    assert (res.records_loaded, res.records_rejected) == (2, 1)
    rej = case.rejects().row(0, named=True)
    assert rej["reason"] == "invalid UTF-8" and rej["line"] == 2 and "\\xff" in rej["raw_text"]
    _assert_reconciled(case, res)


def test_truncated_gzip_keeps_what_was_readable_and_records_the_damage(case, tmp_path):
    data = gzip.compress("".join(_line(i) + "\n" for i in range(2000)).encode())
    p = tmp_path / "t.jsonl.gz"
    p.write_bytes(data[: len(data) // 2])
    res = _ingest_one(case, p)
    assert res.records_loaded > 0
    reasons = case.rejects().get_column("reason").to_list()
    assert any(r.startswith("truncated gzip stream") for r in reasons)
    _assert_reconciled(case, res)


def test_deeply_nested_record_does_not_crash_and_reconciles(case, tmp_path):
    deep = '{"time":"2026-03-14T09:00:00Z","x":' + '{"a":' * 10000 + "1" + "}" * 10000 + "}"
    p = tmp_path / "deep.jsonl"
    p.write_text(_line(1) + "\n" + deep + "\n", encoding="utf-8")
    res = _ingest_one(case, p)
    assert res.records_read == 2
    _assert_reconciled(case, res)


def test_line_over_the_size_bound_is_rejected_with_its_length(case, tmp_path):
    big = json.dumps({"time": "2026-03-14T09:00:00Z", "blob": "x" * (10 * 1024 * 1024)})
    p = tmp_path / "big.jsonl"
    p.write_text(_line(1) + "\n" + big + "\n" + _line(3) + "\n", encoding="utf-8")
    res = _ingest_one(case, p)
    assert (res.records_read, res.records_loaded, res.records_rejected) == (3, 2, 1)
    rej = case.rejects().row(0, named=True)
    assert rej["line"] == 2 and "byte bound" in rej["reason"]
    assert rej["raw_length"] == len(big) and len(rej["raw_text"]) == 65536


def test_nul_bytes_in_a_line_are_rejected_not_dropped(case, tmp_path):
    p = tmp_path / "nul.jsonl"
    p.write_bytes((_line(1) + "\n").encode() + b'{"time":"2026-03-14T09:00:00Z",\x00"a":1}\n')
    res = _ingest_one(case, p)
    assert (res.records_read, res.records_loaded, res.records_rejected) == (2, 1, 1)
    _assert_reconciled(case, res)


def test_non_object_records_are_rejected(case, tmp_path):
    p = tmp_path / "arr.json"
    p.write_text(json.dumps([{"time": "2026-03-14T09:00:00Z"}, 5, "x", [1]]), encoding="utf-8")
    res = _ingest_one(case, p)
    assert (res.records_read, res.records_loaded, res.records_rejected) == (4, 1, 3)
    assert all(r.startswith("non-object record") for r in case.rejects().get_column("reason"))


def test_record_without_time_is_rejected_with_reason(case, tmp_path):
    p = tmp_path / "nt.jsonl"
    p.write_text('{"action":"x"}\n{"time":"yesterday"}\n', encoding="utf-8")
    res = _ingest_one(case, p)
    assert res.records_rejected == 2
    assert set(case.rejects().get_column("reason")) == {"no time field", "unparseable time"}


@pytest.mark.parametrize("compress", [False, True])
def test_records_object_and_array_documents_are_split_into_records(case, tmp_path, compress):
    doc = json.dumps(
        {"Records": [{"eventTime": "2026-03-14T09:00:00Z"}, {"eventTime": "2026-03-14T09:01:00Z"}]}
    )
    p = tmp_path / ("r.json.gz" if compress else "r.json")
    p.write_bytes(gzip.compress(doc.encode()) if compress else doc.encode())
    res = _ingest_one(case, p)
    assert res.format == ("gzip+json" if compress else "json")
    assert (res.records_read, res.records_loaded) == (2, 2)


def test_format_is_detected_by_content_not_name(case, tmp_path):
    p = tmp_path / "misleading.csv"
    p.write_text(_line(1) + "\n" + _line(2) + "\n", encoding="utf-8")
    res = _ingest_one(case, p)
    assert res.format == "jsonl" and res.records_loaded == 2


def test_csv_bad_rows_are_rejected_with_line_numbers(case, tmp_path):
    p = tmp_path / "c.csv"
    p.write_text(
        "time,user\n2026-03-14T09:00:00Z,bob\n2026-03-14T09:01:00Z,al,extra\n2026-03-14T09:02:00Z,carol\n"
    )
    res = _ingest_one(case, p)
    assert (res.records_read, res.records_loaded, res.records_rejected) == (3, 2, 1)
    assert case.rejects().get_column("line").to_list() == [3]


def test_malformed_json_document_is_one_reject(case, tmp_path):
    p = tmp_path / "broken.json"
    p.write_text('{\n  "Records": [\n    {"eventTime": "2026-03-14T09:00:00Z"},\n', encoding="utf-8")
    res = _ingest_one(case, p)
    # issue 15: the one complete record is kept; the cut end of the document is the reject
    assert (res.records_read, res.records_loaded, res.records_rejected) == (2, 1, 1)
    assert "truncated" in case.rejects().get_column("reason").item()


def test_inputs_are_never_written(case, tmp_path):
    p = tmp_path / "ro.jsonl"
    p.write_text(_line(1) + "\n", encoding="utf-8")
    p.chmod(0o444)
    before = (p.read_bytes(), p.stat().st_mtime_ns)
    _ingest_one(case, p)
    assert (p.read_bytes(), p.stat().st_mtime_ns) == before


def test_records_a_loader_never_touches_are_rejected_with_its_name(case, tmp_path):
    from forensics.sources.contract import Source

    class Silent(Source):
        name = "silent"
        containers = ("jsonl",)

        def load_batch(self, batch):
            pass  # a loader bug: it neither loads nor rejects

    p = tmp_path / "a.jsonl"
    p.write_text('{"a": 1}\n{"b": 2}\n')
    (res,) = case.ingest([p], loader=Silent())
    assert (res.records_read, res.records_loaded, res.records_rejected) == (2, 0, 2)
    assert case.sql("SELECT line, reason, raw_text FROM rejects ORDER BY line").rows() == [
        (1, "the silent loader produced nothing for this record", '{"a": 1}'),
        (2, "the silent loader produced nothing for this record", '{"b": 2}'),
    ]


def test_a_read_error_in_the_line_reader_thread_is_raised_to_the_ingest(tmp_path):
    import threading

    from forensics.ingest import ByteStream
    from forensics.ingest.chunks import _prepared_chunks

    class Failing(ByteStream):
        def __iter__(self):
            yield b'{"time": "2026-03-14T09:00:00Z"}\n'
            raise OSError("disk went away")

    p = tmp_path / "a.jsonl"
    p.write_text("x\n")
    with pytest.raises(OSError, match="disk went away"):
        list(_prepared_chunks(Failing(str(p)), 1 << 20))
    assert not [t for t in threading.enumerate() if t.name == "forensics-line-reader"]


def test_leaving_the_line_reader_early_stops_its_thread(tmp_path):
    import threading

    from forensics.ingest import ByteStream
    from forensics.ingest.chunks import _prepared_chunks

    p = tmp_path / "a.jsonl"
    p.write_text("".join(json.dumps({"n": i}) + "\n" for i in range(2000)))
    chunks = _prepared_chunks(ByteStream(str(p), piece_bytes=1024), 1 << 20)
    first = next(chunks)
    assert first.table.column("line_no")[0].as_py() == 1
    chunks.close()  # what an error in DuckDB does to the loop
    assert not [t for t in threading.enumerate() if t.name == "forensics-line-reader"]
