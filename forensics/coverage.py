"""What the evidence covers and what it cannot see (docs/coverage.md).

    from forensics import coverage
    cov = coverage.coverage(case)          # Coverage(sources=frame, gaps=frame)
    cov.sources                            # per source and scope: time covered, cadence, gaps
    cov.gaps                               # one row per gap, with "no evidence for X between T1 and T2"
    coverage.caveats(case, t0, t1)         # the gap statements a conclusion about [t0, t1) rests on

Gaps (``coverage_gaps``, rebuilt after every ingest; each is also a ``coverage_gap`` finding): log
files a CloudTrail digest lists that the evidence lacks, digest chain breaks, silence longer than the
threshold learned from a source's own rate, spans whose parents were not collected, and files of the
ledger no loader read. The SQL is ``queries/coverage/gaps.sql`` and ``queries/coverage/sources.sql``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import polars as pl

from forensics.timewindow import parse_user_time


@dataclass(frozen=True)
class Coverage:
    sources: pl.DataFrame
    gaps: pl.DataFrame

    def to_dict(self) -> dict:
        return {"sources": self.sources.to_dicts(), "gaps": self.gaps.to_dicts()}


def gaps(case, kind: str | None = None) -> pl.DataFrame:
    """The case's coverage gaps (``coverage_gaps``), earliest first."""
    return case.sql(
        """SELECT gap_id, kind, source, scope, start, "end", CAST("end" - start AS VARCHAR) AS duration, severity, statement,
                  CAST(detail AS VARCHAR) AS detail, evidence
           FROM coverage_gaps WHERE $kind IS NULL OR kind = $kind
           ORDER BY start NULLS LAST, kind, source, scope""",
        {"kind": kind},
    )


def sources(case) -> pl.DataFrame:
    return case.query("coverage/sources")


def coverage(case) -> Coverage:
    return Coverage(sources=sources(case), gaps=gaps(case))


def caveats(case, start: str | datetime | None = None, end: str | datetime | None = None) -> list[str]:
    """The gap statements ("no evidence for X between T1 and T2") whose window overlaps [start, end):
    what a conclusion about that window cannot rule out. Gaps with no window (skipped files) are
    included, since nothing says when their contents happened."""
    t0 = parse_user_time(start) if isinstance(start, str) else start
    t1 = parse_user_time(end) if isinstance(end, str) else end
    df = case.sql(
        """SELECT statement FROM coverage_gaps
           WHERE start IS NULL OR (($end IS NULL OR start < $end) AND ($start IS NULL OR coalesce("end", start) > $start))
           ORDER BY start NULLS LAST, kind""",
        {"start": t0, "end": t1},
    )
    return df["statement"].to_list()
