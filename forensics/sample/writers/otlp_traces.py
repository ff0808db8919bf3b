"""Payment traffic as OTLP/JSON Lines, the OpenTelemetry collector file exporter's shape.

One line per trace: ``checkout`` (server ``POST /checkout`` and client ``POST /v1/charges``) calls
``payments`` (server ``POST /v1/charges`` with ``payment.capture`` and a database ``INSERT``).
Baseline server latency is about 80 ms. The rogue deploy (09:40) raises it; from
``PAYMENTS_SLOW_FROM`` to ``PAYMENTS_SLOW_UNTIL`` payments is slow, and exactly ``RETRIED_CALLS``
client calls hit the ``CLIENT_TIMEOUT_MS`` timeout and are retried once each, with the same order
id and no idempotency key. For five of them the server gave up too (no capture); for
``DOUBLE_CHARGE_ORDER`` the server's capture completed after the client timed out and the retry
captured again: the one double charge. The last trace is cut off mid-flight (its spans have no end).
"""

from __future__ import annotations

import hashlib
import json
import random
from datetime import datetime, timedelta
from pathlib import Path

from forensics.sample import scenario as S

#: Start times and orders of the retried calls; the double charge is one of them.
RETRIED = [
    (S.t("09:47:30"), "ord-10040"),
    (S.t("09:50:05"), "ord-10041"),
    (S.DOUBLE_CHARGE_TIME, S.DOUBLE_CHARGE_ORDER),
    (S.t("09:56:40"), "ord-10043"),
    (S.t("10:01:15"), "ord-10044"),
    (S.t("10:05:50"), "ord-10045"),
]
assert len(RETRIED) == S.RETRIED_CALLS
RETRY_GAP_MS = 150
CUT_OFF_ORDER = "ord-29999"
USER_AGENTS = ["acme-web/5.2 (Mozilla/5.0)", "acme-ios/3.8.1", "acme-android/3.8.0"]


def trace_id_for(order: str) -> str:
    """The trace id of a retried order's checkout trace: other writers (application logs) can put it
    on their lines so that logs and traces link by trace id."""
    return hashlib.sha256(f"trace:{order}".encode()).hexdigest()[:32]


def _ns(t: datetime) -> str:
    return str(int(t.timestamp()) * 1_000_000_000 + t.microsecond * 1000)


def _attrs(**kv) -> list[dict]:
    out = []
    for k, v in kv.items():
        key = k.replace("__", ".")
        if isinstance(v, int) and not isinstance(v, bool):
            out.append({"key": key, "value": {"intValue": str(v)}})
        else:
            out.append({"key": key, "value": {"stringValue": str(v)}})
    return out


class _Trace:
    def __init__(self, rng: random.Random, trace_id: str | None = None):
        self.rng = rng
        self.trace_id = trace_id or f"{rng.getrandbits(128):032x}"
        self.by_service: dict[tuple[str, str], list[dict]] = {}

    def span(
        self,
        service: str,
        version: str,
        name: str,
        kind: int,
        start: datetime,
        end: datetime | None,
        parent: str | None,
        attrs: list[dict],
        error: str | None = None,
    ) -> str:
        sid = f"{self.rng.getrandbits(64):016x}"
        s = {
            "traceId": self.trace_id,
            "spanId": sid,
            "name": name,
            "kind": kind,
            "startTimeUnixNano": _ns(start),
            "attributes": attrs,
            "status": {"code": 2, "message": error} if error else {},
        }
        if parent:
            s["parentSpanId"] = parent
        if end is not None:
            s["endTimeUnixNano"] = _ns(end)
        self.by_service.setdefault((service, version), []).append(s)
        return sid

    def line(self) -> str:
        rs = [
            {
                "resource": {
                    "attributes": _attrs(
                        service__name=svc, service__version=ver, deployment__environment="production"
                    )
                },
                "scopeSpans": [
                    {"scope": {"name": "io.opentelemetry.http", "version": "1.25.0"}, "spans": spans}
                ],
            }
            for (svc, ver), spans in self.by_service.items()
        ]
        return json.dumps({"resourceSpans": rs}, separators=(",", ":")) + "\n"


def _payments_version(at: datetime) -> str:
    if S.ROGUE_DEPLOY.time <= at < S.ROLLBACK.time:
        return S.PAYMENTS_ROGUE.version
    return S.PAYMENTS_GOOD.version


def _server_ms(rng: random.Random, at: datetime) -> float:
    if S.PAYMENTS_SLOW_FROM <= at < S.PAYMENTS_SLOW_UNTIL:
        return rng.uniform(600, 1700)
    if S.ROGUE_DEPLOY.time <= at < S.PAYMENTS_SLOW_FROM:
        return rng.uniform(180, 320)
    return max(40.0, rng.gauss(80, 12))


def _call(
    tr: _Trace,
    at: datetime,
    order: str,
    ua: str,
    parent: str,
    server_ms: float,
    *,
    outcome: str,
    resend: int = 0,
    status: int = 200,
) -> datetime:
    """One checkout -> payments call. outcome: ok | timeout_server_gave_up | timeout_server_captured
    | declined | inflight. Returns when the client saw the end."""
    rng = tr.rng
    ver = _payments_version(at)
    net = timedelta(milliseconds=rng.uniform(1, 3))
    srv_start = at + net
    srv_end = srv_start + timedelta(milliseconds=server_ms)
    timed_out = outcome.startswith("timeout")
    cli_end = at + timedelta(milliseconds=S.CLIENT_TIMEOUT_MS) if timed_out else srv_end + net
    cattrs = dict(
        http__request__method="POST",
        url__template="/v1/charges",
        server__address="payments",
        app__order__id=order,
    )
    if resend:
        cattrs["http__request__resend_count"] = resend
    if not timed_out and outcome != "inflight":
        cattrs["http__response__status_code"] = status
    if timed_out:
        cattrs["error__type"] = "timeout"
    client = tr.span(
        "checkout",
        S.CHECKOUT_GOOD.version,
        "POST /v1/charges",
        3,
        at,
        None if outcome == "inflight" else cli_end,
        parent,
        _attrs(**cattrs),
        error="context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
        if timed_out
        else None,
    )
    sattrs = dict(
        http__request__method="POST",
        http__route="/v1/charges",
        app__order__id=order,
        user_agent__original=f"checkout/{S.CHECKOUT_GOOD.version} (go-http-client)",
    )
    if outcome == "timeout_server_gave_up":
        sattrs["http__response__status_code"] = 499
        tr.span(
            "payments",
            ver,
            "POST /v1/charges",
            2,
            srv_start,
            srv_end,
            client,
            _attrs(**sattrs),
            error="context canceled: client went away before capture",
        )
        return cli_end
    if outcome != "inflight":
        sattrs["http__response__status_code"] = status
    server = tr.span(
        "payments",
        ver,
        "POST /v1/charges",
        2,
        srv_start,
        None if outcome == "inflight" else srv_end,
        client,
        _attrs(**sattrs),
    )
    if outcome == "declined":
        return cli_end
    cap_start = srv_start + timedelta(milliseconds=server_ms * 0.2)
    cap_end = srv_start + timedelta(milliseconds=server_ms * 0.85)
    cap = tr.span(
        "payments",
        ver,
        "payment.capture",
        1,
        cap_start,
        cap_end,
        server,
        _attrs(app__order__id=order, payment__amount_cents=rng.randint(500, 25000), payment__currency="EUR"),
    )
    tr.span(
        "payments",
        ver,
        "INSERT payments.charges",
        3,
        cap_start + timedelta(milliseconds=server_ms * 0.4),
        cap_end - timedelta(milliseconds=1),
        cap,
        _attrs(db__system="postgresql", db__operation__name="INSERT", db__collection__name="charges"),
    )
    return cli_end


def _checkout(tr: _Trace, at: datetime, order: str, ua: str, inflight: bool = False) -> str:
    return tr.span(
        "checkout",
        S.CHECKOUT_GOOD.version,
        "POST /checkout",
        2,
        at,
        None if inflight else at,
        None,
        _attrs(
            http__request__method="POST",
            http__route="/checkout",
            app__order__id=order,
            user_agent__original=ua,
            http__response__status_code=200,
        ),
    )


def _finish_root(tr: _Trace, end: datetime) -> None:
    root = tr.by_service[("checkout", S.CHECKOUT_GOOD.version)][0]
    root["endTimeUnixNano"] = _ns(end + timedelta(milliseconds=2))


def write(out: Path, rng: random.Random, scale: int) -> list[Path]:
    d = out / "traces"
    d.mkdir(parents=True, exist_ok=True)
    lines: list[tuple[datetime, str]] = []
    retried = {when: order for when, order in RETRIED}
    at = S.DAY_START + timedelta(seconds=rng.uniform(5, 20))
    n = 20001
    end = S.DAY_END - timedelta(seconds=30)
    while at < end:
        ua = rng.choice(USER_AGENTS)
        tr = _Trace(rng)
        root = _checkout(tr, at, f"ord-{n}", ua)
        declined = rng.random() < 0.02
        done = _call(
            tr,
            at + timedelta(milliseconds=3),
            f"ord-{n}",
            ua,
            root,
            _server_ms(rng, at),
            outcome="declined" if declined else "ok",
            status=402 if declined else 200,
        )
        _finish_root(tr, done)
        lines.append((at, tr.line()))
        n += 1
        at += timedelta(seconds=rng.uniform(20, 40) / max(scale, 1))
    for when, order in retried.items():
        ua = rng.choice(USER_AGENTS)
        tr = _Trace(rng, trace_id_for(order))
        root = _checkout(tr, when - timedelta(milliseconds=3), order, ua)
        double = order == S.DOUBLE_CHARGE_ORDER
        first_end = _call(
            tr,
            when,
            order,
            ua,
            root,
            2412.0 if double else rng.uniform(2300, 3200),
            outcome="timeout_server_captured" if double else "timeout_server_gave_up",
        )
        retry_at = first_end + timedelta(milliseconds=RETRY_GAP_MS)
        done = _call(
            tr, retry_at, order, ua, root, 96.0 if double else rng.uniform(600, 1500), outcome="ok", resend=1
        )
        _finish_root(tr, done)
        lines.append((when, tr.line()))
    # the capture ends while this trace is in flight: no end on the checkout and payments spans
    tr = _Trace(rng)
    cut = S.DAY_END - timedelta(seconds=2)
    root = _checkout(tr, cut, CUT_OFF_ORDER, USER_AGENTS[0], inflight=True)
    _call(tr, cut + timedelta(milliseconds=3), CUT_OFF_ORDER, USER_AGENTS[0], root, 80.0, outcome="inflight")
    lines.append((cut, tr.line()))
    lines.sort(key=lambda x: x[0])
    path = d / "otel-collector-traces.jsonl"
    path.write_text("".join(line for _, line in lines), encoding="utf-8")
    return [path]
