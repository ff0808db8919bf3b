"""Time rules: UTC microseconds, offsets honoured, epochs by magnitude, naive never in the machine's zone."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import forensics

INSTANT = datetime(2026, 3, 14, 9, 30, 15, 123456, tzinfo=UTC)
EPOCH_US = int(INSTANT.timestamp()) * 1_000_000 + 123456


def _parse(case, text, naive_utc=False):
    return case.sql("SELECT fx_time($t, $n) AS t", {"t": text, "n": naive_utc}).item()


@pytest.mark.parametrize(
    "text",
    [
        "2026-03-14T09:30:15.123456Z",
        "2026-03-14T11:30:15.123456+02:00",
        "2026-03-14T04:30:15.123456-0500",
        "2026-03-14T09:30:15.123456789Z",
        str(EPOCH_US * 1000),  # ns
        str(EPOCH_US),  # µs
    ],
)
def test_zoned_and_epoch_forms_give_the_same_utc_instant(case, text):
    assert _parse(case, text) == INSTANT


def test_epoch_seconds_and_milliseconds_are_recognised(case):
    assert _parse(case, str(EPOCH_US // 1_000_000)) == INSTANT.replace(microsecond=0)
    assert _parse(case, str(EPOCH_US // 1000)) == INSTANT.replace(microsecond=123000)
    assert _parse(case, "1773480615.5") == INSTANT.replace(microsecond=500000)


def test_naive_time_is_rejected_unless_the_source_defines_utc(case):
    assert _parse(case, "2026-03-14 09:30:15") is None
    assert _parse(case, "2026-03-14 09:30:15", naive_utc=True) == INSTANT.replace(microsecond=0)


def test_naive_time_never_depends_on_the_machine_zone(tmp_path):
    old = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Kolkata"
    time.tzset()
    try:
        with forensics.open_case(tmp_path / "c.duckdb") as c:
            c.con.execute("SET TimeZone = 'Asia/Kolkata'")
            got = c.sql("SELECT fx_time('2026-03-14 09:30:15', true) AS t").item()
            assert got.astimezone(UTC) == INSTANT.replace(microsecond=0)
    finally:
        if old is None:
            os.environ.pop("TZ")
        else:
            os.environ["TZ"] = old
        time.tzset()


def test_original_time_text_is_kept(case, tmp_path):
    p = tmp_path / "t.jsonl"
    p.write_text(json.dumps({"time": "2026-03-14T11:30:15.123456+02:00"}) + "\n", encoding="utf-8")
    case.ingest([p])
    row = case.timeline().row(0, named=True)
    assert row["time"] == INSTANT and row["time_raw"] == "2026-03-14T11:30:15.123456+02:00"


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=4_102_444_800_000_000))
def test_every_epoch_unit_round_trips_to_the_microsecond(us):
    with forensics.open_case() as c:
        expected = datetime.fromtimestamp(us // 1_000_000, UTC).replace(microsecond=us % 1_000_000)
        if us >= 100_000_000_000_000:  # µs and ns forms are unambiguous only above 1e14 µs (1973)
            assert c.sql("SELECT fx_time($t, false) AS t", {"t": str(us)}).item() == expected
            assert c.sql("SELECT fx_time($t, false) AS t", {"t": str(us * 1000)}).item() == expected
        iso = expected.isoformat().replace("+00:00", "Z")
        assert c.sql("SELECT fx_time($t, false) AS t", {"t": iso}).item() == expected


def test_known_unit_nanoseconds_convert_without_the_magnitude_rule(case):
    got = case.sql(
        "SELECT fx_unix_nanos($t) AS t, fx_unix_nanos('0') AS zero, fx_unix_nanos('1') AS tiny, "
        "fx_unix_nanos('x') AS bad",
        {"t": str(EPOCH_US * 1000 + 789)},
    ).row(0)
    # a 1 ns timestamp stays in 1970 (the magnitude rule would read it as 1 second); zero and junk are no time
    assert (
        got[0] == INSTANT and got[1] is None and got[2] == datetime(1970, 1, 1, tzinfo=UTC) and got[3] is None
    )
