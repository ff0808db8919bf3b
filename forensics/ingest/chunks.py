"""Splitting a byte stream into chunks of whole lines, made ready for DuckDB in a reader thread, with
over-long lines cut out so that memory stays bounded whatever the input."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from forensics.ingest import limits
from forensics.ingest.files import ByteStream, newline_pieces
from forensics.ingest.limits import BOM
from forensics.sources.contract import RAW_KEEP
from forensics.staging import chunked


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
    #: for a chunk of nothing but blank lines (``table`` None): how many
    blank: int = 0


_WHITE = (9, 10, 13, 32)
_WHITE_ARRAY = np.array(_WHITE, dtype=np.uint8)


def _prepare(chunk: _LineChunk) -> _Prepared:
    """Split a chunk into lines and check their UTF-8, in numpy and Arrow (which release the GIL while
    DuckDB works on the chunk before). Nothing here touches the case. The result holds no reference to
    the reader's buffer, which the next chunk overwrites."""
    data = chunk.data  # a view into the reader's buffer, valid until the next chunk is read
    nbytes = len(data)
    arr = np.frombuffer(data, dtype=np.uint8)
    if nbytes and arr[0] in _WHITE and arr[-1] in _WHITE and np.isin(arr, _WHITE_ARRAY).all():
        # nothing but blank lines (a newline bomb): counted, with no per-line arrays at all
        n = int(np.count_nonzero(arr == 10)) + int(arr[-1] != 10)
        return _Prepared(nbytes, None, blank=n)
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


def _capped(stream: ByteStream, cap: int) -> Iterator[bytes]:
    """The stream's pieces up to ``cap`` bytes of content; past it, reading stops and the stream's
    ``damage`` says so (the engine rejects it as one record: the rest of the file was not read)."""
    n = 0
    for piece in stream:
        if n + len(piece) > cap:
            if cap > n:
                yield piece[: cap - n]
            stream.damage = stream.damage or (
                f"the decompressed content exceeds the {cap} byte cap per file: reading stopped at byte {cap}, "
                "the rest was not read"
            )
            return
        n += len(piece)
        yield piece


def _dense_split(whole: memoryview, max_lines: int) -> Iterator[tuple[memoryview, int]]:
    """A buffer of whole lines as chunks of at most ``max_lines`` lines (and their line counts), so that a
    chunk's per-line arrays stay bounded however short its lines are. The cut points are found window by
    window, so finding them is bounded too."""
    total = (
        whole.obj.count(b"\n", 0, len(whole))
        if isinstance(whole.obj, bytearray)
        else bytes(whole).count(b"\n")
    )
    if total <= max_lines:
        yield whole[:], total
        return
    arr = np.frombuffer(whole, dtype=np.uint8)
    start, have, step = 0, 0, 4 << 20
    for w in range(0, len(arr), step):
        nl = np.flatnonzero(arr[w : w + step] == 10)
        while have + len(nl) >= max_lines:
            cut = w + int(nl[max_lines - have - 1]) + 1
            yield whole[start:cut], max_lines
            nl = nl[max_lines - have :]
            start, have = cut, 0
        have += len(nl)
    if start < len(whole):
        yield whole[start:], have
    del arr


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
    for piece in _bounded(newline_pieces(_capped(stream, limits.MAX_FILE_BYTES)), stream.piece_bytes):
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
            for sub, lines in _dense_split(whole, limits.MAX_CHUNK_LINES):
                yield _LineChunk(sub, line_no, offset)
                line_no += lines
                offset += len(sub)
                sub.release()
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
