"""Audit loaders on small hand-made inputs: time rules, outcome mapping (timeouts kept distinct),
de-duplication across overlapping exports, Kubernetes stages, and shapes (gzip, JSON Lines
wrappers, EventList, digest files)."""

from __future__ import annotations

import copy
import gzip
import json


def _ct(
    event_id: str,
    name: str = "GetObject",
    source: str = "s3.amazonaws.com",
    time: str | None = "2026-03-14T09:30:00Z",
    error: tuple[str, str] | None = None,
    key: str = "AKIAEXAMPLE000000001",
) -> dict:
    rec = {
        "eventVersion": "1.09",
        "eventSource": source,
        "eventName": name,
        "eventID": event_id,
        "userIdentity": {
            "type": "IAMUser",
            "arn": "arn:aws:iam::111122223333:user/bob",
            "accessKeyId": key,
            "accountId": "111122223333",
            "userName": "bob",
        },
        "sourceIPAddress": "203.0.113.9",
        "userAgent": "aws-cli/2",
        "requestID": "R" + event_id,
        "requestParameters": {"bucketName": "b", "key": "k"},
        "recipientAccountId": "111122223333",
    }
    if time is not None:
        rec["eventTime"] = time
    if error:
        rec["errorCode"], rec["errorMessage"] = error
    return rec


def _records_file(path, records, gz=False):
    body = json.dumps({"Records": records}).encode()
    path.write_bytes(gzip.compress(body) if gz else body)
    return path


def test_cloudtrail_records_gzip_maps_action_actor_credential(case, tmp_path):
    f = _records_file(tmp_path / "a.json.gz", [_ct("e1")], gz=True)
    (r,) = case.ingest(f)
    assert (r.loader, r.format, r.records_loaded) == ("cloudtrail", "gzip+json", 1)
    row = case.sql(
        "SELECT action, actor, actor_type, credential_id, src_ip, target, outcome, event_uid FROM events"
    ).row(0)
    assert row == (
        "s3:GetObject",
        "arn:aws:iam::111122223333:user/bob",
        "IAMUser",
        "AKIAEXAMPLE000000001",
        "203.0.113.9",
        "b/k",
        "success",
        "e1",
    )


def test_cloudtrail_record_without_time_is_rejected_with_reason(case, tmp_path):
    f = _records_file(tmp_path / "a.json", [_ct("e1"), _ct("e2", time=None)])
    (r,) = case.ingest(f)
    assert (r.records_read, r.records_loaded, r.records_rejected) == (2, 1, 1)
    assert case.rejects()["reason"].to_list() == ["no time field"]


def test_cloudtrail_unknown_event_source_still_loads(case, tmp_path):
    f = _records_file(
        tmp_path / "a.json",
        [
            _ct("e1", name="DoNewThing", source="brand-new-service.amazonaws.com"),
            _ct("e2", name="Odd", source="internal.example"),
        ],
    )
    case.ingest(f)
    assert sorted(case.sql("SELECT action FROM events")["action"]) == [
        "brand-new-service:DoNewThing",
        "internal.example:Odd",
    ]


def test_cloudtrail_outcomes_keep_timeouts_distinct_and_give_reasons(case, tmp_path):
    recs = [
        _ct("ok"),
        _ct("t1", error=("RequestTimeout", "slow")),
        _ct("t2", error=("RequestTimeoutException", "slow")),
        _ct("th", error=("ThrottlingException", "Rate exceeded")),
        _ct("ad", error=("AccessDenied", "Access Denied")),
        _ct("other", error=("NoSuchKey", "missing")),
    ]
    case.ingest(_records_file(tmp_path / "a.json", recs))
    got = dict(case.sql("SELECT event_uid, outcome || ' | ' || outcome_reason FROM events").iter_rows())
    assert got == {
        "ok": "success | no errorCode",
        "t1": "timeout | timed out: RequestTimeout: slow",
        "t2": "timeout | timed out: RequestTimeoutException: slow",
        "th": "failure | throttled: ThrottlingException: Rate exceeded",
        "ad": "failure | access denied: AccessDenied: Access Denied",
        "other": "failure | NoSuchKey: missing",
    }


def test_overlapping_cloudtrail_exports_are_counted_once(case, tmp_path):
    a = _records_file(tmp_path / "a.json", [_ct("e1"), _ct("e2")])
    b = _records_file(tmp_path / "b.json.gz", [_ct("e2"), _ct("e3")], gz=True)
    ra, rb = case.ingest([a, b])
    assert (rb.records_read, rb.records_loaded, rb.records_rejected, rb.records_duplicate) == (2, 2, 0, 1)
    assert case.sql("SELECT count(*) AS n FROM events")["n"][0] == 3
    assert case.evidence()["reconciled"].all()


def test_cloudtrail_json_lines_with_logstash_and_eventbridge_wrappers(case, tmp_path):
    logstash = _ct("l1", time=None)
    logstash["@timestamp"] = "2026-03-14T09:31:00.000Z"
    bridge = {
        "version": "0",
        "id": "x",
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.s3",
        "time": "2026-03-14T09:32:00Z",
        "detail": _ct("b1"),
    }
    f = tmp_path / "lines.jsonl"
    f.write_text(json.dumps(logstash) + "\n" + json.dumps(bridge) + "\n")
    (r,) = case.ingest(f)
    assert (r.loader, r.records_loaded, r.records_rejected) == ("cloudtrail", 2, 0)
    got = case.sql("SELECT event_uid, time_raw FROM events ORDER BY event_uid")
    assert got.rows() == [("b1", "2026-03-14T09:30:00Z"), ("l1", "2026-03-14T09:31:00.000Z")]


def test_cloudtrail_zone_less_time_is_read_as_utc_because_cloudtrail_defines_utc(case, tmp_path):
    case.ingest(_records_file(tmp_path / "a.json", [_ct("e1", time="2026-03-14 09:30:00")]))
    assert str(case.sql("SELECT time FROM events")["time"][0]) == "2026-03-14 09:30:00+00:00"


def test_cloudtrail_digest_file_is_evidence_not_events(case, tmp_path):
    f = tmp_path / "digest.json"
    f.write_text(
        json.dumps(
            {
                "awsAccountId": "111122223333",
                "digestStartTime": "2026-03-14T08:00:00Z",
                "digestEndTime": "2026-03-14T09:00:00Z",
                "logFiles": [{"s3Object": "x"}, {"s3Object": "y"}],
            }
        )
    )
    (r,) = case.ingest(f)
    assert (r.loader, r.records_loaded, r.records_rejected) == ("cloudtrail", 1, 0)
    assert case.sql("SELECT count(*) AS n FROM events")["n"][0] == 0
    assert case.sql("SELECT log_file_count FROM cloudtrail_digests")["log_file_count"].to_list() == [2]


def _k8s(
    audit_id: str,
    stage: str,
    code: int | None = 200,
    reason: str | None = None,
    user: str = "alice",
    cred: str | None = None,
) -> dict:
    ev = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "Metadata",
        "auditID": audit_id,
        "stage": stage,
        "requestURI": "/apis/apps/v1/namespaces/prod/deployments/payments",
        "verb": "patch",
        "user": {"username": user, "groups": ["system:authenticated"]},
        "sourceIPs": ["198.51.100.7"],
        "userAgent": "kubectl/v1.29",
        "objectRef": {
            "resource": "deployments",
            "namespace": "prod",
            "name": "payments",
            "apiGroup": "apps",
            "apiVersion": "v1",
        },
        "requestReceivedTimestamp": "2026-03-14T09:40:00.000001Z",
        "stageTimestamp": "2026-03-14T09:40:00.100000Z",
    }
    if cred:
        ev["user"]["extra"] = {"authentication.kubernetes.io/credential-id": [cred]}
    if code is not None and stage != "RequestReceived":
        ev["responseStatus"] = {"metadata": {}, "code": code}
        if reason:
            ev["responseStatus"]["reason"] = reason
    return ev


def test_k8s_stages_of_one_request_are_one_event_and_the_complete_stage_is_kept(case, tmp_path):
    f = tmp_path / "audit.log"
    f.write_text(
        "".join(
            json.dumps(e) + "\n"
            for e in [
                _k8s("a1", "RequestReceived"),
                _k8s("a1", "ResponseStarted"),
                _k8s("a1", "ResponseComplete", cred="JTI=abc"),
            ]
        )
    )
    (r,) = case.ingest(f)
    assert (r.records_read, r.records_loaded, r.records_rejected, r.records_duplicate) == (3, 3, 0, 2)
    got = case.sql(
        "SELECT action, target, actor, actor_type, credential_id, outcome, event_rank, raw->>'stage' AS s FROM events"
    )
    assert got.rows() == [
        (
            "patch deployments",
            "prod/deployments/payments",
            "alice",
            "user",
            "JTI=abc",
            "success",
            3,
            "ResponseComplete",
        )
    ]


def test_k8s_later_file_with_complete_stage_replaces_the_received_stage(case, tmp_path):
    a, b = tmp_path / "a.log", tmp_path / "b.log"
    a.write_text(
        json.dumps(_k8s("a1", "RequestReceived")) + "\n" + json.dumps(_k8s("a2", "ResponseComplete")) + "\n"
    )
    b.write_text(
        json.dumps(_k8s("a1", "ResponseComplete")) + "\n" + json.dumps(_k8s("a3", "ResponseComplete")) + "\n"
    )
    ra, rb = case.ingest([a, b])
    assert rb.records_duplicate == 1
    got = case.sql("SELECT request_id, outcome, raw->>'stage' AS s FROM events ORDER BY request_id")
    assert got.rows() == [
        ("a1", "success", "ResponseComplete"),
        ("a2", "success", "ResponseComplete"),
        ("a3", "success", "ResponseComplete"),
    ]
    assert case.evidence()["reconciled"].all()


def test_k8s_outcomes_keep_timeouts_distinct(case, tmp_path):
    f = tmp_path / "audit.log"
    f.write_text(
        "".join(
            json.dumps(e) + "\n"
            for e in [
                _k8s("ok", "ResponseComplete", 200),
                _k8s("gw", "ResponseComplete", 504),
                _k8s("to", "ResponseComplete", 500, reason="Timeout"),
                _k8s("th", "ResponseComplete", 429),
                _k8s("no", "ResponseComplete", 403, reason="Forbidden"),
                _k8s("rr", "RequestReceived"),
            ]
        )
    )
    case.ingest(f)
    got = dict(case.sql("SELECT request_id, outcome || ' | ' || outcome_reason FROM events").iter_rows())
    assert got == {
        "ok": "success | HTTP 200",
        "gw": "timeout | timed out: HTTP 504",
        "to": "timeout | timed out: HTTP 500 Timeout",
        "th": "failure | throttled: HTTP 429",
        "no": "failure | access denied: HTTP 403 Forbidden",
        "rr": "unknown | no response status recorded (stage RequestReceived)",
    }


def test_k8s_eventlist_document_and_zone_less_time_rejected(case, tmp_path):
    bad = _k8s("b1", "ResponseComplete")
    bad["requestReceivedTimestamp"] = "2026-03-14T09:40:00"
    bad.pop("stageTimestamp")
    f = tmp_path / "list.json"
    f.write_text(
        json.dumps(
            {
                "kind": "EventList",
                "apiVersion": "audit.k8s.io/v1",
                "items": [_k8s("g1", "ResponseComplete"), bad],
            }
        )
    )
    (r,) = case.ingest(f)
    assert (r.loader, r.records_read, r.records_loaded, r.records_rejected) == ("k8s_audit", 2, 1, 1)
    assert case.rejects()["reason"][0] == "naive timestamp (no zone) and the source does not define one"


def test_k8s_impersonation_is_visible_in_actor_type(case, tmp_path):
    ev = _k8s("i1", "ResponseComplete", user="system:serviceaccount:ci:deployer")
    ev["impersonatedUser"] = {"username": "admin"}
    f = tmp_path / "audit.log"
    f.write_text(json.dumps(ev) + "\n" + json.dumps(_k8s("i2", "ResponseComplete")) + "\n")
    case.ingest(f)
    got = case.sql("SELECT actor, actor_type FROM events WHERE request_id = 'i1'").row(0)
    assert got == ("system:serviceaccount:ci:deployer", "service_account impersonating admin")


def _gcp(insert_id: str, code: int | None = None) -> dict:
    e = {
        "insertId": insert_id,
        "logName": "projects/p/logs/cloudaudit.googleapis.com%2Factivity",
        "timestamp": "2026-03-14T09:30:00.123456789Z",
        "protoPayload": {
            "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
            "serviceName": "storage.googleapis.com",
            "methodName": "storage.objects.get",
            "resourceName": "projects/_/buckets/b/objects/o",
            "authenticationInfo": {
                "principalEmail": "sa@p.iam.gserviceaccount.com",
                "serviceAccountKeyName": "//iam.googleapis.com/projects/p/serviceAccounts/sa@p.iam.gserviceaccount.com/keys/k1",
            },
            "requestMetadata": {"callerIp": "203.0.113.5", "callerSuppliedUserAgent": "gcloud"},
        },
    }
    if code is not None:
        e["protoPayload"]["status"] = {"code": code, "message": "m"}
    return e


def test_gcp_status_code_4_is_a_timeout_and_lines_load(case, tmp_path):
    f = tmp_path / "gcp.jsonl"
    f.write_text(
        "".join(
            json.dumps(_gcp(i, c)) + "\n" for i, c in [("a", None), ("b", 4), ("c", 7), ("d", 8), ("e", 5)]
        )
    )
    (r,) = case.ingest(f)
    assert (r.loader, r.records_loaded, r.records_rejected) == ("gcp_audit", 5, 0)
    got = dict(
        case.sql(
            "SELECT split_part(event_uid, '|', 2), outcome || ' | ' || outcome_reason FROM events"
        ).iter_rows()
    )
    assert got == {
        "a": "success | no status (OK)",
        "b": "timeout | timed out: status 4 DEADLINE_EXCEEDED: m",
        "c": "failure | access denied: status 7 PERMISSION_DENIED: m",
        "d": "failure | throttled: status 8 RESOURCE_EXHAUSTED: m",
        "e": "failure | status 5 NOT_FOUND: m",
    }
    assert (
        case.sql("SELECT DISTINCT time_raw, time FROM events WHERE event_uid LIKE '%|a'")
        .row(0)[0]
        .endswith("789Z")
    )


def test_gcp_array_export_overlapping_with_lines_is_deduplicated(case, tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.jsonl"
    a.write_text(json.dumps([_gcp("a"), _gcp("b")]))
    b.write_text(json.dumps(_gcp("b")) + "\n" + json.dumps(_gcp("c")) + "\n")
    ra, rb = case.ingest([a, b])
    assert (ra.loader, rb.loader, rb.records_duplicate) == ("gcp_audit", "gcp_audit", 1)
    assert case.sql("SELECT count(*) AS n FROM events")["n"][0] == 3


def test_github_audit_json_lines_and_csv_exports(case, tmp_path):
    ev = {
        "@timestamp": 1773480000000,
        "_document_id": "d1",
        "action": "git.clone",
        "actor": "deploy-bot",
        "actor_ip": "203.0.113.66",
        "org": "acme",
        "repo": "acme/payments",
        "hashed_token": "h1",
        "programmatic_access_type": "Personal access token (classic)",
        "user_agent": "git/2",
        "request_id": "R1",
    }
    lines = tmp_path / "export.jsonl"
    lines.write_text(
        json.dumps(ev)
        + "\n"
        + json.dumps({**copy.deepcopy(ev), "_document_id": "d2", "action": "repo.access"})
        + "\n"
    )
    csvf = tmp_path / "export.csv"
    csvf.write_text(
        "@timestamp,_document_id,action,actor,actor_ip,org,repo\n1773480060000,d3,repo.create,alice,192.0.2.1,acme,acme/x\n"
    )
    r1, r2 = case.ingest([lines, csvf])
    assert (r1.loader, r1.records_loaded, r2.loader, r2.records_loaded, r2.records_rejected) == (
        "github_audit",
        2,
        "github_audit",
        1,
        0,
    )
    got = case.sql(
        "SELECT event_uid, actor, credential_id, src_ip, target, request_id FROM events ORDER BY event_uid"
    )
    assert got.rows()[0] == ("d1", "deploy-bot", "h1", "203.0.113.66", "acme/payments", "R1")
    assert got["event_uid"].to_list() == ["d1", "d2", "d3"]
    assert (
        str(case.sql("SELECT time FROM events WHERE event_uid = 'd1'")["time"][0])
        == "2026-03-14 09:20:00+00:00"
    )
