"""Small helpers over a DuckDB connection. DuckDB 2.0 keeps a result open after ``fetchone()``
until it is consumed, and refuses other work on the connection meanwhile, so single rows are read
with ``fetchall()`` here."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

#: DuckDB's memory limit for work that can spill (reading a line-oriented file, the derivations after
#: an ingest); None keeps the connection's setting.
LINES_MEMORY_LIMIT = "1GB"
#: DuckDB's memory limit while the lines of a file are read and inserted. What DuckDB holds then is
#: mostly blocks it has just written (kept only as a cache) and the row groups it is building; the
#: events waiting to be inserted are in Arrow, outside this limit.
READ_MEMORY_LIMIT = "384MB"


def row(con: duckdb.DuckDBPyConnection, sql: str, params=None) -> tuple | None:
    """The first row of a statement's result (the rest is consumed), or None."""
    rows = con.execute(sql, params or []).fetchall()
    return rows[0] if rows else None


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params=None):
    """The first column of the first row, or None."""
    r = row(con, sql, params)
    return r[0] if r else None


@contextmanager
def setting(con: duckdb.DuckDBPyConnection, name: str, value) -> Iterator[None]:
    """Set a DuckDB setting (a name the kit chose) for the length of a ``with`` block, then put back
    the value it had. When the block fails inside a transaction, DuckDB refuses any statement until
    the rollback, the setting's too: the block's own error is the one raised then."""
    previous = scalar(con, f"SELECT current_setting('{name}')")
    con.execute(f"SET {name} = ?", [value])
    try:
        yield
    except BaseException:
        try:
            con.execute(f"SET {name} = ?", [previous])
        except duckdb.Error:
            pass
        raise
    con.execute(f"SET {name} = ?", [previous])


@contextmanager
def memory_budget(con: duckdb.DuckDBPyConnection, limit: str | None = None) -> Iterator[None]:
    """Hold DuckDB to ``limit`` (by default ``LINES_MEMORY_LIMIT``) for work that can spill, then
    restore the limit."""
    limit = limit or LINES_MEMORY_LIMIT
    if not limit:
        yield
        return
    with setting(con, "memory_limit", limit):
        yield
