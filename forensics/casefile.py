"""The case file is guarded: a path that exists and is not a DuckDB case of this kit is refused (it is
never opened as a database, so it is never written), and a case carries its schema version in
``case_meta`` (key ``schema_version``).

Versions: 1 is every case made before versions were stamped (it has ``evidence`` and ``case_meta`` and no
stamp); 2 added ``skipped_entries`` and the evidence origin columns (``parent_sha256``, ``mapping_path``,
``mapping_sha256``). A writable open migrates an older case by running the schema files, which are
idempotent (``CREATE ... IF NOT EXISTS``, ``ADD COLUMN IF NOT EXISTS``), then stamps it. A read-only open
cannot change the file: it refuses an older case with the command that migrates it. A case from a newer
kit is refused either way."""

from __future__ import annotations

import os

from forensics.errors import BadCase

SCHEMA_VERSION = 2
#: a DuckDB database file: its main header's magic bytes sit at offset 8
_DUCKDB_MAGIC = b"DUCK"


def guard_path(path: str) -> None:
    """Refuse an existing ``path`` that is not a DuckDB database file (before DuckDB opens it)."""
    if path == ":memory:" or not os.path.exists(path):
        return
    if not os.path.isfile(path):
        raise BadCase(f"--case {path} exists and is not a file: refusing to use it as a case")
    with open(path, "rb") as f:
        head = f.read(16)
    if head[8:12] != _DUCKDB_MAGIC:
        raise BadCase(
            f"--case {path} exists and is not a DuckDB case database (evidence files are inputs, not cases): "
            "refusing to open it; give a new path or an existing case"
        )


def _tables(con) -> set[str]:
    return {
        t
        for (t,) in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = current_database() "
            "AND table_schema = 'main'"
        ).fetchall()
    }


def stored_version(con) -> int | None:
    """The case's schema version: None for a database with no tables (new), 0 for a DuckDB database that
    is not a case of this kit, 1 for an unstamped case, else the stamp."""
    tables = _tables(con)
    if not tables:
        return None
    if not {"evidence", "case_meta"} <= tables:
        return 0
    row = con.execute("SELECT value FROM case_meta WHERE key = 'schema_version'").fetchall()
    try:
        return int(row[0][0]) if row else 1
    except ValueError:
        return 0


def check_version(con, path: str, read_only: bool) -> int | None:
    """Refuse a database that is not a case of this kit, one from a newer kit, and (read-only) an older
    case; returns the stored version (None: a new database)."""
    v = stored_version(con)
    if v == 0:
        raise BadCase(f"--case {path} is a DuckDB database but not a forensics case: refusing to use it")
    if v is not None and v > SCHEMA_VERSION:
        raise BadCase(
            f"case {path} has schema version {v}, newer than this forensics ({SCHEMA_VERSION}): upgrade forensics"
        )
    if read_only and v is not None and v < SCHEMA_VERSION:
        raise BadCase(
            f"case {path} has schema version {v}, older than {SCHEMA_VERSION}: migrate it with "
            f"`forensics migrate --case {path}` (a copy first, if it must stay as it is)"
        )
    return v


def stamp(con) -> None:
    con.execute(
        "INSERT OR REPLACE INTO case_meta VALUES ('schema_version', ?)",
        [str(SCHEMA_VERSION)],
    )
