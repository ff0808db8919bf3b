"""Reading JSON Lines (and text read line by line): chunks of lines staged in Arrow, their non-records
rejected with line and offset, their records handed to the source in batches whose events the sink
gathers into large inserts; a large file commits as it goes."""

from __future__ import annotations

import time

import pyarrow as pa
import pyarrow.compute as pc

from forensics.db import READ_MEMORY_LIMIT, memory_budget, row
from forensics.ingest import limits
from forensics.ingest.chunks import _LongLine, _Prepared, _prepared_chunks
from forensics.ingest.files import ByteStream
from forensics.ingest.journal import Journal
from forensics.ingest.ledger import _json_text, _not_records_sql, _reject_lines, _text_lines_sql
from forensics.ingest.results import _Counts
from forensics.ingest.sink import InsertSink
from forensics.sources.contract import Source
from forensics.staging import fetch_arrow, keep, stage, temp_name, unstage


class LineReader(Journal):
    """Reads a line-oriented file into the case."""

    def _read_lines(
        self, path: str, stream: ByteStream, sha: str, source: Source, counts: _Counts, size: int
    ) -> None:
        # batches here are bounded, so DuckDB can be held to a small budget (it spills past it);
        # a single JSON document cannot be split, so other containers keep the connection's limit
        with memory_budget(self.con, READ_MEMORY_LIMIT):
            self._read_line_batches(path, stream, sha, source, counts, size)

    def _read_line_batches(
        self, path: str, stream: ByteStream, sha: str, source: Source, counts: _Counts, size: int
    ) -> None:
        sink = InsertSink(self.con, self.insert_min_rows)
        staged = 0
        last_report = time.monotonic()
        for item in _prepared_chunks(stream, self.max_line_bytes):
            if isinstance(item, _LongLine):
                counts.read += 1
                counts.rejected += 1
                self._reject_raw(
                    sha,
                    item.line_no,
                    item.offset,
                    item.line_no,
                    f"line exceeds the {self.max_line_bytes} byte bound ({item.length} bytes)",
                    item.prefix,
                    item.length,
                )
                continue
            self._stage_lines(item, sha, source, counts, sink)
            staged += item.nbytes
            if sink.full:
                sink.flush(only_full=True)
            if staged >= self.commit_every_bytes:  # (the rows the sink holds go in a later transaction)
                self.checkpoint_commit(sha)
                staged = 0
            if self.progress and time.monotonic() - last_report > 1.0:
                self.progress(path, stream.compressed_read, size)
                last_report = time.monotonic()
        sink.flush()
        if self.progress:
            self.progress(path, size, size)
        # Arrow's allocator keeps freed batches for reuse; give them back before the file's
        # de-duplication and commit, which are DuckDB's to spend
        pa.default_memory_pool().release_unused()

    def _stage_lines(
        self, chunk: _Prepared, sha: str, source: Source, counts: _Counts, sink: InsertSink
    ) -> None:
        for line_no, offset, raw in chunk.invalid:
            self._reject_raw(sha, line_no, offset, line_no, "invalid UTF-8", raw, len(raw))
            counts.read += 1
            counts.rejected += 1
        if chunk.table is None:
            counts.blank += chunk.blank
            return
        if source.reads_text_lines:
            self._stage_text_lines(chunk, sha, source, counts, sink)
            return
        arrow, n, n_bad = chunk.table, chunk.table.num_rows, len(chunk.invalid)
        con = self.con
        view, docs, batch = temp_name("lines"), temp_name("docs"), temp_name("batch")
        where = "NOT bad" if n_bad else "true"
        # One pass parses every line and brings back only the lines that are not records (blank,
        # malformed, over-long, not an object): usually none. The records stay where the reader put
        # them, in Arrow: the batch is a view of them typed as JSON (each was just parsed, so DuckDB
        # need not check it again), and the sink takes their ``raw`` from there, so no document is
        # copied out of DuckDB. The Arrow table is cut into record batches, so that every scan of it
        # (the source's mapping, the insert) runs on all cores.
        con.register(view, arrow)
        try:
            stopped = fetch_arrow(con, _not_records_sql(view, self.max_line_bytes, where), small=True)
        finally:
            con.unregister(view)
        ledger = keep(con, stopped)
        blank = pc.sum(pc.equal(stopped.column("reason"), "")).as_py() or 0
        rej = stopped.num_rows - blank
        counts.blank += blank
        if rej:
            _reject_lines(con, ledger, "?", [sha])
            counts.read += rej
            counts.rejected += rej
        arrow = _json_text(arrow)
        con.register(docs, arrow)
        records = f"{where} AND line_no NOT IN (SELECT line_no FROM {ledger})" if blank or rej else where
        con.execute(f"""CREATE TEMP VIEW {batch} AS SELECT line_no AS record_no, line_no, byte_offset, text AS doc
                        FROM {docs} WHERE {records}""")
        try:
            self._run_batch(
                batch,
                sha,
                source,
                counts,
                sink,
                records=n - n_bad - blank - rej,
                nbytes=chunk.nbytes,
                raw_text=(arrow.column("line_no").to_numpy(), arrow.column("text")),
            )
        finally:
            con.execute(f"DROP VIEW {batch}")
            con.unregister(docs)
            unstage(con, ledger)

    def _stage_text_lines(
        self, chunk: _Prepared, sha: str, source: Source, counts: _Counts, sink: InsertSink
    ) -> None:
        """``_stage_lines`` for a source that reads text lines: every non-blank line is a record, as a
        JSON string."""
        arrow, n, n_bad = chunk.table, chunk.table.num_rows, len(chunk.invalid)
        con = self.con
        view, batch = temp_name("lines"), temp_name("batch")
        con.register(view, arrow)
        stage_sql = _text_lines_sql(view, self.max_line_bytes, where="NOT bad" if n_bad else "true")
        ledger = stage(
            con, stage_sql, small=n < limits.STAGE_MIN_RECORDS and chunk.nbytes < limits.SMALL_BATCH_BYTES
        )
        con.execute(f"""CREATE TEMP VIEW {batch} AS SELECT record_no, line_no, byte_offset, doc, reason, bad_text
                        FROM {ledger} WHERE reason IS NULL""")
        con.unregister(view)
        rej, staged = row(con, f"SELECT count(*) FILTER (WHERE reason <> ''), count(*) FROM {ledger}")
        counts.blank += n - n_bad - staged  # blank lines were never staged
        if rej:
            _reject_lines(con, ledger, "?", [sha])
            counts.read += rej
            counts.rejected += rej
        self._run_batch(batch, sha, source, counts, sink, records=staged - rej, nbytes=chunk.nbytes)
        con.execute(f"DROP VIEW {batch}")
        unstage(con, ledger)
