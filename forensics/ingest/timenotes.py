"""Warnings about how a file's times were read, for its evidence row's note (the ledger)."""

from __future__ import annotations

from forensics.db import scalar


def time_notes(con, sha: str) -> list[str]:
    """Notes for the file ``sha``: times that the date-or-epoch rule read as ``YYYYMMDD`` dates
    (docs/schema.md, "Time")."""
    n = scalar(
        con,
        """SELECT count(*) FROM events WHERE evidence_sha256 = ?
           AND strlen(trim(time_raw)) IN (8, 14) AND fx_ymd(trim(time_raw)) IS NOT NULL""",
        [sha],
    )
    return _note(n)


def time_notes_of(con, shas: list[str]) -> dict[str, list[str]]:
    """``time_notes`` for the files of a group, in one statement: the notes by sha256 (files with none left out)."""
    rows = con.execute(
        """SELECT evidence_sha256, count(*) FROM events WHERE list_contains(?, evidence_sha256)
           AND strlen(trim(time_raw)) IN (8, 14) AND fx_ymd(trim(time_raw)) IS NOT NULL GROUP BY ALL""",
        [shas],
    ).fetchall()
    return {sha: _note(n) for sha, n in rows if n}


def _note(n: int) -> list[str]:
    if not n:
        return []
    return [f"{n} times read as YYYYMMDD dates, not as epoch numbers (e.g. 20260314 is 2026-03-14, not 1970)"]
