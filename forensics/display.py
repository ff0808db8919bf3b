"""Showing attacker-controlled text safely: redact secrets (``forensics.redact``), strip ANSI escape
sequences, show other control characters as visible escapes (``forensics.safe``), escape for HTML
and Markdown, truncate."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime, timedelta

import polars as pl

from forensics.redact import fingerprint, redact_frame, redact_text
from forensics.safe import escape_controls

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[@-Z\\-_]")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~])")


def clean(value, limit: int | None = 300) -> str:
    """Text with secrets redacted, ANSI escape sequences removed, newlines and tabs as spaces, other
    control/bidi characters as visible escapes, truncated to ``limit`` characters with an ellipsis."""
    if value is None:
        return ""
    text = _ANSI.sub("", redact_text(str(value)))
    text = text.replace("\r", " ").replace("\n", " ").replace("\t", " ")
    text = escape_controls(text)
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def html_text(value, limit: int | None = 300) -> str:
    """``clean`` and HTML-escaped (quotes too): safe inside element content and attributes."""
    return html.escape(clean(value, limit), quote=True)


def md_text(value, limit: int | None = 300) -> str:
    """``clean``, HTML-escaped and Markdown-escaped: safe inside a Markdown table cell."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(clean(value, limit), quote=True))


def redact(secret: str, kind: str = "secret", keep: int = 4) -> str:
    """What may be shown of a secret: its kind, its first few characters and its fingerprint."""
    prefix = secret[:keep] if len(secret) > 2 * keep else ""
    return f"[{kind} {prefix}… {fingerprint(secret)}]"


def human_number(v: int | float) -> str:
    """A number for people: integers with thousands separators, other numbers to 3 significant
    digits (at most 2 decimals above 1), never in exponent form below a trillion."""
    if isinstance(v, int):
        return f"{v:,}"
    if v != v or v in (float("inf"), float("-inf")):
        return str(v)
    if v == int(v) and abs(v) < 1e15:
        return f"{int(v):,}"
    a = abs(v)
    if a >= 100:
        return f"{v:,.0f}"
    if a >= 1:
        return f"{v:,.2f}".rstrip("0").rstrip(".")
    return f"{v:.3g}"


def cell_text(v) -> str:
    """A cell's value as text: times as ``2026-03-14 09:52:10Z`` (UTC), lists joined with ", ",
    entity structs as ``kind:id``, other structs as ``key=value``."""
    if v is None:
        return ""
    if isinstance(v, datetime):
        if v.tzinfo is not None:
            v = v.astimezone(UTC)
        return v.strftime("%Y-%m-%d %H:%M:%S") + ("Z" if v.tzinfo is not None else "")
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, timedelta):
        return f"{v.total_seconds():g} s"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int | float):
        return human_number(v)
    if isinstance(v, dict):
        if set(v) == {"kind", "id"}:
            return f"{v['kind']}:{v['id']}"
        return ", ".join(f"{k}={cell_text(x)}" for k, x in v.items() if x is not None)
    if isinstance(v, list | tuple):
        return ", ".join(cell_text(x) for x in v)
    return str(v)


#: An id-like value (no spaces) longer than this is shortened in a cell, the full value on hover.
LONG_ID = 40


def html_cell(v, limit: int = 300) -> str:
    """One ``<td>``: numbers right-aligned, times unbroken, long ids shortened with the full (redacted,
    escaped) value in the title attribute."""
    if isinstance(v, int | float) and not isinstance(v, bool):
        return f"<td class='fx-num'>{html_text(human_number(v), 60)}</td>"
    text = cell_text(v)
    if isinstance(v, datetime):
        return f"<td class='fx-time'>{html_text(text, 40)}</td>"
    if len(text) > LONG_ID and " " not in text.strip():
        short = text[:24] + "…" + text[-8:]
        return f"<td title='{html_text(text, 2000)}'>{html_text(short, limit)}</td>"
    return f"<td>{html_text(text, limit)}</td>"


def html_table(df: pl.DataFrame, limit: int = 300, max_rows: int = 500, caption: str | None = None) -> str:
    """A polars frame as an HTML table in which every cell is cleaned and escaped (``html_cell``).
    Rows past ``max_rows`` are not shown, and the table says so. Secrets are redacted (``redact_frame``)."""
    shown = redact_frame(df.head(max_rows))
    head = "".join(f"<th>{html_text(c, 80)}</th>" for c in shown.columns)
    body = ["<tr>" + "".join(html_cell(v, limit) for v in row) + "</tr>" for row in shown.iter_rows()]
    cap = f"<caption>{html_text(caption, 500)}</caption>" if caption else ""
    note = ""
    if df.height > max_rows:
        note = f"<p class='fx-note'>Showing {max_rows} of {df.height} rows.</p>"
    return (
        f"<div class='fx-wrap'><table class='fx-table'>{cap}<thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table></div>{note}"
    )
