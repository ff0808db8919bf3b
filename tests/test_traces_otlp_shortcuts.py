"""The OTLP loader's shortcuts give what the general rules give: ids already in canonical form skip
the id normalization, BIGINT-sized nanoseconds skip the HUGEINT parse, and a resource's service,
version and attribute JSON are worked out once per resource. Each case here takes the other path
too (ids that need normalizing, nanoseconds past BIGINT, repeated keys, old OTLP, wrappers)."""

from __future__ import annotations

import base64
import json

import pytest

import forensics.ingest as ingest

T = "0af7651916cd43dd8448eb211c80319c"


def _span(i: int, **kw) -> dict:
    s = {
        "traceId": T,
        "spanId": f"{i:016x}",
        "parentSpanId": f"{i + 100:016x}",
        "name": f"op{i}",
        "kind": 2,
        "startTimeUnixNano": str(1773475200000000000 + i * 1000),
        "endTimeUnixNano": str(1773475200000500000 + i * 1000),
        "attributes": [{"key": "http.route", "value": {"stringValue": f"/r/{i}"}}],
    }
    s.update(kw)
    return s


def _rs(spans: list, version: str = "1.2", old: bool = False) -> dict:
    res = {
        "attributes": [
            {"key": "service.name", "value": {"stringValue": "svc"}},
            {"key": "service.version", "value": {"stringValue": version}},
        ]
    }
    key, scope = ("instrumentationLibrarySpans", "instrumentationLibrary") if old else ("scopeSpans", "scope")
    return {"resource": res, key: [{scope: {"name": "lib"}, "spans": spans}]}


# a small batch is staged through a result planned once, a larger one streamed to Arrow
# (ingest.SMALL_BATCH_BYTES): both give the same rows
@pytest.mark.parametrize("streamed", [False, True], ids=["small-file", "streamed"])
def test_shortcuts_agree_with_the_general_rules(case, tmp_path, monkeypatch, streamed):
    if streamed:
        monkeypatch.setattr(ingest.limits, "SMALL_BATCH_BYTES", 0)
    lines = [
        {
            "resourceSpans": [
                _rs(
                    [
                        _span(1),  # canonical: taken as is
                        _span(2, traceId=T.upper(), spanId="00000000000000AB"),  # upper case: lowered
                        _span(3, traceId="ABCDEF", spanId="FF", parentSpanId="0"),  # short: padded
                        _span(
                            4,
                            traceId=base64.b64encode(bytes.fromhex(T)).decode(),
                            spanId=base64.b64encode(bytes(range(1, 9))).decode(),
                            parentSpanId="",
                        ),
                        _span(
                            5, startTimeUnixNano="9300000000000000000", endTimeUnixNano=1773475200000000000
                        ),
                        _span(
                            6,
                            attributes=[
                                {"key": "a", "value": {"stringValue": "1"}},
                                {"key": "a", "value": {"intValue": 2}},
                                {"key": "service.version", "value": {"stringValue": "span-level"}},
                            ],
                        ),
                    ]
                )
            ]
        },
        {"resourceSpans": [_rs([_span(7)], version="9", old=True)]},
        {"result": {"resourceSpans": [_rs([_span(8)])]}},
        {"batches": [_rs([_span(9, traceId="nothex!")])]},
    ]
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    res = case.ingest(path)[0]
    assert res.loader == "otlp" and res.reconciled
    assert (res.records_read, res.records_loaded, res.records_rejected) == (4, 3, 1)

    rows = {
        r[0]: r[1:]
        for r in case.sql(
            """SELECT name, trace_id, span_id, parent_span_id, epoch_us(start), service, service_version,
                  CAST(attributes AS VARCHAR), CAST(resource_attributes AS VARCHAR)
           FROM spans"""
        ).iter_rows()
    }
    assert rows["op1"][:3] == (T, f"{1:016x}", f"{101:016x}")
    assert rows["op2"][:2] == (T, "00000000000000ab")
    assert rows["op3"][:3] == ("0000000000abcdef", "00000000000000ff", "0000000000000000")
    assert rows["op4"][:3] == (T, bytes(range(1, 9)).hex(), None)
    assert rows["op5"][3] == 9300000000000000  # past BIGINT nanoseconds: the HUGEINT path
    assert rows["op1"][3] == 1773475200000001
    # repeated keys keep the list form; the resource's version wins over the span's
    assert json.loads(rows["op6"][6]) == [
        {"key": "a", "value": "1"},
        {"key": "a", "value": "2"},
        {"key": "service.version", "value": "span-level"},
    ]
    assert rows["op6"][5] == "1.2"
    assert json.loads(rows["op1"][6]) == {"http.route": "/r/1"}
    assert json.loads(rows["op1"][7]) == {"service.name": "svc", "service.version": "1.2"}
    assert rows["op7"][4:6] == ("svc", "9")  # instrumentationLibrarySpans
    assert rows["op8"][0] == T  # Jaeger API v3 wrapper
    assert "op9" not in rows  # Tempo wrapper, unusable trace id
    reasons = case.sql("SELECT reason FROM rejects")["reason"].to_list()
    assert reasons == ["span without a usable trace id (ids must be hex or base64 of 16/8 bytes)"]
    attrs = case.sql("SELECT scope, count(*) AS n FROM span_attributes GROUP BY ALL ORDER BY ALL").rows()
    assert attrs == [("resource", 16), ("span", 10)]
