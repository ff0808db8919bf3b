"""Trace charts: timeouts, retries and double-applies over time; latency percentiles with deploy
markers; error-budget burn rates against the multiwindow alert thresholds. Inputs are the frames
``forensics.traces`` returns; charts hold aggregates only, never raw attribute values."""

from __future__ import annotations

import altair as alt
import polars as pl

from forensics.charts._common import empty as _empty
from forensics.charts._common import iso as _iso
from forensics.charts._common import rule_label
from forensics.charts.timeline import OUTCOME_COLOURS


def _x(field: str = "time", title: str = "time (UTC)") -> alt.X:
    return alt.X(
        f"{field}:T",
        scale=alt.Scale(type="utc"),
        axis=alt.Axis(title=title, format="%H:%M", labelAngle=0, labelOverlap=True),
    )


def timeouts_retries(
    rates: pl.DataFrame,
    double_applies: pl.DataFrame | None = None,
    bucket: str = "5m",
    width: int = 900,
    title: str = "Timeouts, failures and retries",
) -> alt.LayerChart | alt.Chart:
    """Counts per time bucket from ``traces.rates`` (any bucket), re-bucketed to ``bucket``, with a
    rule at each double-apply's second application."""
    if rates.is_empty():
        return _empty("no requests in this window", width, title)
    counts = (
        rates.group_by_dynamic("bucket", every=bucket)
        .agg(
            timeout=pl.col("timeouts").sum(), failure=pl.col("failures").sum(), retry=pl.col("retries").sum()
        )
        .unpivot(index="bucket", variable_name="kind", value_name="count")
        .with_columns(time=_iso("bucket"))
        .drop("bucket")
    )
    colours = {
        "timeout": OUTCOME_COLOURS["timeout"],
        "failure": OUTCOME_COLOURS["failure"],
        "retry": "#1f77b4",
    }
    bars = (
        alt.Chart(counts)
        .mark_bar()
        .encode(
            x=_x(),
            y=alt.Y("count:Q", title="calls"),
            xOffset="kind:N",
            color=alt.Color("kind:N", scale=alt.Scale(domain=list(colours), range=list(colours.values()))),
            tooltip=["time:T", "kind:N", "count:Q"],
        )
    )
    layers: list[alt.Chart] = [bars]
    if double_applies is not None and not double_applies.is_empty():
        marks = double_applies.select(time=_iso("second_applied_at"), label=pl.lit("double-apply"))
        layers.append(
            alt.Chart(marks)
            .mark_rule(color="#6a0dad", strokeWidth=2)
            .encode(x=_x(), tooltip=["time:T", "label:N"])
        )
        layers.append(rule_label(marks, _x(), "#6a0dad"))
    return alt.layer(*layers).properties(width=width, height=220, title=title)


def latency(
    latency_frame: pl.DataFrame,
    deploys: pl.DataFrame | None = None,
    width: int = 900,
    title: str = "Latency percentiles (ms)",
) -> alt.LayerChart | alt.Chart:
    """p50/p95/p99 per bucket from ``traces.latency_percentiles`` (one line per percentile and
    endpoint, log scale), with a rule at each deploy from ``traces.deploy_impact``."""
    if latency_frame.is_empty():
        return _empty("no latency data in this window", width, title)
    data = (
        latency_frame.with_columns(series=pl.col("service") + " " + pl.col("endpoint"))
        .unpivot(
            index=["bucket", "series"],
            on=["p50_ms", "p95_ms", "p99_ms"],
            variable_name="percentile",
            value_name="ms",
        )
        .with_columns(time=_iso("bucket"), percentile=pl.col("percentile").str.replace("_ms", ""))
        .drop("bucket")
    )
    lines = (
        alt.Chart(data)
        .mark_line(point=False)
        .encode(
            x=_x(),
            y=alt.Y("ms:Q", scale=alt.Scale(type="log"), title="latency (ms, log)"),
            color=alt.Color("percentile:N"),
            strokeDash="series:N",
            tooltip=["time:T", "series:N", "percentile:N", "ms:Q"],
        )
    )
    layers: list[alt.Chart] = [lines]
    if deploys is not None and not deploys.is_empty():
        marks = deploys.select(time=_iso("deployed_at"), label=pl.col("service") + " " + pl.col("action"))
        layers.append(
            alt.Chart(marks)
            .mark_rule(color="black", strokeDash=[4, 3])
            .encode(x=_x(), tooltip=["time:T", "label:N"])
        )
        layers.append(rule_label(marks, _x(), "black"))
    return alt.layer(*layers).properties(width=width, height=240, title=title)


def burn(
    burn_frame: pl.DataFrame, slo: float, width: int = 900, title: str | None = None
) -> alt.LayerChart | alt.Chart:
    """Burn rates from ``traces.burn_rate`` (5m, 30m, 1h, 6h) with the 14.4x and 6x thresholds."""
    title = title or f"Error-budget burn rate (SLO {slo:.4%})"
    if burn_frame.is_empty():
        return _empty("no requests in this window", width, title)
    # one line per service and window: burn_rate gives each service its own SLO
    frame = burn_frame if "service" in burn_frame.columns else burn_frame.with_columns(service=pl.lit(""))
    data = (
        frame.select("service", "minute", "burn_5m", "burn_30m", "burn_1h", "burn_6h")
        .unpivot(index=["service", "minute"], variable_name="window", value_name="burn")
        .with_columns(
            time=_iso("minute"),
            window=pl.col("window").str.replace("burn_", ""),
            burn=pl.col("burn").fill_null(0.0),
        )
        .drop("minute")
    )
    lines = (
        alt.Chart(data)
        .mark_line()
        .encode(
            x=_x(),
            y=alt.Y("burn:Q", title="burn rate (x budget)"),
            color=alt.Color("window:N", sort=["5m", "30m", "1h", "6h"]),
            strokeDash=alt.StrokeDash("service:N"),
            tooltip=["time:T", "service:N", "window:N", "burn:Q"],
        )
    )
    thresholds = pl.DataFrame(
        {"burn": [14.4, 6.0], "label": ["page: 1h & 5m > 14.4", "ticket: 6h & 30m > 6"]}
    )
    rules = (
        alt.Chart(thresholds)
        .mark_rule(strokeDash=[6, 3], color="#d62728")
        .encode(y="burn:Q", tooltip=["label:N"])
    )
    labels = (
        alt.Chart(thresholds)
        .mark_text(align="left", baseline="bottom", dx=2, dy=-2, fontSize=9, color="#d62728")
        .encode(y="burn:Q", x=alt.value(2), text="label:N")
    )
    return alt.layer(lines, rules, labels).properties(width=width, height=220, title=title)
