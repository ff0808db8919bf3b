"""Ingest options that change how times are read: ``--year``, ``--tz`` and ``--observed-at``.

They are set for one ``Case.ingest`` call (``forensics ingest --year 2018 --tz Europe/Berlin ...``) and read
by the sources that need them through ``current()``; the engine itself does not look at them.

- ``year``: the year of syslog lines, which carry none (``Aug 20 15:13:47``). Without it a source takes the
  year from the file's own context (docs/host.md), never from the machine's clock.
- ``tz``: the IANA zone of zone-less local times (syslog lines); default UTC.
- ``observed_at``: the time a record without an event time was observed (a webhook payload's delivery, a
  snapshot's capture): ISO 8601, without a zone meaning UTC, as every time a user types.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import zoneinfo
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

from forensics.errors import BadTimeWindow, ForensicsError
from forensics.timewindow import parse_user_time


@dataclass(frozen=True)
class IngestOptions:
    year: int | None = None
    tz: str | None = None
    observed_at: dt.datetime | None = None

    @property
    def zone(self) -> str:
        """The zone of zone-less local times: ``tz``, else UTC."""
        return self.tz or "UTC"

    @property
    def observed_at_text(self) -> str | None:
        """``observed_at`` as RFC 3339 UTC text, for SQL parameters."""
        if self.observed_at is None:
            return None
        return self.observed_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_DEFAULT = IngestOptions()
_current: ContextVar[IngestOptions | None] = ContextVar("forensics_ingest_options", default=None)


def current() -> IngestOptions:
    """The options of the ingest in progress (all unset outside one)."""
    return _current.get() or _DEFAULT


def make(
    year: int | str | None = None, tz: str | None = None, observed_at: str | dt.datetime | None = None
) -> IngestOptions:
    """Checked options: a year from 1970 to 9999, a zone the zone database knows, an ISO 8601 time."""
    y: int | None = None
    if year is not None:
        try:
            y = int(year)
        except (TypeError, ValueError):
            raise ForensicsError(f"--year must be a year, not {year!r}") from None
        if not 1970 <= y <= 9999:
            raise ForensicsError(f"--year {y} is outside 1970..9999")
    if tz is not None:
        try:
            zoneinfo.ZoneInfo(tz)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ForensicsError(f"--tz {tz!r} is not a zone of the IANA time zone database") from None
    obs: dt.datetime | None = None
    if observed_at is not None:
        try:
            # a time the user types: ISO 8601, without a zone it means UTC (docs/schema.md, "Time")
            obs = parse_user_time(observed_at)
        except BadTimeWindow:
            raise ForensicsError(f"--observed-at {observed_at!r} is not an ISO 8601 time") from None
    return IngestOptions(y, tz, obs)


@contextlib.contextmanager
def using(options: IngestOptions) -> Iterator[IngestOptions]:
    """Set ``options`` for the ingest inside the ``with`` block."""
    token = _current.set(options)
    try:
        yield options
    finally:
        _current.reset(token)
