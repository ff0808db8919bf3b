"""The transaction journal: what one ingest's reading shares, how a large file commits as it goes
(``ingest_journal``), how the remains of a killed ingest are taken back, and how a batch's fates are
counted. The readers (lines, documents, CSV, groups) build on ``Journal``."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from forensics.db import scalar
from forensics.ingest import faults, limits
from forensics.ingest.batch import RecordBatch
from forensics.ingest.results import ProgressFn, _Counts
from forensics.ingest.sink import InsertSink
from forensics.sources.contract import RAW_KEEP, Source


class Journal:
    """The state an ingest's readers share, its transactions and the rejects it writes itself."""

    con: object
    #: the file being read
    current_path: str | None
    #: the current file has made a partial commit, which listed it in ``ingest_journal``
    journaled: bool
    #: the sha256 of every file this ingest has committed (the planning thread looked ahead of them)
    committed: set[str]
    commit_every_bytes: int
    progress: ProgressFn | None
    max_line_bytes: int
    max_document_bytes: int
    insert_min_rows: int

    # -- transactions -----------------------------------------------------------------------------
    def purge(self, sha: str) -> None:
        """Remove every row that carries ``sha`` as its evidence when ``ingest_journal`` lists the file:
        the remains of an ingest that failed or was killed after partial commits. A file's first partial
        commit lists it, and the commit that writes its evidence row (always last) removes it; a file read
        in one transaction is never listed, and this is one lookup."""
        if not scalar(self.con, "SELECT count(*) FROM ingest_journal WHERE evidence_sha256 = ?", [sha]):
            return
        tables = self.con.execute(
            """SELECT table_name FROM information_schema.columns
               WHERE column_name = 'evidence_sha256' AND table_schema = 'main'
                 AND table_name IN (SELECT table_name FROM information_schema.tables
                                    WHERE table_type = 'BASE TABLE' AND table_schema = 'main')"""
        ).fetchall()
        self.con.execute("BEGIN TRANSACTION")
        for (table,) in tables:
            self.con.execute(f'DELETE FROM "{table}" WHERE evidence_sha256 = ?', [sha])
        self.con.execute("COMMIT")

    def checkpoint_commit(self, sha: str) -> None:
        """Commit what a large file has staged so far, so memory stays bounded whatever its size.
        The first such commit lists the file in ``ingest_journal``; the evidence row comes last, and
        ``purge`` undoes a file that fails or is killed after this."""
        if not self.journaled:
            self.con.execute("INSERT INTO ingest_journal VALUES (?, ?, now())", [sha, self.current_path])
            self.journaled = True
        self.con.execute("COMMIT")
        faults.point("checkpoint")
        self.con.execute("BEGIN TRANSACTION")

    def skip(
        self,
        path: str,
        kind: str,
        reason: str,
        sha: str | None = None,
        size: int | None = None,
        parent: str | None = None,
    ) -> None:
        """Record an input entry that is not read as evidence in ``skipped_entries`` (once per path, kind
        and reason: a re-ingest adds nothing)."""
        self.con.execute(
            """INSERT INTO skipped_entries
               SELECT ?, ?, ?, ?, ?, ?, now()
               WHERE NOT EXISTS (SELECT 1 FROM skipped_entries
                                 WHERE path = ? AND kind = ? AND reason = ? AND sha256 IS NOT DISTINCT FROM ?)""",
            [path, kind, reason, sha, size, parent, path, kind, reason, sha],
        )

    # -- rejects written straight from Python (damage, over-long lines, invalid UTF-8) -----------
    def _reject_raw(self, sha, line, offset, record, reason, raw: bytes, length: int) -> None:
        text = raw[:RAW_KEEP].decode("utf-8", errors="backslashreplace")
        self.con.execute(
            "INSERT INTO rejects VALUES (?, ?, ?, ?, ?, ?, ?)",
            [sha, line, offset, record, reason, text, length],
        )

    # -- run one staged batch through the source ----------------------------------------------
    def _run_batch(
        self,
        table: str,
        sha: str,
        source: Source,
        counts: _Counts,
        sink: InsertSink | None = None,
        records: int | None = None,
        nbytes: int = 0,
        raw_text: tuple[np.ndarray, pa.ChunkedArray] | None = None,
    ) -> None:
        small = (
            records is not None and records < limits.STAGE_MIN_RECORDS and nbytes < limits.SMALL_BATCH_BYTES
        )
        batch = RecordBatch.of_file(
            self.con,
            table,
            source=source,
            evidence_sha256=sha,
            path=self.current_path,
            sink=sink,
            small=small,
            raw_text=raw_text,
        )
        source.load_batch(batch)
        loaded, rejected = batch.settle()
        counts.loaded += loaded
        counts.rejected += rejected
        counts.read += loaded + rejected
