"""The checklist as Markdown, JSON and CSV.

Markdown leads with the order of work (contain, persistence, rotate, clean-up), each step with
what it does, what it breaks and how to check it, its command in a fenced block; then one
checkbox per credential, highest rank first, with the reasons for its rank and the events that
prove its state. Values from evidence in running text are escaped (``display.md_text``); inside code
spans and fenced blocks nothing is backslash-escaped (CommonMark shows code literally): they are
cleaned of control characters and redacted, and a code span's fence is longer than any run of
backticks inside it. CSV cells are made safe for spreadsheets (``safe.csv_cell``); JSON for people
has C1 and bidi characters escaped (``safe.json_text``). Secrets appear only redacted.
"""

from __future__ import annotations

import csv
import html
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from forensics.checklist.actions import plan
from forensics.checklist.commands import steps
from forensics.display import clean, md_text
from forensics.redact import redact_value
from forensics.safe import csv_cell, json_text

PHASE_TITLES = {
    "contain": "Contain: stop the live attacker paths",
    "persistence": "Persistence: undo what the attacker created or changed",
    "rotate": "Rotate: what the attacker read or what leaked",
    "cleanup": "Clean up: delete what was only deactivated, once the evidence is kept",
}


def code(value, limit: int | None = 200) -> str:
    """A Markdown code span that shows ``value`` literally: no backslash escapes inside, a fence
    longer than any backtick run in it, padded when it starts or ends with a backtick."""
    text = clean(value, limit) or " "
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~])")


def prose(value, limit: int | None = None) -> str:
    """Running text for Markdown: ``clean`` (redacted, no controls), ``<``/``>``/``&`` as entities and
    Markdown's specials backslash-escaped; quotes stay quotes (an entity's ``#`` would be escaped
    into visible text)."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(clean(value, limit), quote=False))


def _iso(v):
    return v.astimezone(UTC).isoformat() if isinstance(v, datetime) else v


def export_rows(df: pl.DataFrame) -> list[dict]:
    """The rows as plain JSON-ready dicts (times as ISO 8601 UTC), with their revoke steps and
    commands, every string redacted (``forensics.redact``)."""
    out = []
    for row in df.to_dicts():
        rec = {k: _iso(v) for k, v in row.items()}
        st = steps(row)
        rec["revoke_commands"] = [s.command for s in st]
        rec["revoke_steps"] = [s.as_dict() for s in st]
        out.append(redact_value(rec))
    return out


def _acts_rows(acts: pl.DataFrame | None) -> list[dict]:
    if acts is None:
        return []
    return [redact_value({k: _iso(v) for k, v in a.items()}) for a in acts.to_dicts()]


def to_json(df: pl.DataFrame, scope, acts: pl.DataFrame | None = None) -> str:
    """The checklist as JSON for people: redacted, with C1 and bidi characters escaped."""
    empty = acts if acts is not None else pl.DataFrame()
    return json_text(
        json.dumps(
            {
                "scope": scope.describe(),
                "order_of_work": redact_value(plan(df, empty)),
                "credentials": export_rows(df),
                "persistence_and_exposure": _acts_rows(acts),
            },
            indent=2,
            ensure_ascii=False,
        )
    )


def _cell(v):
    if isinstance(v, list):
        v = "; ".join(str(x) if not isinstance(x, dict) else x.get("command", str(x)) for x in v)
    return csv_cell("" if v is None else v)


def to_csv(df: pl.DataFrame, path: Path) -> Path:
    """The checklist as CSV: redacted, every cell safe to open in a spreadsheet (``safe.csv_cell``)."""
    rows = export_rows(df)
    cols = list(df.columns) + ["revoke_commands"]
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(cols)
        for r in rows:
            w.writerow([_cell(r[c]) for c in cols])
    return path


def plan_to_csv(work: list[dict], path: Path) -> Path:
    """The order of work as CSV, one row per step, safe cells."""
    cols = [
        "order",
        "phase",
        "subject",
        "command",
        "does",
        "breaks",
        "verify",
        "doc",
        "why",
        "rank",
        "also_for",
    ]
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(cols)
        for s in redact_value(work):
            w.writerow([_cell(s.get(c)) for c in cols])
    return path


def _md_list(values, limit: int = 8) -> str:
    values = list(values or [])
    shown = ", ".join(md_text(v, 120) for v in values[:limit])
    return (
        shown + (f" (+{len(values) - limit} more)" if len(values) > limit else "") if values else "none seen"
    )


def _md_time(t) -> str:
    return (
        md_text(t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")) if isinstance(t, datetime) else "unknown"
    )


def _fenced(commands: list[str], indent: str) -> list[str]:
    body = [clean(c, None) for c in commands]
    fence = "```" + "`" * max((len(m) for c in body for m in re.findall(r"`{3,}", c)), default=0)
    return [f"{indent}{fence}sh"] + [f"{indent}{c}" for c in body] + [f"{indent}{fence}", ""]


def _work_md(work: list[dict]) -> list[str]:
    lines = ["## Order of work", ""]
    if not work:
        return lines + ["Nothing to do: every credential in scope is proven revoked.", ""]
    phase = None
    for s in work:
        if s["phase"] != phase:
            phase = s["phase"]
            lines += [f"### {md_text(PHASE_TITLES[phase], None)}", ""]
        lines.append(
            f"- [ ] **{s['order']}.** {md_text(s['subject'], 200)}"
            + (f" (rank {s['rank']})" if s["rank"] else "")
        )
        lines.append(f"  - does: {prose(s['does'])}")
        lines.append(f"  - breaks: {prose(s['breaks'])}")
        lines.append(f"  - check: {code(s['verify'], None)}")
        if s.get("also_for"):
            lines.append(f"  - also covers: {_md_list(s['also_for'], 12)}")
        lines.append(f"  - follows: {prose(s['doc'])}")
        if s.get("why"):
            lines.append(f"  - why: {prose(s['why'], 600)}")
        lines += [""] + _fenced([s["command"]], "  ")
    return lines


def _credential_md(row: dict) -> list[str]:
    box = "x" if row["status"] == "revoked" else " "
    lines = [
        f"- [{box}] **{row['risk_rank']}.** {code(row['kind'], 60)} {code(row['credential_id'], 120)} of "
        f"{md_text(row['principal'] or 'unknown principal', 160)}: **{md_text(row.get('state') or row['status'])}** "
        f"(risk {row['risk_score']})"
    ]
    sub = [
        f"why this rank: {_md_list(row.get('rank_reasons'), 12)}",
        f"state: {md_text(row.get('state_reason') or row['status'], None)}; events: {_md_list(row.get('state_events'), 6)}",
        f"lifetime: {md_text(row['lifetime'])}"
        + (f", expires {_md_time(row['expires_at'])}" if row["expires_at"] else "")
        + (f", issued {_md_time(row['issued_at'])}" if row["issued_at"] else "")
        + (f" ({md_text(row.get('issued_at_source'), 80)})" if row.get("issued_at_source") else "")
        + (f" by {md_text(row['issued_by'], 120)}" if row["issued_by"] else ""),
        f"in scope because: {_md_list(row['scope_reasons'])}",
        f"used {row['uses']} times ({row['successful_uses']} successful), first {_md_time(row['first_use'])}, "
        f"last {_md_time(row['last_use'])}, from {_md_list(row['src_ips'])}",
        f"privileges seen: {_md_list(row['privileges_seen'])}",
        f"failed: denied {_md_list(row['denied_actions'])}; not found {_md_list(row.get('not_found_actions'))}; "
        f"throttled {_md_list(row.get('throttled_actions'))}; error {_md_list(row.get('error_actions'))}",
        f"blast radius: services {_md_list(row['services'])}; {row['distinct_targets']} distinct targets "
        f"({_md_list(row['targets'], 5)}); artifacts {_md_list(row['artifacts'])}; deployed {_md_list(row.get('deployed'))}",
    ]
    if row["exposures"]:
        sub.append(
            f"exposed {row['exposures']} times as {_md_list(row['exposed_as'])} in {_md_list(row['exposed_in'], 4)}"
        )
    if row["status"] == "revoked":
        sub.append(
            f"revoked {_md_time(row['revoked_at'])} by {md_text(row['revoked_how'], 160)} "
            f"(event {md_text(row['revocation_event_id'], 80)})"
        )
    else:
        sub.append(
            "revocation: " + md_text(row["revocation_note"] or "no revocation event in the evidence", None)
        )
    if row["uses_after_revocation"]:
        sub.append(
            f"**used {row['uses_after_revocation']} times after revocation "
            f"({row['successful_uses_after_revocation']} successful)**"
        )
    if row["uses_after_expiry"]:
        sub.append(
            f"**used {row['uses_after_expiry']} times after expiry ({row['successful_uses_after_expiry']} successful)**"
        )
    if row["instance_role_uses_outside_aws"]:
        sub.append(
            f"**instance-role session used {row['instance_role_uses_outside_aws']} times from outside AWS "
            f"({_md_list(row['src_ips'])})**"
        )
    return (
        lines
        + [f"  - {s}" for s in sub]
        + ["  - revoke:", ""]
        + _fenced([s.command for s in steps(row)], "    ")
    )


def _acts_md(acts: pl.DataFrame | None) -> list[str]:
    if acts is None or acts.height == 0:
        return []
    lines = ["## Persistence and exposure", ""]
    for a in acts.to_dicts():
        lines.append(
            f"- [ ] {md_text(a['phase'])}: {code(a['item'], 40)} {md_text(a['what'], 300)} by {md_text(a['actor'], 160)} "
            f"with {code(a['credential_id'], 80)}, first {_md_time(a['first_time'])}, events {_md_list(a['events'], 4)}"
            + (f"; also read by {_md_list(a['also_read_by'])}" if a["also_read_by"] else "")
        )
    return lines + [""]


def to_markdown(df: pl.DataFrame, scope, acts: pl.DataFrame | None = None) -> str:
    """The checklist as Markdown: the order of work first, then one checkbox per credential, highest
    rank first. A credential's box is ticked only when its revocation event is in the case."""
    lines = [
        "# Credential revocation checklist",
        "",
        f"Scope: {md_text(scope.describe(), None)}",
        "",
        "Generated by forensics; when: see the run's statement (docs/attestation.md). "
        "A box is ticked only when the revocation event is in the evidence; re-run after acting.",
        "",
    ]
    if df.height == 0 and (acts is None or acts.height == 0):
        lines.append("No credential is in scope.")
        return "\n".join(lines) + "\n"
    lines += _work_md(plan(df, acts if acts is not None else pl.DataFrame()))
    lines += _acts_md(acts)
    lines += ["## Credentials, highest rank first", ""]
    for row in df.to_dicts():
        lines += _credential_md(row)
    return "\n".join(lines) + "\n"
