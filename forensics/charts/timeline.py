"""The incident timeline chart (placeholder replaced in the next commit)."""

from __future__ import annotations

import altair as alt
import polars as pl


def timeline(df: pl.DataFrame) -> alt.Chart:
    return alt.Chart(df.select("time", "source", "outcome").to_pandas()).mark_tick().encode(x="time:T", y="source:N")
