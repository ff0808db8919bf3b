"""A chart to inline SVG that holds on hostile and real data.

Before vl-convert sees a spec, every string in it (data values, titles, labels) is redacted and its
control characters made visible (vl-convert panics on control characters). Fixed ``%H:%M`` time axes
become axes that show the date at day boundaries and seconds when ticks fall between minutes, with a
sane number of ticks. After rendering, every mark that has a description gets an SVG ``<title>``, the
browser's offline tooltip. A renderer failure is returned as text, never raised."""

from __future__ import annotations

import re
from typing import Any

from forensics.display import clean

#: Vega expression: the date at midnight ticks, seconds when a tick is not on a minute, else HH:MM.
TIME_LABELS = (
    "utchours(datum.value) == 0 && utcminutes(datum.value) == 0 && utcseconds(datum.value) == 0"
    " ? utcFormat(datum.value, '%Y-%m-%d')"
    " : utcseconds(datum.value) != 0 ? utcFormat(datum.value, '%H:%M:%S') : utcFormat(datum.value, '%H:%M')"
)
_SHORT_TIME_FORMATS = {"%H:%M", "%H:%M:%S", "%H:%M:%S.%L"}


def clean_spec(value: Any, key: str = "") -> Any:
    """The spec with every string cleaned (``forensics.display.clean``, no truncation), and fixed
    time-of-day axis formats replaced by ``TIME_LABELS``."""
    if isinstance(value, dict):
        out = {k: clean_spec(v, k) for k, v in value.items()}
        axis = out.get("axis")
        if (
            out.get("type") == "temporal"
            and isinstance(axis, dict)
            and axis.get("format") in _SHORT_TIME_FORMATS
        ):
            axis = dict(axis)
            del axis["format"]
            axis.setdefault("labelExpr", TIME_LABELS)
            axis["tickCount"] = min(int(axis.get("tickCount", 6)), 6)
            axis.setdefault("labelOverlap", True)
            axis.setdefault("labelFlush", True)
            out["axis"] = axis
        return out
    if isinstance(value, list):
        return [clean_spec(v, key) for v in value]
    if isinstance(value, str):
        # Vega expressions and format strings are the kit's own; data and titles are cleaned
        if key in ("labelExpr", "expr", "calculate", "filter", "format", "timeUnit"):
            return value
        return clean(value, None)
    return value


_MARK = re.compile(r'<(path|rect|line|text|g)( [^>]*?aria-label="([^"]*)"[^>]*?)/>')


def add_titles(svg: str) -> str:
    """Give each self-closing mark with an ``aria-label`` a ``<title>`` child holding the same
    (already escaped) text: the browser shows it on hover, with no script."""
    return _MARK.sub(lambda m: f"<{m.group(1)}{m.group(2)}><title>{m.group(3)}</title></{m.group(1)}>", svg)


_ISO_DAY = re.compile(r"^(\d{4}-\d{2}-\d{2})T")


def _days(spec: dict) -> set[str]:
    """The UTC days the chart's inline data covers (from ISO time strings in its datasets)."""
    days: set[str] = set()
    for rows in (spec.get("datasets") or {}).values():
        for row in rows if isinstance(rows, list) else []:
            for v in row.values() if isinstance(row, dict) else []:
                m = _ISO_DAY.match(v) if isinstance(v, str) else None
                if m:
                    days.add(m.group(1))
    return days


def date_in_titles(value: Any, day: str) -> Any:
    """Time axes of a chart within one day: the day in the axis title, since ticks show only HH:MM."""
    if isinstance(value, dict):
        out = {k: date_in_titles(v, day) for k, v in value.items()}
        axis = out.get("axis")
        if out.get("type") == "temporal" and isinstance(axis, dict) and isinstance(axis.get("title"), str):
            if day not in axis["title"]:
                out["axis"] = {**axis, "title": f"{axis['title']}, {day}"}
        return out
    if isinstance(value, list):
        return [date_in_titles(v, day) for v in value]
    return value


def svg_of(chart) -> tuple[str | None, str | None]:
    """``(svg, None)``, or ``(None, reason)`` when the chart cannot be drawn."""
    try:
        import vl_convert as vlc

        spec = clean_spec(chart.to_dict() if hasattr(chart, "to_dict") else chart)
        days = _days(spec)
        if len(days) == 1:
            spec = date_in_titles(spec, days.pop())
        svg = vlc.vegalite_to_svg(spec)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as e:  # noqa: BLE001 - vl-convert raises a Rust panic, a BaseException
        return None, clean(f"{type(e).__name__}: {e}", 300)
    return add_titles(svg), None
