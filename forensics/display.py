"""Showing attacker-controlled text safely: redact secrets (``forensics.redact``), strip ANSI escape
sequences, show other control characters as visible escapes (``forensics.safe``), escape for HTML
and Markdown, truncate."""

from __future__ import annotations

import html
import re

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


def html_table(df: pl.DataFrame, limit: int = 300, max_rows: int = 500, caption: str | None = None) -> str:
    """A polars frame as an HTML table in which every cell is cleaned and escaped. Rows past
    ``max_rows`` are not shown, and the table says so. Secrets are redacted (``redact_frame``)."""
    shown = redact_frame(df.head(max_rows))
    head = "".join(f"<th>{html_text(c, 80)}</th>" for c in shown.columns)
    body = []
    for row in shown.iter_rows():
        body.append(
            "<tr>"
            + "".join(
                f"<td class='fx-num'>{v}</td>"
                if isinstance(v, int | float) and not isinstance(v, bool)
                else f"<td>{html_text(v, limit)}</td>"
                for v in row
            )
            + "</tr>"
        )
    cap = f"<caption>{html_text(caption, 500)}</caption>" if caption else ""
    note = ""
    if df.height > max_rows:
        note = f"<p class='fx-note'>Showing {max_rows} of {df.height} rows.</p>"
    return f"<table class='fx-table'>{cap}<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{note}"
