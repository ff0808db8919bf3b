"""Issue 15 part 5: a large single JSON document is probed by a bounded walk (not a whole-document parse
in DuckDB) and, when it is one object, staged by one parse of its bytes in place. The bound is lowered
here, so that a 5 MB document takes the path a 200 MB one takes (bench/bombs.py measures the memory)."""

from __future__ import annotations

import json
import sys

import pytest

import forensics.ingest as ingest
from forensics.ingest.documents import DocumentReader
from forensics.ingest.sniff import sniff


def _big_object(n: int) -> dict:
    # the first key is no wrapper key, so the start of the document says nothing of its shape
    return {
        "time": "2026-03-14T09:00:00Z",
        "action": "huge",
        "actor": {"user": "alice", "tags": ["a", "b", "c", "d", "e"]},
        # no run of 40 letters: a leaf that looks like a secret sends a record under 8 MB to the
        # secret scan leaf by leaf, which runs out of memory on such a record (issue 15 part 5, open)
        "items": [f"{i} " + "xy " * 333 for i in range(n)],
    }


@pytest.fixture
def bounded(monkeypatch):
    """Documents over 1 MB count as large; the whole-document DuckDB probe must not run."""
    monkeypatch.setattr(ingest.limits, "SMALL_DOCUMENT_BYTES", 1 << 20)

    def whole_parse(*_a, **_k):
        raise AssertionError("a large document was parsed whole to probe it")

    monkeypatch.setattr(sys.modules["forensics.ingest.sniff"], "_document_shape", whole_parse)


@pytest.fixture
def large_object_splits(monkeypatch):
    """The outcomes of ``DocumentReader._split_large_object``, the bounded reading of one object."""
    seen: list[bool] = []
    real = DocumentReader._split_large_object

    def spy(self, *a, **k):
        seen.append(real(self, *a, **k))
        return seen[-1]

    monkeypatch.setattr(DocumentReader, "_split_large_object", spy)
    return seen


def test_large_object_is_probed_by_a_bounded_walk(tmp_path, bounded):
    doc = _big_object(5000)
    p = tmp_path / "doc.json"
    p.write_text(json.dumps(doc))
    assert p.stat().st_size > 5_000_000
    probe = sniff(str(p))
    assert (probe.container, probe.top_keys, probe.wrapper) == ("json", tuple(doc), None)
    (sample,) = probe.samples
    # every array cut to its first three elements, the rest of the values as they are
    assert sample == {**doc, "actor": {"user": "alice", "tags": ["a", "b", "c"]}, "items": doc["items"][:3]}


def test_large_object_document_is_one_event(case, tmp_path, bounded, large_object_splits):
    doc = _big_object(5000)
    p = tmp_path / "doc.json"
    p.write_text(json.dumps(doc, indent=1))
    (res,) = case.ingest([p])
    # records counted with json: an array's elements, else the document itself
    parsed = json.loads(p.read_bytes())
    expected = len(parsed) if isinstance(parsed, list) else 1
    assert large_object_splits == [True]
    assert res.status == "ingested" and res.reconciled
    assert (res.records_read, res.records_loaded, res.records_rejected) == (expected, expected, 0)
    raw = case.sql("SELECT raw FROM events").rows()
    assert [json.loads(r) for (r,) in raw] == [doc]


def test_large_array_with_a_huge_first_record_loads_every_record(case, tmp_path, bounded):
    # the first record is larger than the prefix, so only the walk can sample the array
    records = [_big_object(1200)] + [{"time": "2026-03-14T09:00:01Z", "action": f"a{i}"} for i in range(40)]
    p = tmp_path / "arr.json"
    p.write_text(json.dumps(records))
    assert p.stat().st_size > 1 << 20
    probe = sniff(str(p))
    assert len(probe.samples) == len(records) and probe.samples[1] == records[1]
    (res,) = case.ingest([p])
    n = len(json.loads(p.read_bytes()))
    assert res.reconciled and (res.records_read, res.records_loaded) == (n, n)


@pytest.mark.parametrize("tail", [b"", b' {"more": 1}'])
def test_malformed_large_object_is_still_settled(case, tmp_path, bounded, large_object_splits, tail):
    body = json.dumps(_big_object(5000)).encode()
    cut = body[: len(body) // 2] if not tail else body + tail  # cut off, or followed by more
    p = tmp_path / "bad.json"
    p.write_bytes(cut)
    with pytest.raises(ValueError):
        json.loads(cut)
    (res,) = case.ingest([p])
    assert large_object_splits in ([], [False])  # never staged as a record
    assert res.reconciled and res.records_read == res.records_loaded + res.records_rejected
    assert res.records_loaded == 0 and res.records_rejected >= 1
