"""Showing attacker-controlled text safely: strip ANSI and control characters, escape for HTML and
Markdown, truncate, and never show a secret in full (a fingerprint instead)."""

from __future__ import annotations

import hashlib
import html
import re

import polars as pl

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[@-Z\\-_]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~])")


def clean(value, limit: int | None = 300) -> str:
    """Text with ANSI escapes and control/bidi characters removed, newlines and tabs as spaces,
    truncated to ``limit`` characters with an ellipsis."""
    if value is None:
        return ""
    text = _ANSI.sub("", str(value))
    text = text.replace("\r", " ").replace("\n", " ").replace("\t", " ")
    text = _CONTROL.sub("", text)
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def html_text(value, limit: int | None = 300) -> str:
    """``clean`` and HTML-escaped (quotes too): safe inside element content and attributes."""
    return html.escape(clean(value, limit), quote=True)


def md_text(value, limit: int | None = 300) -> str:
    """``clean``, HTML-escaped and Markdown-escaped: safe inside a Markdown table cell."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(clean(value, limit), quote=True))


def fingerprint(secret: str) -> str:
    """A short, stable, non-reversible label for a secret: ``sha256:`` and 12 hex characters."""
    return "sha256:" + hashlib.sha256(secret.encode("utf-8", errors="surrogatepass")).hexdigest()[:12]


def redact(secret: str, kind: str = "secret", keep: int = 4) -> str:
    """What may be shown of a secret: its kind, its first few characters and its fingerprint."""
    prefix = secret[:keep] if len(secret) > 2 * keep else ""
    return f"[{kind} {prefix}… {fingerprint(secret)}]"


def html_table(df: pl.DataFrame, limit: int = 300, max_rows: int = 500, caption: str | None = None) -> str:
    """A polars frame as an HTML table in which every cell is cleaned and escaped. Rows past
    ``max_rows`` are not shown, and the table says so."""
    shown = df.head(max_rows)
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
