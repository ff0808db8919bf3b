"""Derivations rerun only for what changed (issue 14, part 6): an ingest that changed nothing runs none,
and a derivation that reads no rows of the new files is not run again."""

from __future__ import annotations

import json

import pytest

from forensics import derive


@pytest.fixture
def calls(monkeypatch) -> list[str]:
    """The derivations that ran, in order, each wrapped to record its module's name."""
    ran: list[str] = []
    for m in derive.modules():

        def wrapped(con, _m=m, _derive=m.derive):
            ran.append(_m.__name__.rsplit(".", 1)[1])
            return _derive(con)

        monkeypatch.setattr(m, "derive", wrapped)
    return ran


def _events_file(path, n: int, prefix: str = "e") -> None:
    path.write_text(
        "".join(
            json.dumps({"time": f"2026-03-14T09:00:{i:02d}Z", "id": f"{prefix}{i}"}) + "\n" for i in range(n)
        )
    )


def test_an_ingest_that_changes_nothing_derives_nothing(case, tmp_path, calls):
    p = tmp_path / "a.jsonl"
    _events_file(p, 3)
    case.ingest([p])
    assert "credentials" in calls and "cardinality" in calls
    before = case.sql("SELECT count(*) FROM events").item()
    calls.clear()
    (res,) = case.ingest([p])
    assert res.status == "already ingested"
    assert calls == []
    assert case.sql("SELECT count(*) FROM events").item() == before == 3


def test_a_derivation_that_reads_no_rows_of_the_new_file_is_not_rerun(case, tmp_path, calls):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    _events_file(a, 2)
    case.ingest([a])
    calls.clear()
    _events_file(b, 2, prefix="f")
    case.ingest([b])  # events only: the trace derivation (it reads spans) has nothing new to read
    assert "credentials" in calls and "traces" not in calls


def test_an_explicit_rederive_runs_every_derivation(case, calls):
    assert case.rederive() == [m.__name__ for m in derive.modules()]
    assert calls == [m.__name__.rsplit(".", 1)[1] for m in derive.modules()]
