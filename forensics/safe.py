"""Files and terminals that do not attack their reader.

* ``escape_controls``: C0/C1 control characters, DEL and bidi/zero-width marks shown as visible
  escapes (``\\x1b``, ``\\u202e``), so that no ESC, BEL or RLO reaches a terminal, a spreadsheet or
  a Markdown viewer, and the responder still sees that they were there.
* ``csv_cell`` / ``csv_frame``: a cell that starts with ``= + - @``, a tab or a carriage return is
  prefixed with ``'`` (OWASP, "CSV Injection"), after its control characters are escaped.
* ``json_text``: JSON meant for humans with the characters JSON lets through raw (C1, bidi) escaped
  as ``\\uXXXX``: still valid JSON, same values.
* ``frame_csv`` / ``frame_ndjson``: what a command prints for a frame: redacted
  (``forensics.redact``), then made safe as above.

Vectorised with polars ``str.replace_many`` (one pass per column over a fixed set of characters).
"""

from __future__ import annotations

import re

import polars as pl

from forensics.redact import redact_frame

_CONTROL_CHARS = (
    [chr(c) for c in range(0x00, 0x20)]
    + [chr(c) for c in range(0x7F, 0xA0)]
    + [chr(c) for c in (*range(0x200B, 0x2010), *range(0x202A, 0x202F), *range(0x2066, 0x206A))]
)
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _visible(ch: str) -> str:
    if ch in _ESCAPES:
        return _ESCAPES[ch]
    return f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}"


_CONTROL_MAP = {ch: _visible(ch) for ch in _CONTROL_CHARS}
_CONTROL = re.compile("[" + "".join(re.escape(c) for c in _CONTROL_CHARS) + "]")
_CONTROL_PL = "[\\x00-\\x1f\\x7f-\\x9f\\x{200b}-\\x{200f}\\x{202a}-\\x{202e}\\x{2066}-\\x{2069}]"
_JSON_RAW = re.compile("[\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def escape_controls(text: str | None) -> str | None:
    """``text`` with every control, DEL, C1, zero-width and bidi character as a visible escape."""
    if text is None:
        return None
    return _CONTROL.sub(lambda m: _CONTROL_MAP[m.group(0)], text)


def terminal_text(value) -> str:
    """A value as it may be printed on a terminal: ``str`` and ``escape_controls``."""
    return "" if value is None else escape_controls(str(value))


def csv_cell(value):
    """A CSV cell that no spreadsheet evaluates and no terminal interprets. Non-strings pass through."""
    if not isinstance(value, str):
        return value
    text = escape_controls(value)
    return "'" + text if value.startswith(FORMULA_PREFIXES) else text


def _safe_text(expr: pl.Expr) -> pl.Expr:
    escaped = (
        pl.when(expr.str.contains(_CONTROL_PL))
        .then(expr.str.replace_many(list(_CONTROL_MAP), list(_CONTROL_MAP.values())))
        .otherwise(expr)
    )
    name = expr.meta.output_name()
    return (
        pl.when(expr.str.contains(r"^[=+\-@\t\r]")).then(pl.lit("'") + escaped).otherwise(escaped).alias(name)
    )


def csv_frame(df: pl.DataFrame) -> pl.DataFrame:
    """``df`` with every string column made of safe CSV cells (``csv_cell``); lists and structs are
    written as JSON text first (CSV cannot hold them), then made safe."""
    exprs = []
    for c, t in df.schema.items():
        if t == pl.String:
            exprs.append(_safe_text(pl.col(c)))
        elif isinstance(t, pl.List | pl.Struct | pl.Array):
            exprs.append(_safe_text(pl.col(c).map_elements(_json_cell, return_dtype=pl.String)))
        elif t in (pl.Object, pl.Binary):
            exprs.append(_safe_text(pl.col(c).cast(pl.String)))
    return df.with_columns(exprs).rename({c: csv_cell(c) for c in df.columns})


def _json_cell(v) -> str:
    import json

    return json.dumps(v.to_list() if isinstance(v, pl.Series) else v, default=str, ensure_ascii=False)


def json_text(text: str) -> str:
    """JSON text with C1, zero-width and bidi characters escaped as ``\\uXXXX`` (valid JSON still)."""
    return _JSON_RAW.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)


def frame_csv(df: pl.DataFrame) -> str:
    """What a command prints as CSV: redacted, then safe cells."""
    return csv_frame(redact_frame(df)).write_csv()


def frame_ndjson(df: pl.DataFrame) -> str:
    """What a command prints as JSON lines: redacted, with raw C1/bidi characters escaped."""
    return json_text(redact_frame(df).write_ndjson())
