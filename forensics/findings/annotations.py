"""Responder annotations on findings and events: star, tag, comment, status. They live in the case
(``annotations``) with author and time, never touch evidence, and give each finding its status."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime

import duckdb

from forensics.errors import ForensicsError

STATUSES = ("open", "acknowledged", "false_positive")
ACTIONS = ("star", "unstar", "tag", "comment", "status")


class BadAnnotation(ForensicsError):
    pass


def annotate(con: duckdb.DuckDBPyConnection, target: str, *, star: bool | None = None, tag: str | None = None, comment: str | None = None,
             status: str | None = None, author: str | None = None, kind: str | None = None) -> int:  # fmt: skip
    """Annotate a finding (``F-...``) or an event (its event_id). Returns how many annotations were
    written. The target must exist; a status must be one of STATUSES."""
    con.complete()
    kind = kind or ("finding" if target.startswith("F-") else "event")
    table, col = ("findings", "finding_id") if kind == "finding" else ("events", "event_id")
    if not con.execute(f"SELECT count(*) FROM {table} WHERE {col} = $t", {"t": target}).fetchall()[0][0]:
        raise BadAnnotation(
            f"no {kind} {target!r} in the case; list findings with: forensics findings --case CASE"
        )
    if status is not None and status not in STATUSES:
        raise BadAnnotation(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
    rows = []
    if star is not None:
        rows.append(("star" if star else "unstar", None))
    if tag:
        rows.append(("tag", tag))
    if comment:
        rows.append(("comment", comment))
    if status:
        rows.append(("status", status))
    if not rows:
        raise BadAnnotation("nothing to annotate: give a star, tag, comment or status")
    who = author or getpass.getuser()
    now = datetime.now(UTC)
    con.executemany(
        "INSERT INTO annotations (target_kind, target_id, action, value, author, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        [(kind, target, a, v, who, now) for a, v in rows],
    )
    return len(rows)
