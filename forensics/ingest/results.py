"""What an ingest reports about each file, and the counts it keeps while reading one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

ProgressFn = Callable[[str, int, int], None]


@dataclass
class FileResult:
    """What happened to one input file."""

    path: str
    status: str  # ingested | already ingested | unplaced | skipped (see ``skipped_entries``)
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
    #: for a ``skipped`` file: its kind in ``skipped_entries`` (``changed``, ``unreadable``, ``fifo``, ...)
    skip_kind: str = ""

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


class FileChanged(Exception):
    """The bytes read are not the bytes planned (hashed before reading): the file changed during the ingest."""
