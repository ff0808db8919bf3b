"""Times out of range (year 0, BC dates, offsets beyond +-18:00) are rejected with their reason, and the
timeline and the report then work."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

FORENSICS = str(Path(sys.executable).with_name("forensics"))

BAD = {
    "0000-01-01T00:00:00Z": "time out of range",
    "0001-01-01T00:30:00+01:00": "time out of range",
    "2026-03-14T09:00:00+25:00": "UTC offset beyond",
    "2026-03-14T09:00:00+18:30": "UTC offset beyond",
    "-99999999999": "time out of range",
}


def test_out_of_range_times_are_rejected_with_the_reason(case, tmp_path):
    p = tmp_path / "t.jsonl"
    good = ["2026-03-14T09:00:00Z", "2026-03-14T09:00:00+18:00", "0001-01-01T00:00:00Z"]
    p.write_text("".join(json.dumps({"time": t, "action": "x"}) + "\n" for t in [*BAD, *good]))
    (res,) = case.ingest([p])
    assert (res.records_loaded, res.records_rejected) == (len(good), len(BAD)) and res.reconciled
    reasons = case.sql("SELECT raw_text, reason FROM rejects ORDER BY line").rows()
    for (raw, reason), (t, want) in zip(reasons, BAD.items(), strict=True):
        assert t in raw and want in reason
    assert len(case.timeline()) == len(good)


@pytest.mark.parametrize("when", ["0000-01-01T00:00:00Z", "0000-06-01T12:00:00Z"])
def test_a_year_zero_cloudtrail_record_is_rejected_and_the_timeline_runs(tmp_path, when):
    rec = {
        "eventVersion": "1.09",
        "eventTime": when,
        "eventSource": "s3.amazonaws.com",
        "eventName": "GetObject",
        "eventID": "e0",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::1:user/u"},
    }
    ok = dict(rec, eventTime="2026-03-14T09:00:00Z", eventID="e1")
    p = tmp_path / "ct.json"
    p.write_text(json.dumps({"Records": [rec, ok]}))
    case = tmp_path / "c.duckdb"
    res = subprocess.run([FORENSICS, "ingest", "--case", str(case), str(p)], capture_output=True, text=True)
    assert res.returncode == 0 and "loaded 1 + rejected 1" in res.stdout, res.stdout + res.stderr
    tl = subprocess.run([FORENSICS, "timeline", "--case", str(case)], capture_output=True, text=True)
    assert tl.returncode == 0 and "Traceback" not in tl.stderr, tl.stderr
