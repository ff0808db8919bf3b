"""The engine's batch: the loader contract's ``Batch`` with its bookkeeping, built by the readers with
``RecordBatch.of_file`` or ``RecordBatch.of_group``."""

from __future__ import annotations

import copy
import re

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from forensics.db import scalar, setting
from forensics.ingest.files import ByteStream, hash_file
from forensics.ingest.sink import InsertSink
from forensics.sources.contract import EVENT_COLUMNS, RAW_KEEP, Batch, Source, sql_str
from forensics.staging import chunked, fetch_arrow, insert_arrow, keep, temp_name, unstage

#: ``(keys, text)``: the ``doc`` of a batch's records as the engine holds them in Arrow, and their record numbers
RawText = tuple[np.ndarray, pa.Array | pa.ChunkedArray]


class RecordBatch(Batch):
    """One batch of records of one file (or of a group of small files), staged in a temporary table, and
    the bookkeeping of what became of each record: every method a source calls marks the records it
    touched, and ``settle`` gives every record exactly one fate.

    A ``grouped`` batch holds the records of several files (small JSON documents of a ``groupable``
    source, read in one transaction): its table has two more columns, ``evidence_sha256`` and
    ``evidence_record`` (the record's number in its file), and ``record_no`` is only a key.
    ``evidence_sha256`` is then None."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        table: str,
        *,
        source: Source,
        evidence_sha256: str | None,
        path: str | None = None,
        sink: InsertSink | None = None,
        small: bool = False,
        grouped: bool = False,
        raw_text: RawText | None = None,
        files: list[str] | None = None,
    ):
        self.con = con
        self.table = table
        self.grouped = grouped
        self.evidence_sql = "r.evidence_sha256" if grouped else sql_str(evidence_sha256 or "")
        self.record_sql = "r.evidence_record" if grouped else "r.record_no"
        self.small = small
        #: where the events go: straight into ``events`` (None), or gathered by the engine into larger inserts
        self.sink = sink
        self.evidence_sha256 = evidence_sha256
        self.path = path
        self.source = source
        #: ``(keys, text)``: the ``doc`` of the batch's records, as the engine holds them in Arrow (a JSON array),
        #: and the ``record_no`` of each element (an int64 numpy array), set by the engine for a chunk of lines
        #: and a group of documents: ``insert_events`` then takes each event's ``raw`` from it instead of copying
        #: every document out of DuckDB and back (see ``_gather_events``)
        self.raw_text = raw_text
        #: for a grouped batch with ``raw_text``: the sha256 of each file of the group, by file number (a
        #: record's number is its file's number shifted left by 32 bits, plus its number in the file)
        self.files = files or []
        self.outcome = temp_name("outcome")
        con.execute(f"CREATE TEMP TABLE {self.outcome} (record_no BIGINT, status VARCHAR)")

    @classmethod
    def of_file(
        cls,
        con: duckdb.DuckDBPyConnection,
        table: str,
        *,
        source: Source,
        evidence_sha256: str,
        path: str | None,
        sink: InsertSink | None = None,
        small: bool = False,
        raw_text: RawText | None = None,
    ) -> RecordBatch:
        """A batch of the records of one file."""
        return cls(
            con,
            table,
            source=source,
            evidence_sha256=evidence_sha256,
            path=path,
            sink=sink,
            small=small,
            raw_text=raw_text,
        )

    @classmethod
    def of_group(
        cls,
        con: duckdb.DuckDBPyConnection,
        table: str,
        *,
        source: Source,
        files: list[str],
        small: bool = False,
        raw_text: RawText | None = None,
    ) -> RecordBatch:
        """A batch of the records of a group of small files (``files``: their sha256, by file number)."""
        return cls(
            con,
            table,
            source=source,
            evidence_sha256=None,
            small=small,
            grouped=True,
            raw_text=raw_text,
            files=files,
        )

    def route(
        self, select_sql: str, source: Source, params: list | dict | None = None, shift: int = 0
    ) -> None:
        """See ``Batch.route``: ``source`` loads the routed records through a copy of this batch bound to
        their table, sharing this batch's bookkeeping (and sink)."""
        con = self.con
        table = temp_name("routed")
        con.execute(f"CREATE TEMP TABLE {table} AS {select_sql.replace('{batch}', self.table)}", params or [])
        sub = copy.copy(self)
        sub.table, sub.source, sub.raw_text = table, source, None
        try:
            source.load_batch(sub)
            if shift:
                # a routed record the source never touched is rejected for it, like any record; a wrapper
                # record is loaded when any of its messages is, else rejected
                sub._reject_records(
                    "'the ' || ? || ' loader produced nothing for this record'",
                    f"FROM {table} r WHERE r.record_no NOT IN (SELECT record_no FROM {self.outcome})",
                    [source.name],
                )
                con.execute(
                    f"""INSERT INTO {self.outcome}
                        SELECT DISTINCT r.record_no >> {int(shift)},
                               CASE WHEN o.status = 'loaded' THEN 'loaded' ELSE 'rejected' END
                        FROM {table} r LEFT JOIN {self.outcome} o USING (record_no)"""
                )
        finally:
            con.execute(f"DROP TABLE IF EXISTS {table}")

    def read_evidence(self) -> bytes | None:
        if not self.path or hash_file(self.path)[0] != self.evidence_sha256:
            return None
        return b"".join(ByteStream(self.path))

    # -- helpers for sources -------------------------------------------------------------------
    def insert_events(self, select_sql: str, params: list | dict | None = None) -> None:
        """Insert events produced by ``select_sql`` (which names the batch table ``{batch}``).

        Rows whose ``time`` is NULL are rejected with ``time_problem`` as the reason. Rows that share
        an ``event_uid`` (for the same source) with another row of the file or of the case are kept
        once; the engine settles that after the file's last batch (``dedup_file``)."""
        con = self.con
        select_sql = select_sql.replace("{batch}", self.table)
        if self.raw_text is not None:
            cols = _columns_of(con, select_sql, params)
            if "raw" not in cols:
                self._gather_events(select_sql, params, cols)
                return
        # kept in chunked Arrow, so that the insert below scans both of its inputs on every core
        rows = fetch_arrow(con, f"SELECT * FROM ({select_sql}) WHERE true", params, small=self.small)
        cols = {name.lower() for name in rows.column_names}
        mapped = keep(con, rows)
        inversions = self._fates(mapped, "record_no", "time_problem", rows.column("time").null_count, cols)
        # (source, event_uid) duplicates are settled once per file, after its last batch: see dedup_file
        insert = f"""INSERT INTO events BY NAME
                SELECT {self._event_columns(cols, "r.doc", self.record_sql, "r.line_no")}
                FROM {self.table} r JOIN {mapped} m USING (record_no)
                WHERE m.time IS NOT NULL
                {"ORDER BY time" if inversions else ""}"""
        if self.sink is not None:
            self.sink.add("events", insert.replace("INSERT INTO events BY NAME", "", 1), ordered=inversions)
        else:
            # a batch in time order already need not keep its order inside the batch, which lets each
            # thread write (and compress) rows of its own
            with setting(con, "preserve_insertion_order", inversions):
                con.execute(insert)
        unstage(con, mapped)

    def _gather_events(self, select_sql: str, params: list | dict | None, cols: set[str]) -> None:
        """``insert_events`` for a batch whose documents the engine holds (``raw_text``): one statement maps
        the records and finishes the events' columns with no join with the batch (a line's record number is
        its line number; a grouped record's number is its file's number, shifted, then its own, and its file's
        sha256 comes from the group's list), and each event's ``raw`` is taken from the
        engine's Arrow array (see ``_with_raw``), so no document is copied out of DuckDB and back. The rows
        go to the sink, or are inserted here."""
        con = self.con
        problem = "m.time_problem" if "time_problem" in cols else "NULL"
        if self.grouped:
            # the sha256 of the record's file, from a list of the group's (hex digests the kit computed): a join
            # would cost little, but its rows would come out of record order
            shas = "[" + ", ".join(sql_str(sha) for sha in self.files) + "]"
            columns = self._event_columns(
                cols,
                None,
                "(m.record_no & 4294967295)",
                "CAST(NULL AS BIGINT)",
                f"{shas}[(m.record_no >> 32) + 1]",
            )
        else:
            columns = self._event_columns(cols, None, "m.record_no", "m.record_no")
        rows = fetch_arrow(
            con,
            f"SELECT {columns}, m.record_no AS _record_no, {problem} AS _time_problem FROM ({select_sql}) m",
            params,
            small=self.small,
        )
        timeless = rows.column("time").null_count
        mapped = keep(con, rows)
        try:
            inversions = self._fates(mapped, "_record_no", "_time_problem", timeless, cols)
        finally:
            unstage(con, mapped)
        if timeless:
            rows = rows.filter(pc.is_valid(rows.column("time")))
        if inversions:
            rows = rows.take(pc.sort_indices(rows, [("time", "ascending")]))
        rows = _with_raw(rows.drop_columns(["_time_problem"]), *self.raw_text).drop_columns(["_record_no"])
        if self.sink is not None:
            self.sink.add_rows("events", rows, ordered=inversions)
        else:
            insert_arrow(con, "events", chunked(rows), ordered=inversions)

    def _fates(self, mapped: str, record: str, problem: str, timeless: int, cols: set[str]) -> bool:
        """The bookkeeping of a batch's mapped events (``mapped``, its batch key in column ``record``): a
        record with no parseable time goes to the rejects ledger, with its reason (column ``problem``;
        the join with the batch's documents runs only when there is such a record, ``timeless``), and
        every record is marked loaded or rejected. Returns whether the events are out of time order:
        rows go in in time order, so that a time range prunes row groups, and a batch already in time
        order (most logs are) is not sorted again (order inside a batch, smaller than a row group, does
        not change a row group's time range)."""
        con = self.con
        if timeless:
            self._reject_records(
                f"coalesce(m.{problem}, 'no parseable time')",
                f"FROM {mapped} m JOIN {self.table} r ON r.record_no = m.{record} WHERE m.time IS NULL",
            )
        con.execute(f"""INSERT INTO {self.outcome}
                        SELECT DISTINCT {record}, CASE WHEN time IS NULL THEN 'rejected' ELSE 'loaded' END FROM {mapped}""")
        order = record + (", event_seq" if "event_seq" in cols else "")
        return bool(
            scalar(
                con,
                f"""SELECT count(*) FROM (SELECT time < lag(time) OVER (ORDER BY {order}) AS back
                                    FROM {mapped} WHERE time IS NOT NULL) WHERE back""",
            )
        )

    def _event_columns(
        self, cols: set[str], raw: str | None, record: str, line: str, evidence: str | None = None
    ) -> str:
        """The SELECT list of an insert into ``events`` from a source's mapped rows ``m`` (columns ``cols``):
        every event column, cast, with its default where the source gave none; ``raw`` (SQL) unless None."""
        select = []
        for col, typ in EVENT_COLUMNS.items():
            if col in cols:
                select.append(f"CAST(m.{col} AS {typ}) AS {col}")
            elif col == "source":
                select.append(f"{sql_str(self.source.name)} AS source")
            elif col == "category":
                select.append(f"{sql_str(self.source.category)} AS category")
            elif col == "outcome":
                select.append("'unknown' AS outcome")
            elif col == "outcome_reason":
                select.append("'the source records no outcome' AS outcome_reason")
            elif col in ("event_seq", "event_rank"):
                select.append(f"0 AS {col}")
            elif col == "raw":
                if raw is not None:
                    select.append(f"{raw} AS raw")
            else:
                select.append(f"CAST(NULL AS {typ}) AS {col}")
        seq = "m.event_seq" if "event_seq" in cols else "0"
        evidence = evidence or self.evidence_sql
        select += [
            f"left({evidence}, 16) || ':' || {record} || ':' || {seq} AS event_id",
            f"{evidence} AS evidence_sha256",
            f"{line} AS evidence_line",
            f"{record} AS evidence_record",
        ]
        return ", ".join(select)

    def insert_into(self, table: str, select_sql: str, params: list | dict | None = None) -> None:
        """Insert the rows of ``select_sql`` into ``table`` (by name), or hand them to the engine, which
        gathers a line file's rows into larger inserts. Nothing of this file may read ``table`` back
        before the file's last batch (``finish`` may: the engine inserts everything before it)."""
        select_sql = select_sql.replace("{batch}", self.table)
        if self.sink is not None:
            self.sink.add(table, select_sql, params)
        else:
            self.con.execute(f"INSERT INTO {table} BY NAME {select_sql}", params or [])

    def insert_rows(self, table: str, select_sql: str, params: list | dict | None = None) -> None:
        """Insert rows into another case table (spans, attestations, ...). ``select_sql`` must
        produce a ``record_no`` column; it is used for bookkeeping and not inserted."""
        staged = temp_name("rows")
        select_sql = select_sql.replace("{batch}", self.table)
        self.con.execute(f"CREATE TEMP TABLE {staged} AS {select_sql}", params or [])
        self.con.execute(f"INSERT INTO {self.outcome} SELECT DISTINCT record_no, 'loaded' FROM {staged}")
        self.con.execute(f"INSERT INTO {table} BY NAME SELECT * EXCLUDE (record_no) FROM {staged}")
        self.con.execute(f"DROP TABLE {staged}")

    def reject(self, select_sql: str, params: list | dict | None = None) -> None:
        """Reject records: ``select_sql`` reads ``{batch}`` and yields ``record_no`` and ``reason``."""
        select_sql = select_sql.replace("{batch}", self.table)
        staged = temp_name("rej")
        self.con.execute(f"CREATE TEMP TABLE {staged} AS {select_sql}", params or [])
        self._reject_records("s.reason", f"FROM {staged} s JOIN {self.table} r USING (record_no)")
        self.con.execute(f"INSERT INTO {self.outcome} SELECT DISTINCT record_no, 'rejected' FROM {staged}")
        self.con.execute(f"DROP TABLE {staged}")

    def mark_loaded(self, select_sql: str, params: list | dict | None = None) -> None:
        """Mark records loaded (``select_sql`` yields ``record_no``) when a source wrote them itself."""
        select_sql = select_sql.replace("{batch}", self.table)
        self.con.execute(
            f"INSERT INTO {self.outcome} SELECT DISTINCT record_no, 'loaded' FROM ({select_sql})",
            params or [],
        )

    def _reject_records(self, reason: str, from_sql: str, reason_params: list | None = None) -> None:
        """Write to the rejects ledger the batch records that ``from_sql`` selects (``FROM ...``, the
        batch aliased ``r``), with ``reason`` (a SQL expression, its values bound from
        ``reason_params``) and the start of their text."""
        self.con.execute(
            f"""INSERT INTO rejects
                SELECT {self.evidence_sql}, r.line_no, r.byte_offset, {self.record_sql}, {reason},
                       left(CAST(r.doc AS VARCHAR), {RAW_KEEP}), strlen(CAST(r.doc AS VARCHAR))
                {from_sql}""",
            reason_params or [],
        )

    # -- used by the engine --------------------------------------------------------------------
    def settle(self) -> tuple[int, int]:
        """Give every record of the batch exactly one fate. A record marked loaded by any row is
        loaded (its sub-record rejects stay in the ledger); a record the source never touched is
        rejected, so that a loader bug cannot lose data silently. Returns (loaded, rejected)."""
        return self._settled("").get("", (0, 0))

    def settle_files(self) -> dict[str, tuple[int, int]]:
        """``settle`` for a grouped batch: (loaded, rejected) per evidence sha256."""
        return self._settled("r.evidence_sha256")

    def _settled(self, by: str) -> dict:
        """``settle``'s work: (loaded, rejected) for each value of ``by`` (SQL over the batch row ``r``)."""
        con = self.con
        self._reject_records(
            "'the ' || ? || ' loader produced nothing for this record'",
            f"FROM {self.table} r WHERE r.record_no NOT IN (SELECT record_no FROM {self.outcome})",
            [self.source.name],
        )
        counts = con.execute(
            f"""SELECT {by or "''"},
                       count(*) FILTER (WHERE r.record_no IN (SELECT record_no FROM {self.outcome} WHERE status = 'loaded')),
                       count(*)
                FROM {self.table} r GROUP BY ALL"""
        ).fetchall()
        con.execute(f"DROP TABLE {self.outcome}")
        return {key: (loaded, total - loaded) for key, loaded, total in counts}


def _with_raw(rows: pa.Table, keys: np.ndarray, text: pa.Array | pa.ChunkedArray) -> pa.Table:
    """``rows`` with a ``raw`` column: for each row, the element of ``text`` whose key (``keys``, an int64 numpy
    array beside ``text``) is the row's ``_record_no``. When the rows are the elements in order (every record
    became one event, in time order: the common case) that is ``text`` itself, without a copy."""
    wanted = rows.column("_record_no").to_numpy()
    if len(wanted) == len(keys) and np.array_equal(wanted, keys):
        return rows.append_column("raw", text)
    if len(keys) > 1 and (np.diff(keys) > 0).all():
        index = np.searchsorted(keys, wanted)
    else:
        order = np.argsort(keys, kind="stable")
        index = order[np.searchsorted(keys, wanted, sorter=order)]
    return rows.append_column("raw", text.take(pa.array(index)))


_COLUMNS: dict[str, set[str]] = {}
_COLUMNS_KEPT = 512


def _columns_of(con: duckdb.DuckDBPyConnection, select_sql: str, params: list | dict | None) -> set[str]:
    """The column names of ``select_sql`` (lower case), from its plan (binding a source's mapping takes
    several ms). Remembered by the statement's text with the names of temporary tables taken out, so a
    file's later batches, and later files of the source, do not plan it again: every batch of lines has
    the same columns, and a source's statement reads only those and its own constants."""
    key = re.sub(r"_fx_\w*?_\d+\b", "_fx_", select_sql)
    if key not in _COLUMNS:
        if len(_COLUMNS) >= _COLUMNS_KEPT:
            _COLUMNS.clear()
        res = con.execute(f"SELECT * FROM ({select_sql}) LIMIT 0", params or [])
        _COLUMNS[key] = {d[0].lower() for d in res.description}
        res.fetchall()
    return _COLUMNS[key]
