"""The contract between the ingest engine and a source (one module per source family).

A source says whether it recognises a file (``detect``), where its records sit inside a JSON
document (``record_path``), and how its records become rows (``load_batch``). The engine owns
everything else: hashing, splitting into records, rejecting what is not a JSON object, batching,
de-duplication, and the reconciliation ``records_read = records_loaded + records_rejected``.

Adding a source is one new module in this package that defines ``SOURCES = [MySource()]``;
the engine discovers it.
"""

from __future__ import annotations

import itertools
import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from forensics.db import scalar, setting

#: Columns of ``events`` that a mapping may produce, with their SQL types.
EVENT_COLUMNS: dict[str, str] = {
    "time": "TIMESTAMPTZ",
    "time_raw": "VARCHAR",
    "end_time": "TIMESTAMPTZ",
    "source": "VARCHAR",
    "category": "VARCHAR",
    "action": "VARCHAR",
    "actor": "VARCHAR",
    "actor_type": "VARCHAR",
    "credential_id": "VARCHAR",
    "src_ip": "VARCHAR",
    "user_agent": "VARCHAR",
    "target": "VARCHAR",
    "service": "VARCHAR",
    "environment": "VARCHAR",
    "outcome": "VARCHAR",
    "outcome_reason": "VARCHAR",
    "request_id": "VARCHAR",
    "trace_id": "VARCHAR",
    "span_id": "VARCHAR",
    "artifact_digest": "VARCHAR",
    "event_uid": "VARCHAR",
    "event_seq": "INTEGER",
    "event_rank": "SMALLINT",
    "raw": "JSON",
}

CATEGORIES = ("audit", "trace", "deploy", "build", "provenance", "other")
#: How much of a rejected record's text the ledger keeps (its full length is recorded beside it).
RAW_KEEP = 65536

_temp_names = itertools.count()


def temp_name(prefix: str) -> str:
    """A fresh name for a temporary table."""
    return f"_fx_{prefix}_{next(_temp_names)}"


@dataclass
class Probe:
    """What the engine learned about a file before choosing its source.

    ``container`` is one of ``jsonl``, ``json`` (one JSON document), ``csv``, ``text`` or ``empty``.
    ``samples`` holds up to 50 parsed records (for ``json``, after the default unwrap: the
    elements of a top-level array or of ``Records``, else the document itself) and ``document``
    the whole parsed document when it is small (else ``None``). ``head`` is the first 64 KiB as text.
    """

    path: str
    container: str
    samples: list[Any] = field(default_factory=list)
    document: Any = None
    top_keys: tuple[str, ...] = ()
    head: str = ""
    #: for a ``json`` document within the size bound: its bytes (decompressed, BOM stripped) and any
    #: damage found reading them, so the engine does not read the file twice
    content: bytes | None = field(default=None, repr=False)
    damage: str | None = None
    compressed_read: int = 0

    @property
    def first(self) -> dict:
        """The first sample record when it is an object, else an empty dict."""
        for s in self.samples:
            if isinstance(s, dict):
                return s
        return {}

    def objects(self) -> list[dict]:
        return [s for s in self.samples if isinstance(s, dict)]


class Source:
    """Base class. Subclasses set ``name`` and ``category`` and override what they need."""

    name: str = "source"
    category: str = "other"
    #: Containers this source can read.
    containers: tuple[str, ...] = ("jsonl", "json")
    #: The engine hands every non-blank text line over as a JSON string, instead of parsing JSON lines.
    reads_text_lines: bool = False
    #: A record may be a JSON array as well as an object (e.g. Zipkin's list of traces).
    accepts_array_records: bool = False
    #: The records of many small JSON documents of this source may share one batch (``Batch.grouped``):
    #: the source's SQL uses ``record_no`` only as a key, writes only through ``insert_events`` (or gives
    #: the evidence of a row as ``batch.evidence_sql``), and has no ``finish``.
    groupable: bool = False

    def detect(self, probe: Probe) -> int:
        """Confidence from 0 (not mine) to 100 that the probed file belongs to this source."""
        return 0

    def record_path(self, probe: Probe) -> str:
        """JSON path of the records inside a JSON document. ``$`` means the document itself
        (or, if it is an array, its elements)."""
        if (
            probe.container == "json"
            and isinstance(probe.document, dict)
            and isinstance(probe.document.get("Records"), list)
        ):
            return "$.Records"
        if "Records" in probe.top_keys and probe.document is None:
            return "$.Records"
        return "$"

    def events_sql(self) -> str | None:
        """A SELECT over the batch table, written ``{batch}`` (columns record_no, line_no, byte_offset, doc JSON),
        producing ``record_no``, ``time``, ``time_problem`` and any of ``EVENT_COLUMNS``.
        Return None if the source writes its own tables in ``load_batch``."""
        return None

    def load_batch(self, batch: Batch) -> None:
        """Load one batch of records. The default maps them to ``events`` with ``events_sql``."""
        sql = self.events_sql()
        if sql is None:
            raise NotImplementedError(f"source {self.name} defines neither events_sql nor load_batch")
        batch.insert_events(sql)

    def finish(self, case_con, evidence_sha256: str) -> None:
        """Called once per file after all batches, inside the file's transaction."""


class Batch:
    """One batch of records of one file, staged in a temporary table, and the bookkeeping of what
    became of each record. Sources call ``insert_events``, ``insert_rows`` and ``reject``; each
    marks the records it touched, so the engine can prove that every record landed somewhere.

    A ``grouped`` batch holds the records of several files (small JSON documents of a ``groupable``
    source, read in one transaction): its table has two more columns, ``evidence_sha256`` and
    ``evidence_record`` (the record's number in its file), and ``record_no`` is only a key.
    ``evidence_sha256`` is then None."""

    def __init__(
        self,
        con,
        table: str,
        evidence_sha256: str | None,
        source: Source,
        path: str | None = None,
        sink: InsertSink | None = None,
        small: bool = False,
        grouped: bool = False,
        raw_text: tuple[np.ndarray, pa.Array | pa.ChunkedArray] | None = None,
        files: list[str] | None = None,
    ):
        self.con = con
        self.table = table
        self.grouped = grouped
        #: SQL for the evidence sha256 and the record number in its file of a batch row aliased ``r``
        self.evidence_sql = "r.evidence_sha256" if grouped else sql_str(evidence_sha256 or "")
        self.record_sql = "r.evidence_record" if grouped else "r.record_no"
        #: the batch is small (a small file): statements over it cost more to plan than to run (see stage)
        self.small = small
        #: where the events go: straight into ``events`` (None), or gathered by the engine into larger inserts
        self.sink = sink
        self.evidence_sha256 = evidence_sha256
        #: the evidence file being read (read-only), for a source that must see it whole
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


class InsertSink:
    """Gathers the rows a file's batches write to ``events`` (and to other tables a source sends here,
    e.g. ``spans``), in Arrow, and inserts each table's rows in one statement once there are enough
    of them (``flush``).

    DuckDB compresses and writes a row group in the thread that fills it. An insert of a batch
    smaller than a row group (122,880 rows) per thread is merged into the transaction by one thread,
    which then compresses everything alone; an insert of a row group or more per thread is written
    by every thread at once (measured: 3.2 s against 6.5 s for 1.4 M events in 44k-row inserts)."""

    def __init__(self, con, min_rows: int):
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


def _columns_of(con, select_sql: str, params: list | dict | None) -> set[str]:
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


def chunked(table: pa.Table, parts: int = 16) -> pa.Table:
    """The same rows in about ``parts`` record batches (slices, no copy), which DuckDB scans in parallel."""
    size = max(256, -(-max(table.num_rows, 1) // parts))
    return pa.Table.from_batches(table.to_batches(max_chunksize=size), schema=table.schema)


def fetch_arrow(con, sql: str, params: list | dict | None = None, small: bool = False) -> pa.Table:
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


def stage(con, sql: str, params: list | dict | None = None, small: bool = False) -> str:
    """Run ``sql`` and keep its result in Arrow, cut into record batches, under a fresh view name.

    Use it instead of a temp table for an intermediate result that later statements scan: DuckDB
    scans a temp table by row groups of 122,880 rows, so a batch-sized one is read by one thread,
    while a chunked Arrow table is read by all. JSON columns stay JSON. Drop it with ``unstage``.
    ``small``: see ``fetch_arrow``."""
    return keep(con, fetch_arrow(con, sql, params, small))


def keep(con, table: pa.Table) -> str:
    """``stage`` for an Arrow table already at hand: it is cut into record batches and registered under a
    fresh view name. Drop it with ``unstage``."""
    name = temp_name("staged")
    con.register(name, chunked(table))
    return name


def insert_arrow(con, table: str, data: pa.Table | pa.RecordBatchReader, ordered: bool) -> None:
    """Insert ``data`` into ``table`` by name, keeping the rows' order only when ``ordered``: an insert that
    need not keep it lets each thread write (and compress) row groups of its own."""
    name = temp_name("arrow")
    con.register(name, data)
    try:
        with setting(con, "preserve_insertion_order", ordered):
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {name}")
    finally:
        con.unregister(name)


def unstage(con, name: str) -> None:
    """Release a result kept by ``stage``."""
    con.unregister(name)


def dedup_file(con, evidence_sha256: str) -> int:
    """Keep one event per (source, event_uid) among the events of one file and those the case
    already held: the copy with the highest ``event_rank`` wins; at equal rank the copy the case
    held before this file, then the earliest record. Runs once per file, after its last batch, in
    the file's transaction, so its cost is one pass over ``events`` per file rather than per batch.
    Returns how many copies were removed (a replaced held copy counts too): ``dedup_files`` for one file."""
    return dedup_files(con, [evidence_sha256]).get(evidence_sha256, 0)


def dedup_files(con, shas: list[str]) -> dict[str, int]:
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


def field_path(path: str) -> str:
    """A dotted field name (``user.name``) as a DuckDB JSON path (``$."user"."name"``).
    A path starting with ``$`` is used as given."""
    if path.startswith("$"):
        return path
    parts = path.split(".")
    return "$." + ".".join('"' + p.replace('"', '\\"') + '"' for p in parts)


def sql_str(value: str) -> str:
    """Quote a constant that the kit itself chose (never user or evidence data) as a SQL literal."""
    return "'" + value.replace("'", "''") + "'"
