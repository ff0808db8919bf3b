"""The cost model (TOML, docs/cardinality.md) and what the case's attributes, spans and series cost under it."""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from forensics.cardinality.masking import mask_frame
from forensics.errors import ForensicsError

if TYPE_CHECKING:
    from forensics.case import Case


DEFAULT_COST_MODEL = Path(__file__).parent.parent / "cardinality_default_costs.toml"
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
