"""A blameless postmortem in the SRE book's format, from a case (docs/reports.md, "Postmortem").

``build(case)`` returns a ``Postmortem``: summary (``forensics.answer``), impact in numbers, trigger and
root cause, detection, response and mitigation, timeline of key moments, action items from open
findings, and lessons left for humans. Every number is a ``Number`` that says how it was computed.
It works on any case: audit only, traces only, or both; what the data cannot give is said, not
guessed. ``to_markdown`` and ``to_html`` render it; every value from evidence is escaped.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl

from forensics import answer as ans
from forensics.answer import Answer, fmt_time, tmax, tmin
from forensics.display import clean, html_text

_MD_INLINE = re.compile(r"([\\`*_{}\[\]<>|~])")


def md_text(value, limit: int | None = 300) -> str:
    """Text for a Markdown line or table cell: cleaned and redacted (``display.clean``), HTML-escaped, and
    the characters that make inline markup (emphasis, code, links, tables, HTML) backslash-escaped. Lighter
    than ``display.md_text``, which also escapes ``.`` and ``-``: every line here starts with the kit's own
    prefix, so block markup cannot start inside a value."""
    return _MD_INLINE.sub(r"\\\1", html.escape(clean(value, limit), quote=False))


#: Span attributes that name an end user, first present wins (OpenTelemetry semantic conventions first).
USER_ATTRIBUTES = ("enduser.id", "user.id", "app.user.id", "user_id")
#: Span attributes or columns that name a customer order.
ORDER_ATTRIBUTE = "app.order.id"
BUDGET_DAYS = 30


@dataclass
class Number:
    name: str
    value: str
    how: str


@dataclass
class Postmortem:
    title: str
    answer: Answer
    impact: list[Number]
    trigger: list[str]
    causes: pl.DataFrame
    detection: list[Number]
    response: list[Number]
    timeline: pl.DataFrame
    actions: pl.DataFrame
    lessons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _one(case, sql: str, params: dict | None = None):
    df = case.sql(sql, params or {})
    return df.row(0)[0] if df.height else None


def _has_spans(case) -> bool:
    return bool(_one(case, "SELECT count(*) FROM spans"))


def _since(a: datetime | None, b: datetime | None) -> str:
    """``a - b`` for people, ``-`` when either is missing."""
    return _minutes(a - b) if a is not None and b is not None else "-"


def _minutes(d: timedelta | None) -> str:
    if d is None:
        return "-"
    s = d.total_seconds()
    return f"{s / 60:.1f} min" if abs(s) < 5400 else f"{s / 3600:.1f} h"


# ---- impact -----------------------------------------------------------------------------------


def impact(case, slo: float = 0.999, service: str | None = None) -> list[Number]:
    """Impact in numbers, each with how it was computed. Needs spans; without them, says so."""
    if not _has_spans(case):
        return [Number("requests", "not in the data", "the case holds no spans (traces); request, order and "
                       "error-budget numbers need them")]  # fmt: skip
    lo, hi = case.sql("SELECT min(start) AS lo, max(start) AS hi FROM spans").row(0)
    span = f"over every span in the case ({fmt_time(lo)} to {fmt_time(hi)})"
    out = []
    timeouts = _one(case, "SELECT count(*) FROM spans WHERE kind = 'client' AND outcome = 'timeout'")
    failures = _one(case, "SELECT count(*) FROM spans WHERE kind = 'client' AND outcome = 'failure'")
    out.append(Number("timed-out requests", f"{timeouts:,}", f"client spans with outcome timeout, {span}"))
    out.append(Number("failed requests", f"{failures:,}", f"client spans with outcome failure, {span}"))
    orders = (
        case.sql(
            """SELECT DISTINCT coalesce(request_key, json_extract_string(attributes, $attr)) AS k FROM spans
           WHERE outcome IN ('failure', 'timeout') AND k IS NOT NULL ORDER BY k""",
            {"attr": "$." + '"' + ORDER_ATTRIBUTE + '"'},
        )
        .get_column("k")
        .to_list()
    )
    out.append(Number(
        "affected orders (requests)", f"{len(orders):,}" + (f": {', '.join(orders[:8])}" if orders else ""),
        "distinct request keys (the order id the spans carry) of spans that failed or timed out"))  # fmt: skip
    from forensics import traces

    da = traces.double_applies(case)
    keys = da.get_column("request_key").to_list() if da.height else []
    out.append(Number(
        "double charges (requests applied twice)", f"{da.height:,}" + (f": {', '.join(keys)}" if keys else ""),
        "invariant double_apply: a logical request whose side effect (a charge) was applied more than once "
        "after a client timeout and a retry"))  # fmt: skip
    out.append(_user_minutes(case))
    out.extend(_budget(case, slo, service))
    return out


def _user_minutes(case) -> Number:
    cols = (
        case.sql("SELECT DISTINCT unnest(json_keys(attributes)) AS k FROM spans WHERE attributes IS NOT NULL")
        .get_column("k")
        .to_list()
    )
    user = next((u for u in USER_ATTRIBUTES if u in cols), None)
    who, how = (
        (f"json_extract_string(attributes, '$.\"{user}\"')", f"span attribute {user}")
        if user
        else ("coalesce(request_key, json_extract_string(attributes, '$.\"app.order.id\"'))",
              "no user id on the spans (looked for " + ", ".join(USER_ATTRIBUTES) + "), so the order id stands "
              "in for the user")
    )  # fmt: skip
    n = _one(
        case,
        f"""SELECT count(*) FROM (SELECT DISTINCT {who} AS u, date_trunc('minute', start) FROM spans
            WHERE outcome IN ('failure', 'timeout') AND kind IN ('client', 'server') AND u IS NOT NULL)""",
    )
    return Number(
        "user-minutes", f"{n:,}", f"distinct (user, minute) pairs with a failed or timed-out request; {how}"
    )


def _budget(case, slo: float, service: str | None) -> list[Number]:
    svc = service or ans.burn_service(case)
    row = case.sql(
        """SELECT count(*) AS total, count(*) FILTER (WHERE outcome IN ('failure', 'timeout')) AS bad,
                  epoch(max(start) - min(start)) AS seconds
           FROM spans WHERE kind = 'server' AND ($svc IS NULL OR service = $svc)""",
        {"svc": svc},
    ).row(0, named=True)
    total, bad, seconds = row["total"], row["bad"], row["seconds"] or 0
    if not total or seconds <= 0:
        return [Number("error budget consumed", "not computable", "no server spans over a time span")]
    budget = (1 - slo) * total * (BUDGET_DAYS * 86400 / seconds)
    share = bad / budget if budget else float("inf")
    who = f"service {svc}" if svc else "every service"
    return [Number(
        "error budget consumed", f"{share:.1%} of a {BUDGET_DAYS}-day budget",
        f"{bad} bad (failed or timed-out) of {total} server requests of {who} in {seconds / 3600:.2f} h; "
        f"a {BUDGET_DAYS}-day budget at that traffic is (1 - SLO {slo}) x {total} x ({BUDGET_DAYS} d / "
        f"{seconds / 3600:.2f} h) = {budget:.1f} bad requests; consumed = {bad} / {budget:.1f}"
    )]  # fmt: skip


# ---- detection and response -------------------------------------------------------------------


def _first_impact(case) -> datetime | None:
    if not _has_spans(case):
        return None
    t = _one(case, "SELECT min(start) FROM spans WHERE kind = 'client' AND outcome = 'timeout'")
    return t or _one(case, "SELECT min(start) FROM spans WHERE outcome = 'failure'")


def _alerts(case, slo: float, service: str | None) -> pl.DataFrame:
    if not _has_spans(case):
        return pl.DataFrame()
    from forensics import traces

    return traces.burn_alerts(traces.burn_rate(case, slo, service=service or ans.burn_service(case)))


def detection(case, a: Answer, slo: float = 0.999, service: str | None = None) -> list[Number]:
    out = []
    first_bad = tmin(a.chain.get_column("time")) if a.chain.height else (
        tmin(a.findings.get_column("time")) if a.has_findings else None)  # fmt: skip
    out.append(Number("first bad event", fmt_time(first_bad),
                      "the earliest finding of the attack chain (or the earliest finding without a chain)"))  # fmt: skip
    impact_t = _first_impact(case)
    out.append(
        Number("first user impact", fmt_time(impact_t), "the first client call that timed out (else failed)")
    )
    alerts = _alerts(case, slo, service)
    first_alert = tmin(alerts.get_column("fired")) if alerts.height else None
    for r in alerts.iter_rows(named=True):
        out.append(Number(f"burn-rate alert {r['alert']} ({r['service']})", f"fired {fmt_time(r['fired'])}, "
                          f"cleared {fmt_time(r['cleared'])}",
                          f"SRE workbook multiwindow alert: burn over {r['windows']} above {r['threshold']}x "
                          f"the budget of SLO {slo}"))  # fmt: skip
    if not alerts.height:
        out.append(Number("burn-rate alerts", "none would have fired" if _has_spans(case) else "not in the data",
                          f"SRE workbook multiwindow alerts over the server spans, SLO {slo}"))  # fmt: skip
    if first_alert is not None and impact_t is not None:
        out.append(Number("time to detect (user impact)", _minutes(first_alert - impact_t),
                          "first burn-rate alert minus first user impact"))  # fmt: skip
    if first_alert is not None and first_bad is not None:
        out.append(Number("time to detect (compromise)", _minutes(first_alert - first_bad),
                          "first burn-rate alert minus first bad event"))  # fmt: skip
    return out


def _revocations(case, credentials: list[str]) -> pl.DataFrame:
    try:
        return case.sql(
            """SELECT credential_id, kind, revoked_at, revoked_how FROM credentials
               WHERE list_contains($ids, credential_id) ORDER BY revoked_at NULLS LAST, credential_id""",
            {"ids": credentials},
        )
    except Exception:  # no credentials table
        return pl.DataFrame()


def _chain_credentials(a: Answer) -> list[str]:
    f = (
        a.findings.filter(pl.col("finding_id").is_in(a.chain.get_column("finding_id").implode()))
        if a.chain.height
        else a.findings
    )
    return ans._all_ids(f.with_columns(severity_rank=pl.lit(4)), "credential") if f.height else []


def response(case, a: Answer) -> list[Number]:
    out = []
    first_bad = tmin(a.chain.get_column("time")) if a.chain.height else None
    impact_t = _first_impact(case)
    since = impact_t or first_bad
    rb = case.sql(
        """SELECT time, service, version, actor, via FROM deploys
           WHERE action = 'rollback' AND ($t IS NULL OR time >= $t) ORDER BY time""",
        {"t": since},
    )
    for r in rb.iter_rows(named=True):
        out.append(Number(f"rollback of {r['service']}", f"{fmt_time(r['time'])} to {r['version']} by {r['actor']} "
                          f"via {r['via']}", "deploys with action rollback after the first impact"))  # fmt: skip
    if rb.height and impact_t is not None:
        out.append(Number("time to mitigate (user impact)", _since(tmin(rb.get_column("time")), impact_t),
                          "first rollback minus first user impact"))  # fmt: skip
    rev = _revocations(case, _chain_credentials(a))
    done = rev.filter(pl.col("revoked_at").is_not_null()) if rev.height else rev
    for r in done.iter_rows(named=True):
        out.append(Number(f"revoked {r['credential_id']}", f"{fmt_time(r['revoked_at'])}",
                          f"revocation event in the evidence: {r['revoked_how']}"))  # fmt: skip
    if done.height and first_bad is not None:
        out.append(Number("time to revoke", _since(tmax(done.get_column("revoked_at")), first_bad),
                          "last revocation of a chain credential minus the first bad event"))  # fmt: skip
    left = rev.filter(pl.col("revoked_at").is_null()) if rev.height else rev
    out.append(Number("still not revoked", ", ".join(left.get_column("credential_id").to_list()) if left.height
                      else "none", "credentials the attack chain names with no revocation event in the evidence"))  # fmt: skip
    if not out:
        out.append(Number("response", "not in the data", "no rollback, deploy or revocation in the case"))
    return out


# ---- timeline, causes, actions ----------------------------------------------------------------


def timeline(case, a: Answer, slo: float = 0.999, service: str | None = None) -> pl.DataFrame:
    """Key moments: the chain's findings, rollbacks, revocations and alerts, in time order."""
    rows: list[dict] = []
    src = a.chain if a.chain.height else a.findings.head(15)
    for r in src.iter_rows(named=True):
        rows.append({"time": r["time"], "what": r["title"], "evidence": r["finding_id"]})
    for r in case.sql(
        "SELECT time, service, version, deploy_id FROM deploys WHERE action = 'rollback'"
    ).iter_rows(named=True):
        rows.append(
            {
                "time": r["time"],
                "what": f"rollback of {r['service']} to {r['version']}",
                "evidence": f"deploy:{r['deploy_id']}",
            }
        )
    rev = _revocations(case, _chain_credentials(a))
    for r in rev.filter(pl.col("revoked_at").is_not_null()).iter_rows(named=True) if rev.height else []:
        rows.append(
            {
                "time": r["revoked_at"],
                "what": f"revoked {r['credential_id']} ({r['revoked_how']})",
                "evidence": "credentials",
            }
        )
    for r in _alerts(case, slo, service).iter_rows(named=True):
        rows.append(
            {
                "time": r["fired"],
                "what": f"burn-rate {r['alert']} for {r['service']} would fire",
                "evidence": "burn_rate",
            }
        )
    if not rows:
        return pl.DataFrame(
            schema={"time": pl.Datetime("us", "UTC"), "what": pl.String, "evidence": pl.String}
        )
    return pl.DataFrame(rows).sort("time", nulls_last=True)


def causes(a: Answer) -> pl.DataFrame:
    """Candidate causes: the chain's findings in order, each with its evidence count."""
    src = (
        a.findings.filter(pl.col("finding_id").is_in(a.chain.get_column("finding_id").implode()))
        if a.chain.height
        else a.findings
    )
    if src.is_empty():
        return pl.DataFrame()
    return src.sort("time", nulls_last=True).select(
        "time", "severity", cause=pl.col("title"), evidence=pl.col("summary"), records=pl.col("matches"),
        finding=pl.col("finding_id"),
    )  # fmt: skip


def actions(case, a: Answer) -> pl.DataFrame:
    """One action item per open finding of medium or above, and per unrevoked chain credential."""
    rows = []
    rev = _revocations(case, _chain_credentials(a))
    for r in rev.filter(pl.col("revoked_at").is_null()).iter_rows(named=True) if rev.height else []:
        rows.append({"action": f"Revoke {r['credential_id']} ({r['kind']}) and review what it did", "owner": "<owner>",
                     "priority": "P0", "evidence": "credentials"})  # fmt: skip
    for r in a.findings.filter((pl.col("status") == "open") & (pl.col("severity_rank") >= 2)).iter_rows(
        named=True
    ):
        pri = "P0" if r["severity_rank"] >= 4 else "P1" if r["severity_rank"] >= 3 else "P2"
        rows.append(
            {
                "action": f"Resolve: {r['title']}",
                "owner": "<owner>",
                "priority": pri,
                "evidence": r["finding_id"],
            }
        )
    return pl.DataFrame(
        rows, schema={"action": pl.String, "owner": pl.String, "priority": pl.String, "evidence": pl.String}
    )


LESSONS = [
    "What went well? (e.g. which alert or record made the incident visible)",
    "What went wrong? (the conditions that let the trigger cause harm, without naming people)",
    "Where did we get lucky?",
    "Which evidence was missing or late, and what would have shown it earlier?",
]


def build(case, title: str = "Postmortem", slo: float = 0.999, service: str | None = None,
          start=None, end=None) -> Postmortem:  # fmt: skip
    a = ans.answer(case, start, end)
    notes = []
    if not _has_spans(case):
        notes.append("The case holds no traces: impact numbers that need requests are not computed.")
    if not a.has_findings:
        notes.append("The case holds no findings: trigger, root cause and action items are empty.")
    trigger = []
    if a.chain.height:
        first = a.chain.row(0, named=True)
        trigger.append(
            f"Trigger: {first['title']} at {fmt_time(first['time'])} (finding {first['finding_id']})."
        )
        trigger.append(f"Root cause: the chain of {a.chain.height} findings below, joined by shared identities, "
                       "credentials, addresses, images and requests; each is a candidate cause with its evidence.")  # fmt: skip
    elif a.has_findings:
        trigger.append("No attack chain: the findings below are the candidate causes, strongest first.")
    return Postmortem(
        title=title, answer=a, impact=impact(case, slo, service), trigger=trigger, causes=causes(a),
        detection=detection(case, a, slo, service), response=response(case, a),
        timeline=timeline(case, a, slo, service), actions=actions(case, a), lessons=list(LESSONS), notes=notes,
    )  # fmt: skip


# ---- rendering --------------------------------------------------------------------------------

SECTIONS = ["Summary", "Impact", "Trigger and root cause", "Detection", "Response and mitigation", "Timeline",
            "Action items", "Lessons learned"]  # fmt: skip


def _md_numbers(nums: list[Number]) -> str:
    lines = ["| what | value | how it was computed |", "|---|---|---|"]
    lines += [f"| {md_text(n.name, 200)} | {md_text(n.value, 600)} | {md_text(n.how, 800)} |" for n in nums]
    return "\n".join(lines)


def _md_frame(df: pl.DataFrame, limit: int = 300) -> str:
    from forensics.display import cell_text

    if df.is_empty():
        return "_none_"
    lines = ["| " + " | ".join(md_text(c, 60) for c in df.columns) + " |", "|" + "---|" * len(df.columns)]
    for row in df.iter_rows():
        lines.append("| " + " | ".join(md_text(cell_text(v), limit) for v in row) + " |")
    return "\n".join(lines)


def to_markdown(pm: Postmortem) -> str:
    a = pm.answer
    out = [f"# {md_text(pm.title, 200)}", "", "_Blameless postmortem; generated by the forensics kit. Every number "
           "says how it was computed._", "", "## Summary", "", f"**What happened:** {md_text(a.what, 3000)}", "",
           f"**When (UTC):** {md_text(a.when, 200)}", "", "**How bad:**", ""]  # fmt: skip
    out += [f"- {md_text(x, 600)}" for x in a.how_bad] + ["", "**Still open:**", ""]
    out += [f"- {md_text(x, 600)}" for x in a.still_open] or ["- nothing"]
    out += ["", "**Named by the findings:**", ""]
    for kind, ids in a.key_entities.items():
        out.append(f"- {ans.KEY_KINDS[kind]}: {md_text(', '.join(ids), 1200)}")
    out += [""] + [f"> {md_text(n, 600)}" for n in pm.notes]
    out += ["", "## Impact", "", _md_numbers(pm.impact), "", "## Trigger and root cause", ""]
    out += [md_text(t, 800) for t in pm.trigger] + ["", _md_frame(pm.causes), ""]
    out += [
        "## Detection",
        "",
        _md_numbers(pm.detection),
        "",
        "## Response and mitigation",
        "",
        _md_numbers(pm.response),
    ]
    out += [
        "",
        "## Timeline",
        "",
        _md_frame(pm.timeline),
        "",
        "## Action items",
        "",
        _md_frame(pm.actions),
        "",
    ]
    out += ["## Lessons learned", "", "_For the people involved to write; prompts:_", ""]
    out += [f"- {md_text(x, 300)}" for x in pm.lessons] + [""]
    return "\n".join(out)


def _html_numbers(nums: list[Number], caption: str) -> str:
    rows = "".join(
        f"<tr><th>{html_text(n.name, 200)}</th><td>{html_text(n.value, 600)}</td>"
        f"<td class='fx-note'>{html_text(n.how, 800)}</td></tr>"
        for n in nums
    )
    return (f"<table class='fx-table fx-numbers'><caption>{html_text(caption, 200)}</caption><thead><tr><th>what</th>"
            f"<th>value</th><th>how it was computed</th></tr></thead><tbody>{rows}</tbody></table>")  # fmt: skip


def actions_html(pm: Postmortem) -> str:
    """The action items, each finding id linking to its evidence section (``answer.anchor``)."""
    rows = []
    for r in pm.actions.iter_rows(named=True):
        ev = html_text(r["evidence"], 80)
        if str(r["evidence"]).startswith("F-"):
            ev = f"<a href='#{html_text(ans.anchor(r['evidence']), 80)}'>{ev}</a>"
        rows.append(
            f"<tr><td>{html_text(r['priority'], 10)}</td><td>{html_text(r['action'], 600)}</td>"
            f"<td>{html_text(r['owner'], 80)}</td><td>{ev}</td></tr>"
        )
    return (
        "<table class='fx-table fx-actions'><caption>Action items</caption><thead><tr><th>priority</th>"
        f"<th>action</th><th>owner</th><th>evidence</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def numbers_html(nums: list[Number], caption: str) -> str:
    return _html_numbers(nums, caption)


def write_markdown(pm: Postmortem, out_dir: str | Path, name: str = "postmortem.md") -> Path:
    path = Path(out_dir) / name
    path.write_text(to_markdown(pm), encoding="utf-8")
    return path
