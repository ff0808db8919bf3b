"""Files, hashing and byte streams: the walk over the inputs, the sha256 of the bytes read, and their
decompressed pieces. Inputs are only ever opened for reading."""

from __future__ import annotations

import codecs
import hashlib
import itertools
import os
import stat
import struct
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from forensics.errors import EvidenceNotFound
from forensics.ingest import limits
from forensics.ingest.limits import BOM, GZIP_MAGIC, HEAD_BYTES, MAPPING_SUFFIX


@dataclass
class SkippedEntry:
    """An entry of the input that is not read as evidence, and why (``skipped_entries``)."""

    path: str
    kind: str
    reason: str
    size: int | None = None


_SPECIAL = (
    (stat.S_ISFIFO, "fifo", "a FIFO (named pipe): never opened, since reading it could block forever"),
    (stat.S_ISSOCK, "socket", "a socket: never opened"),
    (stat.S_ISCHR, "device", "a character device: never opened (it may be endless, like /dev/zero)"),
    (stat.S_ISBLK, "device", "a block device: never opened"),
)


def _special(mode: int) -> tuple[str, str] | None:
    for test, kind, reason in _SPECIAL:
        if test(mode):
            return kind, reason
    return None


def iter_input_files(
    paths: Iterable[str | os.PathLike], exclude: Iterable[str] = (), skipped: list[SkippedEntry] | None = None
) -> Iterator[tuple[str, bool]]:
    """Yield (path as given, named explicitly) for the regular files of the inputs and their trees, in a
    stable order. Every other entry (special files, broken or directory links, hidden entries) is never
    opened and goes to ``skipped`` with its reason. Field-mapping sidecars (``*.mapping.toml``) and the
    files in ``exclude`` (the case database itself) are not evidence and not entries."""
    skip = {os.path.realpath(e) for e in exclude}
    sink: list[SkippedEntry] = skipped if skipped is not None else []
    for path, explicit in _walk(paths, sink):
        if os.path.realpath(path) not in skip:
            yield path, explicit


def _classify(path: str) -> tuple[str, SkippedEntry | None]:
    """What an entry is: ``file`` (read it), ``dir`` (walk it), or ``skip`` with its ledger entry. Uses
    lstat/stat only: nothing is opened."""
    try:
        st = os.lstat(path)
    except OSError as e:
        return "skip", SkippedEntry(path, "unreadable", f"cannot stat it: {e.strerror}")
    if stat.S_ISLNK(st.st_mode):
        target = os.readlink(path)
        try:
            tst = os.stat(path)
        except OSError as e:
            return "skip", SkippedEntry(
                path, "broken-link", f"a symbolic link to {target!r} that leads nowhere ({e.strerror})"
            )
        if stat.S_ISDIR(tst.st_mode):
            return "skip", SkippedEntry(
                path,
                "directory-link",
                f"a link to the directory {target!r}: not followed (it could loop or leave the tree); name it to read it",
            )
        if (special := _special(tst.st_mode)) is not None:
            return "skip", SkippedEntry(path, special[0], f"a symbolic link to {target!r}, {special[1]}")
        return "file", None
    if stat.S_ISDIR(st.st_mode):
        return "dir", None
    if (special := _special(st.st_mode)) is not None:
        return "skip", SkippedEntry(path, special[0], special[1])
    return "file", None


def _walk(paths: Iterable[str | os.PathLike], skipped: list[SkippedEntry]) -> Iterator[tuple[str, bool]]:
    for p in paths:
        p = os.fspath(p)
        if not os.path.lexists(p):
            raise EvidenceNotFound(f"no such file or directory: {p}")
        what, entry = _classify(p)
        if what == "skip" and entry is not None and entry.kind == "directory-link":
            what, entry = "dir", None  # a directory named explicitly is read, link or not
        if what == "file":
            yield p, True
        elif what == "skip" and entry is not None:
            skipped.append(entry)
        else:
            yield from _walk_tree(p, skipped)


def _walk_tree(top: str, skipped: list[SkippedEntry]) -> Iterator[tuple[str, bool]]:
    try:
        names = sorted(os.listdir(top))
    except OSError as e:
        skipped.append(SkippedEntry(top, "unreadable", f"cannot list the directory: {e.strerror}"))
        return
    dirs = []
    for name in names:
        path = os.path.join(top, name)
        if name.endswith(MAPPING_SUFFIX):
            continue
        what, entry = _classify(path)
        if name.startswith("."):
            kind = "hidden directory" if what == "dir" else "hidden file"
            skipped.append(SkippedEntry(path, "hidden", f"a {kind} (its name starts with '.'): not read"))
        elif what == "file":
            yield path, False
        elif what == "dir":
            dirs.append(path)
        elif entry is not None:
            skipped.append(entry)
    for d in dirs:  # files first, then subdirectories, each in name order (as os.walk gave them)
        yield from _walk_tree(d, skipped)


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


def _utf16(head: bytes) -> str | None:
    """The UTF-16 codec of a text that starts with a UTF-16 BOM, or whose first bytes are ASCII with every
    other byte NUL (UTF-16 without a BOM); None otherwise."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) and not head.startswith(b"\xff\xfe\x00\x00"):
        return "utf-16"  # the decoder reads the BOM and its byte order
    sample = head[:64] if len(head) >= 64 else head[: len(head) - len(head) % 2]
    if len(sample) < 8:
        return None
    even, odd = sample[0::2], sample[1::2]
    if not any(odd) and all(32 <= b < 127 or b in (9, 10, 13) for b in even):
        return "utf-16-le"
    if not any(even) and all(32 <= b < 127 or b in (9, 10, 13) for b in odd):
        return "utf-16-be"
    return None


class _HashingReader:
    """A file opened for a ``ByteStream`` that hashes every byte it hands out; ``finish`` reads what the
    reading left (after damage, a bound, an early end) into the hash, closes the file and returns the
    sha256 and size of the whole file as this one pass read it."""

    def __init__(self, path: str):
        self.f = open(path, "rb")  # noqa: SIM115 - closed by finish()
        self.h = hashlib.sha256()
        self.size = 0

    def read(self, n: int) -> bytes:
        b = self.f.read(n)
        self.h.update(b)
        self.size += len(b)
        return b

    def finish(self) -> tuple[str, int]:
        while self.read(1 << 20):
            pass
        self.f.close()
        return self.h.hexdigest(), self.size


class ByteStream:
    """The decompressed bytes of a file, in pieces. A damaged gzip stream (a CRC or length mismatch, a
    corrupt block, a truncated tail, bytes after the last member) sets ``damage`` to the reason; every
    byte that decompresses is kept, as ``zcat`` keeps it (the gzip framing is read here and the CRC
    checked by hand: zlib's gzip mode drops the output of the call that meets a bad CRC, which for a
    small file is all of it)."""

    #: compressed bytes handed to zlib at a time: a corrupt block loses at most the output of one call
    INFLATE_INPUT = 64 * 1024

    def __init__(self, path: str, piece_bytes: int | None = None, digest: bool = False):
        self.path = path
        self.piece_bytes = piece_bytes or limits.PIECE_BYTES
        self.gzip = is_gzip(path)
        self.damage: str | None = None
        self.compressed_read = 0
        #: with ``digest``: the sha256 and size of the file as this stream read it (the same pass as the
        #: reading), set once the stream ended; the engine compares it with the planning hash
        self.want_digest = digest
        self.digest: tuple[str, int] | None = None
        #: the text encoding transcoded to UTF-8 on the way (``utf-16``, ``utf-16-le``, ``utf-16-be``), if any
        self.encoding: str | None = None

    def __iter__(self) -> Iterator[bytes]:
        """The content's pieces; UTF-16 text (a UTF-16 BOM, or ASCII with every other byte NUL) is
        transcoded to UTF-8 on the way (``encoding`` says so), so every reader reads it as text."""
        pieces = self._raw_pieces()
        try:
            first = next(pieces, None)
            if first is None:
                return
            enc = _utf16(first)
            if enc is None:
                yield first
                yield from pieces
                return
            self.encoding = enc
            dec = codecs.getincrementaldecoder(enc)(errors="replace")
            for piece in itertools.chain([first], pieces):
                yield dec.decode(piece).encode("utf-8")
            if tail := dec.decode(b"", final=True).encode("utf-8"):
                yield tail
        finally:
            pieces.close()

    def _raw_pieces(self) -> Iterator[bytes]:
        f = _HashingReader(self.path) if self.want_digest else open(self.path, "rb")  # noqa: SIM115
        try:
            if self.gzip:
                yield from self._gunzip(f)
            else:
                while piece := f.read(self.piece_bytes):
                    self.compressed_read += len(piece)
                    yield piece
        finally:
            if isinstance(f, _HashingReader):
                self.digest = f.finish()
            else:
                f.close()

    def _damaged(self, reason: str) -> None:
        self.damage = reason if self.damage is None else self.damage

    def _gunzip(self, f) -> Iterator[bytes]:
        buf = bytearray()
        eof = False

        def fill(n: int) -> bool:
            """At least n bytes in buf, unless the file ends first."""
            nonlocal eof
            while len(buf) < n and not eof:
                more = f.read(max(1 << 20, n - len(buf)))
                self.compressed_read += len(more)
                if not more:
                    eof = True
                buf.extend(more)
            return len(buf) >= n

        member = 0
        while True:
            if member:
                fill(1)
                while buf[:1] == b"\x00":  # padding between members
                    del buf[: len(buf) - len(buf.lstrip(b"\x00"))]
                    fill(1)
                if not buf:
                    return
            at = self.compressed_read - len(buf)
            header = self._gzip_header(buf, fill)
            if header is None:
                what = "bytes that are not a gzip member" if member else "a damaged gzip header"
                self._damaged(f"{what} at compressed byte {at} (ignored, as zcat does)")
                return
            del buf[:header]
            d = zlib.decompressobj(-zlib.MAX_WBITS)
            crc, isize = 0, 0
            out_parts: list[bytes] = []  # output gathered into pieces of about piece_bytes
            held = 0
            while not d.eof:
                if held >= self.piece_bytes:
                    yield b"".join(out_parts)
                    out_parts.clear()
                    held = 0
                if not fill(1):
                    tail = d.flush()
                    if tail:
                        out_parts.append(tail)
                    if out_parts:
                        yield b"".join(out_parts)
                    self._damaged(
                        f"truncated gzip stream: it ends at compressed byte {self.compressed_read} "
                        "before its end marker (every byte before it was kept)"
                    )
                    return
                take = bytes(buf[: self.INFLATE_INPUT])
                try:
                    out = d.decompress(take, self.piece_bytes)
                except zlib.error as e:
                    if out_parts:
                        yield b"".join(out_parts)
                    self._damaged(
                        f"corrupt gzip stream near compressed byte {self.compressed_read - len(buf)}: {e} "
                        "(every byte before it was kept)"
                    )
                    return
                used = len(take) - (len(d.unused_data) if d.eof else len(d.unconsumed_tail))
                del buf[:used]
                if out:
                    crc, isize = zlib.crc32(out, crc), isize + len(out)
                    out_parts.append(out)
                    held += len(out)
            if out_parts:
                yield b"".join(out_parts)
            if not fill(8):
                self._damaged(f"truncated gzip trailer of member {member + 1} (its data were kept)")
                return
            want_crc, want_size = struct.unpack("<II", bytes(buf[:8]))
            del buf[:8]
            if want_crc != crc:
                self._damaged(
                    f"gzip CRC mismatch in member {member + 1} (stored {want_crc:08x}, data {crc:08x}): "
                    "the data were kept, as zcat keeps them, but may be corrupt"
                )
            elif want_size != isize & 0xFFFFFFFF:
                self._damaged(
                    f"gzip length mismatch in member {member + 1} (stored {want_size}, data {isize})"
                )
            member += 1

    @staticmethod
    def _gzip_header(buf: bytearray, fill) -> int | None:
        """The length of the gzip member header at the start of ``buf`` (RFC 1952), or None when it is
        not one (or is cut short)."""
        if not fill(10) or buf[:3] != b"\x1f\x8b\x08":
            return None
        flags, n = buf[3], 10
        if flags & 4:  # FEXTRA
            if not fill(n + 2):
                return None
            n += 2 + int.from_bytes(buf[n : n + 2], "little")
        for bit in (8, 16):  # FNAME, FCOMMENT: zero-terminated
            if flags & bit:
                while True:
                    end = buf.find(b"\x00", n)
                    if end >= 0:
                        n = end + 1
                        break
                    if not fill(len(buf) + 1) or len(buf) > n + (1 << 20):
                        return None
        if flags & 2:  # FHCRC
            n += 2
        return n if fill(n) else None

    def read_upto(self, limit: int) -> bytes:
        """The bytes, read no further than needed to tell whether there are more than ``limit`` (more
        than ``limit`` bytes back means there are). Read to its end, the stream has ``damage`` set.
        A gzip file that is one sound member is inflated in one call, into one buffer."""
        if self.gzip and os.path.getsize(self.path) <= limit:
            with open(self.path, "rb") as f:
                packed = f.read()
            if self.want_digest:
                self.digest = (hashlib.sha256(packed).hexdigest(), len(packed))
            d = zlib.decompressobj(wbits=31)
            try:
                out = d.decompress(packed, limit + 1)
            except zlib.error:
                out = b""
            if (len(out) > limit or (d.eof and not d.unused_data)) and _utf16(out[:256]) is None:
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
        inner = ByteStream(self.path, piece_bytes=n)
        for piece in inner:
            out += piece
            if len(out) >= n:
                break
        self.encoding = self.encoding or inner.encoding
        return out[:n]


def newline_pieces(pieces: Iterable[bytes]) -> Iterator[bytes]:
    """Pieces of text with every lone CR (old Mac line ends, mixed line ends) turned into LF, byte for
    byte (so offsets do not move): a CR-only file splits into its lines. CRLF stays as it is (readers
    strip the CR). A piece with no lone CR (the usual case: none, or CRLF only) is passed on untouched
    after two counts in C."""
    import numpy as np

    carry = b""
    for piece in pieces:
        if carry:
            piece, carry = carry + piece, b""
        if piece.endswith(b"\r"):
            piece, carry = piece[:-1], b"\r"  # its LF may open the next piece
        cr = piece.count(b"\r")
        if cr and cr != piece.count(b"\r\n"):
            arr = np.frombuffer(piece, dtype=np.uint8).copy()
            lone = np.flatnonzero(arr == 13)
            nxt = lone + 1
            keep = nxt < len(arr)
            lone = np.concatenate([lone[~keep], lone[keep][arr[nxt[keep]] != 10]])
            arr[lone] = 10
            piece = arr.tobytes()
        if piece:
            yield piece
    if carry:
        yield b"\n"


def _strip_bom(b: bytes) -> bytes:
    return b[3:] if b.startswith(BOM) else b


def _size_hint(path: str, gzip: bool, size: int) -> int:
    """The size of a file's content: a gzip file's trailer gives it (modulo 4 GiB, and for the last member
    only), which is a hint, not a fact; the file's size otherwise."""
    if not gzip or size < 18:
        return size
    with open(path, "rb") as f:
        f.seek(-4, os.SEEK_END)
        return int.from_bytes(f.read(4), "little")
