"""Coverage and gaps (issue 22): what the evidence cannot see."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta

from forensics import cli, coverage

ACCOUNT = "111122223333"
PREFIX = f"AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/2026/03/14"
DIGEST_PREFIX = f"AWSLogs/{ACCOUNT}/CloudTrail-Digest/us-east-1/2026/03/14"


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _record(t: datetime, n: int) -> dict:
    return {
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "IAMUser",
            "arn": f"arn:aws:iam::{ACCOUNT}:user/a",
            "accessKeyId": "AKIAEXAMPLE0000000A",
        },
        "eventTime": _iso(t),
        "eventSource": "s3.amazonaws.com",
        "eventName": "GetObject",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "192.0.2.1",
        "eventID": f"00000000-0000-4000-8000-{n:012d}",
        "recipientAccountId": ACCOUNT,
    }


def _log_files(start: datetime, n_files: int, per_file: int = 3) -> list[tuple[str, list[dict]]]:
    """(file name, records): one file per 5 minutes, ``per_file`` records a minute apart."""
    out = []
    for i in range(n_files):
        t0 = start + timedelta(minutes=5 * i)
        recs = [_record(t0 + timedelta(minutes=j), i * 100 + j) for j in range(per_file)]
        out.append((f"{ACCOUNT}_CloudTrail_us-east-1_{t0:%Y%m%dT%H%M}Z_f{i}.json.gz", recs))
    return out


def _digest(start: datetime, end: datetime, files, name: str, previous: str | None) -> dict:
    return {
        "awsAccountId": ACCOUNT,
        "digestStartTime": _iso(start),
        "digestEndTime": _iso(end),
        "digestS3Bucket": "b",
        "digestS3Object": f"{DIGEST_PREFIX}/{name}",
        "previousDigestS3Object": previous and f"{DIGEST_PREFIX}/{previous}",
        "previousDigestSignature": previous and "00ff",
        "logFiles": [
            {
                "s3Bucket": "b",
                "s3Object": f"{PREFIX}/{fname}",
                "hashValue": "ab" * 32,
                "hashAlgorithm": "SHA-256",
                "oldestEventTime": recs[0]["eventTime"],
                "newestEventTime": recs[-1]["eventTime"],
            }
            for fname, recs in files
        ],
    }


def _write_gz(path, doc) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(json.dumps(doc).encode(), mtime=0))


T8 = datetime(2026, 3, 14, 8, 0, tzinfo=UTC)


def _trail(tmp_path, drop: set[int]):
    files = _log_files(T8, 3)
    for i, (fname, recs) in enumerate(files):
        if i not in drop:
            _write_gz(tmp_path / "ct" / PREFIX / fname, {"Records": recs})
    _write_gz(
        tmp_path / "ct" / DIGEST_PREFIX / "d1.json.gz",
        _digest(T8, T8 + timedelta(hours=1), files, "d1.json.gz", None),
    )
    return files


def test_a_log_file_the_digest_lists_but_the_evidence_lacks_is_a_gap(case, tmp_path):
    files = _trail(tmp_path, drop={1})
    case.ingest(tmp_path / "ct")
    gaps = coverage.gaps(case, kind="digest_missing_file")
    missing_name, missing_recs = files[1]
    assert gaps.height == 1 and missing_name in gaps["statement"][0]
    assert _iso(gaps["start"][0]) == missing_recs[0]["eventTime"]
    assert _iso(gaps["end"][0]) == missing_recs[-1]["eventTime"]
    assert gaps["statement"][0].startswith(f"no evidence for CloudTrail account {ACCOUNT} between ")
    f = case.findings(detector="coverage_gap")
    row = f.filter(f["rule_id"] == "digest_missing_file")
    assert row.height == 1 and row["severity"][0] == "medium" and row["technique"][0] == "T1562.008"
    # the statement a conclusion about 08:05-08:10 rests on, and none for 08:30-08:40
    assert any(
        missing_name in s for s in coverage.caveats(case, "2026-03-14T08:04:00Z", "2026-03-14T08:06:00Z")
    )
    assert not any(
        missing_name in s for s in coverage.caveats(case, "2026-03-14T08:30:00Z", "2026-03-14T08:40:00Z")
    )


def test_no_digest_gap_when_every_listed_file_is_present(case, tmp_path):
    _trail(tmp_path, drop=set())
    case.ingest(tmp_path / "ct")
    assert coverage.gaps(case, kind="digest_missing_file").is_empty()
    assert coverage.gaps(case, kind="digest_chain_break").is_empty()


def test_a_missing_digest_in_the_middle_of_the_chain_is_a_break(case, tmp_path):
    hours = [(T8 + timedelta(hours=h), T8 + timedelta(hours=h + 1)) for h in range(3)]
    names = ["a.json.gz", "b.json.gz", "c.json.gz"]
    for i, (s, e) in enumerate(hours):
        if i != 1:  # digest b was removed
            _write_gz(tmp_path / "d" / names[i], _digest(s, e, [], names[i], names[i - 1] if i else None))
    case.ingest(tmp_path / "d")
    gaps = coverage.gaps(case, kind="digest_chain_break")
    assert gaps.height == 1 and "b.json.gz" in gaps["statement"][0]
    assert (gaps["start"][0], gaps["end"][0]) == hours[1]


def test_the_whole_chain_present_is_no_break(case, tmp_path):
    names = ["a.json.gz", "b.json.gz", "c.json.gz"]
    for i in range(3):
        s = T8 + timedelta(hours=i)
        _write_gz(
            tmp_path / "d" / names[i],
            _digest(s, s + timedelta(hours=1), [], names[i], names[i - 1] if i else None),
        )
    case.ingest(tmp_path / "d")
    assert coverage.gaps(case, kind="digest_chain_break").is_empty()


def _records_file(tmp_path, name, times):
    p = tmp_path / name
    p.write_text(json.dumps({"Records": [_record(t, i) for i, t in enumerate(times)]}))
    return p


def _largest_step(times):
    pairs = list(zip(times, times[1:], strict=False))
    return max(pairs, key=lambda p: p[1] - p[0])


def test_silence_past_the_learned_cadence_is_a_gap(case, tmp_path):
    # one event a minute for two hours, except 20 silent minutes from 09:00
    times = [T8 + timedelta(minutes=m) for m in range(120) if not 60 < m < 80]
    case.ingest(_records_file(tmp_path, "busy.json", times))
    gaps = coverage.gaps(case, kind="silence")
    t0, t1 = _largest_step(times)
    assert gaps.height == 1 and (gaps["start"][0], gaps["end"][0]) == (t0, t1)
    assert (
        "no evidence for cloudtrail" in gaps["statement"][0] and "learned threshold" in gaps["statement"][0]
    )
    f = case.findings(detector="coverage_gap")
    assert f.filter(f["rule_id"] == "silence")["severity"].to_list() == ["low"]


def test_silence_within_the_learned_cadence_is_no_gap(case, tmp_path):
    # a source that speaks every 25 minutes: 25 quiet minutes are its normal
    slow = [T8 + timedelta(minutes=25 * i) for i in range(32)]
    case.ingest(_records_file(tmp_path, "slow.json", slow))
    assert coverage.gaps(case, kind="silence").is_empty()


def test_a_short_pause_of_a_busy_source_is_no_gap(case, tmp_path):
    times = [T8 + timedelta(minutes=m) for m in range(120) if not 60 < m < 66]
    case.ingest(_records_file(tmp_path, "busy.json", times))
    assert coverage.gaps(case, kind="silence").is_empty()


def _span(trace: str, span: str, parent: str | None, minute: int) -> dict:
    t = int((T8 + timedelta(minutes=minute)).timestamp() * 1e9)
    s = {
        "traceId": trace,
        "spanId": span,
        "name": "op",
        "kind": 2,
        "startTimeUnixNano": str(t),
        "endTimeUnixNano": str(t + 1000),
    }
    if parent:
        s["parentSpanId"] = parent
    return s


def test_spans_whose_parent_was_not_collected_are_a_gap(case, tmp_path):
    tr = "0af7651916cd43dd8448eb211c80319c"
    spans = [_span(tr, "b7ad6b7169203331", None, 0), _span(tr, "00f067aa0ba902b7", "b7ad6b7169203331", 1),
             _span(tr, "1111111111111111", "2222222222222222", 2), _span(tr, "3333333333333333", "4444444444444444", 3)]  # fmt: skip
    p = tmp_path / "traces.json"
    p.write_text(
        json.dumps(
            {
                "resourceSpans": [
                    {
                        "resource": {
                            "attributes": [{"key": "service.name", "value": {"stringValue": "svc"}}]
                        },
                        "scopeSpans": [{"spans": spans}],
                    }
                ]
            }
        )
    )
    case.ingest(p)
    orphans = sum(
        1 for s in spans if s.get("parentSpanId") and s["parentSpanId"] not in {x["spanId"] for x in spans}
    )
    gaps = coverage.gaps(case, kind="missing_parent")
    assert gaps.height == 1 and gaps["scope"][0] == "svc"
    assert json.loads(gaps["detail"][0])["spans"] == orphans == 2


def test_a_file_no_loader_reads_is_a_skipped_file_gap_and_the_cli_reports_coverage(case, tmp_path, capsys):
    _trail(tmp_path, drop={2})
    (tmp_path / "ct" / "notes.bin").write_bytes(bytes(range(256)))
    case.ingest(tmp_path / "ct")
    skipped = coverage.gaps(case, kind="skipped_file")
    assert skipped.height == 1 and skipped["scope"][0].endswith("notes.bin")
    case.close()
    assert cli.main(["coverage", "--case", str(tmp_path / "case.duckdb"), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {g["kind"] for g in out["gaps"]} == {"digest_missing_file", "skipped_file"}
    (ct,) = [s for s in out["sources"] if s["source"] == "cloudtrail"]
    assert ct["events"] == 6 and ct["gaps"] == 1
    assert cli.main(["coverage", "--case", str(tmp_path / "case.duckdb")]) == 0
    assert "2 gap(s)" in capsys.readouterr().out
