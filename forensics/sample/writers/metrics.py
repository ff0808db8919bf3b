"""Telemetry for the cardinality explorer: Prometheus exposition scrapes and OTLP logs.

- ``metrics/http_server_requests.prom``: Prometheus text exposition (format 0.0.4), one full scrape
  per minute from DAY_START to DAY_END, every sample with its own timestamp (milliseconds), as
  ``promtool``/federation dumps carry them. ``http_server_requests_total`` has service, route,
  method and status labels. From EXPLOSION_START the rogue payments image adds ``user_id`` to its
  series: every new user makes a new series, and the series stay exposed until the rollback
  restarts payments (the planted explosion).
- ``otlp/payments-logs.jsonl``: OTLP logs JSON Lines (one ExportLogsServiceRequest per minute, as the
  collector file exporter writes). Every record carries ``enduser.email`` (PII: counted, shown
  masked) and ``url.full`` (ids in URLs: unbounded-looking but steady); from EXPLOSION_START the
  payments records also carry ``user.id``, exploding at the same time as the metric label.
"""

from __future__ import annotations

import json
import random
from datetime import timedelta
from pathlib import Path

from forensics.sample import scenario as S

#: The rogue image (running from EXPLOSION_START until the rollback) labels requests by user.
EXPLOSION_END = S.ROLLBACK.time
NEW_USERS_PER_MINUTE = 3
BASE_SERIES = [
    ("payments", "/v1/charges", "POST", "200"),
    ("payments", "/v1/charges", "POST", "500"),
    ("payments", "/v1/refunds", "POST", "200"),
    ("checkout", "/checkout", "POST", "200"),
    ("checkout", "/checkout", "POST", "504"),
    ("checkout", "/cart", "GET", "200"),
    ("ledger", "/entries", "POST", "200"),
]
CUSTOMERS = [f"customer{i:02d}@example.com" for i in range(12)]


def _uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def _labels(service: str, route: str, method: str, status: str, user: str | None = None) -> str:
    parts = [f'method="{method}"', f'route="{route}"', f'service="{service}"', f'status="{status}"']
    if user is not None:
        parts.append(f'user_id="{user}"')
    return "{" + ",".join(parts) + "}"


def _metrics(out: Path, rng: random.Random) -> Path:
    counts: dict[str, int] = {}
    users: list[str] = []
    lines: list[str] = []
    minutes = int((S.DAY_END - S.DAY_START).total_seconds() // 60)
    for m in range(minutes + 1):
        when = S.DAY_START + timedelta(minutes=m)
        ms = int(when.timestamp() * 1000)
        rogue = S.EXPLOSION_START <= when < EXPLOSION_END
        if when == EXPLOSION_END:  # the rollback restarts payments: per-user series are gone
            for key in [k for k in counts if "user_id=" in k]:
                del counts[key]
        if rogue:
            users.extend(_uuid(rng) for _ in range(NEW_USERS_PER_MINUTE))
        lines.append(
            "# HELP http_server_requests_total Requests served, by service, route, method and status."
        )
        lines.append("# TYPE http_server_requests_total counter")
        for service, route, method, status in BASE_SERIES:
            if service == "payments" and rogue:
                for user in users[-NEW_USERS_PER_MINUTE:]:
                    key = _labels(service, route, method, status, user)
                    counts[key] = counts.get(key, 0) + rng.randint(0, 2)
            else:
                key = _labels(service, route, method, status)
                counts[key] = counts.get(key, 0) + (
                    rng.randint(20, 40) if status == "200" else rng.randint(0, 2)
                )
        for key in sorted(counts):
            if "payments" in key and ("user_id=" in key) != rogue:
                continue  # series of the image not running now are not exposed
            lines.append(f"http_server_requests_total{key} {counts[key]} {ms}")
    path = out / "metrics" / "http_server_requests.prom"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _kv(key: str, value) -> dict:
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    return {"key": key, "value": {"stringValue": value}}


def _logs(out: Path, rng: random.Random, scale: int) -> Path:
    lines: list[str] = []
    minutes = int((S.DAY_END - S.DAY_START).total_seconds() // 60)
    user_pool: list[str] = []
    for m in range(minutes):
        start = S.DAY_START + timedelta(minutes=m)
        rogue = S.EXPLOSION_START <= start < EXPLOSION_END
        records = []
        for _ in range((6 if rogue else 3) * scale):
            when = start + timedelta(seconds=rng.uniform(0, 59.9))
            order = f"ord-{rng.randint(20000, 29999)}"
            attrs = [
                _kv("http.route", "/v1/charges"),
                _kv("http.request.method", "POST"),
                _kv("http.response.status_code", 200),
                _kv("url.full", f"https://payments.internal/v1/charges/{order}"),
                _kv("enduser.email", rng.choice(CUSTOMERS)),
            ]
            if rogue:
                if not user_pool or rng.random() < 0.8:
                    user_pool.append(_uuid(rng))
                attrs.append(_kv("user.id", user_pool[-1]))
            records.append(
                {
                    "timeUnixNano": str(int(when.timestamp() * 1_000_000) * 1000),
                    "observedTimeUnixNano": str(int(when.timestamp() * 1_000_000) * 1000 + 1_500_000),
                    "severityNumber": 9,
                    "severityText": "INFO",
                    "body": {"stringValue": f"charge captured for {order}"},
                    "attributes": attrs,
                    "traceId": f"{rng.getrandbits(128):032x}",
                    "spanId": f"{rng.getrandbits(64):016x}",
                }
            )
        records.sort(key=lambda r: r["timeUnixNano"])
        image = S.PAYMENTS_ROGUE if S.ROGUE_DEPLOY.time <= start < EXPLOSION_END else S.PAYMENTS_GOOD
        request = {
            "resourceLogs": [
                {
                    "resource": {
                        "attributes": [
                            _kv("service.name", "payments"),
                            _kv("service.version", image.version),
                            _kv("deployment.environment", "production"),
                        ]
                    },
                    "scopeLogs": [
                        {"scope": {"name": "payments.charges", "version": "1.0.0"}, "logRecords": records}
                    ],
                }
            ]
        }
        lines.append(json.dumps(request, separators=(",", ":")))
    path = out / "otlp" / "payments-logs.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write(out: Path, rng: random.Random, scale: int) -> list[Path]:
    return [_metrics(out, rng), _logs(out, rng, scale)]
