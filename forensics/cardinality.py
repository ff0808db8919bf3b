"""Cardinality and cost: which attributes explode series, spans and log volume, what they cost,
and when an explosion started.

Every count is computed in DuckDB by the queries in ``queries/cardinality/`` (distinct counting
never happens in Python sets, so memory stays bounded at high cardinality). This module loads the
cost model, binds parameters, and prepares frames for display: values that look like personal
data or secrets (emails, IP addresses, tokens) are counted like any other value but shown only as
``forensics.display.redact`` forms; every other value is cleaned and truncated.

    from forensics import cardinality
    model = cardinality.load_cost_model()            # or a path to your own TOML
    result = cardinality.analyse(case, model, window="5m", top_n=25, threshold=5)
    result.explosions                                # the change points, with their start times
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from forensics.display import clean, redact
from forensics.errors import ForensicsError

if TYPE_CHECKING:
    from forensics.case import Case


DEFAULT_COST_MODEL = Path(__file__).with_name("cardinality_default_costs.toml")
#: DuckDB's approx_count_distinct is a HyperLogLog sketch; its relative error is a few percent
#: (up to about 7% measured on high-cardinality keys). Each row also carries the measured error.
APPROX_ERROR_STATED = "HyperLogLog (approx_count_distinct): relative error typically under 2%, up to about 7%"

_PRICES = {"per_gb_ingested", "per_million_spans", "per_1000_active_series_month"}
_OPTIONAL_PRICES = {"per_1000_indexed_values_month"}
_REDUCTION = {"hash_bytes", "bucket_count", "bucket_label_bytes"}
_BILLING = {"active_series_window_minutes", "active_series_quantile"}


class BadCostModel(ForensicsError):
    pass


@dataclass(frozen=True)
class CostModel:
    """Prices and reduction assumptions, with the file they came from and its sha256."""

    per_gb_ingested: float
    per_million_spans: float
    per_1000_active_series_month: float
    currency: str = "USD"
    hash_bytes: int = 16
    bucket_count: int = 10
    bucket_label_bytes: int = 8
    #: where the backend indexes attribute values: price per 1,000 distinct values per month (0: none)
    per_1000_indexed_values_month: float = 0.0
    #: a series is active in a bucket of this many minutes when it has a sample in it
    active_series_window_minutes: int = 20
    #: the billed quantity: this quantile of the active series over the buckets (0.95: the 95th percentile)
    active_series_quantile: float = 0.95
    #: where each unit price comes from (price name -> source), as the TOML's [sources] states it
    sources: tuple[tuple[str, str], ...] = ()
    path: str = ""
    sha256: str = ""

    def describe(self) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "setting": [
                    "currency",
                    "per GB ingested",
                    "per million spans",
                    "per 1,000 active series per month",
                    "hashed value bytes",
                    "bucket count",
                    "bucket label bytes",
                    "per 1,000 indexed values per month",
                    "active series bucket (minutes)",
                    "active series quantile billed",
                    *(f"source of {k}" for k, _ in self.sources),
                    "cost model file",
                    "sha256",
                ],
                "value": [
                    self.currency,
                    str(self.per_gb_ingested),
                    str(self.per_million_spans),
                    str(self.per_1000_active_series_month),
                    str(self.hash_bytes),
                    str(self.bucket_count),
                    str(self.bucket_label_bytes),
                    str(self.per_1000_indexed_values_month),
                    str(self.active_series_window_minutes),
                    str(self.active_series_quantile),
                    *(v for _, v in self.sources),
                    self.path,
                    self.sha256,
                ],
            }
        )


def load_cost_model(path: str | Path | None = None) -> CostModel:
    """Read a cost model TOML (the packaged defaults when ``path`` is None). Unknown keys, missing
    prices and negative numbers are errors: a typo must not silently price at zero."""
    p = Path(path) if path else DEFAULT_COST_MODEL
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise BadCostModel(f"cost model not found: {p}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise BadCostModel(f"cost model {p} is not valid TOML: {e}") from None
    unknown = set(data) - {"currency", "prices", "reduction", "billing", "sources"}
    prices, reduction = data.get("prices", {}), data.get("reduction", {})
    billing, sources = data.get("billing", {}), data.get("sources", {})
    unknown |= (
        {f"prices.{k}" for k in set(prices) - _PRICES - _OPTIONAL_PRICES}
        | {f"reduction.{k}" for k in set(reduction) - _REDUCTION}
        | {f"billing.{k}" for k in set(billing) - _BILLING}
        | {f"sources.{k}" for k in set(sources) - _PRICES - _OPTIONAL_PRICES}
    )
    if unknown:
        raise BadCostModel(f"cost model {p}: unknown keys {sorted(unknown)}")
    missing = _PRICES - set(prices)
    if missing:
        raise BadCostModel(f"cost model {p}: [prices] must set {sorted(missing)}")
    bad_sources = sorted(k for k, v in sources.items() if not isinstance(v, str))
    if bad_sources:
        raise BadCostModel(f"cost model {p}: [sources] values must be text, not {bad_sources}")
    values = {**prices, **reduction, **billing}
    for k, v in values.items():
        if not isinstance(v, int | float) or isinstance(v, bool) or v < 0:
            raise BadCostModel(f"cost model {p}: {k} must be a number >= 0, not {v!r}")
    if reduction.get("bucket_count", 10) < 1:
        raise BadCostModel(f"cost model {p}: reduction.bucket_count must be at least 1")
    if not 0 < billing.get("active_series_quantile", 0.95) <= 1:
        raise BadCostModel(f"cost model {p}: billing.active_series_quantile must be in (0, 1], e.g. 0.95")
    if billing.get("active_series_window_minutes", 20) < 1:
        raise BadCostModel(f"cost model {p}: billing.active_series_window_minutes must be at least 1")
    return CostModel(
        per_gb_ingested=float(prices["per_gb_ingested"]),
        per_million_spans=float(prices["per_million_spans"]),
        per_1000_active_series_month=float(prices["per_1000_active_series_month"]),
        currency=str(data.get("currency", "USD")),
        hash_bytes=int(reduction.get("hash_bytes", 16)),
        bucket_count=int(reduction.get("bucket_count", 10)),
        bucket_label_bytes=int(reduction.get("bucket_label_bytes", 8)),
        per_1000_indexed_values_month=float(prices.get("per_1000_indexed_values_month", 0.0)),
        active_series_window_minutes=int(billing.get("active_series_window_minutes", 20)),
        active_series_quantile=float(billing.get("active_series_quantile", 0.95)),
        sources=tuple(sorted(sources.items())),
        path=str(p),
        sha256=hashlib.sha256(raw).hexdigest(),
    )


# ------------------------------------------------------------------------------------------------
# windows


_WINDOW = re.compile(r"^\s*(\d+)\s*(s|sec|m|min|h|d)?\s*$", re.I)
_UNIT = {None: 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


def window_seconds(window: str | int) -> int:
    """``"5m"``, ``"300s"``, ``"1h"`` or a number of seconds, as seconds (at least 1)."""
    if isinstance(window, int) and not isinstance(window, bool):
        seconds = window
    else:
        m = _WINDOW.match(str(window))
        if not m:
            raise ForensicsError(f"window {window!r}: give seconds or a number with s, m, h or d (e.g. 5m)")
        seconds = int(m.group(1)) * _UNIT[m.group(2).lower() if m.group(2) else None]
    if seconds < 1:
        raise ForensicsError(f"window {window!r} must be at least one second")
    return seconds


# ------------------------------------------------------------------------------------------------
# masking


_SENSITIVE = [
    ("email", re.compile(r"[^@\s<>\"']+@[^@\s<>\"']+\.[A-Za-z]{2,}")),
    (
        "ip",
        re.compile(r"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\w.])"),
    ),
    ("aws key", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    (
        "token",
        re.compile(
            r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|glpat-[A-Za-z0-9_-]{16,}"
            r"|xox[abposr]-[A-Za-z0-9-]{10,}|sk_(?:live|test)_[A-Za-z0-9]{16,})"
        ),
    ),
    ("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{4,}")),
    (
        "secret",
        re.compile(r"(?i)(?:bearer|basic)\s+[A-Za-z0-9._~+/=-]{12,}|-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    ),
    (
        "secret",
        re.compile(
            r"(?<![A-Za-z0-9/+])(?=[A-Za-z0-9/+]*[0-9])(?=[A-Za-z0-9/+]*[a-z])(?=[A-Za-z0-9/+]*[A-Z])"
            r"[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])"
        ),
    ),
]
_V6_CANDIDATE = re.compile(r"\[?[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:%\w+)?\]?")
#: Keys whose values are shown masked whatever they look like.
SENSITIVE_KEY = re.compile(
    r"(?i)(e-?mail|passw|secret|token|api[-_.]?key|authorization|cookie|session|"
    r"(^|[._-])ip($|[._-])|address|phone|ssn)"
)


def sensitive_kind(value) -> str | None:
    """The kind of personal data or secret a value looks like (email, ip, token, ...), or None."""
    if value is None:
        return None
    text = str(value)
    for kind, rx in _SENSITIVE:
        if rx.search(text):
            return kind
    for token in _V6_CANDIDATE.findall(text):
        try:
            ipaddress.IPv6Address(token.strip("[]"))
        except ValueError:
            continue
        return "ip"
    return None


def mask_value(value, key: str | None = None, limit: int = 120) -> str:
    """What a report may show of an attribute value: a redacted form for values that look like
    personal data or secrets (or sit under a sensitive key), else the value cleaned and truncated."""
    if value is None:
        return ""
    text = str(value)
    kind = sensitive_kind(text)
    if kind is None and key is not None and SENSITIVE_KEY.search(str(key)):
        kind = "value of " + clean(key, 40)
    if kind is not None:
        return redact(text, kind, keep=0 if kind in ("email", "ip") or kind.startswith("value of") else 4)
    return clean(text, limit)


def mask_frame(
    df: pl.DataFrame,
    value_columns: tuple[str, ...] = ("value",),
    key_column: str | None = "key",
    label_columns: tuple[str, ...] = ("key", "label", "metric"),
    limit: int = 120,
) -> pl.DataFrame:
    """A display copy of ``df``: value columns masked (``mask_value``, knowing the key), and key,
    label and metric names masked too when they themselves look sensitive. For tables being shown
    (bounded by their ``top_n``), not for evidence processing."""
    out = df
    keys = df[key_column].to_list() if key_column and key_column in df.columns else [None] * df.height
    for col in value_columns:
        if col in df.columns:
            vals = df[col].to_list()
            out = out.with_columns(
                pl.Series(
                    col, [mask_value(v, k, limit) for v, k in zip(vals, keys, strict=True)], dtype=pl.String
                )
            )
    for col in label_columns:
        if col in df.columns and df[col].dtype == pl.String:
            out = out.with_columns(
                pl.Series(
                    col,
                    [mask_value(v, None, limit) if v is not None else None for v in df[col].to_list()],
                    dtype=pl.String,
                )
            )
    return out


# ------------------------------------------------------------------------------------------------
# analyses (thin wrappers over queries/cardinality/*.sql)


def attribute_keys(case: Case, signal: str | None = None, top_n: int | None = None) -> pl.DataFrame:
    """Per signal and key: exact and approximate distinct values, measured error, shares, bytes."""
    return case.query("cardinality/attribute_keys", signal=signal, top_n=top_n)


def metric_series(case: Case, top_n: int | None = None) -> pl.DataFrame:
    return case.query("cardinality/metric_series", top_n=top_n)


def metric_labels(case: Case, metric: str | None = None, top_n: int | None = None) -> pl.DataFrame:
    return case.query("cardinality/metric_labels", metric=metric, top_n=top_n)


def metric_growth(case: Case, window: str | int = "5m", metric: str | None = None) -> pl.DataFrame:
    return case.query("cardinality/metric_growth", window_seconds=window_seconds(window), metric=metric)


def top_offenders(case: Case, top_n: int | None = None) -> pl.DataFrame:
    return mask_frame(case.query("cardinality/top_offenders", top_n=top_n), value_columns=())


def new_values(
    case: Case,
    window: str | int = "5m",
    signal: str | None = None,
    key: str | None = None,
    pairs: list[tuple[str, str]] | None = None,
) -> pl.DataFrame:
    """New and active distinct values per window, for every key, one ``signal``/``key``, or the
    (signal, key) ``pairs`` given (read in one pass)."""
    joined = [f"{s}\x1f{k}" for s, k in pairs] if pairs is not None else None
    return case.query(
        "cardinality/new_values", window_seconds=window_seconds(window), signal=signal, key=key, pairs=joined
    )


def explosions(
    case: Case, window: str | int = "5m", threshold: float = 5.0, min_new: int = 10, signal: str | None = None
) -> pl.DataFrame:
    """Change points: per key, the first window whose new distinct values exceed ``threshold`` x the
    average of earlier windows (and ``min_new``), with the time the explosion started."""
    return case.query(
        "cardinality/explosions",
        window_seconds=window_seconds(window),
        threshold=float(threshold),
        min_new=int(min_new),
        signal=signal,
    )


def unbounded_keys(
    case: Case, min_share: float = 0.5, min_distinct: int = 10, signal: str | None = None
) -> pl.DataFrame:
    return case.query(
        "cardinality/unbounded_keys",
        min_share=float(min_share),
        min_distinct=int(min_distinct),
        signal=signal,
    )


def top_values(
    case: Case, per_key: int = 5, signal: str | None = None, key: str | None = None
) -> pl.DataFrame:
    """The most frequent values per key, masked for display."""
    return mask_frame(case.query("cardinality/top_values", per_key=per_key, signal=signal, key=key))


def cost_totals(case: Case, model: CostModel) -> pl.DataFrame:
    return case.query(
        "cardinality/cost_totals",
        per_gb=model.per_gb_ingested,
        per_million_spans=model.per_million_spans,
        per_1k_series=model.per_1000_active_series_month,
        active_window_min=model.active_series_window_minutes,
        active_quantile=model.active_series_quantile,
    )


def cost_attributes(case: Case, model: CostModel, top_n: int | None = None) -> pl.DataFrame:
    return case.query(
        "cardinality/cost_attributes",
        per_gb=model.per_gb_ingested,
        hash_bytes=model.hash_bytes,
        bucket_label_bytes=model.bucket_label_bytes,
        bucket_count=model.bucket_count,
        per_1k_indexed=model.per_1000_indexed_values_month,
        signal=None,
        top_n=top_n,
    )


def cost_metrics(case: Case, model: CostModel, top_n: int | None = None) -> pl.DataFrame:
    return case.query(
        "cardinality/cost_metrics",
        per_1k_series=model.per_1000_active_series_month,
        bucket_count=model.bucket_count,
        active_window_min=model.active_series_window_minutes,
        active_quantile=model.active_series_quantile,
        top_n=top_n,
    )


def month_factors(case: Case) -> dict[str, float]:
    """Per signal, 30 days divided by the period the case observed (first to last record time),
    to project observed volume to a month. A signal observed over less than a minute, or without
    times, is not projected (factor 1)."""
    df = case.sql("SELECT signal, epoch(last_time - first_time) AS seconds FROM signal_periods")
    return {s: (30 * 86400 / sec if sec and sec >= 60 else 1.0) for s, sec in df.iter_rows()}


def cost_offenders(case: Case, model: CostModel, top_n: int | None = None) -> pl.DataFrame:
    """Attributes and metric labels in one list, by what they cost per month: bytes for log and
    span attributes (observed volume projected to 30 days, see ``month_factors``), series for metric
    labels; with the saving if dropped, hashed or bucketed."""
    factors = month_factors(case)
    attrs = cost_attributes(case, model)
    factor = pl.col("signal").replace_strict(factors, default=1.0, return_dtype=pl.Float64)
    attrs = attrs.select(
        pl.col("signal"),
        pl.col("key").alias("item"),
        pl.col("distinct_values"),
        # bytes are observed volume (projected), the index cost is per month already
        (pl.col("cost").cast(pl.Float64) * factor + pl.col("index_cost_month")).alias("cost"),
        pl.lit("per month (projected)").alias("period"),
        (pl.col("saving_if_dropped").cast(pl.Float64) * factor + pl.col("index_cost_month")).alias(
            "saving_if_dropped"
        ),
        (pl.col("saving_if_hashed").cast(pl.Float64) * factor).alias("saving_if_hashed"),
        (pl.col("saving_if_bucketed").cast(pl.Float64) * factor + pl.col("index_saving_if_bucketed")).alias(
            "saving_if_bucketed"
        ),
    )
    labels = cost_metrics(case, model).select(
        pl.lit("metrics").alias("signal"),
        (pl.col("metric") + "{" + pl.col("label") + "}").alias("item"),
        pl.col("distinct_values"),
        pl.col("cost_due_to_label_month").cast(pl.Float64).alias("cost"),
        pl.lit("per month").alias("period"),
        pl.col("saving_if_dropped").cast(pl.Float64),
        pl.col("saving_if_hashed").cast(pl.Float64),
        pl.col("saving_if_bucketed").cast(pl.Float64),
    )
    both = pl.concat([attrs, labels]).sort(["cost", "signal", "item"], descending=[True, False, False])
    total = both["cost"].sum() or 0.0
    both = both.with_columns(
        (100.0 * pl.col("cost") / (total if total > 0 else 1.0)).round(3).alias("share_of_cost_pct"),
        (100.0 * pl.col("cost").cum_sum() / (total if total > 0 else 1.0))
        .round(3)
        .alias("cumulative_cost_pct"),
    ).with_row_index("rank", offset=1)
    if top_n is not None:
        both = both.head(top_n)
    return mask_frame(both, value_columns=(), label_columns=("item",))


@dataclass
class CardinalityResult:
    """Everything the cardinality report shows, computed once."""

    model: CostModel
    window_seconds: int
    top_n: int | None
    threshold: float
    min_new: int
    totals: pl.DataFrame
    keys: pl.DataFrame
    metrics: pl.DataFrame
    labels: pl.DataFrame
    growth: pl.DataFrame
    offenders: pl.DataFrame
    costs: pl.DataFrame
    explosions: pl.DataFrame
    unbounded: pl.DataFrame
    values: pl.DataFrame
    exploded_values: pl.DataFrame = field(default_factory=pl.DataFrame)
    observed: tuple = (None, None)  # first and last attribute time in the case


def analyse(
    case: Case,
    model: CostModel | None = None,
    window: str | int = "5m",
    top_n: int | None = 25,
    threshold: float = 5.0,
    min_new: int = 10,
    values_per_key: int = 3,
) -> CardinalityResult:
    """Run every analysis of the report. ``top_n`` bounds displayed rows (None: all; no top-10 cap)."""
    model = model or load_cost_model()
    w = window_seconds(window)
    found = explosions(case, w, threshold, min_new)
    exploded = pl.DataFrame()
    if found.height:
        pairs = list(found.select("signal", "key").iter_rows())
        exploded = mask_frame(new_values(case, w, pairs=pairs), value_columns=(), label_columns=("key",))
    return CardinalityResult(
        model=model,
        window_seconds=w,
        top_n=top_n,
        threshold=threshold,
        min_new=min_new,
        totals=cost_totals(case, model),
        keys=mask_frame(attribute_keys(case, top_n=top_n), value_columns=()),
        metrics=mask_frame(
            metric_series(case, top_n=top_n), value_columns=(), label_columns=("metric", "top_label")
        ),
        labels=mask_frame(metric_labels(case, top_n=top_n), value_columns=()),
        growth=metric_growth(case, w),
        offenders=top_offenders(case, top_n),
        costs=cost_offenders(case, model, top_n),
        explosions=mask_frame(found, value_columns=()),
        unbounded=mask_frame(unbounded_keys(case), value_columns=()),
        values=top_values(case, per_key=values_per_key),
        exploded_values=exploded,
        observed=case.sql("SELECT min(first_time), max(last_time) FROM signal_periods").row(0),
    )
