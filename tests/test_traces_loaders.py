"""Trace loaders on every real trace file in ../shared/data/traces: span counts computed
independently with json, ids normalized to lowercase hex, outcomes, skew, reconciliation."""

from __future__ import annotations

import base64
import json
import re

import pytest

import forensics

TRACE_FILES = {
    "jaeger-analytics__ui-trace.json": "jaeger",
    "jaeger-ui__hotrod-apiv3-getTrace-response.json": "otlp",
    "jaeger__ui_01.json": "jaeger",
    "kiali__tempo-bookinfo-ambient-search.json": "tempo-search",
    "kiali__tempo-bookinfo-search.json": "tempo-search",
    "kiali__tempo-bookinfo-trace.json": "otlp",
    "otlp-proto__examples-trace.json": "otlp",
    "zipkin__envoy.json": "zipkin",
    "zipkin__messaging-kafka.json": "zipkin",
    "zipkin__skew.json": "zipkin",
    "zipkin__smartthings-oauth-authorization.json": "zipkin",
    "zipkin__yelp.json": "zipkin",
}
HEX = re.compile(r"^[0-9a-f]+$")


def _hex_id(raw: str, width_if_short: int) -> str:
    """Independent id normalization: hex stays hex (lowercase, left-padded), base64 is decoded."""
    if re.fullmatch(r"[0-9a-fA-F]+", raw) and len(raw) <= 32:
        return raw.lower().rjust(16 if len(raw) <= 16 else 32, "0")
    return base64.b64decode(raw).hex()


def _otlp_spans(doc: dict) -> list[dict]:
    rs = (
        doc.get("resourceSpans") or (doc.get("result") or {}).get("resourceSpans") or doc.get("batches") or []
    )
    return [
        s
        for r in rs
        for ss in r.get("scopeSpans", []) + r.get("instrumentationLibrarySpans", [])
        for s in ss.get("spans", [])
    ]


def expected_spans(path) -> list[tuple[str, str]]:
    """(trace_id, span_id) of every span in the file, read with json only."""
    doc = json.loads(path.read_text(encoding="utf-8-sig"))
    if isinstance(doc, list):  # Zipkin v2
        return [(_hex_id(s["traceId"], 16), _hex_id(s["id"], 8)) for s in doc]
    if "traces" in doc:  # Tempo search: span sets may repeat a span
        out = set()
        for t in doc["traces"]:
            sets = [t.get("spanSet") or {}] + list(t.get("spanSets") or [])
            out |= {
                (_hex_id(t["traceID"], 16), _hex_id(s["spanID"], 8))
                for ss in sets
                for s in ss.get("spans", [])
            }
        return sorted(out)
    if "data" in doc or "spans" in doc:  # Jaeger UI
        traces = doc["data"] if "data" in doc else [doc]
        return [(_hex_id(s["traceID"], 16), _hex_id(s["spanID"], 8)) for t in traces for s in t["spans"]]
    return [(_hex_id(s["traceId"], 16), _hex_id(s["spanId"], 8)) for s in _otlp_spans(doc)]


@pytest.fixture(scope="module")
def traces_case(shared_data, tmp_path_factory):
    c = forensics.open_case(tmp_path_factory.mktemp("traces") / "t.duckdb")
    results = {
        r.path.rsplit("/", 1)[1]: r for r in c.ingest([shared_data / "traces" / name for name in TRACE_FILES])
    }
    yield c, results
    c.close()


@pytest.mark.parametrize("name", sorted(TRACE_FILES))
def test_every_span_in_the_file_lands_with_normalized_ids(traces_case, shared_data, name):
    case, results = traces_case
    res = results[name]
    assert res.loader == TRACE_FILES[name]
    assert res.reconciled and res.records_rejected == 0
    got = case.sql(
        "SELECT trace_id, span_id FROM spans WHERE evidence_sha256 = $s ORDER BY ALL", {"s": res.sha256}
    )
    want = sorted(expected_spans(shared_data / "traces" / name))
    assert sorted(got.iter_rows()) == want
    for tid, sid in want:
        assert HEX.match(tid) and len(tid) in (16, 32) and HEX.match(sid) and len(sid) == 16


def test_span_attributes_hold_every_attribute_of_the_otlp_example(traces_case):
    case, results = traces_case
    sha = results["otlp-proto__examples-trace.json"].sha256
    rows = case.sql(
        "SELECT scope, key, value FROM span_attributes WHERE evidence_sha256 = $s ORDER BY ALL", {"s": sha}
    )
    assert rows.rows() == [("resource", "service.name", "my.service"), ("span", "my.span.attr", "some value")]


def test_base64_tempo_ids_become_hex(traces_case):
    case, results = traces_case
    sha = results["kiali__tempo-bookinfo-trace.json"].sha256
    ids = case.sql("SELECT DISTINCT trace_id FROM spans WHERE evidence_sha256 = $s", {"s": sha})[
        "trace_id"
    ].to_list()
    assert ids == [base64.b64decode("O6VWCcPN5JZJzXfR+dzZNg==").hex()]


def test_hotrod_redis_errors_are_failures_not_timeouts(traces_case):
    case, results = traces_case
    sha = results["jaeger-ui__hotrod-apiv3-getTrace-response.json"].sha256
    redis = case.sql(
        """SELECT outcome, outcome_reason FROM spans WHERE evidence_sha256 = $s AND service = 'redis-manual'
                        AND status_code = 'error'""",
        {"s": sha},
    )
    assert redis.height == 3
    assert set(redis["outcome"]) == {"failure"}
    assert all(r.startswith("status ERROR") for r in redis["outcome_reason"])
    others = case.sql(
        "SELECT count(*) AS n FROM spans WHERE evidence_sha256 = $s AND outcome <> 'success'", {"s": sha}
    )
    assert others["n"][0] == 3


def test_jaeger_error_tag_and_references(traces_case):
    case, results = traces_case
    sha = results["jaeger__ui_01.json"].sha256
    ops = case.sql(
        "SELECT span_id, outcome FROM spans WHERE evidence_sha256 = $s AND name = 'some-operation' ORDER BY span_id",
        {"s": sha},
    )
    assert ops.rows() == [("0000000000000002", "failure"), ("0000000000000003", "success")]
    ref = case.sql(
        "SELECT parent_span_id FROM spans WHERE evidence_sha256 = $s AND name = 'reference-test'", {"s": sha}
    )
    assert ref["parent_span_id"].to_list() == ["0000000000000002"]  # the CHILD_OF within the same trace
    child = case.sql(
        "SELECT parent_span_id, service FROM spans WHERE evidence_sha256 = $s AND name = 'preserveParentID-test'",
        {"s": sha},
    )
    assert child.rows() == [("0000000000000004", "service-y")]


def test_zipkin_skew_json_skew_detected_and_corrected(traces_case):
    case, _ = traces_case
    sk = case.sql("SELECT * FROM trace_skew WHERE trace_id = '1e223ff1f80f1c69'")
    assert sk.height == 1 and sk["service"][0] == "serviceb" and sk["reference_service"][0] == "servicea"
    # serviceb's clock runs about 66 ms behind: the client/server midpoint gives 65.922 ms
    assert sk["skew_us"][0] == 65922
    fixed = case.sql(
        """SELECT min(start_corrected) AS s FROM spans WHERE trace_id = '1e223ff1f80f1c69' AND service = 'serviceb'"""
    )
    client = case.sql("""SELECT start FROM spans WHERE trace_id = '1e223ff1f80f1c69' AND kind = 'client'""")
    assert fixed["s"][0] > client["start"][0]
    assert not case.query("traces/skew").filter(case.query("traces/skew")["service"] == "serviceb").is_empty()


def test_ordering_closer_than_the_skew_is_flagged(traces_case):
    from forensics import traces as T

    case, _ = traces_case
    unsafe = T.unsafe_ordering(case)
    row = unsafe.filter(unsafe["first_service"] == "serviceb").row(0, named=True)
    assert (row["first_action"], row["second_service"], row["second_action"]) == ("post", "servicea", "get")
    assert row["gap_ms"] < row["skew_bound_ms"]


def test_only_server_and_root_spans_reach_the_timeline(traces_case):
    case, _ = traces_case
    n = case.sql(
        """SELECT count(*) AS n FROM spans WHERE start IS NOT NULL AND (kind = 'server' OR parent_span_id IS NULL)"""
    )
    e = case.sql("SELECT count(*) AS n FROM events WHERE category = 'trace'")
    assert 0 < e["n"][0] <= n["n"][0]
    assert (
        case.sql("""SELECT count(*) AS n FROM events e JOIN spans s
                       ON e.event_uid = s.trace_id || '/' || s.span_id || '/' || s.kind
                       WHERE e.category = 'trace' AND s.kind <> 'server' AND s.parent_span_id IS NOT NULL""")[
            "n"
        ][0]
        == 0
    )


def test_otlp_logs_are_not_taken_for_traces(shared_data, case):
    res = case.ingest(shared_data / "traces" / "otlp-proto__examples-logs.json")[0]
    assert res.loader != "otlp"
    assert case.sql("SELECT count(*) AS n FROM spans")["n"][0] == 0


def test_zipkin_array_of_traces_loads_every_span(case, tmp_path):
    def span(trace: str, sid: str, parent: str | None = None) -> dict:
        s = {
            "traceId": trace * 16,
            "id": sid * 16,
            "name": "get",
            "kind": "SERVER" if parent is None else "CLIENT",
            "timestamp": 1773478800000000,
            "duration": 1500,
            "localEndpoint": {"serviceName": "api"},
        }
        if parent:
            s["parentId"] = parent * 16
        return s

    traces = [[span("a", "1"), span("a", "2", "1")], [span("b", "3")], []]
    p = tmp_path / "traces.json"
    p.write_text(json.dumps(traces), encoding="utf-8")
    (res,) = case.ingest([p])
    assert res.loader == "zipkin"
    assert (res.records_read, res.records_loaded, res.records_rejected) == (
        3,
        2,
        1,
    )  # the empty trace is rejected
    assert case.sql("SELECT count(*) FROM spans").item() == 3
    assert case.sql("SELECT count(DISTINCT trace_id) FROM spans").item() == 2


def test_timeline_chart_marks_orderings_closer_than_the_skew(traces_case):
    from forensics import charts
    from forensics import traces as T

    case, _ = traces_case
    unsafe = T.unsafe_ordering(case)
    events = case.timeline()
    plain = charts.timeline(events).to_dict()
    marked = charts.timeline(events, unsafe=unsafe).to_dict()
    subtitle = " ".join(marked["title"]["subtitle"])
    assert f"{unsafe.height} ordering(s) closer together than the clock skew" in subtitle
    assert "clock skew" not in " ".join(plain["title"]["subtitle"])
    from forensics.charts.timeline import UNSAFE_COLOUR

    purple = [layer for layer in marked["layer"] if layer.get("mark", {}).get("color") == UNSAFE_COLOUR]
    assert len(purple) == 3 and len(marked["layer"]) == len(plain["layer"]) + 3
