"""Outcome rules, id/time normalization and the double-apply invariant on small hand-made traces."""

from __future__ import annotations

import base64
import json

import pytest

T0 = 1_773_480_000_000_000_000  # 2026-03-14T09:20:00Z in ns


def _kv(**kv):
    return [
        {
            "key": k.replace("__", "."),
            "value": {"intValue": str(v)} if isinstance(v, int) else {"stringValue": v},
        }
        for k, v in kv.items()
    ]


def _span(trace, span, name, kind, start_ms, end_ms, parent=None, attrs=None, status=None, events=None):
    s = {
        "traceId": trace,
        "spanId": span,
        "name": name,
        "kind": kind,
        "startTimeUnixNano": str(T0 + start_ms * 1_000_000),
        "attributes": attrs or [],
    }
    if end_ms is not None:
        s["endTimeUnixNano"] = str(T0 + end_ms * 1_000_000)
    if parent:
        s["parentSpanId"] = parent
    if status:
        s["status"] = status
    if events:
        s["events"] = events
    return s


def _line(service, spans):
    return json.dumps(
        {
            "resourceSpans": [
                {
                    "resource": {"attributes": _kv(service__name=service)},
                    "scopeSpans": [{"scope": {"name": "t"}, "spans": spans}],
                }
            ]
        }
    )


def _outcome(case, span_id):
    return case.sql("SELECT outcome, outcome_reason FROM spans WHERE span_id = $s", {"s": span_id}).row(0)


TR = "0af7651916cd43dd8448eb211c80319c"


@pytest.mark.parametrize(
    "attrs,status,events,want",
    [
        (_kv(rpc__grpc__status_code=4), {"code": 2}, None, "timeout"),
        (_kv(http__response__status_code=504), None, None, "timeout"),
        (_kv(http__status_code=408), None, None, "timeout"),
        (_kv(error__type="java.net.SocketTimeoutException"), {"code": "STATUS_CODE_ERROR"}, None, "timeout"),
        (
            [],
            {"code": 2},
            [{"name": "exception", "attributes": _kv(exception__type="DeadlineExceededError")}],
            "timeout",
        ),
        (
            [],
            {"code": 2, "message": "redis timeout"},
            [{"name": "exception", "attributes": _kv(exception__type="*errors.errorString")}],
            "failure",
        ),
        (_kv(http__response__status_code=503), None, None, "failure"),
        ([], {"code": 1}, None, "success"),
        ([], None, None, "success"),
    ],
)
def test_outcome_rules(case, tmp_path, attrs, status, events, want):
    p = tmp_path / "t.jsonl"
    p.write_text(
        _line(
            "svc", [_span(TR, "00f067aa0ba902b7", "op", 2, 0, 50, attrs=attrs, status=status, events=events)]
        )
        + "\n"
    )
    case.ingest(p)
    assert _outcome(case, "00f067aa0ba902b7")[0] == want


def test_client_error_while_server_completed_is_a_timeout(case, tmp_path):
    p = tmp_path / "t.jsonl"
    p.write_text(
        "\n".join(
            [
                _line(
                    "web",
                    [
                        _span(
                            TR,
                            "1111111111111111",
                            "GET /x",
                            3,
                            0,
                            1000,
                            status={"code": 2, "message": "context canceled"},
                        )
                    ],
                ),
                _line(
                    "api", [_span(TR, "2222222222222222", "GET /x", 2, 5, 1500, parent="1111111111111111")]
                ),
            ]
        )
        + "\n"
    )
    case.ingest(p)
    outcome, reason = _outcome(case, "1111111111111111")
    assert outcome == "timeout" and "2222222222222222" in reason
    ev = case.sql("SELECT outcome FROM events WHERE span_id = '1111111111111111'")
    assert ev["outcome"].to_list() == ["timeout"]  # root span on the timeline takes the refined outcome


def test_span_without_end_is_unknown(case, tmp_path):
    p = tmp_path / "t.jsonl"
    p.write_text(_line("svc", [_span(TR, "3333333333333333", "op", 2, 0, None)]) + "\n")
    case.ingest(p)
    assert _outcome(case, "3333333333333333")[0] == "unknown"


def test_bom_base64_ids_and_string_nanoseconds_in_a_single_tracesdata(case, tmp_path):
    tid, sid = bytes.fromhex(TR), bytes.fromhex("00f067aa0ba902b7")
    doc = {
        "resourceSpans": [
            {
                "resource": {"attributes": _kv(service__name="b64")},
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": base64.b64encode(tid).decode(),
                                "spanId": base64.b64encode(sid).decode(),
                                "name": "n",
                                "kind": "SPAN_KIND_SERVER",
                                "startTimeUnixNano": "1773480000123456789",
                                "endTimeUnixNano": "1773480000223456789",
                            }
                        ]
                    }
                ],
            }
        ]
    }
    p = tmp_path / "doc.json"
    p.write_bytes(b"\xef\xbb\xbf" + json.dumps(doc, indent=2).encode())
    res = case.ingest(p)[0]
    assert res.loader == "otlp" and res.reconciled and res.records_loaded == 1
    row = case.sql(
        "SELECT trace_id, span_id, kind, start_raw, duration_us, CAST(start AS VARCHAR) AS s FROM spans"
    ).row(0)
    assert row[:5] == (TR, "00f067aa0ba902b7", "server", "1773480000123456789", 100000)
    assert row[5].startswith("2026-03-14 09:20:00.123456")


def test_jaeger_v3_result_lines_and_uppercase_hex(case, tmp_path):
    spans = [_span(TR.upper(), "00F067AA0BA902B7", "n", 2, 0, 10)]
    line = json.dumps(
        {"result": {"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"spans": spans}]}]}}
    )
    p = tmp_path / "v3.jsonl"
    p.write_text(line + "\n" + line.replace("00F067AA0BA902B7", "00F067AA0BA902B8") + "\n")
    res = case.ingest(p)[0]
    assert res.loader == "otlp" and res.records_loaded == 2
    assert case.sql("SELECT DISTINCT trace_id FROM spans")["trace_id"].to_list() == [TR]


def test_otlp_line_without_spans_is_rejected_with_reason(case, tmp_path):
    p = tmp_path / "t.jsonl"
    p.write_text(
        _line("svc", [_span(TR, "4444444444444444", "op", 2, 0, 5)])
        + "\n"
        + json.dumps({"resourceSpans": [{"resource": {}, "scopeSpans": []}]})
        + "\n"
    )
    res = case.ingest(p)[0]
    assert (res.records_read, res.records_loaded, res.records_rejected) == (2, 1, 1)
    assert case.rejects()["reason"].to_list() == ["OTLP record holds no spans"]


def test_zipkin_span_without_timestamp_is_kept_as_unknown_off_the_timeline(case, tmp_path):
    p = tmp_path / "z.json"
    p.write_text(
        json.dumps(
            [
                {
                    "traceId": "1e223ff1f80f1c69",
                    "id": "bf396325699c84bf",
                    "kind": "SERVER",
                    "name": "get",
                    "timestamp": 1470150004071068,
                    "duration": 99411,
                    "localEndpoint": {"serviceName": "a"},
                },
                {
                    "traceId": "1e223ff1f80f1c69",
                    "id": "74280ae0c10d8062",
                    "parentId": "bf396325699c84bf",
                    "kind": "SERVER",
                    "name": "fragment",
                    "localEndpoint": {"serviceName": "b"},
                    "tags": {"http.status_code": "200"},
                },
            ]
        )
    )
    res = case.ingest(p)[0]
    assert res.loader == "zipkin" and res.records_loaded == 2
    assert _outcome(case, "74280ae0c10d8062") == ("unknown", "span has no start time")
    assert case.sql("SELECT count(*) AS n FROM events")["n"][0] == 1


def _payment(
    order, trace, client_id, server_id, capture_id, start_ms, client_end_ms, server_end_ms, client_timeout
):
    client = _span(
        trace,
        client_id,
        "POST /charge",
        3,
        start_ms,
        client_end_ms,
        attrs=_kv(
            app__order__id=order,
            **({"error__type": "timeout"} if client_timeout else {"http__response__status_code": 200}),
        ),
        status={"code": 2} if client_timeout else None,
    )
    server = _span(
        trace,
        server_id,
        "POST /charge",
        2,
        start_ms + 1,
        server_end_ms,
        parent=client_id,
        attrs=_kv(app__order__id=order, http__route="/charge"),
    )
    capture = _span(
        trace, capture_id, "payment.capture", 1, start_ms + 2, server_end_ms - 1, parent=server_id
    )
    return [_line("checkout", [client]), _line("payments", [server, capture])]


def test_double_apply_fires_after_timeout_and_retry(case, tmp_path):
    p = tmp_path / "t.jsonl"
    lines = _payment(
        "ord-1", TR, "a000000000000001", "b000000000000001", "c000000000000001", 0, 2000, 2400, True
    )
    lines += _payment(
        "ord-1", TR, "a000000000000002", "b000000000000002", "c000000000000002", 2100, 2200, 2190, False
    )
    p.write_text("\n".join(lines) + "\n")
    case.ingest(p)
    bad = case.invariants()["double_apply"]
    assert bad["request_key"].to_list() == ["ord-1"] and bad["applies"][0] == 2
    assert case.query("traces/retries")["retry_span_id"].to_list() == ["a000000000000002"]


def test_double_apply_quiet_when_the_timed_out_call_never_captured(case, tmp_path):
    p = tmp_path / "t.jsonl"
    lines = _payment(
        "ord-2", TR, "a000000000000001", "b000000000000001", "c000000000000001", 0, 2000, 2400, True
    )
    # the first server gave up before capturing: drop its capture span
    first = json.loads(lines[1])
    first["resourceSpans"][0]["scopeSpans"][0]["spans"].pop()
    lines[1] = json.dumps(first)
    lines += _payment(
        "ord-2", TR, "a000000000000002", "b000000000000002", "c000000000000002", 2100, 2200, 2190, False
    )
    # and a different order captured once each, no timeout
    lines += _payment(
        "ord-3", "1" * 32, "a000000000000003", "b000000000000003", "c000000000000003", 0, 100, 90, False
    )
    p.write_text("\n".join(lines) + "\n")
    case.ingest(p)
    assert case.invariants()["double_apply"].is_empty()
    assert case.query("traces/retries").height == 1


def test_log_event_sharing_a_trace_id_links_with_its_clock_offset(case, tmp_path):
    p = tmp_path / "t.jsonl"
    p.write_text(_line("api", [_span(TR, "5555555555555555", "POST /pay", 2, 0, 100)]) + "\n")
    log = tmp_path / "app.jsonl"
    # the log line is stamped 250 ms after the span ended: the log host's clock runs ahead
    log.write_text(json.dumps({"ts": "2026-03-14T09:20:00.350Z", "event": "charge", "trace_id": TR}) + "\n")
    (tmp_path / "app.jsonl.mapping.toml").write_text(
        'name = "app"\n[fields]\ntime = "ts"\naction = "event"\ntrace_id = "trace_id"\n'
    )
    case.ingest([p, log])
    links = case.query("traces/audit_links")
    assert links.height == 1
    row = links.row(0, named=True)
    assert row["linked_by"] == "trace_id" and row["outside"] is True
    assert row["offset_ms"] == 350.0 and row["outside_by_ms"] == 250.0
