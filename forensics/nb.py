"""What a report notebook calls to show things. Every table is escaped; every chart is inline SVG.

from forensics import nb
nb.setup()                       # SVG charts, offline
nb.toc(["Summary", "Evidence"])  # links to the sections below
nb.answer(answer.answer(case))   # the top screen (forensics.answer)
nb.heading("Evidence")
nb.table(case.evidence(), caption="...")
nb.chart(forensics.charts.timeline(df))
"""

from __future__ import annotations

import re

import altair as alt
import polars as pl
from IPython.display import HTML, display

from forensics.display import html_table, html_text


def setup() -> None:
    """Render Altair charts as inline SVG through vl-convert: no script, no network."""
    alt.renderers.enable("svg")
    alt.data_transformers.disable_max_rows()


def slug(text: str) -> str:
    """The HTML id of a section heading: lower-case letters, digits and dashes."""
    return "sec-" + (re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-") or "x")


def heading(text: str, level: int = 2, anchor: str | None = None) -> None:
    """A heading with an id (``slug(text)`` unless ``anchor`` is given) that ``toc`` links to."""
    ident = html_text(anchor or slug(text), 120)
    display(HTML(f"<h{level} id='{ident}'>{html_text(text, None)}</h{level}>"))


def toc(sections: list[str]) -> None:
    """A table of contents linking to the headings named ``sections``."""
    items = "".join(
        f"<li><a href='#{html_text(slug(s), 120)}'>{html_text(s, 120)}</a></li>" for s in sections
    )
    display(HTML(f"<nav class='fx-toc'><b>Contents</b><ol>{items}</ol></nav>"))


def para(text: str, cls: str = "") -> None:
    """A paragraph of plain text (escaped). ``cls``: '', 'fx-note', 'fx-warn' or 'fx-ok'."""
    display(HTML(f"<p class='{html_text(cls, 40)}'>{html_text(text, None)}</p>"))


def table(df: pl.DataFrame, caption: str | None = None, max_rows: int = 500, limit: int = 300) -> None:
    display(HTML(html_table(df, limit=limit, max_rows=max_rows, caption=caption)))


def chart(c: alt.TopLevelMixin) -> None:
    """Show a chart as inline SVG markup. Every text in the spec is cleaned first (vl-convert panics
    on control characters); a renderer failure becomes a note in the report, never a dead kernel."""
    from forensics.charts.render import svg_of

    svg, error = svg_of(c)
    if svg is None:
        para(f"This chart could not be drawn: {error}. The tables below hold the same data.", "fx-warn")
        return
    display(HTML(f"<div class='fx-chart'>{svg}</div>"))


def answer(a, case_path: str = "CASE") -> None:
    """The top screen (``forensics.answer.Answer``): what happened, when, how bad, what is open, the key
    entities, the findings strongest first (each linking to its evidence below)."""
    from forensics.answer_html import answer_html

    display(HTML(answer_html(a, case_path)))


def chain(a) -> None:
    """The attack chain as a short narrative: one line per key moment, linked to its evidence."""
    from forensics.answer_html import chain_html

    display(HTML(chain_html(a)))


def findings_evidence(case, a, case_path: str = "CASE", limit: int = 10) -> None:
    """Per finding, an anchored section with its summary, entities and evidence rows."""
    from forensics.answer_html import evidence_html

    display(HTML(evidence_html(case, a, case_path, limit)))
