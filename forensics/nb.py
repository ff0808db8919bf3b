"""What a report notebook calls to show things. Every table is escaped; every chart is inline SVG.

from forensics import nb
nb.setup()                       # SVG charts, offline
nb.heading("Evidence")
nb.table(case.evidence(), caption="...")
nb.chart(forensics.charts.timeline(df))
"""

from __future__ import annotations

import altair as alt
import polars as pl
from IPython.display import HTML, display

from forensics.display import html_table, html_text


def setup() -> None:
    """Render Altair charts as inline SVG through vl-convert: no script, no network."""
    alt.renderers.enable("svg")
    alt.data_transformers.disable_max_rows()


def heading(text: str, level: int = 2) -> None:
    display(HTML(f"<h{level}>{html_text(text, None)}</h{level}>"))


def para(text: str, cls: str = "") -> None:
    """A paragraph of plain text (escaped). ``cls``: '', 'fx-note', 'fx-warn' or 'fx-ok'."""
    display(HTML(f"<p class='{html_text(cls, 40)}'>{html_text(text, None)}</p>"))


def table(df: pl.DataFrame, caption: str | None = None, max_rows: int = 500, limit: int = 300) -> None:
    display(HTML(html_table(df, limit=limit, max_rows=max_rows, caption=caption)))


def chart(c: alt.TopLevelMixin) -> None:
    """Show a chart as inline SVG markup."""
    import vl_convert as vlc

    svg = vlc.vegalite_to_svg(c.to_dict())
    display(HTML(f"<div class='fx-chart'>{svg}</div>"))
