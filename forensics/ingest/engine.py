"""The engine: an ``Ingestor`` reads planned files into a case, each in its own transaction (or a group
of small ones in one), and ``ingest_paths`` walks the inputs, plans them ahead and settles each."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable

import duckdb

from forensics.db import memory_budget, scalar
from forensics.errors import UnknownFormat
from forensics.ingest import limits
from forensics.ingest.csvs import CsvReader
from forensics.ingest.dedup import dedup_file
from forensics.ingest.documents import DocumentReader
from forensics.ingest.files import ByteStream, iter_input_files
from forensics.ingest.groups import GroupReader
from forensics.ingest.lines import LineReader
from forensics.ingest.plan import Planner, _Plan
from forensics.ingest.results import FileResult, ProgressFn, _Counts
from forensics.ingest.timenotes import time_notes
from forensics.sources import registry
from forensics.sources.contract import Source


class Ingestor(Planner, GroupReader, LineReader, DocumentReader, CsvReader):
    """Ingests files into a case connection. One instance per ``Case.ingest`` call."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        *,
        progress: ProgressFn | None = None,
        max_line_bytes: int = limits.MAX_LINE_BYTES,
        max_document_bytes: int = limits.MAX_DOCUMENT_BYTES,
        commit_every_bytes: int = limits.COMMIT_EVERY_BYTES,
        insert_min_rows: int | None = None,
    ):
        self.con = con
        self.current_path: str | None = None
        #: the current file has made a partial commit, which listed it in ``ingest_journal``
        self.journaled = False
        #: the sha256 of every file this ingest has committed (the planning thread looked ahead of them)
        self.committed: set[str] = set()
        self.commit_every_bytes = commit_every_bytes
        self.progress = progress
        self.max_line_bytes = max_line_bytes
        self.max_document_bytes = max_document_bytes
        self.insert_min_rows = insert_min_rows or limits.ROW_GROUP_ROWS * int(
            scalar(con, "SELECT current_setting('threads')")
        )

    def ingest_file(
        self, path: str, *, loader: str | Source | None = None, mapping: str | None = None
    ) -> FileResult:
        plan = self.plan_file(path, loader=loader, mapping=mapping)
        return plan if isinstance(plan, FileResult) else self.ingest_planned(plan)

    def ingest_planned(self, plan: _Plan) -> FileResult:
        """Read a planned file into the case, in its own transaction."""
        t0 = time.perf_counter() - plan.seconds
        path, sha, size, probe, source, container = (
            plan.path,
            plan.sha,
            plan.size,
            plan.probe,
            plan.source,
            plan.container,
        )
        self.current_path = path
        self.journaled = False
        counts = _Counts(notes=list(plan.notes))
        stream = ByteStream(path)
        self.purge(sha)  # rows a killed earlier ingest of these bytes left behind
        self.con.execute("BEGIN TRANSACTION")
        try:
            if container == "csv":
                self._read_csv(path, stream, sha, source, counts)
            elif container == "json":
                self._read_document(path, stream, sha, source, probe, counts)
            else:
                self._read_lines(path, stream, sha, source, counts, size)
            if stream.damage:
                self._reject_raw(sha, None, stream.compressed_read, None, stream.damage, b"", 0)
                counts.read += 1
                counts.rejected += 1
                counts.notes.append(stream.damage)
            fmt = ("gzip+" if stream.gzip else "") + container
            # de-duplication is one pass over the file's ids, and the commit writes what the file left:
            # both spill rather than grow (one budget for both: each change of the limit costs a few ms)
            with memory_budget(self.con):
                counts.duplicate += dedup_file(self.con, sha)
                source.finish(self.con, sha)
                counts.notes.extend(time_notes(self.con, sha))
                eid = scalar(self.con, "SELECT coalesce(max(evidence_id), 0) + 1 FROM evidence")
                self.con.execute(
                    """INSERT INTO evidence VALUES (?, ?, ?, ?, ?, ?, ?, now(), ?, ?, ?, ?, ?, ?)""",
                    [
                        eid,
                        path,
                        sha,
                        size,
                        "gzip" if stream.gzip else "none",
                        fmt,
                        source.name,
                        counts.read,
                        counts.loaded,
                        counts.rejected,
                        counts.duplicate,
                        counts.blank,
                        "; ".join(counts.notes) or None,
                    ],
                )
                if self.journaled:
                    self.con.execute("DELETE FROM ingest_journal WHERE evidence_sha256 = ?", [sha])
                self.con.execute("COMMIT")
                self.committed.add(sha)
        except BaseException:
            self.con.execute("ROLLBACK")
            self.purge(sha)  # large files commit as they go: take back what was committed
            raise
        return FileResult(
            path,
            "ingested",
            sha,
            size,
            source.name,
            fmt,
            counts.read,
            counts.loaded,
            counts.rejected,
            counts.duplicate,
            counts.blank,
            time.perf_counter() - t0,
            "; ".join(counts.notes),
        )


def ingest_paths(
    con: duckdb.DuckDBPyConnection,
    paths: Iterable[str | os.PathLike],
    *,
    loader: str | None = None,
    mapping: str | None = None,
    progress: ProgressFn | None = None,
    on_file: Callable[[FileResult], None] | None = None,
    exclude: Iterable[str] = (),
) -> list[FileResult]:
    """Ingest files and directory trees. Raises ``UnknownFormat`` after the walk if a file named
    explicitly could not be placed (files found in a tree are reported as ``unplaced``)."""
    if isinstance(loader, str):
        registry.get(loader)  # an unknown loader name fails before any work
    ing = Ingestor(con, progress=progress)
    results: list[FileResult] = []
    explicit_unplaced: list[str] = []
    group: list[_Plan] = []
    group_shas: set[str] = set()
    group_bytes = 0

    def done(res: FileResult, explicit: bool) -> None:
        results.append(res)
        if on_file:
            on_file(res)
        if res.status == "unplaced" and explicit:
            explicit_unplaced.append(res.path)

    def flush() -> None:
        nonlocal group_bytes
        if len(group) == 1:
            done(ing.ingest_planned(group[0]), True)
        elif group:
            for res in ing.ingest_group(group):
                done(res, True)
        group.clear()
        group_shas.clear()
        group_bytes = 0

    items = list(iter_input_files(paths, exclude))
    order = {path: i for i, (path, _) in reversed(list(enumerate(items)))}
    for explicit, plan in ing.planned(items, loader, mapping):
        if isinstance(plan, _Plan) and plan.sha in group_shas:
            flush()  # the same bytes twice in a group: the second copy finds the first in the case
        if isinstance(plan, _Plan) and plan.sha in ing.committed:  # ingested since it was planned
            plan = ing.already_ingested(plan.path, plan.sha, plan.size)
        if isinstance(plan, FileResult):
            done(plan, explicit)
        elif plan.grouped:
            size = plan.nbytes
            if group and (
                plan.group_key != group[0].group_key
                or group_bytes + size > limits.GROUP_MAX_BYTES
                or len(group) >= limits.GROUP_MAX_FILES
            ):
                flush()
            group.append(plan)
            group_shas.add(plan.sha)
            group_bytes += size
        else:
            flush()
            done(ing.ingest_planned(plan), explicit)
    flush()
    results.sort(key=lambda r: order[r.path])  # a group's files are settled after files that follow them
    if explicit_unplaced:
        err = UnknownFormat(
            "unknown format: "
            + ", ".join(explicit_unplaced)
            + " (name a loader with --loader, or give a field mapping with --mapping)"
        )
        err.results = results  # type: ignore[attr-defined]
        raise err
    return results
