"""Times that a user types (CLI options, notebook parameters). Text without a zone is UTC, by rule."""

from __future__ import annotations

from datetime import UTC, datetime

from forensics.errors import BadTimeWindow


def parse_user_time(value) -> datetime | None:
    """ISO 8601 text (``Z``/offset, or no zone meaning UTC) or a datetime, as an aware UTC datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        dt = value
    else:
        text = str(value).strip()
        if text.endswith(("z", "Z")):
            text = text[:-1] + "+00:00"
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            raise BadTimeWindow(f"not a time: {value!r} (use ISO 8601, e.g. 2026-03-14T09:00:00Z)") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)
