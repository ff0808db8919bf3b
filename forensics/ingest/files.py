"""Files, hashing and byte streams: the walk over the inputs, the sha256 of the bytes read, and their
decompressed pieces. Inputs are only ever opened for reading."""

from __future__ import annotations

import hashlib
import os
import struct
import zlib
from collections.abc import Iterable, Iterator

from forensics.errors import EvidenceNotFound
from forensics.ingest import limits
from forensics.ingest.limits import BOM, GZIP_MAGIC, HEAD_BYTES, MAPPING_SUFFIX


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

    def __iter__(self) -> Iterator[bytes]:
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
