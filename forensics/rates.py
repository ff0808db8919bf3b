"""Invariant violation rates (docs/invariants.md): per invariant and time window, how many items it
checked (its denominator), how many violated it, and the rate. "Violation rate should be ~0" is a
signal to watch over the incident, not only a count.

    from forensics import rates
    rates.invariant_rates(case)              # one row per invariant, the whole case
    rates.invariant_rates(case, by="5m")     # one row per invariant and 5-minute window

Every invariant declares its denominator in its header, ``-- @denominator: <name>``, a query
``queries/denominators/<name>.sql`` returning one row per checked item with its ``time``; and the
column that dates a violation, ``-- @time: <column>`` (none: the invariant's rows carry no time, and
they count in the untimed row, window NULL, like their denominator's). An invariant without a
declared denominator is reported with ``checked`` NULL and the reason.
"""

from __future__ import annotations

import re

import polars as pl

from forensics import queries
from forensics.errors import ForensicsError
from forensics.redact import redact_frame

_BY = re.compile(r"^([1-9][0-9]*)([smhd])$")

SCHEMA: dict[str, pl.DataType] = {
    "invariant": pl.Utf8(),
    "window_start": pl.Datetime("us", "UTC"),
    "checked": pl.Int64(),
    "violations": pl.Int64(),
    "rate": pl.Float64(),
    "denominator": pl.Utf8(),
}


class BadWindow(ForensicsError):
    """A window that is not <n>s, <n>m, <n>h or <n>d."""


def _bucket(df: pl.DataFrame, col: str | None, by: str | None) -> pl.DataFrame:
    """Rows of ``df`` counted per window of its column ``col`` (one NULL window without ``by``, or
    when the rows carry no time)."""
    schema: dict[str, pl.DataType] = {"window_start": SCHEMA["window_start"], "n": pl.Int64()}
    if by is None or col is None or col not in df.columns:
        return pl.DataFrame({"window_start": [None], "n": [df.height]}, schema=schema)
    t = pl.col(col).cast(pl.Datetime("us", "UTC")).dt.truncate(by).alias("window_start")
    return df.select(t).group_by("window_start").len("n").cast(schema)  # type: ignore[arg-type]


def invariant_rates(
    case, by: str | None = None, names: list[str] | None = None, **params: object
) -> pl.DataFrame:
    """``invariant``, ``window_start`` (NULL: the whole case, or items without a time), ``checked``,
    ``violations``, ``rate`` (violations / checked; NULL when nothing was checked) and ``denominator``
    (what was counted). ``by``: a window such as ``5m`` or ``1h``; ``params`` as for ``case.invariants``."""
    if by is not None and not _BY.match(by):
        raise BadWindow(f"window {by!r}: give <n>s, <n>m, <n>h or <n>d, e.g. 5m or 1h")
    frames = []
    for name in names or queries.invariant_names():
        sql = queries.load(f"invariants/{name}")
        head = queries.header(sql)
        violations = case.invariants(names=[name], **params)[name]
        v = _bucket(violations, head.get("time"), by).rename({"n": "violations"})
        den_name = head.get("denominator")
        if den_name:
            den_sql = queries.load(f"denominators/{den_name}")
            wanted = queries.parameters(den_sql)
            checked = case.query(f"denominators/{den_name}", **{k: params[k] for k in wanted if k in params})
            c = _bucket(checked, "time", by).rename({"n": "checked"})
            label = queries.header(den_sql).get("title", den_name)
        else:
            c = pl.DataFrame(
                {"window_start": [None], "checked": [None]},
                schema={"window_start": SCHEMA["window_start"], "checked": pl.Int64},
            )
            label = "no denominator declared (add -- @denominator: to the invariant's header)"
        joined = c.join(v, on="window_start", how="full", coalesce=True, nulls_equal=True)
        joined = joined.with_columns(
            pl.lit(name).alias("invariant"),
            pl.col("checked").fill_null(0 if den_name else None),
            pl.col("violations").fill_null(0),
            pl.lit(label).alias("denominator"),
        ).with_columns(
            pl.when(pl.col("checked") > 0)
            .then(pl.col("violations") / pl.col("checked"))
            .otherwise(None)
            .alias("rate")
        )
        frames.append(joined.select(list(SCHEMA)).cast(SCHEMA))  # type: ignore[arg-type]
    if not frames:
        return pl.DataFrame(schema=SCHEMA)
    out = pl.concat(frames).sort(["invariant", "window_start"], nulls_last=True)
    return redact_frame(out)
