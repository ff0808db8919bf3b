"""Zip and tar archives (tar.gz too) read as evidence: each regular member is extracted (never by its
name: a member name is not a path) into a private temporary folder and ingested like a file, its evidence
row naming it ``archive!member`` with the archive's sha256 as ``parent_sha256``. Members that are links,
devices or over the size cap are ``skipped_entries`` with the archive as their parent. The standard
library's ``zipfile`` and ``tarfile`` read the formats; nothing here writes outside the temporary folder.
"""

from __future__ import annotations

import os
import stat
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from forensics.ingest import limits

NOT_REGULAR = "an archive member that is not a regular file (a link or a device): not read"


@dataclass
class Member:
    name: str  # the member's name in the archive (shown, never used as a path)
    path: str | None  # where its bytes were extracted, or None when it was not
    kind: str = ""  # for a member not extracted: its kind in skipped_entries
    reason: str = ""


def archive_kind(path: str) -> str | None:
    """``zip`` or ``tar`` (plain or compressed) by content, else None."""
    try:
        if zipfile.is_zipfile(path):
            return "zip"
        if tarfile.is_tarfile(path):
            return "tar"
    except OSError:
        return None
    return None


def _copy(src, dst_path: str, cap: int) -> int | None:
    """Copy at most ``cap`` bytes; None when the member holds more (the copy is removed)."""
    n = 0
    with open(dst_path, "wb") as out:
        while piece := src.read(1 << 20):
            n += len(piece)
            if n > cap:
                break
            out.write(piece)
    if n > cap:
        os.unlink(dst_path)
        return None
    return n


def _zip_mtime(info: zipfile.ZipInfo) -> float:
    """A zip member's time. Zip stores a zone-less local time; it is read as UTC here because it only
    anchors a year (never an event's time), and this machine's zone says nothing about the archive's."""
    try:
        return datetime(*info.date_time, tzinfo=UTC).timestamp()
    except ValueError:
        return 0.0


@contextmanager
def extracted(path: str, kind: str) -> Iterator[list[Member]]:
    """The members of an archive, extracted into a temporary folder that is removed afterwards."""
    cap, total_cap = limits.MAX_MEMBER_BYTES, limits.MAX_ARCHIVE_BYTES
    with tempfile.TemporaryDirectory(prefix="forensics-archive-") as tmp:
        members: list[Member] = []
        total = 0

        def take(i: int, name: str, opener, mtime: float) -> None:
            nonlocal total
            dst = os.path.join(tmp, f"member-{i:06d}")
            with opener() as src:
                n = _copy(src, dst, min(cap, total_cap - total))
            if n is not None:
                # the member keeps its own modification time, not the extraction's (this machine's clock):
                # a loader may read it as the file's context (auth.log's year, docs/host.md)
                os.utime(dst, (mtime, mtime))
            if n is None:
                members.append(
                    Member(
                        name,
                        None,
                        "over-cap",
                        f"archive member over the {min(cap, total_cap - total)} byte cap: not read",
                    )
                )
            else:
                total += n
                members.append(Member(name, dst))

        if kind == "zip":
            with zipfile.ZipFile(path) as z:
                for i, info in enumerate(z.infolist()):
                    mode = info.external_attr >> 16
                    if info.is_dir():
                        continue
                    if stat.S_IFMT(mode) not in (0, stat.S_IFREG):  # a link or a device (0: no type given)
                        members.append(Member(info.filename, None, "archive-link", NOT_REGULAR))
                        continue
                    try:
                        take(i, info.filename, lambda info=info: z.open(info), _zip_mtime(info))
                    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError) as e:
                        members.append(
                            Member(info.filename, None, "damaged-member", f"the member cannot be read: {e}")
                        )
        else:
            with tarfile.open(path) as t:
                i = 0
                while True:
                    try:
                        info = t.next()
                    except (tarfile.TarError, OSError, EOFError) as e:
                        members.append(
                            Member(
                                "(rest of the archive)",
                                None,
                                "damaged-member",
                                f"the archive is damaged from here: {e}",
                            )
                        )
                        break
                    if info is None:
                        break
                    i += 1
                    if info.isdir():
                        continue
                    if not info.isfile():
                        members.append(Member(info.name, None, "archive-link", NOT_REGULAR))
                        continue
                    try:
                        take(i, info.name, lambda info=info: t.extractfile(info), float(info.mtime))
                    except (tarfile.TarError, OSError, EOFError) as e:
                        members.append(
                            Member(info.name, None, "damaged-member", f"the member cannot be read: {e}")
                        )
        yield members
