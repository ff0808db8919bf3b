"""The case as OCSF 1.3 events (JSON Lines), for SIEMs and data lakes that take OCSF:

- audit events: **Authentication** (class 3002) when the action is a sign-in or a token issue
  (``AUTH_ACTIONS``), else **API Activity** (6003), its activity (create, read, update, delete, other)
  read from the action's verb;
- ``network_flows`` rows: **Network Activity** (4001, activity Traffic).

Every record keeps ``metadata.original_time`` (the evidence's own time text), ``metadata.uid`` (the
kit's event id) and ``raw_data`` (the evidence's record), and everything is redacted. Events of other
categories (traces, builds, deploys) have no class among these three and are not written; ``write``
returns how many of each were written and left out. Checked against OCSF's published JSON schema
(tests/test_scaleout_exports.py)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import re
from typing import Any

from forensics.case import TIMELINE_ORDER
from forensics.scaleout.exports import write_jsonl
from forensics.sources.azure_activity import AzureActivitySource
from forensics.sources.cloudtrail import CloudTrailSource
from forensics.sources.gcp_audit import GcpAuditSource

VERSION = "1.3.0"
PRODUCT = {"vendor_name": "forensics", "name": "forensics kit"}

#: actions that are an identity proving itself or getting a session: OCSF Authentication
AUTH_ACTIONS = re.compile(
    r"(ConsoleLogin|AssumeRole\w*|GetSessionToken|GetFederationToken|\blog_?in\b|sign_?in|"
    r"user\.session\.start|user\.authentication|oauth|sso|tokenreviews)",
    re.I,
)
_VERBS = [
    (1, re.compile(r"^(create|put|add|run|start|attach|insert|register|post|issue|import)", re.I)),
    (2, re.compile(r"^(get|list|describe|head|read|lookup|search|view|watch|batchget)", re.I)),
    (3, re.compile(r"^(update|modify|set|patch|change|enable|disable|tag|untag|replace|edit)", re.I)),
    (4, re.compile(r"^(delete|remove|detach|terminate|revoke|destroy|deregister|purge)", re.I)),
]
_STATUS = {"success": (1, "Success"), "failure": (2, "Failure"), "unknown": (0, "Unknown")}
_CLOUD = {CloudTrailSource.name: "AWS", GcpAuditSource.name: "GCP", AzureActivitySource.name: "Azure"}


def _ms(t: dt.datetime) -> int:
    return int((t - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) / dt.timedelta(milliseconds=1))


def _endpoint(address: str | None) -> dict[str, Any]:
    """An endpoint by its address: ``ip`` when it is one, ``name`` when it is a host or service name
    (CloudTrail writes a service's name there), ``name: unknown`` when the evidence gives none."""
    if not address:
        return {"name": "unknown"}
    try:
        return {"ip": str(ipaddress.ip_address(address))}
    except ValueError:
        return {"name": address}


def _verb(action: str) -> int:
    operation = re.split(r"[:./ ]", action)[-1] if action else ""
    for activity, rx in _VERBS:
        if rx.search(operation) or rx.search(action):
            return activity
    return 99


def _common(row: dict[str, Any], class_uid: int, activity_id: int, activity_name: str) -> dict[str, Any]:
    category_uid = class_uid // 1000
    status_id, status = _STATUS.get(row["outcome"], (99, row["outcome"]))
    doc: dict[str, Any] = {
        "class_uid": class_uid,
        "category_uid": category_uid,
        "activity_id": activity_id,
        "activity_name": activity_name,
        "type_uid": class_uid * 100 + activity_id,
        "severity_id": 1,
        "time": _ms(row["time"]),
        "status_id": status_id,
        "status": status,
        "metadata": {
            "version": VERSION,
            "product": PRODUCT,
            "uid": row["event_id"],
            "log_name": row["source"],
            "original_time": row.get("time_raw") or row["time"].astimezone(dt.UTC).isoformat(),
        },
    }
    if row.get("outcome_reason"):
        doc["status_detail"] = row["outcome_reason"]
    if row.get("end_time"):
        doc["end_time"] = _ms(row["end_time"])
    if row.get("raw") is not None:
        doc["raw_data"] = row["raw"]
    cloud = _CLOUD.get(row["source"])
    if cloud:
        doc["cloud"] = {"provider": cloud} | (
            {"account": {"uid": row["environment"]}} if row.get("environment") else {}
        )
        doc["metadata"]["profiles"] = ["cloud"]  # OCSF's cloud profile adds the cloud object
    if row.get("user_agent"):
        doc["http_request"] = {"user_agent": row["user_agent"]}
    return doc


def _user(row: dict[str, Any]) -> dict[str, Any]:
    user: dict[str, Any] = {"name": row.get("actor") or "unknown"}
    if row.get("actor_type"):
        user["type"] = row["actor_type"]
    if row.get("credential_id"):
        user["credential_uid"] = row["credential_id"]
    return user


def event_record(row: dict[str, Any]) -> dict[str, Any] | None:
    """One audit event as OCSF; None for the categories OCSF's three classes here do not cover."""
    if row["category"] != "audit":
        return None
    action = row.get("action") or ""
    if AUTH_ACTIONS.search(action):
        doc = _common(row, 3002, 1, "Logon")
        doc["user"] = _user(row)
        doc["src_endpoint"] = _endpoint(row.get("src_ip"))
        if row.get("target"):
            doc["dst_endpoint"] = {"name": row["target"]}
        return doc
    activity = _verb(action)
    names = {1: "Create", 2: "Read", 3: "Update", 4: "Delete", 99: "Other"}
    doc = _common(row, 6003, activity, names[activity])
    doc["actor"] = {"user": _user(row)}
    service, _, operation = action.rpartition(":")
    api: dict[str, Any] = {"operation": operation or action or "unknown"}
    if service or row.get("service"):
        api["service"] = {"name": service or row["service"]}
    if row.get("request_id"):
        api["request"] = {"uid": row["request_id"]}
    doc["api"] = api
    doc["src_endpoint"] = _endpoint(row.get("src_ip"))
    if row.get("target"):
        doc["resources"] = [{"name": row["target"]}]
    return doc


def flow_record(row: dict[str, Any]) -> dict[str, Any]:
    """One network flow as OCSF Network Activity, activity Traffic (6)."""
    outcome = {"ACCEPT": "success", "REJECT": "failure"}.get((row.get("action") or "").upper(), "unknown")
    doc = _common(
        {
            "outcome": outcome,
            "event_id": f"{row['evidence_sha256'][:16]}:{row['evidence_record']}",
            "source": "network_flows",
            "time": row["time"],
            "end_time": row.get("end_time"),
            "time_raw": None,
            "raw": json.dumps({k: v for k, v in row.items() if k not in ("time", "end_time")}, default=str),
        },
        4001,
        6,
        "Traffic",
    )
    src, dst = _endpoint(row.get("src_ip")), _endpoint(row.get("dst_ip"))
    if row.get("src_port") is not None:
        src["port"] = row["src_port"]
    if row.get("dst_port") is not None:
        dst["port"] = row["dst_port"]
    if row.get("interface_id"):
        src["interface_uid"] = row["interface_id"]
    doc["src_endpoint"], doc["dst_endpoint"] = src, dst
    if row.get("protocol"):
        doc["connection_info"] = {"protocol_name": str(row["protocol"]).lower(), "direction_id": 0}
    if row.get("packets") is not None or row.get("bytes") is not None:
        doc["traffic"] = {k: row[k] for k in ("packets", "bytes") if row.get(k) is not None}
    if row.get("account_id"):
        doc["cloud"] = {"provider": "AWS", "account": {"uid": row["account_id"]}}
        doc["metadata"]["profiles"] = ["cloud"]
    return doc


def write(case: Any, path: str | os.PathLike[str]) -> int:
    """Write the audit events and network flows to ``path``; returns the records written."""
    n = write_jsonl(
        case.con,
        f"SELECT * EXCLUDE (raw), CAST(raw AS VARCHAR) AS raw FROM events WHERE category = 'audit' ORDER BY {TIMELINE_ORDER}",
        path,
        event_record,
    )
    return n + write_jsonl(
        case.con,
        "SELECT * FROM network_flows ORDER BY time, evidence_sha256, evidence_record",
        path,
        flow_record,
        "a",
    )
