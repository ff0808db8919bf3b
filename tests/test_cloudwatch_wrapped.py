"""CloudWatch Logs subscription payloads (issue 21 b): decoded and encoded (awslogs.data) forms, their
messages routed to the loader that recognises them (CloudTrail, Kubernetes audit, VPC Flow), each with
its place in the wrapper. Counts are computed here with json/gzip/base64, not with the kit."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path

import pytest

import forensics

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"
K8S = SAMPLE / "k8s" / "prod-eu-1-kube-apiserver-audit.log"


def _payload(messages: list[str], group: str, start_ms: int = 1773478800000) -> dict:
    return {
        "messageType": "DATA_MESSAGE",
        "owner": "111122223333",
        "logGroup": group,
        "logStream": "stream-1",
        "subscriptionFilters": ["f"],
        "logEvents": [
            {"id": str(10**20 + i), "timestamp": start_ms + i, "message": m} for i, m in enumerate(messages)
        ],
    }


def _encode(payload: dict) -> dict:
    return {"awslogs": {"data": base64.b64encode(gzip.compress(json.dumps(payload).encode())).decode()}}


def _decoded_messages(path: Path) -> list[tuple[int, int, dict]]:
    """(wrapper record, index, log event) of every message in a file, read with the standard library."""
    doc = json.loads(path.read_text())
    if isinstance(doc, dict) and "logEvents" in doc:
        return [(i, 0, ev) for i, ev in enumerate(doc["logEvents"])]
    out = []
    for r, rec in enumerate(doc if isinstance(doc, list) else [doc]):
        p = json.loads(gzip.decompress(base64.b64decode(rec["awslogs"]["data"])))
        out += [(r, i, ev) for i, ev in enumerate(p["logEvents"])]
    return out


@pytest.fixture(scope="module")
def real(shared_data, tmp_path_factory):
    folder = shared_data / "wrapped" / "cloudwatch_logs"
    with forensics.open_case(tmp_path_factory.mktemp("cw") / "c.duckdb") as c:
        res = {Path(r.path).name: r for r in c.ingest(folder)}
        msgs = c.con.execute(
            """SELECT v.path, m.routed_to, count(*) FROM cloudwatch_messages m
               JOIN evidence v ON v.sha256 = m.evidence_sha256 GROUP BY ALL"""
        ).fetchall()
        by_source = c.con.execute(
            "SELECT v.path, e.source, count(*) FROM events e JOIN evidence v ON v.sha256 = e.evidence_sha256 GROUP BY ALL"
        ).fetchall()
    return folder, res, msgs, by_source


def test_real_payloads_reconcile(real):
    folder, res, msgs, _ = real
    for f in sorted(folder.glob("*.json")):
        r = res[f.name]
        doc = json.loads(f.read_text())
        want = len(doc["logEvents"]) if isinstance(doc, dict) else len(doc)
        assert (r.loader, r.records_read, r.records_loaded, r.records_rejected) == (
            "cloudwatch_logs",
            want,
            want,
            0,
        )
        n_msgs = sum(n for p, _, n in msgs if p == str(f))
        assert n_msgs == len(_decoded_messages(f)), f.name


def test_real_messages_routed(real):
    folder, res, msgs, by_source = real
    routed = {(Path(p).name, s): n for p, s, n in msgs}
    ct = [
        json.loads(ev["message"])
        for _, _, ev in _decoded_messages(folder / "datadog__cloudwatch_log_cloudtrail.json")
    ]
    assert routed[("datadog__cloudwatch_log_cloudtrail.json", "cloudtrail")] == len(ct)
    events = {(Path(p).name, s): n for p, s, n in by_source}
    # CloudTrail events are kept once per eventID, and the repeat is counted as a duplicate
    assert events[("datadog__cloudwatch_log_cloudtrail.json", "cloudtrail")] == len(
        {e["eventID"] for e in ct}
    )
    assert res["datadog__cloudwatch_log_cloudtrail.json"].records_duplicate == len(ct) - len(
        {e["eventID"] for e in ct}
    )
    assert routed[("newrelic__entry_vpc_flow_logs.json", "vpc_flow")] == 1
    assert events[("newrelic__entry_vpc_flow_logs.json", "vpc_flow")] == 1
    # Lambda and demo messages no loader claims stay as cloudwatch_logs events, one per message id
    for name in ("datadog__cloudwatch_logs.json", "sumologic__cwlfixtures.json"):
        ids = {ev["id"] for _, _, ev in _decoded_messages(folder / name)}
        assert events[(name, "cloudwatch_logs")] == len(ids)
        assert routed[(name, None)] == len(_decoded_messages(folder / name))


def test_eks_audit_and_encoded_cloudtrail_routed_with_their_place(tmp_path):
    lines = [ln for ln in K8S.read_text().splitlines() if ln.strip()][:7]
    (tmp_path / "eks.json").write_text(json.dumps(_payload(lines, "/aws/eks/prod/cluster")))
    ct = [
        {"eventVersion": "1.08", "eventTime": f"2026-03-14T09:0{i}:00Z", "eventSource": "s3.amazonaws.com",
         "eventName": "GetObject", "awsRegion": "eu-west-1", "eventID": f"ev-{i}",
         "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/x"}}
        for i in range(3)
    ]  # fmt: skip
    enc = [
        _encode(_payload([json.dumps(e) for e in ct[:2]], "ct")),
        _encode(_payload([json.dumps(ct[2])], "ct")),
    ]
    (tmp_path / "lambda-events.json").write_text(json.dumps(enc))
    with forensics.open_case(":memory:") as c:
        res = c.ingest([tmp_path / "eks.json", tmp_path / "lambda-events.json"])
        assert [(r.loader, r.records_read, r.records_loaded, r.records_rejected) for r in res] == [
            ("cloudwatch_logs", 7, 7, 0),
            ("cloudwatch_logs", 2, 2, 0),
        ]
        k8s = c.con.execute("SELECT count(*) FROM events WHERE source = 'k8s_audit'").fetchall()[0][0]
        assert k8s == len({json.loads(ln)["auditID"] for ln in lines})
        rows = c.con.execute(
            """SELECT e.evidence_record, e.action, e.region, m.path FROM events e
               JOIN cloudwatch_messages m USING (evidence_sha256, evidence_record)
               WHERE e.source = 'cloudtrail' ORDER BY e.evidence_record"""
        ).fetchall()
    assert rows == [
        (1 << 20, "s3:GetObject", "eu-west-1", "$[0].awslogs.data -> $.logEvents[0]"),
        (1 << 20 | 1, "s3:GetObject", "eu-west-1", "$[0].awslogs.data -> $.logEvents[1]"),
        (2 << 20, "s3:GetObject", "eu-west-1", "$[1].awslogs.data -> $.logEvents[0]"),
    ]


def test_bad_encoded_record_rejected_with_reason(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text(json.dumps([{"awslogs": {"data": "not base64!"}}, _encode(_payload(["hello"], "g"))]))
    with forensics.open_case(":memory:") as c:
        (r,) = c.ingest(p)
        assert (r.records_read, r.records_loaded, r.records_rejected) == (2, 1, 1)
        (reason,) = c.con.execute("SELECT reason FROM rejects").fetchall()[0]
    assert "base64" in reason
