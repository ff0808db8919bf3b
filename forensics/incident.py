"""What the incident reconstruction report shows, as functions over a case (the notebook only calls these)."""

from __future__ import annotations

import polars as pl

from forensics.case import Case
from forensics.timewindow import parse_user_time

WINDOW_COLUMNS = [
    "time",
    "source",
    "category",
    "action",
    "actor",
    "credential_id",
    "src_ip",
    "user_agent",
    "target",
    "service",
    "outcome",
    "outcome_reason",
    "request_id",
    "trace_id",
    "artifact_digest",
    "evidence_sha256",
    "evidence_line",
    "evidence_record",
]


def evidence_table(case: Case) -> pl.DataFrame:
    """Every evidence file with its sha256 and read = loaded + rejected."""
    ev = case.evidence()
    return ev.select(
        "path",
        "sha256",
        bytes=ev["size_bytes"],
        format=ev["format"],
        loader=ev["loader"],
        read=ev["records_read"],
        loaded=ev["records_loaded"],
        rejected=ev["records_rejected"],
        duplicate=ev["records_duplicate"],
        blank=ev["blank_lines"],
        reconciled=ev["reconciled"],
        # where it came from: the archive holding it, the field mapping that read it (both hashed)
        parent=ev["parent_sha256"],
        mapping=ev["mapping_path"],
        mapping_sha256=ev["mapping_sha256"],
    )


def reconciliation_ok(case: Case) -> bool:
    """Every file reconciles, and no input entry was left unread (``unread_entries``)."""
    ok = bool(case.evidence().get_column("reconciled").all())  # True with no evidence
    return ok and unread_entries(case).height == 0


def unread_entries(case: Case) -> pl.DataFrame:
    """Input entries the case does not hold as evidence (``skipped_entries``, and files of an ingest cut
    short that a read-only open hides), each with its reason."""
    from forensics.ingest.recovery import unread_entries as ledger_unread

    return ledger_unread(case.con, case.interrupted)


def rejects_summary(case: Case) -> pl.DataFrame:
    """Rejected records per file and reason, with one example locator."""
    return case.sql(
        """SELECT e.path, r.reason, count(*) AS records,
                  min(coalesce(r.line, r.record_index)) AS first_line_or_record
           FROM rejects r JOIN evidence e ON e.sha256 = r.evidence_sha256
           GROUP BY ALL ORDER BY records DESC, e.path, r.reason"""
    )


def window_events(
    case: Case, start=None, end=None, actors=None, services=None, limit: int | None = None
) -> pl.DataFrame:
    df = case.timeline(start=start, end=end, actors=actors or None, services=services or None, limit=limit)
    return df.select([c for c in WINDOW_COLUMNS if c in df.columns])


def outcomes_summary(case: Case, start=None, end=None) -> pl.DataFrame:
    """Events per source and outcome in the window, timeouts in their own column."""
    return case.sql(
        """SELECT source,
                  count(*) AS events,
                  count(*) FILTER (WHERE outcome = 'success') AS success,
                  count(*) FILTER (WHERE outcome = 'failure') AS failure,
                  count(*) FILTER (WHERE outcome = 'timeout') AS timeout,
                  count(*) FILTER (WHERE outcome = 'unknown') AS unknown
           FROM events
           WHERE ($start IS NULL OR time >= $start) AND ($end IS NULL OR time < $end)
           GROUP BY source ORDER BY timeout DESC, failure DESC, source""",
        {"start": parse_user_time(start), "end": parse_user_time(end)},
    )


def timeouts(case: Case, start=None, end=None, limit: int = 200) -> pl.DataFrame:
    """The timed-out events themselves: neither success nor failure, so each needs a look."""
    return case.sql(
        """SELECT time, source, service, action, actor, target, outcome_reason, request_id, trace_id
           FROM events WHERE outcome = 'timeout'
             AND ($start IS NULL OR time >= $start) AND ($end IS NULL OR time < $end)
           ORDER BY time LIMIT $limit""",
        {"start": parse_user_time(start), "end": parse_user_time(end), "limit": limit},
    )


def window_end(case: Case, end=None):
    """The end of the report window: the parameter if given, else the last event in the case."""
    return parse_user_time(end) or case.time_range()[1]
