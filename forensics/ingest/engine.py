"""The engine: an ``Ingestor`` reads planned files into a case, each in its own transaction (or a group
of small ones in one), and ``ingest_paths`` walks the inputs, plans them ahead and settles each."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable

import duckdb

from forensics.db import memory_budget, scalar
from forensics.errors import UnknownFormat
from forensics.ingest import faults, limits
from forensics.ingest.archives import archive_kind, extracted
from forensics.ingest.csvs import CsvReader
from forensics.ingest.dedup import dedup_file
from forensics.ingest.documents import DocumentReader
from forensics.ingest.files import ByteStream, SkippedEntry, hash_file, iter_input_files
from forensics.ingest.groups import GroupReader
from forensics.ingest.lines import LineReader
from forensics.ingest.plan import Planner, _Plan
from forensics.ingest.results import FileChanged, FileResult, ProgressFn, _Counts
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
        stream = ByteStream(path, digest=True)
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
            # the sha256 recorded is that of the bytes read: the reading hashed them in the same pass (a
            # reader DuckDB does itself, CSV, is hashed right after it); bytes that are not those planned
            # (the file grew or changed) make the file a skipped entry, with both hashes
            read = stream.digest or hash_file(path)
            if read != (sha, size):
                raise FileChanged(
                    f"the file changed while it was read: sha256 {sha} ({size} bytes) when planned, "
                    f"{read[0]} ({read[1]} bytes) as read; ingest it again once it is complete"
                )
            fmt = ("gzip+" if stream.gzip else "") + container
            if container != "jsonl" and stream.encoding is None:
                stream.head(256)  # (a document or CSV was not read through this stream)
            if stream.encoding:
                fmt = stream.encoding + "+" + fmt
                counts.notes.append(
                    f"transcoded from {stream.encoding.upper()} to UTF-8; byte offsets are those of the UTF-8 text"
                )
            # de-duplication is one pass over the file's ids, and the commit writes what the file left:
            # both spill rather than grow (one budget for both: each change of the limit costs a few ms)
            with memory_budget(self.con):
                counts.duplicate += dedup_file(self.con, sha)
                source.finish(self.con, sha)
                counts.notes.extend(time_notes(self.con, sha))
                eid = scalar(self.con, "SELECT coalesce(max(evidence_id), 0) + 1 FROM evidence")
                self.con.execute(
                    """INSERT INTO evidence (evidence_id, path, sha256, size_bytes, compression, format, loader,
                       ingested_at, records_read, records_loaded, records_rejected, records_duplicate,
                       blank_lines, note, parent_sha256, mapping_path, mapping_sha256)
                       VALUES (?, ?, ?, ?, ?, ?, ?, now(), ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    [
                        eid,
                        plan.shown or path,
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
                        plan.parent,
                        plan.mapping[0] if plan.mapping else None,
                        plan.mapping[1] if plan.mapping else None,
                    ],
                )
                if self.journaled:
                    self.con.execute("DELETE FROM ingest_journal WHERE evidence_sha256 = ?", [sha])
                faults.point("evidence")
                self.con.execute("COMMIT")
                faults.point("committed")
                self.committed.add(sha)
        except FileChanged as e:
            self.con.execute("ROLLBACK")
            self.purge(sha)
            self.skip(path, "changed", str(e), sha, size)
            return FileResult(path, "skipped", sha, size, source.name, note=str(e), skip_kind="changed")
        except OSError as e:  # the file could not be read to its end (gone, I/O error): the rest goes on
            self.con.execute("ROLLBACK")
            self.purge(sha)
            note = f"reading it failed: {e.strerror or e}"
            self.skip(path, "unreadable", note, sha, size)
            return FileResult(path, "skipped", sha, size, source.name, note=note, skip_kind="unreadable")
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


def ingest_archive(
    ing: Ingestor, res: FileResult, loader: str | None, mapping: str | None, depth: int = 0
) -> list[FileResult]:
    """Read the members of a zip or tar archive as evidence (``forensics/ingest/archives.py``): each member's
    evidence row is ``archive!member`` with the archive's sha256 as its parent. Returns the archive's result
    (status ``archive``) and then each member's."""
    kind = archive_kind(res.path)
    out: list[FileResult] = []
    with extracted(res.path, kind or "zip") as members:
        for m in members:
            shown = f"{res.path}!{m.name}"
            if m.path is None:
                ing.skip(shown, m.kind, m.reason, None, None, res.sha256)
                out.append(FileResult(shown, "skipped", note=m.reason, skip_kind=m.kind))
                continue
            plan = ing.plan_file(m.path, loader=loader, mapping=mapping)
            if isinstance(plan, FileResult):
                if plan.status == "unplaced" and depth < 2 and archive_kind(m.path):
                    plan.path = shown
                    nested = ingest_archive(
                        ing,
                        FileResult(m.path, "unplaced", plan.sha256, plan.size_bytes),
                        loader,
                        mapping,
                        depth + 1,
                    )
                    nested[0].path = shown
                    for r in nested[1:]:
                        r.path = shown + r.path[len(m.path) :]
                    out.extend(nested)
                    continue
                if plan.status == "unplaced":
                    ing.skip(shown, "archive-member", plan.note, plan.sha256, plan.size_bytes, res.sha256)
                r = plan
            else:
                plan.shown, plan.parent = shown, res.sha256
                r = ing.ingest_planned(plan)
            r.path = shown
            out.append(r)
    n = sum(1 for r in out if r.status == "ingested")
    res.status = "archive"
    res.note = f"{kind} archive: {n} of {len(out)} members read as evidence, each with this archive as parent"
    return [res, *out]


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

    skipped: list[SkippedEntry] = []
    items = list(iter_input_files(paths, exclude, skipped))
    for entry in skipped:  # entries of the trees that are never opened, each in the ledger with its reason
        ing.skip(entry.path, entry.kind, entry.reason, None, entry.size)
        done(FileResult(entry.path, "skipped", note=entry.reason, skip_kind=entry.kind), False)
    order = {path: i for i, (path, _) in reversed(list(enumerate(items)))}
    for explicit, plan in ing.planned(items, loader, mapping):
        if isinstance(plan, _Plan) and plan.sha in group_shas:
            flush()  # the same bytes twice in a group: the second copy finds the first in the case
        if isinstance(plan, _Plan) and plan.sha in ing.committed:  # ingested since it was planned
            plan = ing.already_ingested(plan.path, plan.sha, plan.size)
        if isinstance(plan, FileResult) and plan.status == "unplaced" and archive_kind(plan.path):
            flush()
            for res in ingest_archive(ing, plan, loader, mapping):
                order.setdefault(res.path, order[plan.path])
                done(res, False)
            continue
        if isinstance(plan, FileResult):
            if plan.status == "skipped":
                ing.skip(plan.path, plan.skip_kind, plan.note, plan.sha256 or None, plan.size_bytes or None)
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
    results.sort(
        key=lambda r: order.get(r.path, -1)
    )  # a group's files are settled after files that follow them
    if explicit_unplaced:
        err = UnknownFormat(
            "unknown format: "
            + ", ".join(explicit_unplaced)
            + " (name a loader with --loader, or give a field mapping with --mapping)"
        )
        err.results = results  # type: ignore[attr-defined]
        raise err
    return results
