"""Files, hashing and byte streams: the walk over the inputs, the sha256 of the bytes read, and their
decompressed pieces. Inputs are only ever opened for reading."""

from __future__ import annotations

import hashlib
import os
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


class ByteStream:
    """The decompressed bytes of a file, in pieces. A truncated or corrupt gzip stream ends the
    pieces early and sets ``damage`` to the reason; bytes before the damage are kept."""

    def __init__(self, path: str, piece_bytes: int | None = None):
        self.path = path
        self.piece_bytes = piece_bytes or limits.PIECE_BYTES
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
