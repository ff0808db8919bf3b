"""Answer first: what a report's top screen says, computed from the case's findings (docs/reports.md).

``answer(case)`` returns an ``Answer``: what happened, when, how bad, what is still open, the key
entities (addresses, credentials, images, requests, hosts), the findings strongest first and the attack
chain as key moments. ``evidence_of`` gives each finding's evidence rows (the report's anchors point
at them), and ``focus_rows`` cuts a long event table to the rows tied to findings and a window
around them, saying what it left out. ``scope_from_findings`` is the scope a report takes when the
responder gives none. Notebooks only call these; rendering is in ``forensics.nb``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import polars as pl

from forensics.timewindow import parse_user_time

#: Entity kinds shown on the top screen, in this order, with their labels.
KEY_KINDS = {
    "ip": "Addresses",
    "credential": "Credentials",
    "artifact": "Images",
    "request": "Requests",
    "host": "Hosts",
    "actor": "Identities",
}
SEVERITY_WORDS = ("critical", "high", "medium", "low", "info")

#: The findings each topical report leads with.
FOCUS = {
    "provenance": pl.col("detector").is_in(["image_without_provenance"])
    | pl.col("rule_id").str.starts_with("provenance_"),
    "credentials": pl.col("entities").list.eval(pl.element().struct.field("kind") == "credential").list.any(),
    "cardinality": pl.col("detector").is_in(["cardinality_explosion", "coverage_gap"]),
}


def anchor(finding_id: str) -> str:
    """The HTML id of a finding's evidence section (``finding-`` + its id; ids are hex, safe)."""
    return "finding-" + "".join(ch for ch in str(finding_id) if ch.isalnum() or ch == "-")


def fmt_time(t: object) -> str:
    """A time as the reports write it: ``2026-03-14 09:52:10Z`` (UTC, seconds); ``-`` for none."""
    dt = parse_user_time(t) if isinstance(t, datetime | str) else None
    return dt.strftime("%Y-%m-%d %H:%M:%SZ") if dt is not None else "-"


def tmin(s: pl.Series) -> datetime | None:
    """The earliest time of a series (None when empty), typed for the callers."""
    v = s.min()
    return v if isinstance(v, datetime) else None


def tmax(s: pl.Series) -> datetime | None:
    v = s.max()
    return v if isinstance(v, datetime) else None


@dataclass
class Answer:
    """The top screen of a report. Every list is strongest first."""

    what: str
    when: str
    how_bad: list[str]
    still_open: list[str]
    key_entities: dict[str, list[str]]
    findings: pl.DataFrame
    chain: pl.DataFrame
    start: datetime | None = None
    end: datetime | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def has_findings(self) -> bool:
        return self.findings.height > 0


def _findings(case, start=None, end=None) -> pl.DataFrame:
    """Findings (not false positives), strongest first, within [start, end) when given (findings
    without a time are kept: they still need a look)."""
    from forensics.findings.report import NoFindings

    try:
        df = case.findings()
    except NoFindings:
        return pl.DataFrame()
    t0, t1 = parse_user_time(start), parse_user_time(end)
    keep = pl.col("status") != "false_positive"
    if t0 is not None:
        keep &= pl.col("time").is_null() | (pl.col("end").fill_null(pl.col("time")) >= t0)
    if t1 is not None:
        keep &= pl.col("time").is_null() | (pl.col("time") < t1)
    return df.filter(keep).with_columns(
        anchor=pl.col("finding_id").map_elements(anchor, return_dtype=pl.String)
    )


def key_entities(findings: pl.DataFrame, per_kind: int = 5) -> dict[str, list[str]]:
    """The entities the strongest findings name, per kind: ranked by the strongest finding naming
    them, then by how many findings do, then by first time. Only findings of medium or above count."""
    if findings.is_empty():
        return {}
    ent = (
        findings.filter(pl.col("severity_rank") >= 2)
        .select("severity_rank", "time", "entities")
        .explode("entities")
        .drop_nulls("entities")
        .unnest("entities")
        .filter(pl.col("kind").is_in(list(KEY_KINDS)))
        .group_by("kind", "id")
        .agg(rank=pl.col("severity_rank").max(), n=pl.len(), first=pl.col("time").min())
        .sort(["rank", "n", "first", "id"], descending=[True, True, False, False], nulls_last=True)
    )
    out: dict[str, list[str]] = {}
    for kind in KEY_KINDS:
        ids = ent.filter(pl.col("kind") == kind).get_column("id").to_list()
        if ids:
            out[kind] = ids[:per_kind]
    return out


def _chain(case, findings: pl.DataFrame) -> pl.DataFrame:
    try:
        ch = case.chain()
    except Exception:  # a case made before findings existed: no chain, the summary says so
        return pl.DataFrame()
    if ch.is_empty() or findings.is_empty():
        return ch.head(0)
    return ch.filter(pl.col("finding_id").is_in(findings.get_column("finding_id").implode())).with_columns(
        anchor=pl.col("finding_id").map_elements(anchor, return_dtype=pl.String)
    )


def _unrevoked(case, credentials: list[str]) -> list[str]:
    """Credentials among ``credentials`` the case shows no revocation for, with their last use."""
    if not credentials:
        return []
    try:
        rows = case.sql(
            """SELECT credential_id, kind, last_seen FROM credentials
               WHERE list_contains($ids, credential_id) AND revoked_at IS NULL
               ORDER BY last_seen DESC NULLS LAST, credential_id""",
            {"ids": credentials},
        )
    except Exception:  # no credentials table in this case
        return []
    return [
        f"{r['credential_id']} ({r['kind']}) is not proven revoked; last used {fmt_time(r['last_seen'])}"
        for r in rows.iter_rows(named=True)
    ]


def answer(case, start=None, end=None, only: pl.Expr | None = None, topic: str = "") -> Answer:
    """The top screen for ``case`` (optionally one window of it). ``only`` keeps the findings a report
    is about (e.g. ``FOCUS["provenance"]``), ``topic`` names them in the text."""
    f = _findings(case, start, end)
    if only is not None and not f.is_empty():
        f = f.filter(only)
    if f.is_empty():
        return Answer(
            what=f"The kit found nothing to report: no {topic + ' ' if topic else ''}detector or invariant fired"
            + (" in this window." if start or end else " on this case."),
            when="-",
            how_bad=["No findings."],
            still_open=[],
            key_entities={},
            findings=f,
            chain=pl.DataFrame(),
            start=parse_user_time(start),
            end=parse_user_time(end),
            notes=["Findings come from the detectors in queries/findings and the invariants; "
                   "`forensics findings --case CASE --refresh` recomputes them."],
        )  # fmt: skip
    ch = _chain(case, f)
    # the chain's findings name the incident's entities; without a chain, every finding does
    core = f.filter(pl.col("finding_id").is_in(ch.get_column("finding_id").implode())) if ch.height else f
    ents = key_entities(core)
    counts = {s: f.filter(pl.col("severity") == s).height for s in SEVERITY_WORDS}
    sev = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    basis = ch if ch.height else f
    t0, t1 = tmin(basis.get_column("time")), tmax(basis.get_column("time"))
    parts = []
    for kind, label in (("ip", "from"), ("credential", "using"), ("artifact", "deploying image"),
                        ("request", "affecting request")):  # fmt: skip
        ids = ents.get(kind, [])
        if ids:
            parts.append(f"{label} {', '.join(ids[:3])}")
    strongest = f.row(0, named=True)
    what = f"{f.height} findings ({sev})"
    if ch.height:
        what += f"; {ch.height} of them join into one attack chain"
    what += f". Strongest: {strongest['title']}."
    if parts:
        what += " Activity " + "; ".join(parts) + "."
    how_bad = [
        f"{r['severity']}: {r['title']}" for r in f.filter(pl.col("severity_rank") >= 3).iter_rows(named=True)
    ]
    how_bad = how_bad[:6] or [f"{r['severity']}: {r['title']}" for r in f.head(3).iter_rows(named=True)]
    open_rows = f.filter((pl.col("status") == "open") & (pl.col("severity_rank") >= 3))
    still_open = _unrevoked(case, _all_ids(core, "credential"))
    still_open.append(
        f"{open_rows.height} findings of high or critical severity are not yet acknowledged "
        "(`forensics annotate F-... --status acknowledged`)."
    )
    sigma = sigma_note(case)
    return Answer(
        notes=[sigma] if sigma else [],
        what=what,
        when=f"{fmt_time(t0)} to {fmt_time(t1)}"
        + (f" ({_duration(t1 - t0)})" if t0 is not None and t1 is not None else ""),
        how_bad=how_bad,
        still_open=still_open,
        key_entities=ents,
        findings=f,
        chain=ch,
        start=parse_user_time(start),
        end=parse_user_time(end),
    )


def _all_ids(f: pl.DataFrame, kind: str) -> list[str]:
    """Every id of one entity kind named by findings of medium or above."""
    return (
        f.filter(pl.col("severity_rank") >= 2)
        .select("entities")
        .explode("entities")
        .drop_nulls()
        .unnest("entities")
        .filter(pl.col("kind") == kind)
        .get_column("id")
        .unique(maintain_order=True)
        .to_list()
    )


def _duration(d: timedelta) -> str:
    s = int(d.total_seconds())
    if s < 3600:
        return f"{s // 60} min"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60} min"
    return f"{s // 86400} d {s % 86400 // 3600} h"


# ---- evidence behind each finding -------------------------------------------------------------

EVIDENCE_COLUMNS = [
    "time",
    "source",
    "action",
    "actor",
    "credential_id",
    "src_ip",
    "target",
    "service",
    "outcome",
]


def evidence_of(case, finding: dict, limit: int = 10) -> tuple[pl.DataFrame, int]:
    """The rows behind one finding (events, spans, deploys), oldest first, at most ``limit``; and how
    many references it has in all."""
    from forensics.redact import redact_frame

    refs = finding.get("evidence") or []
    total = len(refs)
    events = [r["id"] for r in refs if r["kind"] == "event"]
    spans = [r["id"] for r in refs if r["kind"] == "span"]
    deploys = [r["id"] for r in refs if r["kind"] == "deploy"]
    parts = []
    if events:
        parts.append(
            case.sql(
                f"""SELECT {", ".join(EVIDENCE_COLUMNS)} FROM events WHERE list_contains($ids, event_id)
                    ORDER BY time LIMIT $n""",
                {"ids": events, "n": limit},
            )
        )
    if spans:
        parts.append(
            case.sql(
                """SELECT start AS time, source, name AS action, NULL::VARCHAR AS actor,
                          NULL::VARCHAR AS credential_id, NULL::VARCHAR AS src_ip, request_key AS target,
                          service, outcome
                   FROM spans WHERE list_contains($ids, trace_id || ':' || span_id) ORDER BY start LIMIT $n""",
                {"ids": spans, "n": limit},
            )
        )
    if deploys:
        parts.append(
            case.sql(
                """SELECT time, source, action || ' ' || coalesce(version, '') AS action, actor,
                          NULL::VARCHAR AS credential_id, NULL::VARCHAR AS src_ip, artifact_digest AS target,
                          service, status AS outcome
                   FROM deploys WHERE list_contains($ids, deploy_id) ORDER BY time LIMIT $n""",
                {"ids": deploys, "n": limit},
            )
        )
    if not parts:
        return pl.DataFrame(
            {"kind": [r["kind"] for r in refs[:limit]], "id": [r["id"] for r in refs[:limit]]}
        ), total
    df = pl.concat(
        [p.cast({c: pl.String for c in p.columns if c != "time"}) for p in parts], how="vertical_relaxed"
    )
    return redact_frame(df.sort("time", nulls_last=True).head(limit)), total


# ---- long tables: the rows that matter ---------------------------------------------------------


@dataclass
class Focus:
    rows: pl.DataFrame
    total: int
    tied: int
    note: str


def focus_rows(
    events: pl.DataFrame,
    findings: pl.DataFrame,
    around: int = 3,
    command: str = "forensics timeline --case CASE",
) -> Focus:
    """Of a time-ordered event table (with ``event_id``), the rows tied to findings and ``around`` rows
    either side of each; the note says how many were left out and how to get them all."""
    total = events.height
    if total == 0 or "event_id" not in events.columns:
        return Focus(events, total, 0, "")
    ids = (
        findings.select("evidence").explode("evidence").drop_nulls().unnest("evidence")
        .filter(pl.col("kind") == "event").get_column("id").unique()
        if findings.height else pl.Series([], dtype=pl.String)
    )  # fmt: skip
    idx = (
        events.with_row_index("_i").filter(pl.col("event_id").is_in(ids.implode())).get_column("_i").to_list()
    )
    if not idx:
        keep = set(range(min(total, 2 * around + 1)))
    else:
        keep = {j for i in idx for j in range(max(0, i - around), min(total, i + around + 1))}
    rows = events.with_row_index("_i").filter(pl.col("_i").is_in(sorted(keep))).drop("_i")
    tied = len(idx)
    left = total - rows.height
    note = ""
    if left:
        note = (
            f"Showing {rows.height} of {total} events: the {tied} tied to findings and {around} either side "
            f"of each. {left} omitted; all of them: `{command}`."
        )
    return Focus(rows.with_columns(tied=pl.col("event_id").is_in(ids.implode())), total, tied, note)


# ---- scope --------------------------------------------------------------------------------------


@dataclass
class Scope:
    principals: list[str]
    credentials: list[str]
    runners: list[str]
    ips: list[str]
    start: datetime | None
    end: datetime | None
    how: str


def scope_from_findings(case, pad_minutes: int = 30) -> Scope:
    """What the attack chain names (identities, credentials, hosts, addresses) and its time span padded by
    ``pad_minutes`` and clipped to the evidence: the scope a report uses when none is given."""
    f = _findings(case)
    ch = _chain(case, f)
    if ch.is_empty():
        return Scope([], [], [], [], None, None, "no scope given and no attack chain in the findings: "
                     "the whole case, every credential")  # fmt: skip
    in_chain = f.filter(pl.col("finding_id").is_in(ch.get_column("finding_id").implode()))

    def ids(
        kind: str,
    ) -> list[str]:  # low findings (e.g. an unverified rollback by the pipeline) do not widen it
        return _all_ids(in_chain, kind)

    lo, hi = case.time_range()
    c0, c1 = tmin(ch.get_column("time")), tmax(ch.get_column("time"))
    assert c0 is not None and c1 is not None  # a chain's findings have times (chain.py keeps only those)
    t0 = c0 - timedelta(minutes=pad_minutes)
    t1 = c1 + timedelta(minutes=pad_minutes)
    t0 = max(t0, lo) if lo is not None else t0
    t1 = min(t1, hi + timedelta(microseconds=1)) if hi is not None else t1
    s = Scope(ids("actor"), ids("credential"), ids("host"), ids("ip"), t0, t1, "")
    s.how = (
        f"no scope given: scoped from the attack chain ({ch.height} findings, "
        f"{fmt_time(c0)} to {fmt_time(c1)}): "
        f"{len(s.principals)} identities, {len(s.credentials)} credentials, {len(s.runners)} hosts, "
        f"{len(s.ips)} addresses named by its findings of medium severity or above; window the chain ± {pad_minutes} min within the evidence "
        f"({fmt_time(t0)} to {fmt_time(t1)}). Pass parameters to choose another scope."
    )
    return s


# ---- the evidence ledger ------------------------------------------------------------------------


def ledger_by_loader(case) -> pl.DataFrame:
    """The evidence ledger per loader: files, bytes, records read = loaded + rejected (+ duplicate),
    and whether every file reconciles. The per-file table is ``forensics.incident.evidence_table``."""
    return case.sql(
        """SELECT coalesce(loader, '(not placed)') AS loader, count(*) AS files, sum(size_bytes) AS bytes,
                  sum(records_read) AS read, sum(records_loaded) AS loaded, sum(records_rejected) AS rejected,
                  sum(records_duplicate) AS duplicate, bool_and(coalesce(records_read = records_loaded + records_rejected, false)) AS all_reconciled
           FROM evidence GROUP BY ALL ORDER BY read DESC NULLS LAST, loader"""
    )


def burn_service(case) -> str | None:
    """The service the strongest burn-rate finding names (the one whose SLO the report charts)."""
    f = _findings(case)
    if f.is_empty():
        return None
    b = f.filter(pl.col("detector") == "burn_rate_alert")
    ids = _all_ids(b.with_columns(severity_rank=pl.lit(4)), "service") if b.height else []
    return ids[0] if ids else None


def timeline_command(case_path: str, start=None, end=None, actors=None, services=None) -> str:
    """The CLI command that prints every event a report's table cut."""
    import shlex

    parts = ["forensics", "timeline", "--case", str(case_path)]
    t0, t1 = parse_user_time(start), parse_user_time(end)
    if t0 is not None:
        parts += ["--from", t0.strftime("%Y-%m-%dT%H:%M:%SZ")]
    if t1 is not None:
        parts += ["--to", t1.strftime("%Y-%m-%dT%H:%M:%S.%fZ")]
    for a in actors or []:
        parts += ["--actor", a]
    for s in services or []:
        parts += ["--service", s]
    return " ".join(shlex.quote(p) for p in parts)


def sigma_note(case) -> str | None:
    """One line on the last Sigma run (``sigma_coverage``): how many rules, and their checks per status (a
    rule is checked once per source it applies to), so a rule that cannot work on this case is said, never a
    silent zero. None when no Sigma rules were run."""
    try:
        df = case.sql(
            """SELECT status, count(*) AS checks, (SELECT count(DISTINCT rule_id) FROM sigma_coverage) AS rules
               FROM sigma_coverage GROUP BY status ORDER BY checks DESC, status"""
        )
    except Exception:  # a case made before Sigma existed
        return None
    if df.is_empty():
        return None
    parts = ", ".join(f"{r['checks']} {r['status']}" for r in df.iter_rows(named=True))
    return (
        f"Sigma: {df['rules'][0]} rules run on this case; per rule and source: {parts}. Matches are findings of "
        "detector sigma; rules that cannot match or have no loader are listed by `forensics sigma` (docs/sigma.md)."
    )
