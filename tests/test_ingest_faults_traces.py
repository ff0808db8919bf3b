"""Every Jaeger trace of every line is read; an OTLP logs document of many records is read with its
resource and scope taken out once (no per-record copy of the document)."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

FORENSICS = str(Path(sys.executable).with_name("forensics"))


def _trace(t: int, n_spans: int) -> dict:
    tid = f"{t + 1:032x}"
    return {
        "traceID": tid,
        "processes": {"p1": {"serviceName": f"svc{t % 3}", "tags": []}},
        "spans": [
            {
                "traceID": tid,
                "spanID": f"{t * 100 + s + 1:016x}",
                "operationName": f"op{s}",
                "references": [],
                "startTime": 1773478800000000 + s,
                "duration": 10,
                "tags": [],
                "logs": [],
                "processID": "p1",
            }
            for s in range(n_spans)
        ],
    }


def test_every_jaeger_trace_of_every_line_is_read(case, tmp_path):
    lines = [{"data": [_trace(line * 10 + t, 2 + t % 3) for t in range(5 + line)]} for line in range(2)]
    p = tmp_path / "jaeger.jsonl"
    p.write_text("".join(json.dumps(x) + "\n" for x in lines))
    want_traces = {t["traceID"] for x in lines for t in x["data"]}
    want_spans = sum(len(t["spans"]) for x in lines for t in x["data"])
    (res,) = case.ingest([p])
    assert res.loader == "jaeger" and (res.records_read, res.records_loaded) == (2, 2)
    assert case.sql("SELECT count(*) FROM spans").item() == want_spans
    assert case.sql("SELECT count(DISTINCT trace_id) FROM spans").item() == len(want_traces) == 11


def _otlp_logs(n: int) -> dict:
    return {
        "resourceLogs": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "api"}}]},
                "scopeLogs": [
                    {
                        "scope": {"name": "s", "attributes": [{"key": "lib", "value": {"stringValue": "x"}}]},
                        "logRecords": [
                            {
                                "timeUnixNano": str(1773478800000000000 + i),
                                "severityText": "INFO",
                                "body": {"stringValue": f"message {i} " + "y" * 200},
                                "attributes": [{"key": "i", "value": {"intValue": str(i)}}],
                            }
                            for i in range(n)
                        ],
                    }
                ],
            }
        ]
    }


def test_an_otlp_logs_document_of_many_records_loads_each_once(case, tmp_path):
    doc = _otlp_logs(1000)
    p = tmp_path / "logs.json"
    p.write_text(json.dumps(doc))
    (res,) = case.ingest([p])
    assert res.loader == "otlp-logs" and res.reconciled
    assert case.sql("SELECT count(*), count(DISTINCT log_id) FROM log_records").row(0) == (1000, 1000)
    assert case.sql("SELECT count(DISTINCT service), min(service) FROM log_records").row(0) == (1, "api")
    # per record: its own attribute, the resource's and the scope's (a backend's long form)
    got = dict(case.sql("SELECT scope, count(*) FROM log_attributes GROUP BY ALL").rows())
    assert got == {"log": 1000, "resource": 1000, "scope": 1000}


def test_an_otlp_logs_document_of_many_records_stays_small_in_memory(tmp_path):
    """Peak RSS of a child ingest of 20,000 records (~5 MB): the old per-record copy of the document was
    quadratic (20,000 copies of 5 MB)."""
    p = tmp_path / "logs.json"
    p.write_text(json.dumps(_otlp_logs(20_000)))
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    res = subprocess.run(
        [FORENSICS, "ingest", "--case", str(tmp_path / "c.duckdb"), str(p)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    assert max(peak_kib, before) < 1_500_000  # KiB: well under 1.5 GB
