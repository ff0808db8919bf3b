"""Invariant violation rate over the incident (input: ``forensics.rates.invariant_rates(case, by=...)``)
and coverage per source with its gaps (input: ``forensics.coverage.coverage(case)``)."""

from __future__ import annotations

import altair as alt
import polars as pl

from forensics.charts._common import empty, iso
from forensics.safe import terminal_text


def _clean(expr: pl.Expr) -> pl.Expr:
    # vl-convert panics on control characters in text
    return expr.map_elements(lambda s: terminal_text(s) if s is not None else s, return_dtype=pl.Utf8)


def violation_rate(
    rates: pl.DataFrame, width: int = 800, title: str = "Invariant violation rate (should be ~0)"
) -> alt.Chart | alt.LayerChart:
    """One line per invariant: violations / checked per window; points sized by violations. Untimed
    rows (attestation invariants) are left out: they have no place on a time axis."""
    data = rates.filter(pl.col("window_start").is_not_null() & pl.col("checked").is_not_null())
    if data.is_empty():
        return empty("no timed invariant checks (run invariant_rates with by=...)", width, title)
    data = data.with_columns(time=iso("window_start"), invariant=_clean(pl.col("invariant"))).select(
        "time",
        "invariant",
        "checked",
        "violations",
        "rate",
        _clean(pl.col("denominator")).alias("denominator"),
    )
    base = alt.Chart(data).encode(
        x=alt.X("time:T", title="window start (UTC)", axis=alt.Axis(format="%H:%M")),
        y=alt.Y("rate:Q", title="violations / checked", scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("invariant:N"),
        tooltip=[
            "invariant",
            "time:T",
            "checked",
            "violations",
            alt.Tooltip("rate:Q", format=".3f"),
            "denominator",
        ],
    )
    return (
        base.mark_line() + base.mark_circle().encode(size=alt.Size("violations:Q", legend=None))
    ).properties(width=width, height=260, title=title)


GAP_COLOURS = {
    "digest_missing_file": "#d62728",
    "digest_chain_break": "#7f0000",
    "silence": "#ff7f0e",
    "missing_parent": "#9467bd",
}


def coverage(
    sources: pl.DataFrame,
    gaps: pl.DataFrame,
    width: int = 800,
    title: str = "Coverage per source (red: gaps)",
):
    """A bar per source x scope from its first to its last event; gaps with a window drawn over it."""
    if sources.is_empty():
        return empty("no events in the case", width, title)
    lanes = sources.with_columns(
        lane=_clean(
            pl.col("source")
            + pl.when(pl.col("scope") != "").then(" / " + pl.col("scope")).otherwise(pl.lit(""))
        ),
        start=iso("first_event"),
        stop=iso("last_event"),
    ).select("lane", "start", "stop", "events")
    bars = (
        alt.Chart(lanes)
        .mark_bar(color="#9ecae1", height=10)
        .encode(
            x=alt.X("start:T", title="time (UTC)"),
            x2="stop:T",
            y=alt.Y("lane:N", title=None),
            tooltip=["lane", "events"],
        )
    )
    timed = gaps.filter(pl.col("start").is_not_null() & pl.col("end").is_not_null())
    if timed.is_empty():
        return bars.properties(width=width, title=title)
    g = timed.with_columns(
        lane=_clean(
            pl.col("source")
            + pl.when(pl.col("scope").fill_null("") != "").then(" / " + pl.col("scope")).otherwise(pl.lit(""))
        ),
        start=iso("start"),
        stop=iso("end"),
        statement=_clean(pl.col("statement").str.slice(0, 200)),
    ).select("lane", "start", "stop", "kind", "statement")
    marks = (
        alt.Chart(g)
        .mark_bar(height=14, opacity=0.8)
        .encode(
            x="start:T",
            x2="stop:T",
            y="lane:N",
            color=alt.Color(
                "kind:N", scale=alt.Scale(domain=list(GAP_COLOURS), range=list(GAP_COLOURS.values()))
            ),
            tooltip=["kind", "statement"],
        )
    )
    return (bars + marks).properties(width=width, title=title)
