"""The timeline chart stays readable at 100k events and says when it aggregates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl

from forensics.charts import timeline


def _frame(n: int) -> pl.DataFrame:
    t0 = datetime(2026, 3, 14, 8, tzinfo=UTC)
    return pl.DataFrame(
        {
            "time": [t0 + timedelta(milliseconds=100 * i) for i in range(n)],
            "end_time": [None] * n,
            "source": [f"s{i % 3}" for i in range(n)],
            "outcome": [("success", "failure", "timeout", "unknown")[i % 4] for i in range(n)],
            "action": ["a"] * n,
            "category": ["deploy" if i == 5 else "audit" for i in range(n)],
            "service": ["payments"] * n,
        },
        schema_overrides={"end_time": pl.Datetime("us", "UTC")},
    )


def test_large_timeline_is_aggregated_with_a_visible_note():
    spec = timeline(_frame(100_000)).to_dict()
    subtitle = " ".join(spec["title"]["subtitle"])
    assert "aggregated" in subtitle and "100000 events" in subtitle
    data_sizes = [len(v) for v in spec.get("datasets", {}).values()]
    assert max(data_sizes) < 10_000


def test_small_timeline_draws_every_event_and_timeouts_have_their_own_colour():
    spec = timeline(_frame(50)).to_dict()
    assert "aggregated" not in " ".join(spec["title"]["subtitle"])
    colour = spec["layer"][0]["encoding"]["color"]["scale"]
    mapping = dict(zip(colour["domain"], colour["range"], strict=True))
    assert len(set(mapping.values())) == 4 and mapping["timeout"] != mapping["failure"]


def test_deploy_events_get_markers():
    spec = timeline(_frame(50)).to_dict()
    assert any(
        layer.get("mark", {}).get("type") == "rule" or layer.get("mark") == "rule" for layer in spec["layer"]
    )
