"""Reading findings and entities for the Case methods and the CLI: filters, ordering and output
formats (table, json, csv) with hostile text made safe."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from forensics.errors import ForensicsError
from forensics.findings.entities import Match, entity_links_of, resolve
from forensics.findings.store import SEVERITY_RANK
from forensics.redact import redact_frame, redact_text
from forensics.timewindow import parse_user_time

if TYPE_CHECKING:
    from forensics.case import Case


class BadSeverity(ForensicsError):
    pass


class NoFindings(ForensicsError):
    """A case made before findings existed, opened read-only: nothing has derived them yet."""


def _require_findings(case: Case) -> None:
    case.con.complete()
    have = case.con.execute(
        "SELECT count(*) FROM duckdb_views() WHERE view_name = 'findings_status'"
    ).fetchall()[0][0]
    if not have:
        raise NoFindings(
            f"case {case.path} has no findings yet (made before findings existed); "
            f"derive them with: forensics findings --case {case.path} --refresh"
        )


def findings(case: Case, *, min_severity=None, since=None, detector=None, status=None) -> pl.DataFrame:
    if min_severity is not None and min_severity not in SEVERITY_RANK:
        raise BadSeverity(f"severity must be one of {', '.join(SEVERITY_RANK)}, not {min_severity!r}")
    _require_findings(case)
    return redact_frame(
        case.sql(
            """SELECT finding_id, time, "end", severity, severity_rank, detector, rule_id, title, summary, technique,
                  entities, evidence, matches, attributes, status, starred, tags, comments
           FROM findings_status
           WHERE ($rank IS NULL OR severity_rank >= $rank) AND ($since IS NULL OR time >= $since)
             AND ($detector IS NULL OR detector = $detector) AND ($status IS NULL OR status = $status)
           ORDER BY severity_rank DESC, time, finding_id""",
            {
                "rank": SEVERITY_RANK.get(min_severity) if min_severity else None,
                "since": parse_user_time(since),
                "detector": detector,
                "status": status,
            },
        )
    )


@dataclass
class EntityView:
    """``case.entity(name)``: what matched, every identity linked as the same principal, every
    link touching them (with its reason and evidence), and their events."""

    match: Match
    links: pl.DataFrame
    events: pl.DataFrame

    @property
    def identities(self) -> pl.DataFrame:
        return redact_frame(self.match.identities)

    def __repr__(self) -> str:
        return redact_text(f"EntityView({self.match.describe()}; {self.events.height} events)") or ""


def entity(case: Case, name: str) -> EntityView:
    case.con.complete()
    m = resolve(case.con, [name])
    links = entity_links_of(case.con, m.ids)
    events = case.timeline(entity=name)
    return EntityView(m, redact_frame(links), events)  # (the match keeps the names it queries by)


def write(df: pl.DataFrame, fmt: str, out=None) -> None:
    """Print findings as a table (strongest first, text cleaned for the terminal), JSON Lines or CSV
    (formula prefixes neutralised)."""
    from forensics.display import clean

    out = out or sys.stdout
    if fmt == "json":  # (a redacted secret holds no quote: each line stays a JSON object)
        out.write("".join(redact_text(line) + "\n" for line in df.write_ndjson().splitlines()))
        return
    flat = df.with_columns(
        pl.col("entities")
        .list.eval(pl.element().struct.field("kind") + ":" + pl.element().struct.field("id"))
        .list.join(" "),
        pl.col("evidence")
        .list.eval(pl.element().struct.field("kind") + ":" + pl.element().struct.field("id"))
        .list.join(" "),
        pl.col("tags").list.join(","),
        pl.col("comments").list.join(" | "),
        pl.col("attributes").cast(pl.String),
    )
    flat = redact_frame(flat)  # entity ids are the events' own names: shown as fingerprints too
    if fmt == "csv":
        text = [c for c, t in flat.schema.items() if t == pl.String]
        safe = [
            pl.when(pl.col(c).str.contains(r"^[=+\-@\t\r]"))
            .then("'" + pl.col(c))
            .otherwise(pl.col(c))
            .alias(c)
            for c in text
        ]
        out.write(flat.with_columns(safe).write_csv())
        return
    for r in flat.iter_rows(named=True):
        t = f"{r['time']:%Y-%m-%dT%H:%M:%SZ}" if r["time"] else "-" * 20
        star = "*" if r["starred"] else " "
        out.write(f"{star}{r['severity']:8} {t}  {r['finding_id']}  {clean(r['title'], 100)}"
                  f"{'  [' + r['status'] + ']' if r['status'] != 'open' else ''}\n")  # fmt: skip
        out.write(f"    {clean(r['summary'] or '', 200)}\n")
        ev = r["evidence"].split(" ")
        out.write(
            f"    evidence ({r['matches']}): {clean(' '.join(ev[:5]), 200)}{' …' if len(ev) > 5 else ''}\n"
        )
