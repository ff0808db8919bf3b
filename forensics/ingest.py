"""Lossless ingest: hash a file, split it into records, hand them to a source, account for each one.

Every record read from a file ends in a case table or in the ``rejects`` ledger, and the evidence
row records ``records_read = records_loaded + records_rejected`` (``records_duplicate`` is the part
of ``records_loaded`` that matched an event the case already held). Blank lines are counted in
``blank_lines`` and are not records.

Containers are recognised by content, never by file name: gzip by its magic bytes; then JSON Lines,
one JSON document (an array, a ``{"Records": [...]}`` object, or any object), CSV, or text.
Inputs are only ever opened for reading.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import re
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from forensics.db import READ_MEMORY_LIMIT, memory_budget, row, scalar
from forensics.errors import EvidenceNotFound, UnknownFormat
from forensics.sources import registry
from forensics.sources.base import (
    RAW_KEEP,
    Batch,
    InsertSink,
    Probe,
    Source,
    chunked,
    dedup_file,
    dedup_files,
    fetch_arrow,
    keep,
    stage,
    temp_name,
    unstage,
)

#: A JSON Lines line longer than this is rejected (its first 64 KiB kept in the ledger).
MAX_LINE_BYTES = 8 * 1024 * 1024
#: A single JSON document larger than this (after decompression) is rejected as a whole.
MAX_DOCUMENT_BYTES = 512 * 1024 * 1024
#: A line-oriented file commits after about this many bytes, which bounds memory; see Ingestor.purge.
COMMIT_EVERY_BYTES = 128 * 1024 * 1024
#: A JSON document up to this size is parsed in Python to probe it; larger ones are probed by DuckDB.
SMALL_DOCUMENT_BYTES = 8 * 1024 * 1024
PIECE_BYTES = 32 * 1024 * 1024
#: A line-oriented file's events go into ``events`` in inserts of at least a row group per DuckDB
#: thread, so that every thread compresses and writes its own (see InsertSink).
ROW_GROUP_ROWS = 122_880
#: A JSON document with at least this many records hands them to its source in chunked Arrow.
STAGE_MIN_RECORDS = 10_000
#: A batch is small (its statements are planned once, their results built whole: see ``base.fetch_arrow``)
#: when it has fewer than ``STAGE_MIN_RECORDS`` records and fewer bytes than this: a record may hold
#: many rows (an OTLP record holds dozens of spans), whose result is better streamed.
SMALL_BATCH_BYTES = 4 * 1024 * 1024
#: Small JSON documents of one source (``Source.groupable``: CloudTrail's Records files) are read
#: together, in one transaction and one batch, up to this many bytes of text and this many files;
#: a document larger than ``GROUP_DOCUMENT_BYTES`` is read on its own.
GROUP_MAX_BYTES = 256 * 1024 * 1024
GROUP_MAX_FILES = 4096
GROUP_DOCUMENT_BYTES = 128 * 1024 * 1024
#: A JSON Lines file of a groupable source up to this size (inflated) is read in a group.
GROUP_LINES_BYTES = 8 * 1024 * 1024
#: How much document text the planning thread may hold ready beyond what the ingest has taken.
PLAN_AHEAD_BYTES = 128 * 1024 * 1024
HEAD_BYTES = 64 * 1024
GZIP_MAGIC = b"\x1f\x8b"
BOM = b"\xef\xbb\xbf"
MAPPING_SUFFIX = ".mapping.toml"

ProgressFn = Callable[[str, int, int], None]


@dataclass
class FileResult:
    """What happened to one input file."""

    path: str
    status: str  # ingested | already ingested | unplaced
    sha256: str = ""
    size_bytes: int = 0
    loader: str = ""
    format: str = ""
    records_read: int = 0
    records_loaded: int = 0
    records_rejected: int = 0
    records_duplicate: int = 0
    blank_lines: int = 0
    seconds: float = 0.0
    note: str = ""

    @property
    def reconciled(self) -> bool:
        return self.records_read == self.records_loaded + self.records_rejected


@dataclass
class _Counts:
    read: int = 0
    loaded: int = 0
    rejected: int = 0
    duplicate: int = 0
    blank: int = 0
    notes: list[str] = field(default_factory=list)
    #: (a file of a group) at least one of its records or lines came out of the split
    present: bool = False


@dataclass
class _Plan:
    """A file hashed, probed and given its source, not yet read into the case."""

    path: str
    sha: str
    size: int
    probe: Probe
    source: Source
    container: str
    seconds: float
    #: set for a file that can be read in a group (``Ingestor.prepare_group``): a document's text, or a
    #: JSON Lines file's lines (as ``_prepare`` makes them), and how many bytes they hold
    text: pa.Array | None = None
    lines: pa.Table | None = None
    nbytes: int = 0
    gzip: bool = False
    #: how its records are laid out: ``array`` (an array at the record path), ``object`` (the document
    #: is its one record) or ``lines`` (JSON Lines)
    layout: str = "array"

    @property
    def grouped(self) -> bool:
        return self.text is not None or self.lines is not None

    @property
    def group_key(self) -> tuple:
        return (id(self.source), self.source.record_path(self.probe), self.layout)


def _size_hint(path: str, gzip: bool, size: int) -> int:
    """The size of a file's content: a gzip file's trailer gives it (modulo 4 GiB, and for the last member
    only), which is a hint, not a fact; the file's size otherwise."""
    if not gzip or size < 18:
        return size
    with open(path, "rb") as f:
        f.seek(-4, os.SEEK_END)
        return int.from_bytes(f.read(4), "little")


def _group_format(plan: _Plan) -> str:
    return ("gzip+" if plan.gzip else "") + plan.container


# --------------------------------------------------------------------------------------------
# files, hashing and byte streams


def iter_input_files(
    paths: Iterable[str | os.PathLike], exclude: Iterable[str] = ()
) -> Iterator[tuple[str, bool]]:
    """Yield (path as given, named explicitly) for files and directory trees, in a stable order.
    Field-mapping sidecars (``*.mapping.toml``), hidden files inside trees and the files in
    ``exclude`` (the case database itself) are not evidence."""
    skip = {os.path.realpath(e) for e in exclude}
    for path, explicit in _walk(paths):
        if os.path.realpath(path) not in skip:
            yield path, explicit


def _walk(paths: Iterable[str | os.PathLike]) -> Iterator[tuple[str, bool]]:
    for p in paths:
        p = os.fspath(p)
        if os.path.isdir(p):
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if name.startswith(".") or name.endswith(MAPPING_SUFFIX):
                        continue
                    yield os.path.join(root, name), False
        elif os.path.isfile(p):
            yield p, True
        else:
            raise EvidenceNotFound(f"no such file or directory: {p}")


def hash_file(path: str) -> tuple[str, int]:
    """sha256 and size of a file, read once in 1 MiB pieces."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while piece := f.read(1 << 20):
            h.update(piece)
            size += len(piece)
    return h.hexdigest(), size


def is_gzip(path: str) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == GZIP_MAGIC


class ByteStream:
    """The decompressed bytes of a file, in pieces. A truncated or corrupt gzip stream ends the
    pieces early and sets ``damage`` to the reason; bytes before the damage are kept."""

    def __init__(self, path: str, piece_bytes: int | None = None):
        self.path = path
        self.piece_bytes = piece_bytes or PIECE_BYTES
        self.gzip = is_gzip(path)
        self.damage: str | None = None
        self.compressed_read = 0

    def __iter__(self) -> Iterator[bytes]:
        with open(self.path, "rb") as f:
            if not self.gzip:
                while piece := f.read(self.piece_bytes):
                    self.compressed_read += len(piece)
                    yield piece
                return
            d = zlib.decompressobj(wbits=31)
            pending = b""
            while True:
                if not pending:
                    pending = f.read(1 << 20)
                    self.compressed_read += len(pending)
                    if not pending:
                        break
                try:
                    out = d.decompress(pending, self.piece_bytes)
                except zlib.error as e:
                    self.damage = f"corrupt gzip stream near compressed byte {self.compressed_read}: {e}"
                    return
                pending = d.unconsumed_tail
                if out:
                    yield out
                if d.eof:
                    # what follows the member is all in unused_data (unconsumed_tail may hold the same
                    # bytes again when the output limit was reached: adding it read them twice, forever)
                    pending = d.unused_data.lstrip(b"\x00")  # padding between members
                    if not pending:
                        pending = f.read(1 << 20)
                        self.compressed_read += len(pending)
                        pending = pending.lstrip(b"\x00") if pending else pending
                        if not pending:
                            return
                    d = zlib.decompressobj(wbits=31)
            if not d.eof:
                tail = d.flush()
                if tail:
                    yield tail
                self.damage = f"truncated gzip stream: it ends at compressed byte {self.compressed_read} before its end marker"

    def read_upto(self, limit: int) -> bytes:
        """The bytes, read no further than needed to tell whether there are more than ``limit`` (more
        than ``limit`` bytes back means there are). Read to its end, the stream has ``damage`` set.
        A gzip file that is one sound member is inflated in one call, into one buffer."""
        if self.gzip and os.path.getsize(self.path) <= limit:
            with open(self.path, "rb") as f:
                packed = f.read()
            d = zlib.decompressobj(wbits=31)
            try:
                out = d.decompress(packed, limit + 1)
            except zlib.error:
                out = b""
            if len(out) > limit or (d.eof and not d.unused_data):
                self.compressed_read = len(packed) - len(d.unconsumed_tail)
                return out
            # damage, several members, or bytes after the member: the piece by piece reading says which
        pieces, n = [], 0
        for piece in self:
            pieces.append(piece)
            n += len(piece)
            if n > limit:
                break
        return b"".join(pieces)

    def head(self, n: int = HEAD_BYTES) -> bytes:
        out = b""
        for piece in ByteStream(self.path, piece_bytes=n):
            out += piece
            if len(out) >= n:
                break
        return out[:n]


# --------------------------------------------------------------------------------------------
# sniffing the container


def _strip_bom(b: bytes) -> bytes:
    return b[3:] if b.startswith(BOM) else b


def _first_lines(stream: ByteStream, n: int, max_bytes: int) -> tuple[list[bytes], bool]:
    """Up to n non-blank lines from the start (BOM stripped), and whether the first line was
    longer than max_bytes (then only its start is returned). Reads no further than it needs."""
    lines: list[bytes] = []
    buf = b""
    pos = 0
    for piece in stream:
        buf = buf[pos:] + piece
        pos = 0
        while len(lines) < n:
            nl = buf.find(b"\n", pos)
            if nl < 0:
                break
            line = buf[pos:nl]
            pos = nl + 1
            if line.strip():
                lines.append(line)
        if len(lines) >= n:
            break
        if not lines and len(buf) - pos > max_bytes:
            rest = _strip_bom(buf[pos : pos + max_bytes])
            return [rest], True
    tail = buf[pos:]
    if len(lines) < n and tail.strip():
        lines.append(tail)
    if lines:
        lines[0] = _strip_bom(lines[0])
    return lines, False


def _json_loads(b: bytes):
    try:
        return json.loads(b)
    except (ValueError, RecursionError):
        return None


def _count_nonblank_lines_upto(stream: ByteStream, n: int) -> int:
    """How many non-blank lines the stream holds, counting no further than n. A line is only
    scanned, never accumulated, so one huge line costs one pass."""
    count = 0
    current_has_text = False
    for piece in stream:
        pos = 0
        while True:
            nl = piece.find(b"\n", pos)
            segment = piece[pos:] if nl < 0 else piece[pos:nl]
            current_has_text = current_has_text or bool(segment.strip())
            if nl < 0:
                break
            count += current_has_text
            current_has_text = False
            if count >= n:
                return count
            pos = nl + 1
    return count + current_has_text


_WS = re.compile(r"[ \t\n\r]*")
_LEADING_WS = re.compile(rb"[ \t\n\r]*")
_RECORDS_OPEN = re.compile(r'[ \t\n\r]*\{[ \t\n\r]*"Records"[ \t\n\r]*:[ \t\n\r]*(?=\[)')


def _document_prefix_shape(prefix: bytes) -> tuple[tuple[str, ...], list] | None:
    """Top-level keys and up to 50 sample records of a large document that opens as an array or as
    ``{"Records": [``, parsed from its first bytes only; the rest is not looked at (so an object's
    keys after ``Records`` are not known, and the document may still prove malformed when the engine
    reads it). None for any other opening, or when not one record fits in the prefix."""
    text = prefix.decode("utf-8", errors="ignore")  # the prefix may end inside a character
    m = _RECORDS_OPEN.match(text)
    keys: tuple[str, ...] = ("Records",) if m else ()
    i = m.end() if m else _WS.match(text).end()
    if not text.startswith("[", i):
        return None
    decoder = json.JSONDecoder()
    samples: list = []
    i = _WS.match(text, i + 1).end()
    if text.startswith("]", i):
        return keys, samples
    while len(samples) < 50:
        try:
            value, i = decoder.raw_decode(text, i)
        except (ValueError, RecursionError):
            break  # cut by the end of the prefix, or malformed: the engine will tell
        samples.append(value)
        i = _WS.match(text, i).end()
        if not text.startswith(",", i):
            break
        i = _WS.match(text, i + 1).end()
    return (keys, samples) if samples else None


_PLAIN_PATH = re.compile(r"\$((?:\.[A-Za-z_][A-Za-z0-9_]*)*)")


def _array_at(rpath: str) -> tuple[str, str] | None:
    """For a plain JSON path (``$``, ``$.Records``, ``$.a.b``), the ``json_transform`` structure that takes
    the array at that path as a list of JSON values, and the field access that reaches the list; None for
    other paths. The keys are identifiers, so the structure is safe to write into SQL."""
    m = _PLAIN_PATH.fullmatch(rpath)
    if m is None:
        return None
    keys = m.group(1).split(".")[1:]
    structure = '["JSON"]'
    for key in reversed(keys):
        structure = json.dumps({key: json.loads(structure)})
    return structure, "".join(f'."{k}"' for k in keys)


def _document_shape(raw: bytes) -> tuple[tuple[str, ...], list] | None:
    """Top-level keys and up to 50 sample records of a large JSON document, parsed by DuckDB rather
    than as Python objects. An object's arrays are cut to their first three elements in the sample,
    so a source can still recognise its shape. None if the document is not valid JSON."""
    import duckdb

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    con = duckdb.connect()
    try:
        kind = scalar(con, "SELECT try(json_type(?::VARCHAR))", [text])
        if kind == "ARRAY":
            rows = con.execute("SELECT value FROM json_each(?::VARCHAR) LIMIT 50", [text]).fetchall()
            return (), [_json_loads(v.encode()) for (v,) in rows]
        if kind != "OBJECT":
            return None
        keys = tuple(scalar(con, "SELECT json_keys(?::VARCHAR)", [text]) or ())
        if "Records" in keys and scalar(con, "SELECT json_type(?::VARCHAR, '$.Records')", [text]) == "ARRAY":
            rows = con.execute(
                "SELECT value FROM json_each(?::VARCHAR, '$.Records') LIMIT 50", [text]
            ).fetchall()
            return keys, [_json_loads(v.encode()) for (v,) in rows]
        rows = con.execute(
            """SELECT key, CASE WHEN type = 'ARRAY'
                               THEN to_json(json_extract(value, ['$[0]', '$[1]', '$[2]'])[1:least(3, json_array_length(value))])
                               ELSE value END
               FROM json_each(?::VARCHAR)""",
            [text],
        ).fetchall()
        return keys, [{k: _json_loads(v.encode()) for k, v in rows}]
    finally:
        con.close()


def sniff(path: str) -> Probe:
    """Recognise the container of a file by its content and parse a sample of its records."""
    stream = ByteStream(path)
    head = _strip_bom(stream.head())
    text_head = head.decode("utf-8", errors="replace")
    stripped = head.lstrip()
    if not stripped.strip():
        return Probe(path, "empty", head=text_head)
    if b"\x00" in head[:4096] and not stripped.startswith((b"{", b"[")):
        return Probe(path, "binary", head=text_head)
    if stripped[:1] in (b"{", b"["):
        lines, long_first = _first_lines(ByteStream(path, piece_bytes=1 << 20), 50, 4 * 1024 * 1024)
        parsed = [_json_loads(ln) for ln in lines]
        objects = [p for p in parsed if isinstance(p, dict)]
        # a first line past the bound is only the start of a line: the file can be JSON Lines only if that
        # start parsed as an object, so the (whole-file) count of lines is needed only then
        nonblank = (
            _count_nonblank_lines_upto(ByteStream(path, piece_bytes=1 << 20), 2)
            if not long_first or objects
            else 1
        )
        if nonblank >= 2 and parsed and parsed[0] is not None and not long_first:
            return Probe(path, "jsonl", samples=parsed[:50], head=text_head)
        # one JSON document (maybe pretty-printed, maybe one long line)
        maybe_lines = nonblank >= 2 and len(objects) * 2 >= len(lines)
        whole = ByteStream(path, piece_bytes=1 << 20)
        prefix = whole.read_upto(SMALL_DOCUMENT_BYTES)
        if len(prefix) > SMALL_DOCUMENT_BYTES and not maybe_lines:
            # a large document that opens as an array or as {"Records": [...]: its first records are the
            # probe; the engine reads (and validates) the whole document once, from the file
            shape = _document_prefix_shape(_strip_bom(prefix))
            if shape is not None:
                top_keys, samples = shape
                return Probe(path, "json", samples=samples, top_keys=top_keys, head=text_head)
        if len(prefix) > SMALL_DOCUMENT_BYTES:
            whole = ByteStream(path)
            prefix = whole.read_upto(MAX_DOCUMENT_BYTES)
        raw = _strip_bom(prefix)
        if len(raw) > SMALL_DOCUMENT_BYTES:
            doc = None
        elif len(lines) == 1 and not long_first and parsed[0] is not None and lines[0].strip() == raw.strip():
            doc = parsed[0]  # a document on one line (CloudTrail writes them so) was parsed as that line
        else:
            doc = _json_loads(raw)
        shape = _document_shape(raw) if doc is None and len(raw) <= MAX_DOCUMENT_BYTES else None
        if doc is None and shape is None and maybe_lines:
            return Probe(path, "jsonl", samples=parsed[:50], head=text_head)
        top_keys: tuple[str, ...] = ()
        if shape is not None:
            top_keys, samples = shape
        elif isinstance(doc, dict):
            top_keys = tuple(doc.keys())
            recs = doc.get("Records")
            samples = recs[:50] if isinstance(recs, list) else [doc]
        elif isinstance(doc, list):
            samples = doc[:50]
        else:
            samples = []
        probe = Probe(path, "json", samples=samples, document=doc, top_keys=top_keys, head=text_head)
        if len(raw) <= MAX_DOCUMENT_BYTES:  # the engine reads the document from here, not from disk again
            probe.content, probe.damage, probe.compressed_read = raw, whole.damage, whole.compressed_read
        return probe
    first = text_head.split("\n", 2)
    if len(first) >= 2:
        for delim in (",", "\t", ";", "|"):
            n = first[0].count(delim)
            if n >= 1 and first[1].count(delim) >= 1:
                return Probe(path, "csv", head=text_head)
    return Probe(path, "text", head=text_head)


# --------------------------------------------------------------------------------------------
# the engine


class Ingestor:
    """Ingests files into a case connection. One instance per ``Case.ingest`` call."""

    def __init__(
        self,
        con,
        *,
        progress: ProgressFn | None = None,
        max_line_bytes: int = MAX_LINE_BYTES,
        max_document_bytes: int = MAX_DOCUMENT_BYTES,
        commit_every_bytes: int = COMMIT_EVERY_BYTES,
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
        self.insert_min_rows = insert_min_rows or ROW_GROUP_ROWS * int(
            scalar(con, "SELECT current_setting('threads')")
        )

    def choose_source(self, probe: Probe, loader: str | Source | None, mapping: str | None) -> Source | None:
        if isinstance(loader, Source):
            return loader
        if mapping is not None:
            return registry.generic_with_mapping(mapping)
        if loader:
            return registry.get(loader)
        return registry.detect(probe)

    def ingest_file(
        self, path: str, *, loader: str | Source | None = None, mapping: str | None = None
    ) -> FileResult:
        plan = self.plan_file(path, loader=loader, mapping=mapping)
        return plan if isinstance(plan, FileResult) else self.ingest_planned(plan)

    def plan_file(
        self, path: str, *, loader: str | Source | None = None, mapping: str | None = None, con=None
    ) -> FileResult | _Plan:
        """Hash a file, probe it and choose its source; a FileResult when there is nothing to read
        (the bytes are in the case already, or no source recognises them). ``con``: the connection
        that looks the sha256 up (a cursor of its own, in the planning thread)."""
        t0 = time.perf_counter()
        if mapping is None and loader is None and os.path.isfile(path + MAPPING_SUFFIX):
            mapping = path + MAPPING_SUFFIX
        sha, size = hash_file(path)
        if (known := self.already_ingested(path, sha, size, con)) is not None:
            return known
        probe = sniff(path)
        source = self.choose_source(probe, loader, mapping)
        if source is None:
            return FileResult(
                path,
                "unplaced",
                sha,
                size,
                format=probe.container,
                note=f"no loader recognises this {probe.container} content",
            )
        container = probe.container
        if container not in source.containers:
            if loader is None and mapping is None:
                return FileResult(
                    path,
                    "unplaced",
                    sha,
                    size,
                    format=container,
                    note=f"loader {source.name} does not read {container} content",
                )
            # an explicitly chosen loader reads what it cannot parse line by line, rejecting each line
            container = "jsonl" if container != "csv" else container
        if container == "empty":
            container = "jsonl"
        if source.reads_text_lines and container in ("text", "csv"):
            container = "text"  # the source parses the lines itself (e.g. Prometheus exposition)
        return _Plan(path, sha, size, probe, source, container, time.perf_counter() - t0)

    def already_ingested(self, path: str, sha: str, size: int, con=None) -> FileResult | None:
        """The result for a file whose bytes the case holds already (looked up on ``con``), else None."""
        known = (
            (con or self.con)
            .execute("SELECT loader, format FROM evidence WHERE sha256 = ?", [sha])
            .fetchall()
        )
        if not known:
            return None
        return FileResult(
            path,
            "already ingested",
            sha,
            size,
            known[0][0],
            known[0][1],
            note="same sha256 as evidence already in the case; nothing changed",
        )

    def planned(
        self, items: list[tuple[str, bool]], loader: str | Source | None, mapping: str | None
    ) -> Iterator[tuple[bool, FileResult | _Plan]]:
        """``plan_file`` (and, for a file that can be read in a group, ``prepare_group``) for each
        item, in order, in a thread that runs ahead of the caller while DuckDB reads what came before:
        hashing, probing and inflating the next files costs no time of its own then. The thread holds
        at most ``PLAN_AHEAD_BYTES`` of planned text (and one file more) that the caller has not taken.
        A file's error is raised here, at its turn."""
        out: queue.Queue = queue.Queue()
        cond = threading.Condition()
        held = [0]
        stop = threading.Event()
        cursor = self.con.cursor()

        def produce() -> None:
            try:
                for path, explicit in items:
                    try:
                        plan = self.plan_file(path, loader=loader, mapping=mapping, con=cursor)
                        if isinstance(plan, _Plan):
                            self.prepare_group(plan)
                    except Exception as e:  # noqa: BLE001 - raised in the caller, at this file's turn
                        plan = e
                    n = max(len(plan.probe.content or b""), plan.nbytes) if isinstance(plan, _Plan) else 0
                    with cond:
                        while held[0] and held[0] + n > PLAN_AHEAD_BYTES and not stop.is_set():
                            cond.wait()
                        if stop.is_set():
                            return
                        held[0] += n
                    out.put((explicit, plan, n))
            finally:
                out.put(None)

        worker = threading.Thread(target=produce, name="forensics-plan", daemon=True)
        worker.start()
        try:
            while (item := out.get()) is not None:
                explicit, plan, n = item
                with cond:
                    held[0] -= n
                    cond.notify_all()
                if isinstance(plan, Exception):
                    raise plan
                yield explicit, plan
        finally:
            stop.set()
            with cond:
                cond.notify_all()
            worker.join()
            cursor.close()

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
        counts = _Counts()
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

    # -- many small documents of one source, in one transaction -----------------------------------
    def prepare_group(self, plan: _Plan) -> bool:
        """Make a planned file ready to share a grouped batch (``plan.text`` or ``plan.lines``). False when
        it cannot: its source does not take part (or reads text lines), a document's records are not an
        array at a plain path (nor the document itself), or the file is damaged, larger than
        ``GROUP_DOCUMENT_BYTES`` (a JSON Lines file: ``GROUP_LINES_BYTES``), empty, or not valid UTF-8.
        Document bytes read here are kept in the probe, so the file is not inflated again when it is
        read on its own. Nothing here touches the case: it runs in the planning thread."""
        if not plan.source.groupable:
            return False
        if plan.container == "jsonl" and not plan.source.reads_text_lines:
            return self._prepare_group_lines(plan)
        if plan.container != "json":
            return False
        probe = plan.probe
        rpath = plan.source.record_path(probe)
        if _array_at(rpath) is None:
            return False
        stream = ByteStream(plan.path)
        plan.gzip = stream.gzip
        if probe.content is None:
            if _size_hint(plan.path, stream.gzip, plan.size) > GROUP_DOCUMENT_BYTES:
                return False
            raw = stream.read_upto(GROUP_DOCUMENT_BYTES)
            if len(raw) > GROUP_DOCUMENT_BYTES:
                return False
            raw = _strip_bom(raw)
            probe.content, probe.damage, probe.compressed_read = raw, stream.damage, stream.compressed_read
        raw = probe.content
        if probe.damage or len(raw) > GROUP_DOCUMENT_BYTES:
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
        file is one chunk, so no line can pass the line bound (``GROUP_LINES_BYTES`` is below it)."""
        limit = min(GROUP_LINES_BYTES, self.max_line_bytes)
        stream = ByteStream(plan.path)
        plan.gzip = stream.gzip
        if _size_hint(plan.path, stream.gzip, plan.size) > limit:
            return False
        raw = stream.read_upto(limit)
        if len(raw) > limit or stream.damage:
            return False
        offset = 3 if raw.startswith(BOM) else 0
        prepared = _prepare(_LineChunk(raw[offset:], 1, offset))
        if prepared.table is None or prepared.invalid:
            return False  # empty, or with lines that are not UTF-8: read alone
        plan.lines, plan.nbytes, plan.layout = prepared.table, len(raw), "lines"
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
                stage_group = (
                    self._stage_group_lines if plans[0].layout == "lines" else self._stage_group_documents
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
                rows = pa.table(
                    {
                        "file_no": pa.array(range(len(done)), pa.int64()),
                        "path": [p.path for p in done],
                        "sha": [p.sha for p in done],
                        "size": pa.array([p.size for p in done], pa.int64()),
                        "compression": ["gzip" if p.gzip else "none" for p in done],
                        "format": [_group_format(p) for p in done],
                        **{
                            k: pa.array([getattr(counts[p.sha], k) for p in done], pa.int64())
                            for k in ("read", "loaded", "rejected", "duplicate", "blank")
                        },
                    }
                )
                view = temp_name("evidence")
                con.register(view, rows)
                names.append(view)
                con.execute(
                    f"""INSERT INTO evidence
                        SELECT (SELECT coalesce(max(evidence_id), 0) FROM evidence) + 1 + file_no, path, sha, size,
                               compression, format, ?, now(), read, loaded, rejected, duplicate, blank, NULL
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
            grouped = Batch(
                con,
                batch,
                None,
                source,
                None,
                None,
                grouped=True,
                small=records < STAGE_MIN_RECORDS and nbytes < SMALL_BATCH_BYTES,
                raw_text=raw_text,
                files=shas,
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
        self.con.execute("BEGIN TRANSACTION")

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
        small = records is not None and records < STAGE_MIN_RECORDS and nbytes < SMALL_BATCH_BYTES
        batch = Batch(self.con, table, sha, source, self.current_path, sink, small, raw_text=raw_text)
        source.load_batch(batch)
        loaded, rejected = batch.settle()
        counts.loaded += loaded
        counts.rejected += rejected
        counts.read += loaded + rejected

    # -- JSON Lines (and text read line by line) ----------------------------------------------
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
        ledger = stage(con, stage_sql, small=n < STAGE_MIN_RECORDS and chunk.nbytes < SMALL_BATCH_BYTES)
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

    # -- one JSON document ----------------------------------------------------------------------
    def _read_document(
        self, path: str, stream: ByteStream, sha: str, source: Source, probe: Probe, counts: _Counts
    ) -> None:
        if probe.content is not None and len(probe.content) <= self.max_document_bytes:
            # sniff already read (and decompressed) it
            raw, stream.damage, stream.compressed_read = probe.content, probe.damage, probe.compressed_read
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
        if records >= STAGE_MIN_RECORDS:
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
        try:  # the JSON parser checks UTF-8 only inside strings
            text = pa.Array.from_buffers(
                pa.large_string(),
                1,
                [None, pa.py_buffer(np.array([0, len(raw)], dtype=np.int64)), pa.py_buffer(raw)],
            )
            text.validate(full=True)
        except pa.ArrowInvalid:
            return False
        con = self.con
        view = temp_name("doc")
        con.register(view, pa.table({"text": text}))
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
            counts.read += 1
            counts.rejected += 1
            valid = scalar(con, "SELECT json_valid(?::VARCHAR)", [text])
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

    # -- CSV ------------------------------------------------------------------------------------
    def _read_csv(self, path: str, stream: ByteStream, sha: str, source: Source, counts: _Counts) -> None:
        con = self.con
        tmp = None
        read_path = path
        if stream.gzip:
            fd, tmp = tempfile.mkstemp(suffix=".csv", prefix="forensics-")
            with os.fdopen(fd, "wb") as out:
                for piece in stream:
                    out.write(piece)
            read_path = tmp
        rej_table, rej_scan = temp_name("csvrej"), temp_name("csvscan")
        batch = temp_name("batch")
        try:
            con.execute(
                f"""CREATE TEMP TABLE {batch} AS
                    SELECT CAST(ordinality AS BIGINT) AS record_no, CAST(NULL AS BIGINT) AS line_no,
                           CAST(NULL AS BIGINT) AS byte_offset,
                           CAST(to_json(t) AS JSON) AS doc
                    FROM (SELECT * FROM read_csv(?, all_varchar = true, header = true, strict_mode = true,
                                                 store_rejects = true, rejects_table = '{rej_table}',
                                                 rejects_scan = '{rej_scan}', parallel = false)
                          WITH ORDINALITY) AS t""",
                [read_path],
            )
            # to_json(t) carries the ordinality column too; drop it from the record
            con.execute(f"UPDATE {batch} SET doc = json_merge_patch(doc, '{{\"ordinality\": null}}')")
            rej = scalar(
                con,
                f"""INSERT INTO rejects
                    SELECT ?, line, byte_position, NULL, 'CSV ' || lower(error_type) || ': ' || error_message,
                           left(csv_line, {RAW_KEEP}), strlen(csv_line)
                    FROM (SELECT DISTINCT ON (line) * FROM {rej_table} ORDER BY line)""",
                [sha],
            )
            counts.read += rej
            counts.rejected += rej
            self._run_batch(batch, sha, source, counts)
        finally:
            for t in (batch, rej_table, rej_scan):
                con.execute(f"DROP TABLE IF EXISTS {t}")
            if tmp:
                os.unlink(tmp)


def _int64_array(values: np.ndarray) -> pa.Array:
    """An int64 numpy array as an Arrow array without a copy (and without pyarrow's conversion
    path, whose first use imports pandas: a second lost on every run)."""
    values = np.ascontiguousarray(values, dtype=np.int64)
    return pa.Array.from_buffers(pa.int64(), len(values), [None, pa.py_buffer(values)])


@dataclass
class _LineChunk:
    data: bytes | memoryview
    line_no: int
    offset: int


@dataclass
class _Prepared:
    """A chunk of whole lines made ready for DuckDB (by ``_prepare``, in the reader thread): its lines as
    an Arrow table (line_no, byte_offset, text without the line end, and ``bad`` when some line is not
    UTF-8), and the lines that are not UTF-8, to be rejected (line number, offset, bytes)."""

    nbytes: int
    table: pa.Table | None
    invalid: list[tuple[int, int, bytes]] = field(default_factory=list)


def _prepare(chunk: _LineChunk) -> _Prepared:
    """Split a chunk into lines and check their UTF-8, in numpy and Arrow (which release the GIL while
    DuckDB works on the chunk before). Nothing here touches the case. The result holds no reference to
    the reader's buffer, which the next chunk overwrites."""
    data = chunk.data  # a view into the reader's buffer, valid until the next chunk is read
    nbytes = len(data)
    arr = np.frombuffer(data, dtype=np.uint8)
    nl = np.flatnonzero(arr == 10)
    ends = nl + 1
    if len(data) and data[-1] != 10:
        ends = np.append(ends, len(data))
    offsets = np.concatenate([[0], ends]).astype(np.int64)
    n = len(offsets) - 1
    if n == 0:
        return _Prepared(nbytes, None)
    line_nos = np.arange(chunk.line_no, chunk.line_no + n, dtype=np.int64)
    byte_offsets = offsets[:-1] + chunk.offset
    text = pa.Array.from_buffers(pa.large_string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])
    bad = None
    invalid: list[tuple[int, int, bytes]] = []
    try:
        text.validate(full=True)  # Arrow checks the UTF-8 of every line in C++
    except pa.ArrowInvalid:
        data = bytes(data)
        values, bad_list = [], []
        for i in range(n):
            piece = data[offsets[i] : offsets[i + 1]]
            try:
                values.append(piece.decode("utf-8"))
                bad_list.append(False)
            except UnicodeDecodeError:
                values.append("")
                bad_list.append(True)
                invalid.append((int(line_nos[i]), int(byte_offsets[i]), piece.rstrip(b"\r\n")))
        text = pa.array(values, type=pa.large_string())
        bad = np.array(bad_list, dtype=bool)
    # newline characters go in Arrow (DuckDB's rtrim is several times slower); the result is new
    # memory, so the reader's buffer is free for the next chunk
    text = pc.utf8_rtrim(text, characters="\r\n")
    columns = {"line_no": _int64_array(line_nos), "byte_offset": _int64_array(byte_offsets), "text": text}
    if bad is not None:
        columns["bad"] = pa.array(bad, type=pa.bool_())
    table = chunked(pa.Table.from_arrays(list(columns.values()), names=list(columns)))
    return _Prepared(nbytes, table, invalid)


def _prepared_chunks(stream: ByteStream, max_line: int) -> Iterator[_Prepared | _LongLine]:
    """``_line_chunks``, each chunk prepared by ``_prepare``, produced one chunk ahead in a thread of
    its own: reading, inflating, splitting and checking the next chunk overlap DuckDB's work on this
    one. An error in the thread is raised here; leaving early stops the thread."""
    out: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()
    done = object()

    def produce() -> None:
        try:
            for item in _line_chunks(stream, max_line):
                item = _prepare(item) if isinstance(item, _LineChunk) else item
                while not stop.is_set():
                    try:
                        out.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            out.put(done)
        except BaseException as e:  # handed to the consumer, which raises it
            out.put(e)

    reader = threading.Thread(target=produce, name="forensics-line-reader", daemon=True)
    reader.start()
    try:
        while (item := out.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while reader.is_alive():  # let a blocked put see the stop
            try:
                out.get_nowait()
            except queue.Empty:
                pass
            reader.join(timeout=0.05)


@dataclass
class _LongLine:
    line_no: int
    offset: int
    prefix: bytes
    length: int


def _bounded(pieces: Iterable[bytes], size: int) -> Iterator[bytes]:
    """The pieces, with any piece longer than ``size`` cut into pieces of at most ``size``."""
    for piece in pieces:
        if len(piece) <= size:
            yield piece
        else:
            for i in range(0, len(piece), size):
                yield piece[i : i + size]


def _line_chunks(stream: ByteStream, max_line: int) -> Iterator[_LineChunk | _LongLine]:
    """Whole lines in large chunks, and over-long lines as ``_LongLine`` (only their first 64 KiB
    kept), so that memory stays bounded whatever the input.

    The chunks are views into one buffer that is reused: a chunk's ``data`` is valid only until the
    next chunk is asked for (the engine copies it into DuckDB before that). Reusing the buffer
    spares a copy and a fresh allocation of every piece."""
    cap = stream.piece_bytes + max_line + 1
    buf = bytearray(cap)
    view = memoryview(buf)
    have = 0  # bytes of buf in use: the carried start of a line not yet complete
    line_no = 1
    offset = 0
    skipping: _LongLine | None = None
    first = True
    for piece in _bounded(stream, stream.piece_bytes):
        if first:
            first = False
            if piece.startswith(BOM):
                piece = piece[3:]
                offset = 3
        if skipping is not None:
            i = piece.find(b"\n")
            if i < 0:
                skipping.length += len(piece)
                continue
            skipping.length += i
            yield skipping
            offset += skipping.length + 1
            line_no += 1
            piece = piece[i + 1 :]
            skipping = None
        view[have : have + len(piece)] = piece
        total = have + len(piece)
        last = buf.rfind(b"\n", 0, total)
        if last >= 0:
            whole = view[: last + 1]
            yield _LineChunk(whole, line_no, offset)
            line_no += buf.count(b"\n", 0, last + 1)
            offset += last + 1
            whole.release()
            have = total - (last + 1)
            buf[:have] = buf[last + 1 : total]  # the carry moves to the front (the length is unchanged)
        else:
            have = total
        if have > max_line:
            skipping = _LongLine(line_no, offset, bytes(buf[: min(have, RAW_KEEP)]), have)
            have = 0
    if skipping is not None:
        yield skipping
    elif have:
        yield _LineChunk(view[:have], line_no, offset)


def _text_lines_sql(view: str, limit: int, where: str = "true") -> str:
    """The ledger of the lines of ``view`` (line_no, byte_offset, text) for a source that reads text lines:
    every non-blank line is a record, its ``doc`` the line as a JSON string; a line over the bound keeps its
    text in ``bad_text``, with its reason."""
    ws = "' ' || chr(9) || chr(10) || chr(13)"
    return f"""SELECT line_no AS record_no, line_no, byte_offset, CASE WHEN reason IS NULL THEN to_json(text) END AS doc,
                      reason, CASE WHEN reason IS NOT NULL THEN text END AS bad_text
               FROM (SELECT *, CASE WHEN strlen(text) > {limit} THEN 'line exceeds the {limit} byte bound' END AS reason
                     FROM {view} WHERE ({where}) AND trim(text, {ws}) <> '')"""


def _json_text(lines: pa.Table) -> pa.Table:
    """A table of lines with its ``text`` column typed JSON (Arrow's ``arrow.json``, the same buffers), which
    DuckDB reads as JSON without checking it again: only for lines ``_not_records_sql`` has let through."""
    json_type = pa.json_(pa.large_string())
    text = pa.chunked_array(
        [pa.ExtensionArray.from_storage(json_type, c) for c in lines.column("text").chunks], type=json_type
    )
    return lines.set_column(lines.schema.get_field_index("text"), "text", text)


def _not_records_sql(view: str, limit: int, where: str = "true", extra: str = "") -> str:
    """The lines of ``view`` (line_no, byte_offset, text, ...) that are not records, with their text in
    ``bad_text`` and their reason: blank (reason ''), over-long, malformed JSON, or not an object. The test
    that lets a record through (its text starts with '{' and is valid JSON) is one parse, and the reasons
    are worked out only for the lines it stops. ``where`` filters the view's rows; ``extra`` adds columns."""
    ws = "' ' || chr(9) || chr(10) || chr(13)"
    return f"""SELECT line_no, byte_offset, text AS bad_text{extra},
                      CASE WHEN strlen(text) > {limit} THEN 'line exceeds the {limit} byte bound'
                           WHEN trim(text, {ws}) = '' THEN ''
                           WHEN NOT json_valid(text) THEN 'malformed JSON'
                           ELSE 'non-object record (' || json_type(text) || ')' END AS reason
               FROM {view}
               WHERE ({where}) AND (strlen(text) > {limit} OR NOT (starts_with(text, '{{') OR starts_with(ltrim(text, {ws}), '{{'))
                                    OR NOT json_valid(text))"""


def _reject_lines(con, ledger: str, sha_sql: str, params: list | None = None) -> None:
    """Write the lines of a ledger (``_not_records_sql``, ``_text_lines_sql``) that are not records (reason
    not blank) to the rejects ledger."""
    con.execute(
        f"""INSERT INTO rejects
            SELECT {sha_sql}, line_no, byte_offset, line_no, reason, left(bad_text, {RAW_KEEP}), strlen(bad_text)
            FROM {ledger} WHERE reason <> ''""",
        params or [],
    )


def _kept_sql(source: Source) -> str:
    """Which split records of a document go to ``source``: objects, and arrays for a source that takes
    array records (e.g. Zipkin's list of traces). A record is minified JSON, so its first character
    tells."""
    kept = "starts_with(CAST(doc AS VARCHAR), '{')"
    if source.accepts_array_records:
        kept += " OR starts_with(CAST(doc AS VARCHAR), '[')"
    return kept


def _reject_non_objects(
    con, table: str, kept: str, sha_sql: str, record_sql: str, params: list | None = None
):
    """Write the records of ``table`` that ``kept`` refuses to the rejects ledger, with their type;
    returns how many."""
    return scalar(
        con,
        f"""INSERT INTO rejects SELECT {sha_sql}, NULL, NULL, {record_sql}, 'non-object record (' || json_type(doc) || ')',
                   left(CAST(doc AS VARCHAR), {RAW_KEEP}), strlen(CAST(doc AS VARCHAR))
            FROM {table} WHERE NOT ({kept})""",
        params or [],
    )


def ingest_paths(
    con,
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
                or group_bytes + size > GROUP_MAX_BYTES
                or len(group) >= GROUP_MAX_FILES
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


__all__ = ["FileResult", "Ingestor", "ingest_paths", "sniff", "hash_file", "iter_input_files"]
