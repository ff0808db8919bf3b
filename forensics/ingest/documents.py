"""Reading one JSON document: its records split out of the array at the source's record path (one parse),
or the general reading by path; a document past the bound is one reject."""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa

from forensics.db import scalar
from forensics.ingest import limits
from forensics.ingest.files import ByteStream, _strip_bom
from forensics.ingest.journal import Journal
from forensics.ingest.ledger import _kept_sql, _reject_non_objects
from forensics.ingest.results import _Counts
from forensics.ingest.salvage import salvage_array
from forensics.ingest.sniff import _LEADING_WS, _array_at
from forensics.sources.contract import RAW_KEEP, Probe, Source
from forensics.staging import stage, temp_name, unstage


class DocumentReader(Journal):
    """Reads a file that is one JSON document into the case."""

    def _read_document(
        self, path: str, stream: ByteStream, sha: str, source: Source, probe: Probe, counts: _Counts
    ) -> None:
        if probe.content is not None and len(probe.content) <= self.max_document_bytes:
            # sniff already read (and decompressed) it
            raw, stream.damage, stream.compressed_read = probe.content, probe.damage, probe.compressed_read
            stream.digest = probe.digest
            probe.content = None
        else:
            raw = stream.read_upto(self.max_document_bytes)
            if len(raw) > self.max_document_bytes:
                counts.read += 1
                counts.rejected += 1
                self._reject_raw(
                    sha,
                    None,
                    0,
                    1,
                    f"JSON document exceeds the {self.max_document_bytes} byte "
                    "bound; convert it to JSON Lines",
                    raw[:RAW_KEEP],
                    os.path.getsize(path),
                )
                return
            raw = _strip_bom(raw)
        rpath = source.record_path(probe)
        batch = temp_name("batch")
        if not self._split_document(raw, rpath, batch) and not self._split_document_by_path(
            raw, rpath, batch, sha, counts
        ):
            return
        con = self.con
        kept = _kept_sql(source)
        rej = _reject_non_objects(con, batch, kept, "?", "record_no", [sha])
        if rej:
            counts.read += rej
            counts.rejected += rej
            con.execute(f"DELETE FROM {batch} WHERE NOT ({kept})")
        records = scalar(con, f"SELECT count(*) FROM {batch}")
        if records >= limits.STAGE_MIN_RECORDS:
            # a large document's records go to the source in chunked Arrow, so that its mapping and
            # the insert run on every core (the temp table is one row group: one thread)
            staged = stage(con, f"SELECT * FROM {batch}")
            con.execute(f"DROP TABLE {batch}")
            try:
                self._run_batch(staged, sha, source, counts)
            finally:
                unstage(con, staged)
            return
        self._run_batch(batch, sha, source, counts, records=records, nbytes=len(raw))
        con.execute(f"DROP TABLE {batch}")

    def _split_document(self, raw: bytes, rpath: str, batch: str) -> bool:
        """Stage the records of a document whose records are an array at a plain path (``$``,
        ``$.Records``, ``$.a.b``) into ``batch``, with one parse of the document. False, with nothing
        staged, when that does not apply: the text is not valid UTF-8 or not valid JSON, or the value
        at the path is missing or not an array; ``_split_document_by_path`` then settles it."""
        structure = _array_at(rpath)
        first = _LEADING_WS.match(raw).end()
        if structure is None or (rpath == "$" and raw[first : first + 1] != b"["):
            return False  # not a plain path, or a document that is one record
        view = self._register_text(raw)
        if view is None:
            return False
        con = self.con
        try:
            # try(): a malformed document must not abort the file's transaction. A JSON null record
            # comes out of the list as SQL NULL and is put back as JSON null.
            records = f"(try(json_transform(text, '{structure[0]}'))){structure[1]}"
            con.execute(
                f"""CREATE TEMP TABLE {batch} AS
                    SELECT CAST(record_no AS BIGINT) AS record_no, CAST(NULL AS BIGINT) AS line_no,
                           CAST(NULL AS BIGINT) AS byte_offset, coalesce(doc, CAST('null' AS JSON)) AS doc
                    FROM (SELECT generate_subscripts(r, 1) AS record_no, unnest(r) AS doc
                          FROM (SELECT {records} AS r FROM {view}))"""
            )
            if scalar(con, f"SELECT count(*) FROM {batch}") or scalar(
                con, f"SELECT {records} IS NOT NULL FROM {view}"
            ):
                return True
            con.execute(f"DROP TABLE {batch}")
            return False
        finally:
            con.unregister(view)

    def _split_document_by_path(self, raw: bytes, rpath: str, batch: str, sha: str, counts: _Counts) -> bool:
        """The general reading of a document: the value at ``rpath`` split into records if it is an
        array, else taken as one record. A document that is not valid UTF-8, not valid JSON, or has
        nothing at ``rpath`` is one reject; False then."""
        if self._split_large_object(raw, rpath, batch):
            return True
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            counts.read += 1
            counts.rejected += 1
            self._reject_raw(sha, None, e.start, 1, "invalid UTF-8 in JSON document", raw, len(raw))
            return False
        con = self.con
        kind = scalar(con, "SELECT try(json_type(?::VARCHAR, ?))", [text, rpath])
        if kind is None:
            valid = scalar(con, "SELECT json_valid(?::VARCHAR)", [text])
            if not valid and self._salvage_document(raw, rpath, batch, sha, counts):
                return True
            counts.read += 1
            counts.rejected += 1
            reason = f"nothing at {rpath} in the JSON document" if valid else "malformed JSON document"
            self._reject_raw(sha, None, 0, 1, reason, raw, len(raw))
            return False
        if kind == "ARRAY":
            con.execute(
                f"""CREATE TEMP TABLE {batch} AS
                    SELECT CAST(key AS BIGINT) + 1 AS record_no, CAST(NULL AS BIGINT) AS line_no,
                           CAST(NULL AS BIGINT) AS byte_offset, CAST(value AS JSON) AS doc
                    FROM json_each(?::VARCHAR, ?)""",
                [text, rpath],
            )
        else:
            con.execute(
                f"""CREATE TEMP TABLE {batch} AS
                    SELECT CAST(1 AS BIGINT) AS record_no, CAST(NULL AS BIGINT) AS line_no,
                           CAST(NULL AS BIGINT) AS byte_offset, json_extract(?::VARCHAR, ?) AS doc""",
                [text, rpath],
            )
        return True

    def _split_large_object(self, raw: bytes, rpath: str, batch: str) -> bool:
        """A large document that is one object and one record (``rpath`` is ``$``): staged into ``batch``
        by one parse of the text DuckDB reads in place (an Arrow view of ``raw``, no Python string), where
        the general reading holds the text three times and parses it twice (a 200 MB document passed
        1.5 GB, issue 15 part 5). False, with nothing staged, for a smaller document, another path, text
        that is not valid UTF-8 or not valid JSON: the general reading then settles it."""
        first = _LEADING_WS.match(raw).end()
        if rpath != "$" or len(raw) <= limits.SMALL_DOCUMENT_BYTES or raw[first : first + 1] != b"{":
            return False
        view = self._register_text(raw)
        if view is None:
            return False
        con = self.con
        try:
            # try(): a malformed document must not abort the file's transaction
            con.execute(
                f"""CREATE TEMP TABLE {batch} AS
                    SELECT CAST(1 AS BIGINT) AS record_no, CAST(NULL AS BIGINT) AS line_no,
                           CAST(NULL AS BIGINT) AS byte_offset, try(json(text)) AS doc
                    FROM {view}"""
            )
        finally:
            con.unregister(view)
        # valid JSON that opens with { is an object
        if scalar(con, f"SELECT doc IS NOT NULL FROM {batch}"):
            return True
        con.execute(f"DROP TABLE {batch}")
        return False

    def _register_text(self, raw: bytes) -> str | None:
        """``raw`` registered as a one-row view of one ``text`` column, read in place (no copy); None when
        it is not valid UTF-8 (the JSON parser checks UTF-8 only inside strings)."""
        try:
            text = pa.Array.from_buffers(
                pa.large_string(),
                1,
                [None, pa.py_buffer(np.array([0, len(raw)], dtype=np.int64)), pa.py_buffer(raw)],
            )
            text.validate(full=True)
        except pa.ArrowInvalid:
            return None
        view = temp_name("doc")
        self.con.register(view, pa.table({"text": text}))
        return view

    def _salvage_document(self, raw: bytes, rpath: str, batch: str, sha: str, counts: _Counts) -> bool:
        """A malformed document whose records are an array (at ``$`` or under one key): stage every element
        that parses into ``batch`` (its byte offset kept) and reject each damaged span with its offsets
        (``forensics/ingest/salvage.py``). False when no records array is found."""
        if rpath == "$":
            keys: tuple[str, ...] = ()
        elif _array_at(rpath) is not None and rpath.count(".") == 1:
            keys = (rpath[2:],)
        else:
            return False
        found = salvage_array(raw, keys)
        if found is None or (not found.records and not found.damaged):
            return False
        if rpath == "$" and found.wrapper is not None:
            return False
        numbers = {("record", i): n + 1 for n, (kind, i) in enumerate(found.order) if kind == "record"}
        for n, (kind, i) in enumerate(found.order):
            if kind == "damage":
                offset, length, reason = found.damaged[i]
                self._reject_raw(sha, None, offset, n + 1, reason, raw[offset : offset + length], length)
                counts.read += 1
                counts.rejected += 1
        view = temp_name("salvaged")
        table = pa.table(
            {
                "record_no": pa.array(
                    [numbers[("record", i)] for i in range(len(found.records))], pa.int64()
                ),
                "byte_offset": pa.array([off for _, off in found.records], pa.int64()),
                "text": pa.array([t for t, _ in found.records], pa.large_string()),
            }
        )
        con = self.con
        con.register(view, table)
        try:
            # Python's decoder takes what DuckDB's does not (NaN, Infinity): such an element is damage too
            bad = con.execute(
                f"SELECT record_no, byte_offset, text FROM {view} WHERE NOT json_valid(text)"
            ).fetchall()
            for record_no, offset, text in bad:
                piece = text.encode("utf-8", errors="surrogateescape")
                self._reject_raw(
                    sha, None, offset, record_no, "damaged JSON array element", piece, len(piece)
                )
                counts.read += 1
                counts.rejected += 1
            con.execute(
                f"""CREATE TEMP TABLE {batch} AS
                    SELECT record_no, CAST(NULL AS BIGINT) AS line_no, byte_offset, CAST(text AS JSON) AS doc
                    FROM {view} WHERE json_valid(text) ORDER BY record_no"""
            )
        finally:
            con.unregister(view)
        counts.notes.append(
            f"damaged JSON document: {len(found.records) - len(bad)} records recovered element by element, "
            f"{len(found.damaged) + len(bad)} damaged span(s) rejected with their byte offsets"
        )
        return True
