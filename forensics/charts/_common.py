"""Pieces every chart module uses: times as UTC text for Vega-Lite, and the chart that says there is
nothing to draw."""

from __future__ import annotations

import altair as alt
import polars as pl

ISO = "%Y-%m-%dT%H:%M:%S%.6fZ"


def utc_text(expr: pl.Expr) -> pl.Expr:
    """A datetime expression as ISO 8601 text in UTC, to the microsecond."""
    return expr.dt.convert_time_zone("UTC").dt.strftime(ISO)


def iso(col: str) -> pl.Expr:
    """A datetime column as ISO 8601 text in UTC."""
    return utc_text(pl.col(col))


def empty(note: str, width: int, title: str) -> alt.Chart:
    """A chart holding only ``note``, for a frame with nothing to draw."""
    return (
        alt.Chart(pl.DataFrame({"note": [note]}))
        .mark_text(size=14)
        .encode(text="note:N")
        .properties(width=width, height=60, title=title)
    )


def rule_label(marks: pl.DataFrame, x: alt.X, colour: str) -> alt.Chart:
    """The ``label`` of each vertical reference line, written beside it at the top of the chart."""
    return (
        alt.Chart(marks)
        .mark_text(angle=270, align="right", baseline="bottom", dy=-2, fontSize=9, color=colour)
        .encode(x=x, y=alt.value(2), text="label:N")
    )


#: Bin widths a person reads at a glance, in seconds, with their names.
HUMAN_BINS = [
    (1, "1 s"), (5, "5 s"), (10, "10 s"), (30, "30 s"), (60, "1 min"), (300, "5 min"), (600, "10 min"),
    (900, "15 min"), (1800, "30 min"), (3600, "1 h"), (3 * 3600, "3 h"), (6 * 3600, "6 h"),
    (12 * 3600, "12 h"), (86400, "1 day"), (7 * 86400, "7 days"), (30 * 86400, "30 days"),
    (91 * 86400, "91 days"), (365 * 86400, "365 days"),
]  # fmt: skip


def human_bin(span_seconds: float, bins: int = 300) -> tuple[int, str]:
    """The smallest human bin width (seconds, name) that cuts ``span_seconds`` into at most ``bins``."""
    for seconds, name in HUMAN_BINS:
        if span_seconds / seconds <= bins:
            return seconds, name
    return HUMAN_BINS[-1]
