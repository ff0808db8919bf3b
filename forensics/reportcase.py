"""How a report notebook holds the case: read-only, and closed when the notebook ends.

Writing steps (an ingest of new inputs, a secret re-scan, a stored policy) run in ``write_step``: a
short read-write connection, committed and closed before the report reads, so another process (the
CLI, another notebook) can open the case between steps and after the notebook."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import TypeVar

import forensics
from forensics.case import Case

T = TypeVar("T")


def write_step(case_path: str | os.PathLike[str], step: Callable[[Case], T]) -> T:
    """Run ``step`` on a read-write connection to the case and close it at once."""
    with forensics.open_case(case_path) as case:
        return step(case)


def open_for_report(case_path: str | os.PathLike[str], inputs: Iterable[str] | None = None) -> Case:
    """The case, read-only; ``inputs`` are ingested first in a write step (``write_step``)."""
    paths = [str(p) for p in inputs or []]
    if paths:
        write_step(case_path, lambda c: c.ingest(paths))
    return forensics.open_case(case_path, read_only=True)
