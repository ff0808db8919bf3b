"""A query result as text for a terminal or a file: a readable table (the default of ``forensics
query``), CSV or JSON Lines. Every column type prints, lists and structs included: the table joins
lists, CSV writes nested values as JSON text (polars' CSV writer refuses them)."""

from __future__ import annotations

import json
from typing import Literal

import polars as pl

from forensics.display import clean

Format = Literal["table", "csv", "json"]
FORMATS: tuple[Format, ...] = ("table", "csv", "json")

#: Text a spreadsheet would run as a formula when it opens the CSV (OWASP's list).
_FORMULA_START = r"^[=+\-@\t\r]"
_CELL_WIDTH = 80


def write(df: pl.DataFrame, fmt: Format) -> str:
    """``df`` as ``fmt`` text: every row and every column."""
    if fmt == "json":
        return df.write_ndjson()
    if fmt == "csv":
        return csv(df)
    return table(df)


def csv(df: pl.DataFrame) -> str:
    """CSV with nested values as JSON text and text cells that a spreadsheet would read as a formula
    prefixed with ``'``."""
    texts = _nested_as_json(df)
    strings = [c for c, t in texts.schema.items() if t == pl.String]
    return texts.with_columns(
        pl.when(pl.col(c).str.contains(_FORMULA_START))
        .then(pl.lit("'") + pl.col(c))
        .otherwise(pl.col(c))
        .alias(c)
        for c in strings
    ).write_csv()


def table(df: pl.DataFrame, width: int = _CELL_WIDTH) -> str:
    """An aligned text table, safe for a terminal (control and escape characters removed), cells cut
    at ``width`` characters, and a last line that gives the row count."""
    texts = _nested_as_json(df, join_lists=True)
    cells = [[clean(c, width) for c in texts.columns]]
    cells += [
        ["" if v is None else clean(v, width) for v in row] for row in texts.cast(pl.String).iter_rows()
    ]
    widths = [max(len(r[i]) for r in cells) for i in range(len(texts.columns))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append(f"({df.height} row{'' if df.height == 1 else 's'})")
    return "\n".join(lines) + "\n"


def _nested_as_json(df: pl.DataFrame, *, join_lists: bool = False) -> pl.DataFrame:
    """Nested columns as text: JSON, or for the table a list of plain values joined with ``, ``."""
    out = []
    for name, dtype in df.schema.items():
        if not dtype.is_nested():
            out.append(pl.col(name))
        elif join_lists and isinstance(dtype, pl.List) and not dtype.inner.is_nested():
            out.append(pl.col(name).cast(pl.List(pl.String)).list.join(", "))
        else:
            # polars has no JSON encoder for every nested type (lists of lists, of times); values are
            # already fetched and the output is as long as they are, so encoding per cell costs no more.
            out.append(
                pl.col(name).map_elements(
                    lambda v: json.dumps(_plain(v), default=str), return_dtype=pl.String
                )
            )
    return df.select(out)


def _plain(v: object) -> object:
    return v.to_list() if isinstance(v, pl.Series) else v
