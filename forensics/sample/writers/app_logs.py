"""Payments application log: JSON Lines read by the generic loader through a field mapping
(``payments-app.jsonl.mapping.toml``). It also carries one hostile user agent, so reports show
that attacker-controlled text is escaped."""

from __future__ import annotations

import json
import random
from datetime import timedelta
from pathlib import Path

from forensics.sample import scenario as S
from forensics.sample.writers.otlp_traces import trace_id_for

MAPPING = """\
# Field mapping for the payments application log (generic loader; docs/mapping.md).
name = "payments-app"
category = "other"
naive_time = "reject"

[fields]
time = "ts"
action = "event"
actor = "client"
src_ip = "client_ip"
user_agent = "user_agent"
target = "order_id"
service = "service"
environment = "env"
request_id = "request_id"
trace_id = "trace_id"

[outcome]
field = "status"
success = ["ok"]
failure = ["error", "declined"]
timeout = ["timeout"]
"""

HOSTILE_UA = "\x1b[31mcurl/8.0\x1b[0m <script>alert(1)</script>"


def write(out: Path, rng: random.Random, scale: int) -> list[Path]:
    d = out / "app"
    d.mkdir(parents=True, exist_ok=True)
    rows = []
    n = 600 * scale
    span = (S.DAY_END - S.DAY_START).total_seconds()
    for i in range(n):
        when = S.DAY_START + timedelta(seconds=span * i / n + rng.random())
        slow = S.PAYMENTS_SLOW_FROM <= when < S.PAYMENTS_SLOW_UNTIL
        status = "ok"
        if slow and rng.random() < 0.15:
            status = "timeout"
        elif rng.random() < 0.01:
            status = "declined"
        rows.append(
            {
                "ts": when.isoformat(timespec="microseconds").replace("+00:00", "Z"),
                "level": "info" if status == "ok" else "warn",
                "service": "payments",
                "env": "production",
                "event": "charge.capture",
                "order_id": f"ord-{20000 + i}",
                "client": "checkout",
                "client_ip": f"10.30.0.{rng.randint(2, 250)}",
                "user_agent": "checkout/2.0.1",
                "request_id": f"req-{rng.getrandbits(48):012x}",
                "trace_id": f"{rng.getrandbits(128):032x}",
                "status": status,
                "latency_ms": round(rng.uniform(1600, 2600) if slow else rng.uniform(40, 120), 1),
            }
        )
    for k, when in enumerate(
        (S.DOUBLE_CHARGE_TIME, S.DOUBLE_CHARGE_TIME + timedelta(seconds=2, milliseconds=150))
    ):
        rows.append(
            {
                "ts": when.isoformat().replace("+00:00", "Z"),
                "level": "info",
                "service": "payments",
                "env": "production",
                "event": "charge.capture",
                "order_id": S.DOUBLE_CHARGE_ORDER,
                "client": "checkout",
                "client_ip": "10.30.0.17",
                "user_agent": "checkout/2.0.1",
                "request_id": f"req-double-{k}",
                "trace_id": trace_id_for(S.DOUBLE_CHARGE_ORDER),
                "status": "ok",
                "latency_ms": 2412.0 if k == 0 else 96.0,
            }
        )
    rows.append(
        {
            "ts": (S.t("09:21:07")).isoformat().replace("+00:00", "Z"),
            "level": "warn",
            "service": "payments",
            "env": "production",
            "event": "<script>alert(1)</script>",
            "order_id": "ord-probe",
            "client": "unknown",
            "client_ip": S.ATTACKER_IP,
            "user_agent": HOSTILE_UA,
            "request_id": "req-probe",
            "status": "error",
            "latency_ms": 3.0,
        }
    )
    rows.sort(key=lambda r: r["ts"])
    path = d / "payments-app.jsonl"
    path.write_text("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in rows), encoding="utf-8")
    mapping = d / "payments-app.jsonl.mapping.toml"
    mapping.write_text(MAPPING, encoding="utf-8")
    return [path, mapping]
