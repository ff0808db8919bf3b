"""Cardinality and cost charts: top keys by cost, the cumulative cost curve, and distinct values
over time with each detected explosion marked. Inputs are the (already masked) frames of
``forensics.cardinality``."""

from __future__ import annotations

import altair as alt
import polars as pl

from forensics.charts._common import empty as _empty
from forensics.charts._common import iso as _iso


def cost_bars(costs: pl.DataFrame, top_n: int = 20, currency: str = "USD", width: int = 700) -> alt.Chart:
    """Horizontal bars of the top keys and labels by monthly cost, coloured by signal."""
    title = f"Top {top_n} keys and labels by cost ({currency} per month)"
    if costs.is_empty():
        return _empty("no attributes in the case", width, title)
    data = costs.head(top_n).select(
        "signal",
        "cost",
        "saving_if_dropped",
        "saving_if_bucketed",
        label=pl.col("signal") + ": " + pl.col("item").str.slice(0, 60),
    )
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X("cost:Q", title=f"{currency} per month"),
            y=alt.Y("label:N", sort="-x", title=None, axis=alt.Axis(labelLimit=420)),
            color=alt.Color("signal:N", legend=alt.Legend(title="signal")),
            tooltip=[
                "label:N",
                alt.Tooltip("cost:Q", format=".4f"),
                alt.Tooltip("saving_if_dropped:Q", format=".4f"),
                alt.Tooltip("saving_if_bucketed:Q", format=".4f"),
            ],
        )
        .properties(width=width, height=max(80, 18 * data.height), title=title)
    )


def cumulative_cost(costs: pl.DataFrame, width: int = 700) -> alt.Chart:
    """Share of total cost covered by the top k keys and labels (a Pareto curve over all of them)."""
    title = "Cumulative share of cost by rank"
    if costs.is_empty():
        return _empty("no attributes in the case", width, title)
    data = costs.select(
        "rank", "cumulative_cost_pct", item=pl.col("signal") + ": " + pl.col("item").str.slice(0, 60)
    )
    return (
        alt.Chart(data)
        .mark_line(point=True)
        .encode(
            x=alt.X("rank:Q", title="keys and labels, most expensive first"),
            y=alt.Y("cumulative_cost_pct:Q", title="cumulative % of cost", scale=alt.Scale(domain=[0, 100])),
            tooltip=["rank:Q", "item:N", alt.Tooltip("cumulative_cost_pct:Q", format=".1f")],
        )
        .properties(width=width, height=220, title=title)
    )


def distinct_over_time(
    new_values: pl.DataFrame, explosions: pl.DataFrame, width: int = 700, domain: tuple | None = None
) -> alt.LayerChart | alt.Chart:
    """Distinct values seen so far, per key, over time; a rule and a label at each explosion start.
    ``domain`` (start, end) widens the time axis to the whole observed period, so the quiet time
    before an explosion shows."""
    title = "Distinct values over time (explosions marked)"
    if new_values.is_empty():
        return _empty("no explosion detected", width, title)
    data = new_values.select(
        "new_values",
        "distinct_so_far",
        series=pl.col("signal") + ": " + pl.col("key").str.slice(0, 60),
        time=_iso("window_start"),
    )
    scale = alt.Scale(type="utc")
    if domain is not None and all(domain):
        scale = alt.Scale(type="utc", domain=[d.strftime("%Y-%m-%dT%H:%M:%SZ") for d in domain])
    lines = (
        alt.Chart(data)
        .mark_line(point=True)
        .encode(
            x=alt.X("time:T", scale=scale, axis=alt.Axis(title="time (UTC)", format="%H:%M")),
            y=alt.Y("distinct_so_far:Q", title="distinct values so far"),
            color=alt.Color("series:N", legend=alt.Legend(title="key")),
            tooltip=["series:N", "time:T", "new_values:Q", "distinct_so_far:Q"],
        )
    )
    if explosions.is_empty():
        return lines.properties(width=width, height=260, title=title)
    marks = explosions.with_row_index("i").select(
        time=_iso("explosion_start"),
        y=8 + 14 * pl.col("i"),
        note=pl.lit("explosion: ")
        + pl.col("signal")
        + ": "
        + pl.col("key").str.slice(0, 40)
        + " at "
        + pl.col("explosion_start").dt.convert_time_zone("UTC").dt.strftime("%H:%M:%S"),
    )
    rule = (
        alt.Chart(marks)
        .mark_rule(color="#d62728", strokeDash=[4, 3])
        .encode(x=alt.X("time:T", scale=scale), tooltip=["note:N", "time:T"])
    )
    text = (
        alt.Chart(marks)
        .mark_text(align="right", dx=-4, color="#d62728")
        .encode(x=alt.X("time:T", scale=scale), y=alt.Y("y:Q", scale=None), text="note:N")
    )
    return alt.layer(lines, rule, text).properties(width=width, height=260, title=title)


def series_growth(growth: pl.DataFrame, width: int = 700) -> alt.Chart:
    """Cumulative and active series per metric over time."""
    title = "Metric series over time"
    if growth.is_empty():
        return _empty("no timed metric samples", width, title)
    data = growth.select("metric", "active_series", "cumulative_series", time=_iso("window_start"))
    return (
        alt.Chart(data)
        .mark_line()
        .encode(
            x=alt.X("time:T", scale=alt.Scale(type="utc"), axis=alt.Axis(title="time (UTC)", format="%H:%M")),
            y=alt.Y("active_series:Q", title="active series per window"),
            color=alt.Color("metric:N"),
            tooltip=["metric:N", "time:T", "active_series:Q", "cumulative_series:Q"],
        )
        .properties(width=width, height=220, title=title)
    )
