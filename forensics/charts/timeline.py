"""The incident timeline: a lane per source (or actor), colour by outcome with timeouts in a colour
of their own, interval bars for events with an end (spans), and deploy/rollback markers.

Above ``max_points`` events the chart shows counts per time bin, lane and outcome instead of
single events, and its subtitle says so: it never drops events silently."""

from __future__ import annotations

import altair as alt
import polars as pl

from forensics.charts._common import empty, human_bin, rule_label, utc_text
from forensics.charts._common import iso as _iso

OUTCOME_COLOURS = {
    "success": "#4c9a2a",
    "failure": "#d62728",
    "timeout": "#ff7f0e",
    "unknown": "#9e9e9e",
}


def _colour() -> alt.Color:
    return alt.Color(
        "outcome:N",
        scale=alt.Scale(domain=list(OUTCOME_COLOURS), range=list(OUTCOME_COLOURS.values())),
        legend=alt.Legend(title="outcome"),
    )


def _yoffset() -> alt.YOffset:
    return alt.YOffset("outcome:N", scale=alt.Scale(domain=list(OUTCOME_COLOURS)))


def _x(title: str = "time (UTC)") -> alt.X:
    return alt.X(
        "time:T",
        scale=alt.Scale(type="utc"),
        axis=alt.Axis(title=title, format="%H:%M", labelAngle=0, labelOverlap=True, tickCount=12),
    )


UNSAFE_COLOUR = "#7b3fa0"


def timeline(
    df: pl.DataFrame,
    lane: str = "source",
    max_points: int = 5000,
    width: int = 900,
    title: str = "Timeline",
    unsafe: pl.DataFrame | None = None,
) -> alt.LayerChart | alt.Chart:
    """Chart a timeline frame (as returned by ``Case.timeline``).

    ``unsafe`` takes the ordering claims the clocks cannot support (``forensics.traces.unsafe_ordering``:
    ``first_time``, ``second_time``, services and the skew bound): each is marked on the chart with a
    purple band as wide as the skew bound and an "order uncertain" mark, and the subtitle says how many."""
    if df.is_empty():
        return empty("no events in this window", width, title)
    lanes = df.get_column(lane).fill_null("(none)").cast(pl.Utf8)
    data = df.with_columns(lane=lanes).select(
        "lane",
        "outcome",
        time=_iso("time"),
        end=_iso("end_time") if "end_time" in df.columns else pl.lit(None),
        action=pl.col("action").fill_null("").str.slice(0, 80),
        category=pl.col("category"),
    )
    n_lanes = data.get_column("lane").n_unique()
    height = max(120, 36 * n_lanes)
    subtitle: list[str] = [f"{df.height} events, lane = {lane}"]
    if df.height > max_points:
        span_s = max(1.0, (df["time"].max() - df["time"].min()).total_seconds())
        bin_s, bin_name = human_bin(span_s)
        binned = (
            df.with_columns(lane=lanes)
            .group_by_dynamic("time", every=f"{bin_s}s", group_by=["lane", "outcome"])
            .agg(events=pl.len())
            .with_columns(time=_iso("time"))
        )
        subtitle.append(
            f"aggregated: more than {max_points} events, so each mark counts events in a {bin_name} bin"
        )
        base = (
            alt.Chart(binned)
            .mark_square(opacity=0.8)
            .encode(
                x=_x(),
                y=alt.Y("lane:N", title=None),
                yOffset=_yoffset(),
                color=_colour(),
                size=alt.Size(
                    "events:Q",
                    scale=alt.Scale(type="sqrt", range=[10, 200]),
                    legend=alt.Legend(title="events", format="d"),
                ),
                tooltip=["lane:N", "outcome:N", "events:Q", alt.Tooltip("time:T", format="%H:%M:%S")],
            )
        )
        layers = [base]
    else:
        points = (
            alt.Chart(data)
            .mark_tick(thickness=2, size=5)
            .encode(
                x=_x(),
                y=alt.Y("lane:N", title=None),
                yOffset=_yoffset(),
                color=_colour(),
                tooltip=["lane:N", "action:N", "outcome:N", alt.Tooltip("time:T", format="%H:%M:%S.%L")],
            )
        )
        layers = [points]
        intervals = data.filter(pl.col("end").is_not_null())
        if intervals.height:
            layers.append(
                alt.Chart(intervals)
                .mark_bar(height=8, opacity=0.6)
                .encode(x=_x(), x2="end:T", y=alt.Y("lane:N", title=None), color=_colour())
            )
    deploys = data.filter(pl.col("category") == "deploy")
    if deploys.height:
        deploys = deploys.with_columns(
            label=pl.col("action")
            + " "
            + df.filter(pl.col("category") == "deploy").get_column("service").fill_null("").cast(pl.Utf8)
        )
        layers.append(
            alt.Chart(deploys).mark_rule(strokeDash=[4, 3], color="#444").encode(x=_x(), tooltip=["label:N"])
        )
        layers.append(rule_label(deploys, _x(), "#444"))
    if unsafe is not None and unsafe.height:
        layers.extend(_unsafe_layers(unsafe))
        subtitle.append(
            f"{unsafe.height} ordering(s) closer together than the clock skew between their services "
            "are marked in purple: their order may be an artefact of the clocks"
        )
    return alt.layer(*layers).properties(
        width=width, height=height, title=alt.Title(title, subtitle=subtitle)
    )


def _unsafe_layers(unsafe: pl.DataFrame) -> list[alt.Chart]:
    bound_us = (pl.col("skew_bound_ms") * 1000).cast(pl.Int64)
    marks = unsafe.select(
        time=_iso("first_time"),
        band_start=utc_text(pl.col("first_time") - pl.duration(microseconds=bound_us)),
        band_end=utc_text(pl.col("second_time") + pl.duration(microseconds=bound_us)),
        pair=(
            pl.col("first_service").fill_null("?").cast(pl.Utf8).str.slice(0, 40)
            + " → "
            + pl.col("second_service").fill_null("?").cast(pl.Utf8).str.slice(0, 40)
        ),
        gap_ms=pl.col("gap_ms"),
        skew_bound_ms=pl.col("skew_bound_ms"),
        label=pl.lit("≈ order uncertain"),
    )
    tooltip = ["pair:N", alt.Tooltip("gap_ms:Q", format=".3f"), alt.Tooltip("skew_bound_ms:Q", format=".3f")]
    band = (
        alt.Chart(marks)
        .mark_rect(opacity=0.15, color=UNSAFE_COLOUR)
        .encode(x=_x(), x2="band_end:T", tooltip=tooltip)
        .transform_calculate(time="datum.band_start")
    )
    rule = alt.Chart(marks).mark_rule(color=UNSAFE_COLOUR, strokeWidth=1.5).encode(x=_x(), tooltip=tooltip)
    text = (
        alt.Chart(marks)
        .mark_text(color=UNSAFE_COLOUR, fontSize=9, align="left", dx=2, baseline="top")
        .encode(x=_x(), y=alt.value(2), text="label:N")
    )
    return [band, rule, text]
