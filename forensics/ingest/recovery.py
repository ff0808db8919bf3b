"""Crash consistency: a file's rows are visible only with its evidence row.

A large line file commits as it goes (``Journal.checkpoint_commit``), and ``ingest_journal`` lists it
from its first partial commit until the commit that writes its evidence row. A file listed there
without an evidence row was cut short (kill -9, a full disk, a power cut): its rows must not be seen.

- A writable open purges them (``purge_interrupted``) before anything else runs, and records the cut
  file in ``skipped_entries`` (kind ``interrupted``), so the ledger says a file was not read.
- A read-only open cannot delete: it hides them (``hide_interrupted``) behind temporary views of the
  same names, which every reader (timeline, queries, reports, findings) goes through, since DuckDB
  resolves the temporary catalog first.
"""

from __future__ import annotations

from forensics.db import scalar


def evidence_tables(con) -> list[str]:
    """The case's base tables (schema main) that carry an ``evidence_sha256`` column."""
    return [
        t
        for (t,) in con.execute(
            """SELECT c.table_name FROM information_schema.columns c
               JOIN information_schema.tables t
                 ON t.table_name = c.table_name AND t.table_schema = c.table_schema
                AND t.table_catalog = c.table_catalog
               WHERE c.column_name = 'evidence_sha256' AND c.table_schema = 'main'
                 AND t.table_type = 'BASE TABLE' AND c.table_catalog = current_database()
               ORDER BY 1"""
        ).fetchall()
    ]


def interrupted(con) -> list[tuple[str, str]]:
    """(sha256, path) of every file whose ingest was cut short: listed in ``ingest_journal`` with no
    evidence row."""
    if not scalar(
        con,
        """SELECT count(*) FROM information_schema.tables
           WHERE table_name = 'ingest_journal' AND table_catalog = current_database()""",
    ):
        return []
    return [
        (sha, path)
        for sha, path in con.execute(
            """SELECT evidence_sha256, path FROM ingest_journal j
               WHERE NOT EXISTS (SELECT 1 FROM evidence e WHERE e.sha256 = j.evidence_sha256)
               ORDER BY started_at, path"""
        ).fetchall()
    ]


def purge_interrupted(con) -> list[tuple[str, str]]:
    """Delete every row of the files ``interrupted`` lists, in one transaction, and record each file in
    ``skipped_entries``; a journal entry whose file has its evidence row is simply dropped. Returns the
    files purged."""
    cut = interrupted(con)
    stale = scalar(con, "SELECT count(*) FROM ingest_journal") - len(cut)
    if not cut and not stale:
        return []
    tables = evidence_tables(con)
    con.execute("BEGIN TRANSACTION")
    try:
        for sha, path in cut:
            for table in tables:
                con.execute(f'DELETE FROM "{table}" WHERE evidence_sha256 = ?', [sha])
            con.execute(
                "INSERT INTO skipped_entries VALUES (?, 'interrupted', ?, ?, NULL, NULL, now())",
                [
                    path,
                    "an earlier ingest of this file was cut short (killed, or the disk filled); "
                    "its partial rows were removed: ingest it again",
                    sha,
                ],
            )
        con.execute("DELETE FROM ingest_journal")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return cut


def hide_interrupted(con) -> list[tuple[str, str]]:
    """On a read-only connection: put a temporary view in front of every table with an
    ``evidence_sha256`` column that leaves out the rows of ``interrupted`` files. Returns those files."""
    cut = interrupted(con)
    if not cut:
        return []
    db = scalar(con, "SELECT current_database()").replace('"', '""')
    shas = [sha for sha, _ in cut]
    listed = "[" + ", ".join("'" + s.replace("'", "''") + "'" for s in shas) + "]"
    for table in evidence_tables(con):
        con.execute(
            f'''CREATE OR REPLACE TEMP VIEW "{table}" AS
                SELECT * FROM "{db}".main."{table}" WHERE NOT list_contains({listed}, evidence_sha256)'''
        )
    return cut


def unread_entries(con, hidden: list[tuple[str, str]] = ()):
    """A polars frame of the input entries the case does not hold as evidence: ``skipped_entries`` (path,
    kind, reason, sha256), plus the ``hidden`` cut-short files of a read-only open."""
    import polars as pl

    con.complete()
    has = scalar(
        con,
        """SELECT count(*) FROM information_schema.tables
           WHERE table_name = 'skipped_entries' AND table_catalog = current_database()""",
    )
    frame = (
        con.sql(
            """SELECT path, kind, reason, sha256 FROM skipped_entries
               QUALIFY row_number() OVER (PARTITION BY path, kind, reason ORDER BY recorded_at) = 1
               ORDER BY recorded_at, path"""
        ).pl()
        if has
        else pl.DataFrame(
            schema={"path": pl.String, "kind": pl.String, "reason": pl.String, "sha256": pl.String}
        )
    )
    if hidden:
        reason = (
            "its ingest was cut short; its partial rows are hidden, and the next writable open removes them"
        )
        extra = pl.DataFrame(
            {
                "path": [p for _, p in hidden],
                "kind": ["interrupted"] * len(hidden),
                "reason": [reason] * len(hidden),
                "sha256": [s for s, _ in hidden],
            }
        )
        frame = pl.concat([frame, extra])
    return frame
