"""Issue 25 on generated traces: skew only from client/server pairs and solved jointly, double-apply
through any request key, windows, burn rates on wall-clock minutes per service with caller errors
excluded, and span de-duplication. Every expected value is worked out here from the generated spans."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import polars as pl

from forensics import traces as T

T0 = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)


def _ns(t: datetime) -> str:
    return str(int(t.timestamp()) * 1_000_000_000 + t.microsecond * 1000)


def _kv(attrs: dict) -> list[dict]:
    return [
        {"key": k, "value": {"intValue": str(v)} if isinstance(v, int) else {"stringValue": v}}
        for k, v in attrs.items()
    ]


def _span(trace, span, name, kind, start, end, parent=None, attrs=None, error=False) -> dict:
    s = {
        "traceId": trace,
        "spanId": span,
        "name": name,
        "kind": kind,
        "startTimeUnixNano": _ns(start),
        "endTimeUnixNano": _ns(end),
        "attributes": _kv(attrs or {}),
    }
    if parent:
        s["parentSpanId"] = parent
    if error:
        s["status"] = {"code": 2}
    return s


def _line(service: str, spans: list[dict]) -> str:
    return json.dumps(
        {
            "resourceSpans": [
                {
                    "resource": {"attributes": _kv({"service.name": service})},
                    "scopeSpans": [{"scope": {"name": "t"}, "spans": spans}],
                }
            ]
        }
    )


def _ms(n: float) -> timedelta:
    return timedelta(milliseconds=n)


CLIENT, SERVER, INTERNAL = 3, 2, 1


def _outside(case) -> tuple[int, int]:
    """Cross-service children outside their parent, in raw and in corrected times."""
    row = case.sql(
        """SELECT count(*) FILTER (WHERE c.start < p.start OR c."end" > p."end") AS raw,
                  count(*) FILTER (WHERE c.start_corrected < p.start_corrected
                                   OR c.end_corrected > p.end_corrected) AS fixed
           FROM spans c JOIN spans p ON p.trace_id = c.trace_id AND p.span_id = c.parent_span_id
           WHERE c.service IS DISTINCT FROM p.service"""
    ).row(0)
    return row[0], row[1]


# -- part 1: skew ---------------------------------------------------------------------------------


def test_async_child_after_its_parent_ended_is_not_skew(case, tmp_path):
    tr = "a1" * 16
    lines = [
        _line("login", [_span(tr, "1" * 16, "POST /login", SERVER, T0, T0 + _ms(100))]),
        # a server span of another service whose parent is a SERVER span, starting 1.1 s after it
        # ended: asynchronous work, not a clock error
        _line(
            "datamgmt",
            [_span(tr, "2" * 16, "GET /sync", SERVER, T0 + _ms(1200), T0 + _ms(1300), parent="1" * 16)],
        ),
    ]
    p = tmp_path / "t.jsonl"
    p.write_text("\n".join(lines) + "\n")
    case.ingest(p)
    assert case.sql("SELECT count(*) AS n FROM trace_skew")["n"][0] == 0
    assert case.sql("SELECT count(*) AS n FROM spans WHERE skew_us IS NOT NULL")["n"][0] == 0
    assert _outside(case) == (1, 1)


def test_corrections_chain_jointly_through_the_service_graph(case, tmp_path):
    """a calls b, b calls c; b's clock is 200 ms behind a's, c's 300 ms behind b's (500 ms behind a)."""
    b_off, c_off = _ms(-200), _ms(-500)
    lines = []
    for i in range(3):
        tr = f"{i + 1:032x}"
        t = T0 + timedelta(seconds=i)
        ids = [f"{i}{k:015x}" for k in range(5)]
        lines.append(
            _line(
                "a",
                [
                    _span(tr, ids[0], "GET /", SERVER, t, t + _ms(100)),
                    _span(tr, ids[1], "GET /b", CLIENT, t + _ms(10), t + _ms(90), parent=ids[0]),
                ],
            )
        )
        # b serves 20..80 in a's time, calls c from 30..70
        lines.append(
            _line(
                "b",
                [
                    _span(
                        tr, ids[2], "GET /b", SERVER, t + _ms(20) + b_off, t + _ms(80) + b_off, parent=ids[1]
                    ),
                    _span(
                        tr, ids[3], "GET /c", CLIENT, t + _ms(30) + b_off, t + _ms(70) + b_off, parent=ids[2]
                    ),
                ],
            )
        )
        lines.append(
            _line(
                "c",
                [
                    _span(
                        tr, ids[4], "GET /c", SERVER, t + _ms(40) + c_off, t + _ms(60) + c_off, parent=ids[3]
                    )
                ],
            )
        )
    p = tmp_path / "t.jsonl"
    p.write_text("\n".join(lines) + "\n")
    case.ingest(p)
    sk = case.sql(
        "SELECT service, reference_service, skew_us, pairs, confidence FROM trace_skew ORDER BY ALL"
    )
    # midpoints: b sits centred in a's call and c in b's, so the corrections are exactly the offsets
    assert sk.filter(pl.col("service") == "b")["skew_us"].to_list() == [200_000] * 3
    assert sk.filter(pl.col("service") == "c")["skew_us"].to_list() == [500_000] * 3
    assert set(sk["reference_service"]) == {"a"}
    assert set(sk["pairs"]) == {2, 1} and set(sk["confidence"]) == {1.0}
    raw, fixed = _outside(case)
    assert raw == 6 and fixed == 0
    summary = T.skew(case)
    assert summary.filter(pl.col("service") == "c")["traces"][0] == 3
    # windowed: only the trace starting in the window
    assert T.skew(case, start=T0 + timedelta(seconds=2))["traces"].to_list() == [1, 1]


def test_skew_json_still_found_and_every_real_trace_is_no_worse(shared_data, case):
    files = sorted(p for p in (shared_data / "traces").glob("*.json") if "logs" not in p.name)
    case.ingest(files)
    sk = case.sql("SELECT service, skew_us FROM trace_skew WHERE trace_id = '1e223ff1f80f1c69'")
    assert sk.rows() == [("serviceb", 65922)]
    per_trace = case.sql(
        """SELECT c.trace_id,
                  count(*) FILTER (WHERE c.start < p.start OR c."end" > p."end") AS raw,
                  count(*) FILTER (WHERE c.start_corrected < p.start_corrected
                                   OR c.end_corrected > p.end_corrected) AS fixed
           FROM spans c JOIN spans p ON p.trace_id = c.trace_id AND p.span_id = c.parent_span_id
           WHERE c.service IS DISTINCT FROM p.service GROUP BY ALL"""
    )
    assert (per_trace["fixed"] <= per_trace["raw"]).all()
    assert per_trace.filter(pl.col("trace_id") == "1e223ff1f80f1c69")["fixed"][0] == 0


def test_smartthings_async_datamgmt_spans_are_not_taken_as_skew(shared_data, case):
    path = shared_data / "traces" / "zipkin__smartthings-oauth-authorization.json"
    spans = json.loads(path.read_text())
    by_id: dict[str, list] = {}
    for s in spans:
        by_id.setdefault(s["id"], []).append(s)
    # independently: the datamgmt server spans under a stlogin SERVER span that ended before they began
    late = [
        s
        for s in spans
        if s.get("localEndpoint", {}).get("serviceName") == "datamgmt"
        for p in by_id.get(s.get("parentId"), [])
        if p.get("localEndpoint", {}).get("serviceName") == "stlogin"
        and p.get("kind") == "SERVER"
        and s["timestamp"] > p["timestamp"] + p["duration"]
    ]
    assert len(late) == 2
    case.ingest(path)
    dm = case.sql("SELECT skew_us FROM trace_skew WHERE service = 'datamgmt'")
    assert dm.is_empty() or dm["skew_us"].abs().max() < 1_000_000
    raw, fixed = _outside(case)
    assert fixed <= raw


# -- part 2: double-apply -------------------------------------------------------------------------


def _charge(tr, n, t, client_ms, timeout, key_attrs, capture_attrs, parent="f" * 16):
    cid, sid, xid = f"c{n:015x}", f"d{n:015x}", f"e{n:015x}"
    client = _span(
        tr,
        cid,
        "POST /charge",
        CLIENT,
        t,
        t + _ms(client_ms),
        parent=parent,
        attrs={**key_attrs, **({"error.type": "timeout"} if timeout else {"http.response.status_code": 200})},
        error=timeout,
    )
    server = _span(tr, sid, "POST /charge", SERVER, t + _ms(1), t + _ms(400), parent=cid)
    capture = _span(
        tr, xid, "payment.capture", INTERNAL, t + _ms(2), t + _ms(300), parent=sid, attrs=capture_attrs
    )
    return [_line("checkout", [client]), _line("payments", [server, capture])]


def _double_charge_lines(t: datetime) -> list[str]:
    """One trace: a timed-out call, its retry, two successful captures keyed by order id while the
    client carries the idempotency key (the issue's case)."""
    tr = "9" * 32
    root = _line("checkout", [_span(tr, "f" * 16, "POST /checkout", SERVER, t, t + _ms(3000))])
    first = _charge(tr, 1, t + _ms(10), 250, True, {"idempotency.key": "idem-1"}, {"app.order.id": "ord-7"})
    retry = _charge(tr, 2, t + _ms(400), 500, False, {"idempotency.key": "idem-1"}, {"app.order.id": "ord-7"})
    return [root, *first, *retry]


def test_double_charge_found_when_client_and_capture_carry_different_keys(case, tmp_path):
    p = tmp_path / "t.jsonl"
    p.write_text("\n".join(_double_charge_lines(T0)) + "\n")
    case.ingest(p)
    d = T.double_applies(case)
    assert d.height == 1
    row = d.row(0, named=True)
    assert row["applies"] == 2 and row["side_effects"] == ["payment.capture"]
    assert sorted(row["side_effect_span_ids"]) == ["e000000000000001", "e000000000000002"]
    assert row["request_key"] in ("ord-7", "idem-1")
    # with a key list that names neither key, the trace still links the retry (same calling handler)
    only_trace = T.double_applies(case, keys=["payment.id"])
    assert only_trace.height == 1 and only_trace["matched_on"][0] == "same handler in trace"


def test_double_apply_across_traces_joins_through_the_idempotency_key(case, tmp_path):
    lines = _charge("1" * 32, 1, T0, 250, True, {"idempotency.key": "idem-9"}, {"app.order.id": "ord-9"})
    lines += _charge("2" * 32, 2, T0 + _ms(400), 500, False, {"idempotency.key": "idem-9"}, {})
    # another order, also retried, captured once: quiet
    lines += _charge("3" * 32, 3, T0, 250, True, {"idempotency.key": "idem-10"}, {"app.order.id": "ord-10"})
    p = tmp_path / "t.jsonl"
    p.write_text("\n".join(lines) + "\n")
    case.ingest(p)
    d = T.double_applies(case)
    assert d["request_key"].to_list() == ["idem-9"] and d["applies"][0] == 2


def test_different_orders_in_one_handler_are_not_a_double_apply(case, tmp_path):
    tr = "4" * 32
    root = _line("checkout", [_span(tr, "f" * 16, "POST /batch", SERVER, T0, T0 + _ms(3000))])
    a = _charge(tr, 1, T0 + _ms(10), 250, True, {}, {"app.order.id": "ord-1"})
    b = _charge(tr, 2, T0 + _ms(400), 500, False, {}, {"app.order.id": "ord-2"})
    p = tmp_path / "t.jsonl"
    p.write_text("\n".join([root, *a, *b]) + "\n")
    case.ingest(p)
    assert T.double_applies(case).is_empty()


# -- part 3: windows ------------------------------------------------------------------------------


def test_summary_honours_its_window(case, tmp_path):
    p = tmp_path / "t.jsonl"
    at = datetime(2026, 3, 14, 13, 1, tzinfo=UTC)
    p.write_text("\n".join(_double_charge_lines(at)) + "\n")
    case.ingest(p)
    inside = T.traces_summary(case, at - timedelta(minutes=1), at + timedelta(minutes=5))
    outside = T.traces_summary(
        case, datetime(2026, 3, 14, 13, 30, tzinfo=UTC), datetime(2026, 3, 14, 14, 0, tzinfo=UTC)
    )
    assert inside.headline()["double_applied_requests"][0] == 1
    head = outside.headline().row(0, named=True)
    assert head["double_applied_requests"] == 0 and head["spans"] == 0 and outside.skew.is_empty()
    # counts say what they count: 1 client timeout among 2 client calls, 7 spans in all
    h = inside.headline().row(0, named=True)
    assert (h["spans"], h["client_calls"], h["client_timeouts"]) == (7, 2, 1)


# -- part 4: burn rates ---------------------------------------------------------------------------


def _requests(
    service: str, minutes: list[int], per_minute: int, attrs: dict, error: bool, tag: str
) -> list[str]:
    spans = []
    for m in minutes:
        for k in range(per_minute):
            t = T0 + timedelta(minutes=m, seconds=k)
            spans.append(
                _span(
                    f"{tag}{m:08x}{k:08x}".ljust(32, "0"),
                    f"{m:08x}{k:08x}",
                    "GET /x",
                    SERVER,
                    t,
                    t + _ms(5),
                    attrs={"http.route": "/x", **attrs},
                    error=error,
                )
            )
    return [_line(service, spans)]


def _episodes(bad_minutes: set[int], traffic: set[int], last: int, long_w: int, short_w: int, thr: float):
    """The workbook rule evaluated minute by minute over wall-clock windows (independent of the kit)."""

    def burn(m, w):
        window = [x for x in range(m - w + 1, m + 1)]
        req = sum(10 for x in window if x in traffic)
        bad = sum(10 for x in window if x in bad_minutes)
        return None if req == 0 else (bad / req) / 0.001

    out, on_since = [], None
    for m in range(0, last + 1):
        b_long, b_short = burn(m, long_w), burn(m, short_w)
        on = b_long is not None and b_short is not None and b_long > thr and b_short > thr
        if on and on_since is None:
            on_since = m
        if not on and on_since is not None:
            out.append((on_since, m))
            on_since = None
    if on_since is not None:
        out.append((on_since, None))
    return out


def test_burn_alerts_clear_over_minutes_without_traffic(case, tmp_path):
    bad, good = list(range(10)), [70, 71]
    lines = _requests("orders", bad, 10, {"http.response.status_code": 500}, True, "a")
    lines += _requests("orders", good, 10, {"http.response.status_code": 200}, False, "b")
    p = tmp_path / "t.jsonl"
    p.write_text("\n".join(lines) + "\n")
    case.ingest(p)
    burn = T.burn_rate(case, 0.999)
    assert burn.height == 72  # every minute 12:00..13:11, with or without traffic
    alerts = T.burn_alerts(burn)
    for alert, (long_w, short_w, thr) in {"fast_alert": (60, 5, 14.4), "slow_alert": (360, 30, 6.0)}.items():
        want = _episodes(set(bad), set(bad) | set(good), 71, long_w, short_w, thr)
        got = alerts.filter(pl.col("alert") == alert)
        assert [
            (int((f - T0).total_seconds() // 60), None if c is None else int((c - T0).total_seconds() // 60))
            for f, c in got.select("fired", "cleared").rows()
        ] == want
    fast = alerts.filter(pl.col("alert") == "fast_alert")["cleared"][0]
    slow = alerts.filter(pl.col("alert") == "slow_alert")["cleared"][0]
    assert fast == T0 + timedelta(minutes=14) and slow == T0 + timedelta(minutes=39)


def test_caller_grpc_codes_spend_no_budget_and_slos_are_per_service(case, tmp_path):
    # orders: every request fails with gRPC 9 FAILED_PRECONDITION (a card decline): the caller's fault
    lines = _requests("orders", [0, 1, 2], 10, {"rpc.grpc.status_code": 9}, True, "a")
    # payments: every request fails with gRPC 14 UNAVAILABLE: the service's fault
    lines += _requests("payments", [0, 1, 2], 10, {"rpc.grpc.status_code": 14}, True, "b")
    p = tmp_path / "t.jsonl"
    p.write_text("\n".join(lines) + "\n")
    case.ingest(p)
    burn = T.burn_rate(case, 0.999)
    per = burn.group_by("service").agg(pl.col("bad").sum(), pl.col("requests").sum()).sort("service")
    assert per.rows() == [("orders", 0, 30), ("payments", 30, 30)]
    alerts = T.burn_alerts(burn)
    assert set(alerts["service"]) == {"payments"}
    # the rule is configurable: with no caller-fault gRPC codes, orders burns too
    strict = T.burn_rate(case, 0.999, caller_grpc=[])
    assert strict.filter(pl.col("service") == "orders")["bad"].sum() == 30


# -- part 5: span de-duplication ------------------------------------------------------------------


def test_spans_sent_twice_are_kept_once_and_counted_in_the_ledger(case, tmp_path):
    tr = "7" * 32
    spans = [
        _span(tr, "1" * 16, "GET /", SERVER, T0, T0 + _ms(100)),
        _span(tr, "2" * 16, "db.query", INTERNAL, T0 + _ms(5), T0 + _ms(50), parent="1" * 16),
        _span(tr, "3" * 16, "GET /b", CLIENT, T0 + _ms(60), T0 + _ms(90), parent="1" * 16),
    ]
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text(_line("api", spans) + "\n")
    # the exporter sent the batch again, plus one span twice in the same file
    b.write_text(_line("api", spans) + "\n" + _line("api", spans[1:2]) + "\n")
    case.ingest(a)
    case.ingest(b)
    assert case.sql("SELECT count(*) AS n FROM spans")["n"][0] == 3
    ev = case.sql("SELECT path, records_duplicate FROM evidence ORDER BY evidence_id")
    # b held 4 span copies, each already in the case: 1 counted with its event (the root), 3 here
    assert ev["records_duplicate"].to_list() == [0, 4]
    attrs = case.sql("SELECT count(*) AS n FROM span_attributes")["n"][0]
    assert attrs == sum(1 for s in spans for _ in s["attributes"]) + len(spans)  # + service.name each
    # a span with the same ids but different content is not a copy
    c = tmp_path / "c.jsonl"
    changed = dict(spans[1], name="db.query.retry")
    c.write_text(_line("api", [changed]) + "\n")
    case.ingest(c)
    assert case.sql("SELECT count(*) AS n FROM spans")["n"][0] == 4
