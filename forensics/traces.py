"""Traces for reports and notebooks: outcomes, retries, double-applies, rates, latency, SLO burn,
clock skew and deploy impact, as polars frames. Every function runs a query from
``queries/traces/`` (or the double-apply invariant) with bound parameters; see docs/traces.md for
the rules behind each column.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import polars as pl

from forensics.case import Case

#: SRE workbook multiwindow burn-rate alerts: name -> (long window, short window, threshold).
BURN_ALERTS = {"fast_alert": ("1h", "5m", 14.4), "slow_alert": ("6h", "30m", 6.0)}

Time = str | datetime | None


def outcomes(case: Case, start: Time = None, end: Time = None) -> pl.DataFrame:
    """Span counts per service, kind, outcome and reason."""
    return case.query("traces/outcomes", start=start, end=end)


def trace_spans(
    case: Case, trace_id: str | None = None, request_key: str | None = None, request_id: str | None = None
) -> pl.DataFrame:
    """Every span of the traces with this trace id, request key (e.g. order id) or request id."""
    return case.query("traces/trace_spans", trace_id=trace_id, request_key=request_key, request_id=request_id)


def retries(case: Case, start: Time = None, end: Time = None, window_s: float = 60) -> pl.DataFrame:
    """Failed or timed-out client calls and the retry that followed each."""
    return case.query("traces/retries", start=start, end=end, window_s=window_s)


def double_applies(case: Case) -> pl.DataFrame:
    """Logical requests whose side effect succeeded twice after a client timeout (should be empty)."""
    return case.query("invariants/double_apply")


def rates(
    case: Case, start: Time = None, end: Time = None, bucket_s: int = 60, service: str | None = None
) -> pl.DataFrame:
    """Request, error, timeout and retry rates and latency percentiles per endpoint, client cohort and bucket."""
    return case.query("traces/rates", start=start, end=end, bucket_s=bucket_s, service=service)


def latency_percentiles(
    case: Case, start: Time = None, end: Time = None, bucket_s: int = 60, service: str | None = None
) -> pl.DataFrame:
    """p50/p95/p99 latency (ms) per server endpoint and bucket."""
    return case.query("traces/latency", start=start, end=end, bucket_s=bucket_s, service=service)


def burn_rate(
    case: Case,
    slo: float = 0.999,
    service: str | None = None,
    endpoint: str | None = None,
    start: Time = None,
    end: Time = None,
) -> pl.DataFrame:
    """Per-minute error-budget burn against ``slo`` with the multiwindow alert states."""
    if not 0 < slo < 1:
        raise ValueError(f"slo must be between 0 and 1 (e.g. 0.999), not {slo}")
    return case.query("traces/burn_rate", slo=slo, service=service, endpoint=endpoint, start=start, end=end)


def burn_alerts(burn: pl.DataFrame) -> pl.DataFrame:
    """When each multiwindow alert would have fired and cleared: one row per firing episode
    (``cleared`` is null when it was still firing at the last minute with traffic)."""
    rows = []
    for alert, (long_w, short_w, threshold) in BURN_ALERTS.items():
        if burn.is_empty():
            continue
        flags = burn.select("minute", pl.col(alert).alias("on")).with_columns(
            episode=(pl.col("on") != pl.col("on").shift(1).fill_null(False)).cum_sum()
        )
        for ep in (
            flags.filter(pl.col("on"))
            .group_by("episode", maintain_order=True)
            .agg(fired=pl.col("minute").min(), last_on=pl.col("minute").max())
            .iter_rows(named=True)
        ):
            after = flags.filter((pl.col("minute") > ep["last_on"]) & ~pl.col("on"))
            rows.append(
                {
                    "alert": alert,
                    "windows": f"{long_w}/{short_w}",
                    "threshold": threshold,
                    "fired": ep["fired"],
                    "cleared": after["minute"].min() if after.height else None,
                }
            )
    schema = {
        "alert": pl.Utf8,
        "windows": pl.Utf8,
        "threshold": pl.Float64,
        "fired": pl.Datetime("us", "UTC"),
        "cleared": pl.Datetime("us", "UTC"),
    }
    return pl.DataFrame(rows, schema=schema)


def skew(case: Case, min_abs_us: int = 0) -> pl.DataFrame:
    """Estimated clock skew per service pair (from parent/child spans outside their parent)."""
    return case.query("traces/skew", min_abs_us=min_abs_us)


def unsafe_ordering(case: Case, start: Time = None, end: Time = None) -> pl.DataFrame:
    """Consecutive trace events of two services closer together than the clock skew between them."""
    return case.query("traces/unsafe_ordering", start=start, end=end)


def audit_links(case: Case, start: Time = None, end: Time = None) -> pl.DataFrame:
    """Spans and the audit/log/deploy events that share their trace or request id, with clock offsets."""
    return case.query("traces/audit_links", start=start, end=end)


def deploy_impact(case: Case, minutes: int = 30, service: str | None = None) -> pl.DataFrame:
    """Error rate and latency before and after each deploy of a traced service."""
    return case.query("traces/deploy_impact", minutes=minutes, service=service)


@dataclass
class TracesSummary:
    """What the traces section of a report shows for a window."""

    outcomes: pl.DataFrame
    retries: pl.DataFrame
    double_applies: pl.DataFrame
    latency: pl.DataFrame
    burn: pl.DataFrame
    alerts: pl.DataFrame
    deploys: pl.DataFrame
    skew: pl.DataFrame

    def headline(self) -> pl.DataFrame:
        """One row of counts for the section's opening sentence."""
        o = self.outcomes

        def total(outcome: str) -> int:
            return int(o.filter(pl.col("outcome") == outcome)["spans"].sum()) if o.height else 0

        return pl.DataFrame(
            {
                "spans": [int(o["spans"].sum()) if o.height else 0],
                "timeouts": [total("timeout")],
                "failures": [total("failure")],
                "unknowns": [total("unknown")],
                "retries": [self.retries.height],
                "double_applies": [self.double_applies.height],
                "alerts_fired": [self.alerts.height],
            }
        )


def traces_summary(
    case: Case,
    start: Time = None,
    end: Time = None,
    slo: float = 0.999,
    service: str | None = None,
    bucket_s: int = 60,
) -> TracesSummary:
    """Everything the report's traces section needs for one window (and one service's SLO)."""
    burn = burn_rate(case, slo, service=service, start=start, end=end)
    return TracesSummary(
        outcomes=outcomes(case, start, end),
        retries=retries(case, start, end),
        double_applies=double_applies(case),
        latency=latency_percentiles(case, start, end, bucket_s, service),
        burn=burn,
        alerts=burn_alerts(burn),
        deploys=deploy_impact(case, service=service),
        skew=skew(case),
    )
