"""Small helpers over a DuckDB connection. DuckDB 2.0 keeps a result open after ``fetchone()``
until it is consumed, and refuses other work on the connection meanwhile, so single rows are read
with ``fetchall()`` here."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


def row(con, sql: str, params=None) -> tuple | None:
    """The first row of a statement's result (the rest is consumed), or None."""
    rows = con.execute(sql, params or []).fetchall()
    return rows[0] if rows else None


def scalar(con, sql: str, params=None):
    """The first column of the first row, or None."""
    r = row(con, sql, params)
    return r[0] if r else None



@contextmanager
def setting(con, name: str, value) -> Iterator[None]:
    """Set a DuckDB setting (a name the kit chose) for the length of a ``with`` block, then put back
    the value it had."""
    previous = scalar(con, f"SELECT current_setting('{name}')")
    con.execute(f"SET {name} = ?", [value])
    try:
        yield
    finally:
        con.execute(f"SET {name} = ?", [previous])
