"""DuckDB and Arrow staging helpers shared by the engine and the loaders: fresh temporary names, results
kept in chunked Arrow (which every DuckDB thread scans), and inserts from Arrow."""

from __future__ import annotations

import itertools
import warnings

import duckdb
import pyarrow as pa

from forensics.db import setting

_temp_names = itertools.count()


def temp_name(prefix: str) -> str:
    """A fresh name for a temporary table."""
    return f"_fx_{prefix}_{next(_temp_names)}"


def chunked(table: pa.Table, parts: int = 16) -> pa.Table:
    """The same rows in about ``parts`` record batches (slices, no copy), which DuckDB scans in parallel."""
    size = max(256, -(-max(table.num_rows, 1) // parts))
    return pa.Table.from_batches(table.to_batches(max_chunksize=size), schema=table.schema)


def fetch_arrow(
    con: duckdb.DuckDBPyConnection, sql: str, params: list | dict | None = None, small: bool = False
) -> pa.Table:
    """The result of ``sql`` as an Arrow table, JSON columns kept as JSON.

    A relation (``con.sql``) is bound once when made and planned again when run; for a ``small``
    result (a batch of a small file) that second planning (about 8 ms for a source's mapping) costs
    more than the extra copy of the rows that the DB-API result makes, so it is used instead."""
    with setting(con, "arrow_lossless_conversion", True):
        if small:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Arrow output on a DB-API result")
                return con.execute(sql, params or []).to_arrow_table()
        return (con.sql(sql, params=params) if params else con.sql(sql)).to_arrow_table()


def stage(
    con: duckdb.DuckDBPyConnection, sql: str, params: list | dict | None = None, small: bool = False
) -> str:
    """Run ``sql`` and keep its result in Arrow, cut into record batches, under a fresh view name.

    Use it instead of a temp table for an intermediate result that later statements scan: DuckDB
    scans a temp table by row groups of 122,880 rows, so a batch-sized one is read by one thread,
    while a chunked Arrow table is read by all. JSON columns stay JSON. Drop it with ``unstage``.
    ``small``: see ``fetch_arrow``."""
    return keep(con, fetch_arrow(con, sql, params, small))


def keep(con: duckdb.DuckDBPyConnection, table: pa.Table) -> str:
    """``stage`` for an Arrow table already at hand: it is cut into record batches and registered under a
    fresh view name. Drop it with ``unstage``."""
    name = temp_name("staged")
    con.register(name, chunked(table))
    return name


def insert_arrow(
    con: duckdb.DuckDBPyConnection, table: str, data: pa.Table | pa.RecordBatchReader, ordered: bool
) -> None:
    """Insert ``data`` into ``table`` by name, keeping the rows' order only when ``ordered``: an insert that
    need not keep it lets each thread write (and compress) row groups of its own."""
    name = temp_name("arrow")
    con.register(name, data)
    try:
        with setting(con, "preserve_insertion_order", ordered):
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {name}")
    finally:
        con.unregister(name)


def unstage(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Release a result kept by ``stage``."""
    con.unregister(name)
