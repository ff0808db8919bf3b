"""The identity-provider prologue: Okta System Log (``GET /api/v1/logs`` LogEvents, JSON Lines as a log
shipper writes them), read by the ``okta`` source. ci-admin's phished session (08:46, from the attacker IP,
SSO into GitHub, a factor enrolled) among other employees' ordinary sign-ins; the session ends at 10:18."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from pathlib import Path

from forensics.sample import scenario as S

_CHROME = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_3) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0 Safari/537.36"
_USERS = ["alice-sre", "bob-dev", "carol-fin", "dan-support", "erin-dev", "frank-ops"]
_APPS = ["Slack", "Google Workspace", "Jira Cloud"]


def _event(rng: random.Random, when: datetime, event_type: str, login: str, user_id: str, session: str,
           ip: str, result: str, target: str | None, reason: str | None = None) -> dict:  # fmt: skip
    return {
        "uuid": f"{rng.getrandbits(32):08x}-{rng.getrandbits(16):04x}-11ee-{rng.getrandbits(16):04x}-{rng.getrandbits(48):012x}",
        "published": when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z",
        "eventType": event_type,
        "version": "0",
        "severity": "INFO" if result == "SUCCESS" else "WARN",
        "displayMessage": event_type.replace(".", " "),
        "actor": {"id": user_id, "type": "User", "alternateId": login, "displayName": login.split("@")[0]},
        "client": {
            "ipAddress": ip,
            "userAgent": {"rawUserAgent": _CHROME, "os": "Mac OS X", "browser": "CHROME"},
            "zone": "null",
            "device": "Computer",
        },
        "outcome": {"result": result, "reason": reason},
        "authenticationContext": {"externalSessionId": session, "authenticationStep": 0},
        "transaction": {"type": "WEB", "id": "W" + f"{rng.getrandbits(60):015x}"},
        "target": [
            {
                "id": "0oa" + f"{rng.getrandbits(32):08x}",
                "type": "AppInstance",
                "alternateId": target,
                "displayName": target,
            }
        ]
        if target
        else [],  # fmt: skip
    }


def write(out: Path, rng: random.Random, scale: int) -> list[Path]:
    d = out / "idp"
    d.mkdir(parents=True, exist_ok=True)
    events = []
    for e in S.IDP_EVENTS:
        events.append(
            _event(
                rng, e.time, e.event_type, S.CI_ADMIN, S.CI_ADMIN_OKTA_ID, e.session, e.ip, e.result, e.target
            )
        )
    # ci-admin's own session keeps working from the office (the victim notices nothing)
    events.append(
        _event(
            rng,
            S.t("08:16"),
            "user.authentication.sso",
            S.CI_ADMIN,
            S.CI_ADMIN_OKTA_ID,
            S.OKTA_LEGIT_SESSION,
            S.OFFICE_IP,
            "SUCCESS",
            "Slack",
        )  # fmt: skip
    )
    for n in range(len(_USERS) * scale):
        user = _USERS[n % len(_USERS)] + "@acme-pay.example"
        uid = "00u" + f"{rng.getrandbits(64):017x}"
        session = "102" + f"{rng.getrandbits(80):021x}"
        ip = f"192.0.2.{rng.randint(11, 99)}"
        start = S.DAY_START + timedelta(seconds=rng.randint(0, 3 * 3600 - 600))
        if rng.random() < 0.3:  # a mistyped password first
            events.append(_event(rng, start - timedelta(seconds=30), "user.session.start", user, uid, session, ip,
                                 "FAILURE", None, "INVALID_CREDENTIALS"))  # fmt: skip
        events.append(_event(rng, start, "user.session.start", user, uid, session, ip, "SUCCESS", None))
        for _ in range(rng.randint(1, 3)):
            start += timedelta(seconds=rng.randint(20, 900))
            app = rng.choice(_APPS)
            events.append(
                _event(rng, start, "user.authentication.sso", user, uid, session, ip, "SUCCESS", app)
            )
    events.sort(key=lambda e: (e["published"], e["uuid"]))
    path = d / "okta-system-log.jsonl"
    path.write_text("".join(json.dumps(e, separators=(",", ":")) + "\n" for e in events), encoding="utf-8")
    return [path]
