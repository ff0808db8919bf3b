"""The top screen (``forensics.answer``) as HTML fragments for a report: every value escaped
(``forensics.display``), every finding linked to its evidence section by an anchor."""

from __future__ import annotations

import polars as pl

from forensics.answer import KEY_KINDS, Answer, evidence_of, fmt_time
from forensics.display import html_table, html_text


def _li(items: list[str]) -> str:
    return "".join(f"<li>{html_text(i, 600)}</li>" for i in items)


def answer_html(a: Answer, case_path: str = "CASE") -> str:
    """What happened, when, how bad, what is open, key entities, then the findings strongest first."""
    parts = ["<section id='summary' class='fx-answer'>", "<h2 id='sec-summary'>Summary</h2>"]
    parts.append(f"<p class='fx-what'><b>What happened:</b> {html_text(a.what, 2000)}</p>")
    parts.append(f"<p><b>When (UTC):</b> {html_text(a.when, 200)}</p>")
    parts.append(f"<p><b>How bad:</b></p><ul class='fx-bad-list'>{_li(a.how_bad)}</ul>")
    if a.still_open:
        parts.append(f"<p><b>Still open:</b></p><ul class='fx-open'>{_li(a.still_open)}</ul>")
    if a.key_entities:
        rows = "".join(
            f"<tr><th>{html_text(KEY_KINDS[k], 40)}</th><td>{html_text(', '.join(v), 1200)}</td></tr>"
            for k, v in a.key_entities.items()
        )
        parts.append(
            f"<table class='fx-table fx-keys'><caption>Named by the findings</caption>{rows}</table>"
        )
    for n in a.notes:
        parts.append(f"<p class='fx-note'>{html_text(n, 600)}</p>")
    if a.has_findings:
        parts.append(findings_html(a.findings))
        parts.append(
            f"<p class='fx-note'>Every finding, as JSON: <code>forensics findings --case {html_text(case_path, 300)}"
            " --format json</code>. Sigma rule matches are findings of detector <code>sigma</code>.</p>"
        )
    parts.append("</section>")
    return "".join(parts)


def findings_html(f: pl.DataFrame) -> str:
    """The findings table, strongest first; each title links to its evidence section."""
    rows = []
    for r in f.iter_rows(named=True):
        rule = r["detector"] if r["rule_id"] == r["detector"] else f"{r['detector']}/{r['rule_id']}"
        rows.append(
            f"<tr class='fx-sev-{html_text(r['severity'], 10)}'><td>{html_text(r['severity'], 10)}</td>"
            f"<td class='fx-time'>{html_text(fmt_time(r['time']), 30)}</td>"
            f"<td><a href='#{html_text(r['anchor'], 80)}'>{html_text(r['title'], 300)}</a></td>"
            f"<td>{html_text(rule, 120)}</td><td class='fx-num'>{html_text(r['matches'], 20)}</td>"
            f"<td>{html_text(r['status'], 20)}</td></tr>"
        )
    head = "<tr><th>severity</th><th>first seen</th><th>finding</th><th>detector</th><th>matches</th><th>status</th></tr>"
    return (
        "<table class='fx-table fx-findings'><caption>Findings, strongest first (click one for its evidence)"
        f"</caption><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"
    )


def chain_html(a: Answer) -> str:
    """The attack chain as a numbered list of key moments."""
    if a.chain.is_empty():
        return "<p class='fx-note'>No attack chain: no two findings share an identity, credential, address, image, request, host or service.</p>"
    items = "".join(
        f"<li><span class='fx-time'>{html_text(fmt_time(r['time']), 30)}</span> "
        f"<a href='#{html_text(r['anchor'], 80)}'>{html_text(r['title'], 300)}</a> "
        f"<span class='fx-note'>({html_text(r['severity'], 10)})</span></li>"
        for r in a.chain.iter_rows(named=True)
    )
    return (
        "<p>Findings joined by a shared identity, credential, address, image, request, host or service, in time "
        f"order.</p><ol class='fx-chain'>{items}</ol>"
    )


def evidence_html(case, a: Answer, case_path: str = "CASE", limit: int = 10) -> str:
    """One anchored section per finding: summary, entities, technique and its first evidence rows."""
    out = []
    for r in a.findings.iter_rows(named=True):
        rows, total = evidence_of(case, r, limit)
        ents = ", ".join(f"{e['kind']}:{e['id']}" for e in (r["entities"] or []))
        more = ""
        if total > rows.height:
            more = (
                f"<p class='fx-note'>{rows.height} of {total} evidence records shown; all of them: "
                f"<code>forensics timeline --case {html_text(case_path, 300)} --finding {html_text(r['finding_id'], 40)}"
                "</code></p>"
            )
        out.append(
            f"<section id='{html_text(r['anchor'], 80)}' class='fx-finding'>"
            f"<h3>{html_text(r['severity'], 10)}: {html_text(r['title'], 300)}</h3>"
            f"<p>{html_text(r['summary'] or '', 1500)}</p>"
            f"<p class='fx-note'>{html_text(r['finding_id'], 40)}; detector {html_text(r['detector'], 80)}"
            f" ({html_text(r['rule_id'], 120)}); ATT&amp;CK {html_text(r['technique'] or '-', 80)}; "
            f"{html_text(fmt_time(r['time']), 30)} to {html_text(fmt_time(r['end']), 30)}; entities: "
            f"{html_text(ents, 1200)}</p>"
            + html_table(rows, max_rows=limit)
            + more
            + "<p class='fx-note'><a href='#summary'>back to the summary</a></p></section>"
        )
    return "".join(out)
