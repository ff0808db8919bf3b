"""Metric and log sources of the cardinality explorer: Prometheus text, OpenMetrics, OTLP metrics
and OTLP logs, each record accounted for (loaded or rejected with its line and reason)."""

from __future__ import annotations

import json
import subprocess
import sys

PROM = """\
# HELP http_requests_total Requests, by route
# TYPE http_requests_total counter
http_requests_total{route="/a",code="200"} 3 1773475200000
http_requests_total{route="/b"} 4
# a free comment
http_requests_total{route="/a" 3
http_requests_total{route="/a",code="200"} 5 1773475260123

up 1
"""


def _ingest_text(case, tmp_path, name: str, text: str):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    (res,) = case.ingest([p])
    return res


def test_prometheus_text_every_line_loaded_or_rejected_with_line_number(case, tmp_path):
    res = _ingest_text(case, tmp_path, "scrape.prom", PROM)
    assert res.loader == "prometheus"
    assert (res.records_read, res.records_loaded, res.records_rejected, res.blank_lines) == (8, 6, 2, 1)
    assert res.reconciled
    rejects = case.rejects().select("line", "reason").rows()
    assert rejects[0] == (5, "comment line: not a sample")
    assert rejects[1][0] == 6 and rejects[1][1].startswith("Prometheus parser:")
    samples = case.sql(
        "SELECT metric, family, type, labels::VARCHAR, value, time_raw, evidence_line FROM metric_samples "
        "ORDER BY evidence_line"
    ).rows()
    assert [s[6] for s in samples] == [3, 4, 7, 9]
    assert samples[0][:5] == (
        "http_requests_total",
        "http_requests",
        "counter",
        '{"code":"200","route":"/a"}',
        3.0,
    )
    assert samples[2][5] == "1773475260123"
    assert samples[3][:3] == ("up", "up", "unknown")


def test_prometheus_timestamps_are_utc_milliseconds_and_missing_ones_stay_null(case, tmp_path):
    _ingest_text(case, tmp_path, "scrape.prom", PROM)
    times = case.sql(
        "SELECT strftime(time, '%Y-%m-%dT%H:%M:%S.%f') AS t FROM metric_samples ORDER BY evidence_line"
    )["t"]
    assert times.to_list() == ["2026-03-14T08:00:00.000000", None, "2026-03-14T08:01:00.123000", None]


def test_series_are_distinct_label_sets_and_labels_are_long_form(case, tmp_path):
    _ingest_text(case, tmp_path, "scrape.prom", PROM)
    assert case.sql("SELECT count(DISTINCT series_hash) FROM metric_samples").item() == 3
    assert case.sql("SELECT count(*) FROM metric_labels").item() == 2 + 1 + 2
    assert case.sql("SELECT count(DISTINCT value) FROM metric_labels WHERE key = 'route'").item() == 2


def test_exposition_starting_with_labelled_samples_is_not_taken_for_csv(case, tmp_path):
    res = _ingest_text(case, tmp_path, "noheader.txt", 'x{a="1",b="2"} 1\nx{a="2",b="2"} 2\n')
    assert res.loader == "prometheus"
    assert (res.records_loaded, res.records_rejected) == (2, 0)


def test_openmetrics_scrapes_each_ending_with_eof(case, tmp_path):
    text = (
        '# TYPE jobs counter\njobs_total{q="a"} 1 1773475200.5\n# EOF\n'
        '# TYPE jobs counter\njobs_total{q="a"} 2 1773475260\njobs_total{q="b"} 7 1773475260\n'
        'jobs_total{q="b" oops\n# EOF\n'
    )
    res = _ingest_text(case, tmp_path, "om.txt", text)
    assert res.loader == "prometheus"
    assert (res.records_read, res.records_loaded, res.records_rejected) == (8, 7, 1)
    assert case.rejects()["line"].to_list() == [7]
    rows = case.sql("SELECT source, value, time_raw FROM metric_samples ORDER BY evidence_line").rows()
    assert [r[0] for r in rows] == ["openmetrics"] * 3
    assert rows[0][2] == "1773475200.500000000"
    assert case.sql("SELECT count(DISTINCT series_hash) FROM metric_samples").item() == 2


def test_real_exposition_from_prometheus_client_default_registry(case, tmp_path):
    code = "from prometheus_client import generate_latest; import sys; sys.stdout.buffer.write(generate_latest())"
    text = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True).stdout.decode()
    assert "process_resident_memory_bytes" in text and "python_info" in text
    res = _ingest_text(case, tmp_path, "real.prom", text)
    lines = [ln for ln in text.splitlines() if ln.strip()]
    samples = [ln for ln in lines if not ln.startswith("#")]
    assert res.loader == "prometheus"
    assert (res.records_read, res.records_loaded, res.records_rejected) == (len(lines), len(lines), 0)
    assert case.sql("SELECT count(*) FROM metric_samples").item() == len(samples)
    assert (
        case.sql("SELECT count(*) FROM metric_samples WHERE metric = 'process_resident_memory_bytes'").item()
        == 1
    )


def test_otlp_logs_example_from_the_specification_loads(case, shared_data):
    path = shared_data / "traces" / "otlp-proto__examples-logs.json"
    doc = json.loads(path.read_text())
    records = [lr for rl in doc["resourceLogs"] for sl in rl["scopeLogs"] for lr in sl["logRecords"]]
    attrs = sum(len(lr.get("attributes", [])) for lr in records)
    attrs += sum(
        len(rl["resource"].get("attributes", [])) * sum(len(sl["logRecords"]) for sl in rl["scopeLogs"])
        for rl in doc["resourceLogs"]
    )
    attrs += sum(
        len(sl.get("scope", {}).get("attributes", [])) * len(sl["logRecords"])
        for rl in doc["resourceLogs"]
        for sl in rl["scopeLogs"]
    )
    (res,) = case.ingest([path])
    assert res.loader == "otlp-logs" and res.reconciled and res.records_rejected == 0
    assert case.sql("SELECT count(*) FROM log_records").item() == len(records)
    assert case.sql("SELECT count(*) FROM log_attributes").item() == attrs
    row = case.sql(
        "SELECT service, trace_id, body, strftime(time, '%Y-%m-%dT%H:%M:%S.%f') FROM log_records"
    ).row(0)
    assert row == (
        "my.service",
        records[0]["traceId"].lower(),
        records[0]["body"]["stringValue"],
        "2018-12-13T14:51:00.300000",
    )
    kv = dict(case.sql("SELECT key, value FROM log_attributes WHERE scope = 'log'").rows())
    assert (
        kv["int.attribute"] == "10"
        and kv["boolean.attribute"] == "true"
        and kv["string.attribute"] == "some string"
    )


def _kv(k, v):
    return {"key": k, "value": {"stringValue": v}}


def test_otlp_metrics_data_points_become_samples_and_empty_requests_are_rejected(case, tmp_path):
    req = {
        "resourceMetrics": [
            {
                "resource": {"attributes": [_kv("service.name", "pay")]},
                "scopeMetrics": [
                    {
                        "metrics": [
                            {
                                "name": "reqs",
                                "sum": {
                                    "isMonotonic": True,
                                    "dataPoints": [
                                        {
                                            "attributes": [_kv("route", "/a"), _kv("code", "200")],
                                            "timeUnixNano": "1773475200000000000",
                                            "asInt": "5",
                                        },
                                        {
                                            "attributes": [_kv("route", "/b")],
                                            "timeUnixNano": "1773475260000000000",
                                            "asDouble": 2.5,
                                        },
                                    ],
                                },
                            },
                            {
                                "name": "lat",
                                "histogram": {
                                    "dataPoints": [
                                        {"timeUnixNano": "1773475200000000000", "count": "3", "sum": 1.5}
                                    ]
                                },
                            },
                        ]
                    }
                ],
            }
        ]
    }
    p = tmp_path / "metrics.jsonl"
    p.write_text(json.dumps(req) + "\n" + json.dumps({"resourceMetrics": []}) + "\n")
    (res,) = case.ingest([p])
    assert res.loader == "otlp-metrics"
    assert (res.records_read, res.records_loaded, res.records_rejected) == (2, 1, 1)
    rows = case.sql(
        "SELECT metric, type, labels::VARCHAR, value FROM metric_samples ORDER BY metric, value"
    ).rows()
    assert rows == [
        ("lat", "histogram", "{}", 1.5),
        ("reqs", "sum", '{"route":"/b"}', 2.5),
        ("reqs", "sum", '{"code":"200","route":"/a"}', 5.0),
    ]
    assert case.rejects()["reason"].to_list() == ["OTLP metrics request holds no data point"]
