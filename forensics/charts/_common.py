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
