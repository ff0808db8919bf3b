"""What-was-running chart: one lane per service (x environment), one bar per interval a digest
ran, coloured by its provenance verdict. Input: ``forensics.provenance.what_was_running``."""

from __future__ import annotations

from datetime import datetime

import altair as alt
import polars as pl

from forensics.charts._common import empty, utc_text

VERDICT_COLOURS = {
    "verified": "#2ca02c",
    "indeterminate": "#ff7f0e",
    "failed": "#d62728",
    "no attestation": "#7f0000",
}


def what_was_running(
    df: pl.DataFrame,
    end: datetime | None = None,
    width: int = 900,
    title: str = "What was running (colour: provenance verdict)",
) -> alt.Chart | alt.LayerChart:
    """Lanes per service x environment; an open interval (still running) ends at ``end`` or at the
    last interval start. Tooltips carry digest, version, deployer, via, verdict and reason."""
    if df.is_empty():
        return empty("no deploys in the case", width, title)
    stop = end or df["since"].max()
    data = df.with_columns(
        lane=pl.col("service")
        + pl.lit(" / ")
        + pl.col("environment").fill_null("?")
        + pl.when(pl.col("instance").is_not_null())
        .then(pl.lit(" / ") + pl.col("instance"))
        .otherwise(pl.lit("")),
        start=utc_text(pl.col("since")),
        stop=utc_text(pl.col("until").fill_null(pl.lit(stop).cast(df.schema["since"]))),
        digest=pl.col("artifact_digest").str.slice(0, 19),
    ).select(
        "lane",
        "start",
        "stop",
        "digest",
        "version",
        "deployed_by",
        "via",
        "action",
        "verdict",
        pl.col("verdict_reason").str.slice(0, 200),
        "repo_at_commit",
    )
    colour = alt.Color(
        "verdict:N",
        scale=alt.Scale(domain=list(VERDICT_COLOURS), range=list(VERDICT_COLOURS.values())),
        legend=alt.Legend(title="verdict"),
    )
    x = alt.X(
        "start:T",
        scale=alt.Scale(type="utc"),
        axis=alt.Axis(title="time (UTC)", format="%H:%M", labelAngle=0),
    )
    bars = (
        alt.Chart(data)
        .mark_bar(height=18)
        .encode(
            x=x,
            x2="stop:T",
            y=alt.Y("lane:N", title=None),
            color=colour,
            tooltip=[
                "lane",
                "digest",
                "version",
                "deployed_by",
                "via",
                "action",
                "verdict",
                "verdict_reason",
                "repo_at_commit",
                "start",
                "stop",
            ],
        )
    )
    labels = (
        alt.Chart(data)
        .mark_text(align="left", dx=3, color="white", fontSize=10)
        .encode(x=x, y="lane:N", text="version:N")
    )
    return (bars + labels).properties(width=width, height=max(60, 30 * data["lane"].n_unique()), title=title)
