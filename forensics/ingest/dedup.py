"""De-duplication of events by (source, event_uid), once per file (or group) after its last batch."""

from __future__ import annotations

import duckdb

from forensics.staging import temp_name


def dedup_file(con: duckdb.DuckDBPyConnection, evidence_sha256: str) -> int:
    """Keep one event per (source, event_uid) among the events of one file and those the case
    already held: the copy with the highest ``event_rank`` wins; at equal rank the copy the case
    held before this file, then the earliest record. Runs once per file, after its last batch, in
    the file's transaction, so its cost is one pass over ``events`` per file rather than per batch.
    Returns how many copies were removed (a replaced held copy counts too): ``dedup_files`` for one file."""
    return dedup_files(con, [evidence_sha256]).get(evidence_sha256, 0)


def dedup_files(con: duckdb.DuckDBPyConnection, shas: list[str]) -> dict[str, int]:
    """``dedup_file`` for the files of one group, in one pass, with the outcome of de-duplicating them one
    after another in the order of ``shas``: among copies of equal rank, the copy the case held before
    the group wins, then the copy of the earlier file. Returns, per file, how many copies it was charged
    with, as if read alone: every copy after the first to arrive (the held one, else the earliest in
    group order) is charged to its own file, whether it was the one removed or it replaced another."""
    gone = temp_name("gone")
    con.execute(
        f"""CREATE TEMP TABLE {gone} AS
            WITH mine AS (
                SELECT DISTINCT source, event_uid FROM events
                WHERE list_contains($shas, evidence_sha256) AND event_uid IS NOT NULL),
            repeated AS (
                SELECT e.source, e.event_uid FROM events e SEMI JOIN mine m
                    ON e.source = m.source AND e.event_uid = m.event_uid
                GROUP BY ALL HAVING count(*) > 1)
            SELECT e.rowid AS rid, e.evidence_sha256 AS sha,
                   row_number() OVER (PARTITION BY e.source, e.event_uid
                                      ORDER BY e.event_rank DESC, coalesce(list_position($shas, e.evidence_sha256), 0),
                                               e.evidence_record, e.event_seq) AS rn,
                   row_number() OVER (PARTITION BY e.source, e.event_uid
                                      ORDER BY coalesce(list_position($shas, e.evidence_sha256), 0),
                                               e.evidence_record, e.event_seq) AS arrival
            FROM events e SEMI JOIN repeated r ON e.source = r.source AND e.event_uid = r.event_uid""",
        {"shas": shas},
    )
    try:
        counts = dict(
            con.execute(
                f"SELECT sha, count(*) FROM {gone} WHERE arrival > 1 AND list_contains(?, sha) GROUP BY ALL",
                [shas],
            ).fetchall()
        )
        if counts:
            con.execute(f"DELETE FROM events WHERE rowid IN (SELECT rid FROM {gone} WHERE rn > 1)")
        return counts
    finally:
        con.execute(f"DROP TABLE {gone}")
