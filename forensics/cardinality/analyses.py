"""The analyses (thin wrappers over queries/cardinality/*.sql) and ``analyse``, everything the report shows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import polars as pl

from forensics.cardinality.costs import CostModel, cost_offenders, cost_totals, load_cost_model
from forensics.cardinality.masking import mask_frame, window_seconds

if TYPE_CHECKING:
    from forensics.case import Case


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
