"""Windows and masking: values that look like personal data or secrets are shown only in redacted form."""

from __future__ import annotations

import ipaddress
import re
from typing import TYPE_CHECKING

import polars as pl

from forensics.display import clean, redact
from forensics.errors import ForensicsError

if TYPE_CHECKING:
    pass


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
