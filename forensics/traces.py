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


def double_applies(
    case: Case, start: Time = None, end: Time = None, keys: list[str] | None = None
) -> pl.DataFrame:
    """Logical requests whose side effect succeeded twice after a client timeout (should be empty),
    the second apply in the window. ``keys``: the idempotency and business key attributes that
    identify a request (None: the documented default list of ``queries/invariants/double_apply.sql``)."""
    return case.query("invariants/double_apply", start=start, end=end, keys=keys)


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
    caller_http: list[int] | None = None,
    caller_grpc: list[int] | None = None,
) -> pl.DataFrame:
    """Error-budget burn against ``slo`` per service (``service``: that one only) and wall-clock
    minute, with the multiwindow alert states. ``caller_http`` / ``caller_grpc``: the status codes
    that are the caller's fault and spend no budget (None: the defaults in docs/traces.md)."""
    if not 0 < slo < 1:
        raise ValueError(f"slo must be between 0 and 1 (e.g. 0.999), not {slo}")
    return case.query(
        "traces/burn_rate",
        slo=slo,
        service=service,
        endpoint=endpoint,
        start=start,
        end=end,
        caller_http=caller_http,
        caller_grpc=caller_grpc,
    )


def burn_alerts(burn: pl.DataFrame) -> pl.DataFrame:
    """When each multiwindow alert would have fired and cleared, per service: one row per firing
    episode (``cleared`` is null when it was still firing at the last minute of the burn frame)."""
    schema = {
        "service": pl.Utf8,
        "alert": pl.Utf8,
        "windows": pl.Utf8,
        "threshold": pl.Float64,
        "fired": pl.Datetime("us", "UTC"),
        "cleared": pl.Datetime("us", "UTC"),
    }
    if burn.is_empty():
        return pl.DataFrame(schema=schema)
    frames = []
    for alert, (long_w, short_w, threshold) in BURN_ALERTS.items():
        flags = burn.select("service", "minute", pl.col(alert).alias("on")).with_columns(
            episode=(pl.col("on") != pl.col("on").shift(1).fill_null(False)).cum_sum().over("service"),
            next_minute=pl.col("minute").shift(-1).over("service"),
        )
        episodes = (
            flags.filter(pl.col("on"))
            .group_by("service", "episode", maintain_order=True)
            .agg(fired=pl.col("minute").min(), cleared=pl.col("next_minute").last())
            .select(
                "service",
                pl.lit(alert).alias("alert"),
                pl.lit(f"{long_w}/{short_w}").alias("windows"),
                pl.lit(threshold).alias("threshold"),
                "fired",
                "cleared",
            )
        )
        frames.append(episodes.cast(schema))
    return pl.concat(frames).sort("service", "fired", "alert")


def skew(case: Case, min_abs_us: int = 0, start: Time = None, end: Time = None) -> pl.DataFrame:
    """Clock skew per service pair, solved from synchronous client/server pairs, over the traces
    that start in the window, with sample counts and confidence."""
    return case.query("traces/skew", min_abs_us=min_abs_us, start=start, end=end)


def unsafe_ordering(case: Case, start: Time = None, end: Time = None) -> pl.DataFrame:
    """Consecutive trace events of two services closer together than the clock skew between them."""
    return case.query("traces/unsafe_ordering", start=start, end=end)


def audit_links(case: Case, start: Time = None, end: Time = None) -> pl.DataFrame:
    """Spans and the audit/log/deploy events that share their trace or request id, with clock offsets."""
    return case.query("traces/audit_links", start=start, end=end)


def deploy_impact(
    case: Case, minutes: int = 30, service: str | None = None, start: Time = None, end: Time = None
) -> pl.DataFrame:
    """Error rate and latency before and after each deploy of a traced service (deployed in the window)."""
    return case.query("traces/deploy_impact", minutes=minutes, service=service, start=start, end=end)


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
        """One row of counts for the section's opening sentence; each name says what it counts:
        ``spans`` every span in the window, ``client_calls`` the client spans (calls as their callers
        saw them) and how many of them timed out or failed, ``unknown_spans`` spans of unknown outcome,
        ``retried_calls`` failed calls that were retried, ``double_applied_requests`` logical
        requests applied twice, ``alerts_fired`` burn-rate alert episodes."""
        o = self.outcomes

        def total(outcome: str | None = None, kind: str | None = None) -> int:
            sel = o
            if outcome is not None:
                sel = sel.filter(pl.col("outcome") == outcome)
            if kind is not None:
                sel = sel.filter(pl.col("kind") == kind)
            return int(sel["spans"].sum()) if sel.height else 0

        return pl.DataFrame(
            {
                "spans": [total()],
                "client_calls": [total(kind="client")],
                "client_timeouts": [total("timeout", "client")],
                "client_failures": [total("failure", "client")],
                "unknown_spans": [total("unknown")],
                "retried_calls": [self.retries.height],
                "double_applied_requests": [self.double_applies.height],
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
    """Everything the report's traces section needs for one window: every part honours the window.
    SLO burn is per service (``service``: that one only), never one SLO over every layer's spans."""
    burn = burn_rate(case, slo, service=service, start=start, end=end)
    return TracesSummary(
        outcomes=outcomes(case, start, end),
        retries=retries(case, start, end),
        double_applies=double_applies(case, start, end),
        latency=latency_percentiles(case, start, end, bucket_s, service),
        burn=burn,
        alerts=burn_alerts(burn),
        deploys=deploy_impact(case, service=service, start=start, end=end),
        skew=skew(case, start=start, end=end),
    )
