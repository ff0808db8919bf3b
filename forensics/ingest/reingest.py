"""Re-ingest: remove one evidence file's rows so that it can be read again (after the wrong loader, a
missing mapping, or a ``--year`` learned later), recorded in the ``reingests`` ledger with the reason.

Only this file's rows go: every base table with an ``evidence_sha256`` column loses the rows of its
sha256, and its evidence row is replaced by the new ingest. Derived tables are rebuilt afterwards for
the changed file like after any ingest."""

from __future__ import annotations

import os
from collections.abc import Iterable

from forensics.errors import ForensicsError
from forensics.ingest.files import hash_file, iter_input_files


def forget(con, paths: Iterable[str | os.PathLike], reason: str, exclude: Iterable[str] = ()) -> list[str]:
    """Remove the rows of every file under ``paths`` that the case already holds; returns their sha256."""
    reason = (reason or "").strip()
    if not reason:
        raise ForensicsError("--reingest needs a reason (it is kept in the reingests ledger)")
    forgotten: list[str] = []
    tables = [
        t
        for (t,) in con.execute(
            """SELECT table_name FROM information_schema.columns
               WHERE column_name = 'evidence_sha256' AND table_schema = 'main'
                 AND table_name IN (SELECT table_name FROM information_schema.tables
                                    WHERE table_type = 'BASE TABLE' AND table_schema = 'main')"""
        ).fetchall()
    ]
    for path, _ in iter_input_files(paths, exclude):
        sha, _size = hash_file(path)
        rows = con.execute(
            """SELECT loader, records_read, records_loaded, records_rejected, ingested_at
               FROM evidence WHERE sha256 = ?""",
            [sha],
        ).fetchall()
        if not rows:
            continue  # not in the case yet: an ordinary ingest
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(
                "INSERT INTO reingests SELECT now(), ?, ?, ?, ?, ?, ?, ?, ?",
                [sha, path, reason, *rows[0]],
            )
            for table in tables:
                con.execute(f'DELETE FROM "{table}" WHERE evidence_sha256 = ?', [sha])
            con.execute("DELETE FROM evidence WHERE sha256 = ?", [sha])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        forgotten.append(sha)
    return forgotten


def note_reingested(con, shas: Iterable[str]) -> None:
    """Add the re-ingest's reason and the previous loader to each new evidence row's note."""
    for sha in shas:
        con.execute(
            """UPDATE evidence SET note = concat_ws('; ', note,
                   (SELECT 're-ingested: ' || reason || ' (before: ' || previous_loader || ', '
                           || previous_records_loaded || ' loaded, ' || previous_records_rejected || ' rejected)'
                    FROM reingests WHERE sha256 = ? ORDER BY reingested_at DESC LIMIT 1))
               WHERE sha256 = ?""",
            [sha, sha],
        )
