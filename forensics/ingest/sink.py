"""The insert sink: a line file's events (and other rows) gathered in Arrow into inserts of a row group per
DuckDB thread or more."""

from __future__ import annotations

import duckdb
import pyarrow as pa

from forensics.staging import fetch_arrow, insert_arrow


class InsertSink:
    """Gathers the rows a file's batches write to ``events`` (and to other tables a source sends here,
    e.g. ``spans``), in Arrow, and inserts each table's rows in one statement once there are enough
    of them (``flush``).

    DuckDB compresses and writes a row group in the thread that fills it. An insert of a batch
    smaller than a row group (122,880 rows) per thread is merged into the transaction by one thread,
    which then compresses everything alone; an insert of a row group or more per thread is written
    by every thread at once (measured: 3.2 s against 6.5 s for 1.4 M events in 44k-row inserts)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, min_rows: int):
        self.con = con
        self.min_rows = min_rows
        self.parts: dict[str, list[pa.Table]] = {}
        self.rows: dict[str, int] = {}
        #: a part of the table was sorted by time: the insert keeps the rows in that order
        self.sorted: dict[str, bool] = {}

    def add(
        self, table: str, select_sql: str, params: list | dict | None = None, ordered: bool = False
    ) -> None:
        """Gather the rows of ``select_sql`` (columns of ``table``, by name)."""
        self.add_rows(table, fetch_arrow(self.con, select_sql, params), ordered)

    def add_rows(self, table: str, rows: pa.Table, ordered: bool = False) -> None:
        """Gather ``rows`` (columns of ``table``, by name)."""
        if rows.num_rows:
            self.parts.setdefault(table, []).append(rows)
            self.rows[table] = self.rows.get(table, 0) + rows.num_rows
            self.sorted[table] = self.sorted.get(table, False) or ordered

    @property
    def full(self) -> bool:
        return any(n >= self.min_rows for n in self.rows.values())

    def flush(self, only_full: bool = False) -> None:
        """Insert what was gathered (with ``only_full``, only for tables with enough rows). Parts go in
        the order they came; rows keep their order only when a part had to be sorted by time
        (otherwise each thread writes rows of its own)."""
        for table in list(self.parts):
            if not only_full or self.rows[table] >= self.min_rows:
                self._flush(table)

    def _flush(self, table: str) -> None:
        con = self.con
        parts = self.parts.pop(table)
        del self.rows[table]
        ordered = self.sorted.pop(table)
        schema = parts[0].schema

        def batches():
            # each part is let go once DuckDB has taken it, so the rows are not held twice (here, and
            # in the row groups being written) for the length of the insert
            while parts:
                yield from parts.pop(0).to_batches(max_chunksize=8192)

        insert_arrow(con, table, pa.RecordBatchReader.from_batches(schema, batches()), ordered)
