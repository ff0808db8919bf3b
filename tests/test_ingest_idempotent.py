"""Evidence is keyed on sha256: the same bytes twice change nothing; changed bytes are new evidence."""

from __future__ import annotations

import json

import pytest


def _snapshot(case):
    return tuple(case.sql(f"SELECT count(*) FROM {t}").item() for t in ("evidence", "events", "rejects"))


def test_reingesting_the_same_file_changes_nothing(case, tmp_path):
    p = tmp_path / "a.jsonl"
    p.write_text(json.dumps({"time": "2026-03-14T09:00:00Z"}) + "\n{bad\n", encoding="utf-8")
    case.ingest([p])
    before = _snapshot(case)
    (res,) = case.ingest([p])
    assert res.status == "already ingested"
    assert _snapshot(case) == before


def test_same_bytes_under_another_name_are_the_same_evidence(case, tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "copy.jsonl"
    a.write_text(json.dumps({"time": "2026-03-14T09:00:00Z"}) + "\n", encoding="utf-8")
    b.write_bytes(a.read_bytes())
    case.ingest([a])
    (res,) = case.ingest([b])
    assert res.status == "already ingested" and case.sql("SELECT count(*) FROM evidence").item() == 1


def test_changed_file_at_same_path_is_a_new_evidence_row(case, tmp_path):
    p = tmp_path / "a.jsonl"
    p.write_text(json.dumps({"time": "2026-03-14T09:00:00Z"}) + "\n", encoding="utf-8")
    case.ingest([p])
    p.write_text(json.dumps({"time": "2026-03-14T09:05:00Z"}) + "\n", encoding="utf-8")
    (res,) = case.ingest([p])
    assert res.status == "ingested"
    ev = case.evidence()
    assert (
        ev.height == 2 and ev.get_column("path").n_unique() == 1 and ev.get_column("sha256").n_unique() == 2
    )


def test_case_survives_reopen(tmp_path):
    import forensics

    p = tmp_path / "a.jsonl"
    p.write_text(json.dumps({"time": "2026-03-14T09:00:00Z"}) + "\n", encoding="utf-8")
    with forensics.open_case(tmp_path / "c.duckdb") as c:
        c.ingest([p])
    with forensics.open_case(tmp_path / "c.duckdb") as c:
        assert c.ingest([p])[0].status == "already ingested"
        assert c.timeline().height == 1


def test_file_that_fails_after_partial_commits_leaves_nothing_and_can_be_ingested_again(
    case, tmp_path, monkeypatch
):
    import pytest

    import forensics.ingest as ingest
    from forensics.sources.generic import GenericSource

    class FailsOnThirdBatch(GenericSource):
        calls = 0

        def load_batch(self, batch):
            FailsOnThirdBatch.calls += 1
            if FailsOnThirdBatch.calls == 3:
                raise RuntimeError("disk full")
            super().load_batch(batch)

    p = tmp_path / "big.jsonl"
    p.write_text(
        "".join(json.dumps({"time": f"2026-03-14T09:{i % 60:02d}:00Z", "n": i}) + "\n" for i in range(400))
    )
    monkeypatch.setattr(ingest.limits, "PIECE_BYTES", 2048)  # many batches, an insert and a commit after each
    ing = ingest.Ingestor(case.con, commit_every_bytes=1, insert_min_rows=1)
    with pytest.raises(RuntimeError, match="disk full"):
        ing.ingest_file(str(p), loader=FailsOnThirdBatch())
    assert _snapshot(case) == (0, 0, 0)
    assert case.sql("SELECT count(*) FROM ingest_journal").item() == 0
    (res,) = case.ingest([p])
    assert res.status == "ingested" and res.reconciled and res.records_loaded == 400
    assert case.sql("SELECT count(*) FROM events").item() == 400


def test_rows_left_by_a_killed_ingest_are_purged_before_the_file_is_read_again(case, tmp_path):
    from forensics.ingest import hash_file

    p = tmp_path / "a.jsonl"
    p.write_text(json.dumps({"time": "2026-03-14T09:00:00Z"}) + "\n", encoding="utf-8")
    sha, _ = hash_file(str(p))
    # what a killed ingest leaves after a partial commit: its rows, and its journal entry
    case.con.execute(
        "INSERT INTO events (event_id, time, source, category, outcome, evidence_sha256, evidence_record) "
        "VALUES ('orphan', now(), 'generic', 'other', 'unknown', ?, 1)",
        [sha],
    )
    case.con.execute("INSERT INTO ingest_journal VALUES (?, ?, now())", [sha, str(p)])
    (res,) = case.ingest([p])
    assert res.records_loaded == 1
    assert case.sql("SELECT count(*) FROM events").item() == 1


def test_duplicate_with_a_higher_rank_replaces_the_copy_the_case_holds(case, ranked_source, write_ranked):
    a = write_ranked(
        "a.jsonl",
        [{"id": "x", "rank": 1, "what": "partial"}, {"id": "x", "rank": 1, "what": "partial again"}],
    )
    b = write_ranked(
        "b.jsonl", [{"id": "x", "rank": 3, "what": "complete"}, {"id": "x", "rank": 2, "what": "middle"}]
    )
    (ra,) = case.ingest([a], loader=ranked_source)
    (rb,) = case.ingest([b], loader=ranked_source)
    assert (ra.records_loaded, ra.records_duplicate) == (2, 1)  # equal rank: the earlier record stays
    assert (rb.records_loaded, rb.records_duplicate) == (
        2,
        2,
    )  # "middle" loses in the batch, "partial" is replaced
    assert case.sql("SELECT action FROM events").rows() == [("complete",)]


def test_events_gathered_over_many_batches_are_inserted_once_each(case, tmp_path, monkeypatch):
    import forensics.ingest as ingest

    p = tmp_path / "many.jsonl"
    lines = [json.dumps({"time": f"2026-03-14T09:{(i * 37) % 60:02d}:00Z", "n": i}) for i in range(500)]
    p.write_text("\n".join(lines) + "\n{bad\n")
    monkeypatch.setattr(
        ingest.limits, "PIECE_BYTES", 2048
    )  # about 40 batches, gathered into inserts of 120 rows or more
    res = ingest.Ingestor(case.con, commit_every_bytes=4096, insert_min_rows=120).ingest_file(str(p))
    assert res.reconciled and (res.records_loaded, res.records_rejected) == (500, 1)
    assert case.sql(
        "SELECT count(*), count(DISTINCT evidence_line), min(evidence_line), max(evidence_line) FROM events"
    ).row(0) == (500, 500, 1, 500)
    assert case.sql("SELECT list(raw->>'n' ORDER BY evidence_line) FROM events").item().to_list() == [
        str(i) for i in range(500)
    ]


def test_a_batch_out_of_time_order_is_stored_in_time_order(case, tmp_path):
    p = tmp_path / "backwards.jsonl"
    p.write_text("".join(json.dumps({"time": f"2026-03-14T09:{59 - i:02d}:00Z"}) + "\n" for i in range(60)))
    case.ingest([p])
    stored = case.sql("SELECT time FROM events ORDER BY rowid").get_column("time").to_list()
    assert len(stored) == 60 and stored == sorted(stored)


def test_a_file_is_in_the_ingest_journal_only_between_its_first_partial_commit_and_its_evidence_row(
    case, tmp_path, monkeypatch
):
    import forensics.ingest as ingest

    p = tmp_path / "big.jsonl"
    p.write_text(
        "".join(json.dumps({"time": f"2026-03-14T09:{i % 60:02d}:00Z", "n": i}) + "\n" for i in range(300))
    )
    monkeypatch.setattr(ingest.limits, "PIECE_BYTES", 2048)
    ing = ingest.Ingestor(case.con, commit_every_bytes=4096, insert_min_rows=1)
    seen = []
    commit = ing.checkpoint_commit

    def watched(sha):
        commit(sha)
        seen.append(case.sql("SELECT evidence_sha256 FROM ingest_journal").rows())

    ing.checkpoint_commit = watched
    res = ing.ingest_file(str(p))
    assert seen and all(rows == [(res.sha256,)] for rows in seen)  # listed after every partial commit
    assert case.sql("SELECT count(*) FROM ingest_journal").item() == 0  # and no longer once it is evidence


@pytest.mark.parametrize("insert_min_rows", [1, 120])
def test_every_event_keeps_the_exact_text_of_its_own_line(case, tmp_path, monkeypatch, insert_min_rows):
    """An event's ``raw`` comes from the line reader's text, not from DuckDB: whatever else a chunk holds
    (blank, malformed, non-object and time-less lines, times out of order), each event's raw is its own
    line, byte for byte."""
    import forensics.ingest as ingest

    lines = []
    for i in range(400):
        if i % 37 == 5:
            lines.append("")
        elif i % 41 == 7:
            lines.append("{broken")
        elif i % 43 == 9:
            lines.append("[1, 2]")
        elif i % 47 == 11:
            lines.append(json.dumps({"n": i, "note": "no time"}))
        else:
            minute = (59 - i % 60) if i % 3 else i % 60  # back and forth: batches out of time order
            lines.append(
                " " * (i % 3)
                + json.dumps(
                    {"time": f"2026-03-14T09:{minute:02d}:00Z", "n": i, "pad": "é" * (i % 5)},
                    ensure_ascii=False,
                    separators=(",", ":" if i % 2 else ": "),
                )
            )
    p = tmp_path / "mixed.jsonl"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setattr(ingest.limits, "PIECE_BYTES", 2048)
    res = ingest.Ingestor(case.con, commit_every_bytes=4096, insert_min_rows=insert_min_rows).ingest_file(
        str(p)
    )
    assert res.reconciled
    stored = case.sql("SELECT evidence_line, CAST(raw AS VARCHAR) AS raw FROM events").rows()
    expected = {n: text for n, text in enumerate(lines, 1) if text.lstrip().startswith('{"time"')}
    assert len(stored) == len(expected) == res.records_loaded
    assert all(raw == expected[line] for line, raw in stored)
