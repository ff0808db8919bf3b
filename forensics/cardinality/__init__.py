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

Layout: ``costs`` (the cost model and costs), ``masking`` (windows, masked display), ``analyses``.
"""

import polars as pl  # noqa: F401 - reached as ``cardinality.pl`` by callers of the one-module version

from forensics.cardinality.analyses import (
    CardinalityResult,
    analyse,
    attribute_keys,
    explosions,
    metric_growth,
    metric_labels,
    metric_series,
    new_values,
    top_offenders,
    top_values,
    unbounded_keys,
)
from forensics.cardinality.costs import (
    APPROX_ERROR_STATED,
    DEFAULT_COST_MODEL,
    BadCostModel,
    CostModel,
    cost_attributes,
    cost_metrics,
    cost_offenders,
    cost_totals,
    load_cost_model,
    month_factors,
)
from forensics.cardinality.masking import (
    SENSITIVE_KEY,
    mask_frame,
    mask_value,
    sensitive_kind,
    window_seconds,
)

__all__ = [
    "APPROX_ERROR_STATED",
    "BadCostModel",
    "CardinalityResult",
    "CostModel",
    "DEFAULT_COST_MODEL",
    "SENSITIVE_KEY",
    "analyse",
    "attribute_keys",
    "cost_attributes",
    "cost_metrics",
    "cost_offenders",
    "cost_totals",
    "explosions",
    "load_cost_model",
    "mask_frame",
    "mask_value",
    "metric_growth",
    "metric_labels",
    "metric_series",
    "month_factors",
    "new_values",
    "sensitive_kind",
    "top_offenders",
    "top_values",
    "unbounded_keys",
    "window_seconds",
]
