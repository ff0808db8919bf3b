"""Case.timeline: time order with a stable tie-break, filters, windows."""

from __future__ import annotations

import json

import pytest

from forensics.errors import BadTimeWindow


@pytest.fixture
def two_sources(case, tmp_path):
    a = tmp_path / "a.jsonl"
    b = tmp_path / "b.jsonl"
    a.write_text(
        "".join(
            json.dumps({"time": t, "action": f"a{i}", "user": "bob"}) + "\n"
            for i, t in enumerate(["2026-03-14T09:00:02Z", "2026-03-14T09:00:00Z", "2026-03-14T09:00:00Z"])
        )
    )
    b.write_text(
        "".join(
            json.dumps({"time": t, "action": f"b{i}", "user": "eve"}) + "\n"
            for i, t in enumerate(["2026-03-14T09:00:00Z", "2026-03-14T10:00:00Z"])
        )
    )
    case.ingest([a, b])
    return case


def test_timeline_is_ordered_by_time_with_stable_tie_break(two_sources):
    df = two_sources.timeline()
    times = df.get_column("time").to_list()
    assert times == sorted(times)
    same = df.filter(df["time"] == df["time"].min())
    keys = list(zip(same["source"], same["evidence_sha256"], same["evidence_record"], strict=True))
    assert keys == sorted(keys)
    assert df.get_column("action").to_list() == two_sources.timeline().get_column("action").to_list()


def test_timeline_window_is_start_inclusive_end_exclusive(two_sources):
    df = two_sources.timeline(start="2026-03-14T09:00:00Z", end="2026-03-14T10:00:00Z")
    assert df.height == 4


def test_timeline_filters_by_actor(two_sources):
    assert set(two_sources.timeline(actors=["eve"]).get_column("actor")) == {"eve"}


def test_empty_or_inverted_window_is_an_error(two_sources):
    with pytest.raises(BadTimeWindow):
        two_sources.timeline(start="2026-03-14T10:00:00Z", end="2026-03-14T09:00:00Z")
    with pytest.raises(BadTimeWindow):
        two_sources.timeline(start="not a time")


def test_window_without_zone_is_utc(two_sources):
    assert two_sources.timeline(start="2026-03-14T09:30:00").height == 1


def test_raw_comes_only_when_asked_for(two_sources):
    assert "raw" not in two_sources.timeline().columns
    with_raw = two_sources.timeline(raw=True)
    assert "raw" in with_raw.columns and with_raw["raw"].null_count() == 0
