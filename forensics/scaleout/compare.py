"""Equality of two engines' answers to one query: same columns, same rows (as multisets when the query
has no ORDER BY), numbers equal to 1e-9 relative, instants equal to the microsecond, lists and structs
compared as JSON text with sorted keys."""

from __future__ import annotations

import json
import math
from typing import Any

import polars as pl


def _cell(v: Any) -> Any:
    if isinstance(v, pl.Series):
        v = v.to_list()
    if isinstance(v, float):
        if math.isnan(v):
            return "NaN"
        return round(v, 9 - int(math.floor(math.log10(abs(v)))) if v else 0)
    if hasattr(v, "as_integer_ratio") and not isinstance(v, int | bool):  # Decimal
        return _cell(float(v))
    if isinstance(v, list | dict):
        return json.dumps(v, sort_keys=True, default=str)
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return v


def rows(df: pl.DataFrame) -> list[tuple[Any, ...]]:
    return [tuple(_cell(v) for v in row) for row in df.iter_rows()]


def differences(a: pl.DataFrame, b: pl.DataFrame, ordered: bool) -> str | None:
    """None when equal, else what differs first."""
    if [c.lower() for c in a.columns] != [c.lower() for c in b.columns]:
        return f"columns differ: {a.columns} vs {b.columns}"
    if a.height != b.height:
        return f"row counts differ: {a.height} vs {b.height}"
    ra, rb = rows(a), rows(b)
    if not ordered:
        ra, rb = sorted(ra, key=repr), sorted(rb, key=repr)
    for i, (x, y) in enumerate(zip(ra, rb, strict=True)):
        if x != y:
            return f"row {i} differs: {x!r} vs {y!r}"
    return None
