"""Charts and tables that hold on real data: multi-year time axes, human bins, legends and labels,
SVG tooltips, hostile text, renderer failures as notes; table cells for people."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import altair as alt
import polars as pl
import pytest

from forensics import charts, nb
from forensics.charts import traces as trace_charts
from forensics.charts._common import human_bin
from forensics.charts.render import TIME_LABELS, clean_spec, svg_of
from forensics.display import html_table

HOSTILE = "pay\x00ments\x07\x1b[31m</text><script>alert(1)</script>\u202e"


def _events(n: int, start: datetime, step: timedelta, service: str = "payments") -> pl.DataFrame:
    times = [start + i * step for i in range(n)]
    return pl.DataFrame(
        {
            "time": pl.Series(times, dtype=pl.Datetime("us", "UTC")),
            "source": ["cloudtrail" if i % 3 else "k8s_audit" for i in range(n)],
            "outcome": ["success" if i % 7 else "failure" for i in range(n)],
            "action": [f"act{i % 5}" for i in range(n)],
            "category": ["deploy" if i % 400 == 0 else "api" for i in range(n)],
            "service": [service] * n,
        }
    )


def _x_labels(svg: str) -> list[str]:
    return re.findall(r'aria-label="X-axis[^"]*"', svg) or re.findall(r"<text[^>]*>([^<]*)</text>", svg)


def test_multi_year_timeline_has_dates_human_bins_and_tooltips():
    df = _events(6000, datetime(2023, 1, 5, tzinfo=UTC), timedelta(hours=5))  # ~3.4 years
    c = charts.timeline(df, max_points=1000)
    spec = c.to_dict()
    assert "second bin" not in str(spec)
    assert re.search(r"each mark counts events in a \d+ (days?|h|min)", str(spec))
    svg, err = svg_of(c)
    assert err is None and svg
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    dates = [t for t in texts if re.fullmatch(r"\d{4}-\d{2}-\d{2}", t)]
    assert len({d[:4] for d in dates}) >= 2, texts[:40]  # ticks name dates in more than one year
    assert not [t for t in texts if t == "00:00"]
    x_ticks = [t for t in texts if re.fullmatch(r"\d{4}-\d{2}-\d{2}|\d{2}:\d{2}(:\d{2})?", t)]
    assert 2 <= len(x_ticks) <= 12
    assert "<title>" in svg  # hover text on marks, no script


def test_one_day_axis_shows_times_and_date_at_midnight():
    df = _events(300, datetime(2026, 3, 14, 20, 0, tzinfo=UTC), timedelta(minutes=2))  # crosses midnight
    svg, err = svg_of(charts.timeline(df))
    assert err is None
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    assert "2026-03-15" in texts and any(re.fullmatch(r"\d{2}:\d{2}", t) for t in texts)


@pytest.mark.parametrize(
    "span,name",
    [(60, "1 s"), (3 * 3600, "1 min"), (86400, "5 min"), (200 * 86400, "1 day"), (3 * 365 * 86400, "7 days")],
)
def test_human_bins(span, name):
    assert human_bin(span)[1] == name


def test_hostile_text_is_cleaned_before_the_renderer():
    df = _events(50, datetime(2026, 3, 14, 9, tzinfo=UTC), timedelta(minutes=1), service=HOSTILE)
    df = df.with_columns(action=pl.lit(HOSTILE), source=pl.lit(HOSTILE))
    c = charts.timeline(df, title=HOSTILE)
    svg, err = svg_of(c)
    assert err is None, err
    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\u202e]", svg)
    assert "<script>" not in svg


def test_clean_spec_replaces_fixed_time_formats():
    spec = clean_spec({"encoding": {"x": {"type": "temporal", "axis": {"format": "%H:%M", "tickCount": 40}}}})
    axis = spec["encoding"]["x"]["axis"]
    assert "format" not in axis and axis["labelExpr"] == TIME_LABELS and axis["tickCount"] <= 6


def test_renderer_failure_becomes_a_note(capsys, monkeypatch):
    import vl_convert

    def boom(spec):
        raise BaseException("panic in renderer")  # what a Rust panic looks like to Python

    monkeypatch.setattr(vl_convert, "vegalite_to_svg", boom)
    c = alt.Chart(pl.DataFrame({"a": [1]})).mark_point().encode(x="a:Q")
    svg, err = svg_of(c)
    assert svg is None and "panic in renderer" in err
    shown = []
    monkeypatch.setattr(nb, "display", lambda obj: shown.append(obj.data))
    nb.chart(c)
    assert "could not be drawn" in shown[0] and "fx-warn" in shown[0]


def test_reference_lines_are_labelled():
    burn = pl.DataFrame(
        {
            "service": ["payments"] * 3,
            "minute": pl.Series([datetime(2026, 3, 14, 9, i, tzinfo=UTC) for i in range(3)], dtype=pl.Datetime("us", "UTC")),
            "burn_5m": [1.0, 20.0, 3.0], "burn_30m": [1.0, 2.0, 3.0], "burn_1h": [1.0, 15.0, 3.0], "burn_6h": [1.0, 2.0, 3.0],
        }
    )  # fmt: skip
    svg, err = svg_of(trace_charts.burn(burn, 0.999))
    assert err is None
    assert "page: 1h &amp; 5m &gt; 14.4" in svg or "page: 1h & 5m > 14.4" in svg
    assert "ticket: 6h" in svg


def test_table_cells_for_people():
    df = pl.DataFrame(
        {
            "time": pl.Series(
                [datetime(2026, 3, 14, 9, 52, 10, 485294, tzinfo=UTC)], dtype=pl.Datetime("us", "UTC")
            ),
            "ratio": [0.123456789],
            "cost": [12345.6789],
            "count": [1234567],
            "ids": [["a", "b"]],
            "digest": ["sha256:" + "f0a93edd" * 8],
            "who": ["<b>x</b>'\""],
        }
    )
    html = html_table(df)
    assert ">2026-03-14 09:52:10Z<" in html
    assert ">0.123<" in html and ">12,346<" in html and ">1,234,567<" in html
    assert ">a, b<" in html and "[" not in html
    full = "sha256:" + "f0a93edd" * 8
    assert f"title='{full}'" in html and f">{full}<" not in html
    assert "&lt;b&gt;x&lt;/b&gt;&#x27;&quot;" in html


def test_one_day_chart_names_its_day_in_the_axis_title():
    df = _events(100, datetime(2026, 3, 14, 9, 0, tzinfo=UTC), timedelta(minutes=1))
    svg, err = svg_of(charts.timeline(df))
    assert err is None and "time (UTC), 2026-03-14" in svg


def test_charts_reachable_from_the_package_as_the_readme_writes():
    import subprocess
    import sys

    code = "import forensics; print(callable(forensics.charts.timeline)); print(hasattr(forensics, 'nope'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "False"]
