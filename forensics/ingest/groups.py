"""Many small files of one source, in one transaction: small JSON documents (CloudTrail's Records files)
and small JSON Lines files are read as one batch whose rows carry their file's sha256 and record number;
each file still gets its own evidence row and reconciliation, as if read alone."""

from __future__ import annotations

import time

import numpy as np
import pyarrow as pa

from forensics.db import memory_budget, scalar
from forensics.ingest import limits
from forensics.ingest.batch import RecordBatch
from forensics.ingest.chunks import _LineChunk, _prepare
from forensics.ingest.dedup import dedup_files
from forensics.ingest.files import ByteStream, _size_hint, _strip_bom, hash_file, newline_pieces
from forensics.ingest.journal import Journal
from forensics.ingest.ledger import (
    _json_text,
    _kept_sql,
    _not_records_sql,
    _reject_lines,
    _reject_non_objects,
)
from forensics.ingest.limits import BOM
from forensics.ingest.plan import _group_format, _Plan
from forensics.ingest.results import FileChanged, FileResult, _Counts
from forensics.ingest.sniff import _LEADING_WS, _array_at
from forensics.ingest.timenotes import time_notes_of
from forensics.sources.contract import RAW_KEEP, Source
from forensics.staging import fetch_arrow, keep, stage, temp_name, unstage


class GroupReader(Journal):
    """Reads groups of small files of one source into the case."""

    def prepare_group(self, plan: _Plan) -> bool:
        """Make a planned file ready to share a grouped batch (``plan.text`` or ``plan.lines``). False when
        it cannot: its source does not take part (or reads text lines), a document's records are not an
        array at a plain path (nor the document itself), or the file is damaged, larger than
        ``limits.GROUP_DOCUMENT_BYTES`` (a JSON Lines file: ``limits.GROUP_LINES_BYTES``), empty, or not valid UTF-8.
        Document bytes read here are kept in the probe, so the file is not inflated again when it is
        read on its own. Nothing here touches the case: it runs in the planning thread."""
        if not plan.source.groupable:
            return False
        if plan.container == "jsonl" and not plan.source.reads_text_lines:
            return self._prepare_group_lines(plan)
        if plan.container == "csv":
            return self._prepare_group_csv(plan)
        if plan.container != "json":
            return False
        probe = plan.probe
        rpath = plan.source.record_path(probe)
        if _array_at(rpath) is None:
            return False
        stream = ByteStream(plan.path, digest=True)
        plan.gzip = stream.gzip
        if probe.content is None:
            if _size_hint(plan.path, stream.gzip, plan.size) > limits.GROUP_DOCUMENT_BYTES:
                return False
            raw = stream.read_upto(limits.GROUP_DOCUMENT_BYTES)
            if len(raw) > limits.GROUP_DOCUMENT_BYTES:
                return False
            raw = _strip_bom(raw)
            probe.content, probe.damage, probe.compressed_read = raw, stream.damage, stream.compressed_read
            probe.digest = stream.digest
        raw = probe.content
        plan.read_digest = probe.digest
        if probe.damage or len(raw) > limits.GROUP_DOCUMENT_BYTES:
            return False
        first = _LEADING_WS.match(raw).end()
        if rpath == "$" and raw[first : first + 1] != b"[":
            plan.layout = "object"  # a document that is one record (a webhook delivery, a Falco event)
        text = pa.Array.from_buffers(
            pa.large_string(),
            1,
            [None, pa.py_buffer(np.array([0, len(raw)], dtype=np.int64)), pa.py_buffer(raw)],
        )
        try:
            text.validate(full=True)
        except pa.ArrowInvalid:
            return False
        plan.text, plan.nbytes = text, len(raw)
        return True

    def _prepare_group_lines(self, plan: _Plan) -> bool:
        """A small JSON Lines file, split into lines exactly as the line reader splits a chunk: the whole
        file is one chunk, so no line can pass the line bound (``limits.GROUP_LINES_BYTES`` is below it).
        A file that would commit part of itself when read alone (larger than ``commit_every_bytes``) is
        read alone, so that it commits (and a crash interrupts it) as it always did."""
        limit = min(limits.GROUP_LINES_BYTES, self.max_line_bytes, self.commit_every_bytes)
        stream = ByteStream(plan.path, digest=True)
        plan.gzip = stream.gzip
        if _size_hint(plan.path, stream.gzip, plan.size) > limit:
            return False
        raw = stream.read_upto(limit)
        if len(raw) > limit or stream.damage or stream.encoding:
            return False  # (a transcoded file says so in its format and note: it is read alone)
        raw = b"".join(newline_pieces([raw]))  # lone CRs end lines, as the line reader reads them
        offset = 3 if raw.startswith(BOM) else 0
        prepared = _prepare(_LineChunk(raw[offset:], 1, offset))
        if prepared.table is None or prepared.invalid:
            return False  # empty, or with lines that are not UTF-8: read alone
        plan.lines, plan.nbytes, plan.layout = prepared.table, len(raw), "lines"
        plan.read_digest = stream.digest
        return True

    def _prepare_group_csv(self, plan: _Plan) -> bool:
        """A small plain UTF-8 CSV file (no BOM, not compressed, not larger than ``limits.GROUP_LINES_BYTES``
        nor than a commit): grouped with the files of the same source that have the same header line, which
        DuckDB's reader then reads in one scan (``_stage_group_csv``). Its bytes are hashed again after that
        read, as a CSV file read alone is."""
        limit = min(limits.GROUP_LINES_BYTES, self.commit_every_bytes)
        stream = ByteStream(plan.path, digest=True)
        if stream.gzip or _size_hint(plan.path, stream.gzip, plan.size) > limit:
            return False
        raw = stream.read_upto(limit)
        if len(raw) > limit or stream.damage or raw.startswith(BOM) or b"\0" in raw:
            return False
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            return False  # (UTF-16 is transcoded, other damage rejected: the file is read alone)
        header = raw.split(b"\n", 1)[0]
        if not header.strip() or b"_fx_file" in header:
            return False  # (_fx_file names each row's file in the group's read: see _stage_group_csv)
        plan.csv_header, plan.nbytes, plan.layout = header, len(raw), "csv"
        return True

    def ingest_group(self, plans: list[_Plan]) -> list[FileResult]:
        """Read the files of ``plans`` (one source, one layout, each made ready by ``prepare_group``) in
        one transaction, as one batch whose rows carry their file's sha256 and record number: a bucket
        of small CloudTrail files then costs a few statements, not a few per file. Each file still gets
        its evidence row and its own reconciliation, as if read alone. A document that yields no record
        (an empty or a malformed one) is read on its own afterwards, as is every file of a group that
        fails, so a failure is reported exactly as for that file alone."""
        t0 = time.perf_counter()
        con = self.con
        source = plans[0].source
        shas = [p.sha for p in plans]
        for (sha,) in con.execute(
            "SELECT evidence_sha256 FROM ingest_journal WHERE list_contains(?, evidence_sha256)", [shas]
        ).fetchall():
            self.purge(sha)
        counts: dict[str, _Counts] = {p.sha: _Counts() for p in plans}
        present: set[str] = set()
        names: list[str] = []
        failure: Exception | None = None
        # DuckDB holds the group's records while it splits, maps and inserts them: it gets the budget a
        # line file's de-duplication and commit get (at 768 MB, 250 MB of Records files did not fit)
        with memory_budget(con):
            con.execute("BEGIN TRANSACTION")
            try:
                stage_group = {"lines": self._stage_group_lines, "csv": self._stage_group_csv}.get(
                    plans[0].layout, self._stage_group_documents
                )
                staged, batch_sql, raw_text = stage_group(plans, counts)
                names += staged
                present = {sha for sha, c in counts.items() if c.present}
                self._load_group(source, batch_sql, counts, sum(p.nbytes for p in plans), raw_text, shas)
                del raw_text
                for name in staged:  # the group's text is let go before de-duplication and commit
                    unstage(con, name)
                done = [p for p in plans if p.sha in present]
                for sha, n in dedup_files(con, [p.sha for p in done]).items():
                    counts[sha].duplicate += n
                for p in done:
                    source.finish(con, p.sha)
                notes = time_notes_of(con, [p.sha for p in done])
                rows = pa.table(
                    {
                        "file_no": pa.array(range(len(done)), pa.int64()),
                        "path": [p.path for p in done],
                        "sha": [p.sha for p in done],
                        "size": pa.array([p.size for p in done], pa.int64()),
                        "compression": ["gzip" if p.gzip else "none" for p in done],
                        "format": [_group_format(p) for p in done],
                        "note": pa.array(
                            ["; ".join(p.notes + notes.get(p.sha, [])) or None for p in done], pa.string()
                        ),
                        "mapping_path": pa.array(
                            [p.mapping[0] if p.mapping else None for p in done], pa.string()
                        ),
                        "mapping_sha": pa.array(
                            [p.mapping[1] if p.mapping else None for p in done], pa.string()
                        ),
                        **{
                            k: pa.array([getattr(counts[p.sha], k) for p in done], pa.int64())
                            for k in ("read", "loaded", "rejected", "duplicate", "blank")
                        },
                    }
                )
                for p in done:  # the bytes read are the bytes planned, or each file is read alone
                    if (p.read_digest or hash_file(p.path)) != (p.sha, p.size):
                        raise FileChanged(p.path)
                view = temp_name("evidence")
                con.register(view, rows)
                names.append(view)
                con.execute(
                    f"""INSERT INTO evidence (evidence_id, path, sha256, size_bytes, compression, format, loader,
                            ingested_at, records_read, records_loaded, records_rejected, records_duplicate,
                            blank_lines, note, mapping_path, mapping_sha256)
                        SELECT (SELECT coalesce(max(evidence_id), 0) FROM evidence) + 1 + file_no, path, sha, size,
                               compression, format, ?, now(), read, loaded, rejected, duplicate, blank, note,
                               mapping_path, mapping_sha
                        FROM {view} ORDER BY file_no""",
                    [source.name],
                )
                con.execute("COMMIT")
                self.committed.update(p.sha for p in done)
            except Exception as e:  # noqa: BLE001 - every file is read again on its own, which reports it
                con.execute("ROLLBACK")
                failure = e
            except BaseException:
                con.execute("ROLLBACK")
                raise
            finally:
                for name in names:
                    try:
                        con.unregister(name)
                    except Exception:  # noqa: BLE001 - not registered (any more)
                        pass
        if failure is not None:
            note = f"read on its own: reading it with {len(plans) - 1} other file(s) failed ({failure})"
            return [self._with_note(self.ingest_planned(p), note) for p in plans]
        seconds = (time.perf_counter() - t0) / max(len(present), 1)
        results = {
            p.sha: FileResult(
                p.path,
                "ingested",
                p.sha,
                p.size,
                source.name,
                _group_format(p),
                counts[p.sha].read,
                counts[p.sha].loaded,
                counts[p.sha].rejected,
                counts[p.sha].duplicate,
                counts[p.sha].blank,
                p.seconds + seconds,
                "; ".join(p.notes + notes.get(p.sha, [])),
            )
            for p in plans
            if p.sha in present
        }
        if self.progress:
            for p in plans:
                self.progress(p.path, p.size, p.size)
        # a document that gave no record at all is empty or could not be split: read alone, it is
        # loaded as empty or rejected with its reason
        return [results[p.sha] if p.sha in results else self.ingest_planned(p) for p in plans]

    def _stage_group_documents(
        self, plans: list[_Plan], counts: dict[str, _Counts]
    ) -> tuple[list[str], str, tuple[np.ndarray, pa.ChunkedArray]]:
        """Split the documents of a group into records (staged, in Arrow), reject those that are not
        objects, and return the staged names, the SELECT of the batch's records and its ``Batch.raw_text``."""
        con = self.con
        source = plans[0].source
        if plans[0].layout == "object":  # one record, as the general reading takes it (minified)
            records = "list_filter([try(json_extract(text, '$'))], lambda x: x IS NOT NULL)"
        else:
            structure, access = _array_at(source.record_path(plans[0].probe))
            records = f"(try(json_transform(text, '{structure}'))){access}"
        kept = _kept_sql(source)
        docs = pa.Table.from_batches(
            [
                pa.record_batch(
                    [pa.array([i], pa.int32()), pa.array([p.sha]), p.text], names=["file_no", "sha", "text"]
                )
                for i, p in enumerate(plans)
            ]
        )
        for p in plans:
            p.text = None
        view = temp_name("docs")
        con.register(view, docs)
        del docs
        try:
            # one parse per document, each document a record batch of its own, so that DuckDB's threads
            # split different documents at once; a record's key is its file's number, then its number in it
            split = fetch_arrow(
                con,
                f"""
                SELECT (CAST(file_no AS BIGINT) << 32) + rec AS record_no, CAST(NULL AS BIGINT) AS line_no,
                       CAST(NULL AS BIGINT) AS byte_offset, coalesce(doc, CAST('null' AS JSON)) AS doc,
                       sha AS evidence_sha256, CAST(rec AS BIGINT) AS evidence_record
                FROM (SELECT file_no, sha, generate_subscripts(r, 1) AS rec, unnest(r) AS doc
                      FROM (SELECT file_no, sha, {records} AS r FROM {view}))""",
            )
            staged = keep(con, split)
        finally:
            con.unregister(view)
        for p in plans:  # the documents are split: let their text go (a file read alone reads it again)
            p.probe.content = None
        for sha, bad in con.execute(
            f"SELECT evidence_sha256, count(*) FILTER (WHERE NOT ({kept})) FROM {staged} GROUP BY ALL"
        ).fetchall():
            c = counts[sha]
            c.present, c.read, c.rejected = True, bad, bad
        if any(c.rejected for c in counts.values()):
            _reject_non_objects(con, staged, kept, "evidence_sha256", "evidence_record")
        return (
            [staged],
            f"SELECT * FROM {staged} WHERE {kept}",
            (split.column("record_no").to_numpy(), split.column("doc")),
        )

    def _stage_group_lines(
        self, plans: list[_Plan], counts: dict[str, _Counts]
    ) -> tuple[list[str], str, None]:
        """Classify the lines of a group of JSON Lines files as ``_stage_lines`` classifies a chunk's (one
        parse each; blank lines counted; malformed lines and non-objects rejected with their line and
        offset), and return the staged names and the SELECT of the batch's records (a record's key is its
        file's number shifted left by 32 bits, plus its line number)."""
        con = self.con
        parts = []
        for i, p in enumerate(plans):
            t = p.lines
            parts.append(
                t.append_column("file_no", pa.repeat(i, t.num_rows)).append_column(
                    "sha", pa.repeat(p.sha, t.num_rows)
                )
            )
            p.lines = None
            counts[p.sha].present = True  # (a file of no lines is read alone: see _prepare_group_lines)
        lines = pa.concat_tables(parts)
        del parts
        key = "(CAST(file_no AS BIGINT) << 32) + line_no"
        view = keep(con, lines)
        try:
            ledger = stage(
                con,
                _not_records_sql(
                    view, self.max_line_bytes, extra=f", {key} AS record_no, sha AS evidence_sha256"
                ),
            )
        finally:
            unstage(con, view)
        for sha, blank, rej in con.execute(
            f"""SELECT evidence_sha256, count(*) FILTER (WHERE reason = ''), count(*) FILTER (WHERE reason <> '')
                    FROM {ledger} GROUP BY ALL"""
        ).fetchall():
            c = counts[sha]
            c.blank, c.read, c.rejected = blank, rej, rej
        if any(c.rejected for c in counts.values()):
            _reject_lines(con, ledger, "evidence_sha256")
        docs = keep(con, _json_text(lines))
        return (
            [ledger, docs],
            f"""SELECT {key} AS record_no, line_no, byte_offset, text AS doc, sha AS evidence_sha256,
                                          line_no AS evidence_record
                                   FROM {docs} WHERE {key} NOT IN (SELECT record_no FROM {ledger})""",
            None,
        )

    def _stage_group_csv(self, plans: list[_Plan], counts: dict[str, _Counts]) -> tuple[list[str], str, None]:
        """Read a group of CSV files that share a header line with one ``read_csv`` over their list, as
        ``_read_csv`` reads one (strict, every value a string, each row a record as a JSON object of
        strings, each row refused a reject with its line), and return the staged names and the SELECT
        of the batch's records (a record's key is its file's number shifted left by 32 bits, plus its
        row number in its file). A file the reader cannot take with the others fails the group, whose
        files are then read alone."""
        con = self.con
        files = pa.table(
            {
                "file_no": pa.array(range(len(plans)), pa.int64()),
                "path": [p.path for p in plans],
                "sha": [p.sha for p in plans],
            }
        )
        for p in plans:
            counts[p.sha].present = True
        view, rej_table, rej_scan = temp_name("csvfiles"), temp_name("csvrej"), temp_name("csvscan")
        con.register(view, files)
        try:
            # _fx_file names each row's file (a CSV with a column of that name fails the group); the
            # reader's own row number, per file, is the record's number, as it is for a file read alone
            staged = stage(
                con,
                f"""SELECT (f.file_no << 32) + rec AS record_no, CAST(NULL AS BIGINT) AS line_no,
                           CAST(NULL AS BIGINT) AS byte_offset, doc, f.sha AS evidence_sha256,
                           rec AS evidence_record
                    FROM (SELECT _fx_file,
                                 row_number() OVER (PARTITION BY _fx_file ORDER BY ordinality) AS rec,
                                 json_merge_patch(CAST(to_json(t) AS JSON),
                                                  '{{"ordinality": null, "_fx_file": null}}') AS doc
                          FROM (SELECT * FROM read_csv(?, all_varchar = true, header = true, strict_mode = true,
                                                       store_rejects = true, rejects_table = '{rej_table}',
                                                       rejects_scan = '{rej_scan}', parallel = false,
                                                       filename = '_fx_file')
                                WITH ORDINALITY) AS t) c
                    JOIN {view} f ON f.path = c._fx_file""",
                [[p.path for p in plans]],
            )
            rejected = con.execute(
                f"""INSERT INTO rejects
                    SELECT f.sha, line, byte_position, NULL, 'CSV ' || lower(error_type) || ': ' || error_message,
                           left(csv_line, {RAW_KEEP}), strlen(csv_line)
                    FROM (SELECT DISTINCT ON (r.file_id, r.line) r.*, s.file_path
                          FROM {rej_table} r JOIN {rej_scan} s USING (scan_id, file_id)
                          ORDER BY r.file_id, r.line) r
                    JOIN {view} f ON f.path = r.file_path
                    RETURNING evidence_sha256"""
            ).fetchall()
        finally:
            con.unregister(view)
            for t in (rej_table, rej_scan):
                con.execute(f"DROP TABLE IF EXISTS {t}")
        for (sha,) in rejected:
            counts[sha].read += 1
            counts[sha].rejected += 1
        return (
            [staged],
            f"SELECT * FROM {staged}",
            None,
        )

    def _load_group(
        self,
        source: Source,
        batch_sql: str,
        counts: dict[str, _Counts],
        nbytes: int,
        raw_text: tuple[np.ndarray, pa.ChunkedArray] | None = None,
        shas: list[str] | None = None,
    ) -> None:
        """Hand a group's records (``batch_sql``, from ``nbytes`` of text) to its source as one grouped
        batch, and settle them. ``raw_text`` and ``shas``: see ``Batch.raw_text`` and ``Batch.files``."""
        con = self.con
        batch = temp_name("batch")
        con.execute(f"CREATE TEMP VIEW {batch} AS {batch_sql}")
        try:
            records = scalar(con, f"SELECT count(*) FROM {batch}")
            grouped = RecordBatch.of_group(
                con,
                batch,
                source=source,
                files=shas or [],
                small=records < limits.STAGE_MIN_RECORDS and nbytes < limits.SMALL_BATCH_BYTES,
                raw_text=raw_text,
            )
            source.load_batch(grouped)
            for sha, (loaded, rejected) in grouped.settle_files().items():
                c = counts[sha]
                c.loaded, c.rejected, c.read = loaded, c.rejected + rejected, c.read + loaded + rejected
        finally:
            con.execute(f"DROP VIEW IF EXISTS {batch}")

    @staticmethod
    def _with_note(res: FileResult, note: str) -> FileResult:
        res.note = "; ".join(filter(None, [res.note, note]))
        return res
