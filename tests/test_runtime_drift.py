"""Runtime state and drift (issue 22): what ran, next to what was deployed."""

from __future__ import annotations

import json
import re

import pytest

# the signed SLSA statement and the policy that verifies it, as the provenance invariant tests build them
from test_provenance_invariants import _attest, _policy

from forensics import provenance

D1, D2 = ("sha256:" + c * 64 for c in "12")


def _deploys(tmp_path, rows, name="deploys.jsonl"):
    """rows: (HH:MM, digest, actor, via, action)"""
    lines = [
        json.dumps(
            {
                "id": f"d-{i}",
                "time": f"2026-03-14T{t}:00Z",
                "service": "api",
                "environment": "production",
                "digest": d,
                "actor": a,
                "via": v,
                "action": act,
                "status": "success",
            }
        )
        for i, (t, d, a, v, act) in enumerate(rows)
    ]
    p = tmp_path / name
    p.write_text("\n".join(lines) + "\n")
    return p


def _pod(name: str, digest: str, at: str, ns: str = "prod", rs: str = "api-6d5f8b7c9d") -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": ns,
            "uid": name,
            "labels": {"pod-template-hash": rs.rsplit("-", 1)[1]},
            "ownerReferences": [{"kind": "ReplicaSet", "name": rs}],
            "creationTimestamp": "2026-03-14T07:00:00Z",
        },
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": at}],
            "containerStatuses": [
                {
                    "name": "api",
                    "image": "reg/api:x",
                    "imageID": f"reg/api@{digest}",
                    "ready": True,
                    "restartCount": 0,
                    "state": {"running": {"startedAt": "2026-03-14T07:00:05Z"}},
                }
            ],
        },
    }


def _pods(tmp_path, name, pods):
    p = tmp_path / name
    p.write_text(json.dumps({"apiVersion": "v1", "kind": "PodList", "items": pods}))
    return p


def test_drift_fires_when_a_pod_keeps_the_old_digest_after_a_deploy(case, tmp_path):
    case.ingest(
        [
            _deploys(tmp_path, [("08:00", D1, "ci", "pipeline", "deploy"), ("10:10", D2, "ci", "pipeline", "deploy")]),
            _pods(tmp_path, "p.json", [_pod("api-6d5f8b7c9d-aaaaa", D2, "2026-03-14T10:30:00Z"),
                                       _pod("api-6d5f8b7c9d-bbbbb", D1, "2026-03-14T10:30:00Z")]),
        ]
    )  # fmt: skip
    df = case.drift()
    assert df["pod"].to_list() == ["api-6d5f8b7c9d-bbbbb"]
    row = df.row(0, named=True)
    assert (row["observed_digest"], row["desired_digest"], row["environment"]) == (D1, D2, "production")
    assert (
        row["deploy_id"]
        == case.sql("SELECT deploy_id FROM deploys WHERE time = '2026-03-14 10:10:00+00'").item()
    )
    assert str(row["desired_since"]) == "2026-03-14 10:10:00+00:00"
    assert "should have replaced it" in row["reason"]
    f = case.findings(detector="runtime_drift")
    assert f.height == 1 and f["severity"][0] == "high" and "api-6d5f8b7c9d-bbbbb" in f["title"][0]


def _young_rollout(case, tmp_path, observed_at: bool):
    """D2 deployed at 10:28; a 09:00 snapshot (all D1, as deployed at 08:00) and a 10:30 one still
    on D1, two minutes into the rollout: within the 5-minute grace when its capture time is given."""
    from forensics import runtime

    case.ingest(
        [
            _deploys(tmp_path, [("08:00", D1, "ci", "pipeline", "deploy"), ("10:28", D2, "ci", "pipeline", "deploy")]),
            _pods(tmp_path, "p0900.json", [_pod("api-6d5f8b7c9d-aaaaa", D1, "2026-03-14T09:00:00Z")]),
        ]
    )  # fmt: skip
    (r,) = case.ingest(
        _pods(tmp_path, "p1030.json", [_pod("api-6d5f8b7c9d-aaaaa", D1, "2026-03-14T10:30:00Z")])
    )
    if observed_at:
        runtime.observed_at(case, [r.sha256], "2026-03-14T10:30:00Z")


def test_drift_quiet_when_pods_run_the_deployed_digest_or_the_rollout_is_young(case, tmp_path):
    _young_rollout(case, tmp_path, observed_at=True)
    assert case.drift().is_empty()
    assert case.findings(detector="runtime_drift").is_empty()
    assert case.query("provenance/runtime_drift", grace_minutes=1).height == 1  # past a 1-minute grace


def test_an_approximated_snapshot_time_within_the_grace_is_reported_as_uncertain(case, tmp_path):
    _young_rollout(case, tmp_path, observed_at=False)
    df = case.drift()
    assert df["within_grace"].to_list() == [True] and "may still have been in progress" in df["reason"][0]
    f = case.findings(detector="runtime_drift")
    assert f["severity"].to_list() == ["medium"]


def test_sample_drifted_pod_is_the_one_on_another_digest_than_the_last_deploy(sample_case, sample_dir):
    """Expected from the evidence files themselves: the last payments deploy in the deploy log, and
    the pods of the 10:30 snapshot whose imageID names another digest."""
    rows = [json.loads(x) for x in (sample_dir / "deploys" / "deploys.jsonl").read_text().splitlines()]
    last = [r for r in rows if r["service"] == "payments" and r["status"] == "success"][-1]
    snap = json.loads(next((sample_dir / "k8s" / "state").glob("pods-*T1030Z.json")).read_text())
    expected = sorted(
        p["metadata"]["name"]
        for p in snap["items"]
        if p["metadata"]["name"].startswith("payments-")
        and re.search(r"sha256:[0-9a-f]{64}", p["status"]["containerStatuses"][0]["imageID"]).group(0)
        != last["digest"]
    )
    df = sample_case.drift()
    assert expected and sorted(df["pod"].to_list()) == expected
    assert set(df["desired_digest"]) == {last["digest"]}
    assert df["deploy_action"].to_list() == [last["action"]] * len(expected)
    assert sample_case.findings(detector="runtime_drift").height == len(expected)
    # what was running, desired and observed side by side: the rollback interval shows the drift
    run = sample_case.running_at("2026-03-14T10:31:00Z", service="payments")
    assert run["runtime_verdict"].to_list() == ["drift"] and run["artifact_digest"][0] == last["digest"]
    before = sample_case.running_at("2026-03-14T10:05:00Z", service="payments")
    assert before["runtime_verdict"].to_list() == ["confirmed"]


def _audit(
    time: str, verb: str, resource: str, name: str, request: dict | None, ns: str = "prod", sub=None
) -> str:
    ev = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "RequestResponse",
        "auditID": f"{time}-{verb}-{name}",
        "stage": "ResponseComplete",
        "requestURI": f"/apis/apps/v1/namespaces/{ns}/{resource}/{name}",
        "verb": verb,
        "user": {"username": "deploy-bot"},
        "sourceIPs": ["203.0.113.66"],
        "objectRef": {"resource": resource, "namespace": ns, "name": name, "apiGroup": "apps"},
        "responseStatus": {"code": 200},
        "requestReceivedTimestamp": time,
        "stageTimestamp": time,
    }
    if sub:
        ev["objectRef"]["subresource"] = sub
    if request is not None:
        ev["requestObject"] = request
    return json.dumps(ev)


def test_kubelet_status_patches_and_pulled_events_are_observations(case, tmp_path):
    status = {
        "status": {"containerStatuses": [{"name": "api", "image": "reg/api:2", "imageID": f"reg/api@{D2}"}]}
    }
    audit = tmp_path / "audit.log"
    audit.write_text(
        _audit("2026-03-14T10:31:00Z", "patch", "pods", "api-6d5f8b7c9d-ccccc", status, sub="status") + "\n"
    )
    events = tmp_path / "events.json"
    events.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "EventList",
                "items": [
                    {
                        "apiVersion": "v1",
                        "kind": "Event",
                        "metadata": {"name": reason, "namespace": "prod", "uid": reason},
                        "involvedObject": {
                            "kind": "Pod",
                            "namespace": "prod",
                            "name": "api-6d5f8b7c9d-ddddd",
                            "fieldPath": "spec.containers{api}",
                        },
                        "reason": reason,
                        "message": msg,
                        "type": "Normal",
                        "lastTimestamp": t,
                        "source": {"component": "kubelet"},
                    }
                    for reason, msg, t in (
                        (
                            "Pulled",
                            f'Container image "reg/api@{D1}" already present on machine',
                            "2026-03-14T10:32:00Z",
                        ),
                        ("Created", "Created container api", "2026-03-14T10:32:01Z"),
                    )
                ],
            }
        )
    )
    case.ingest([audit, events])
    rs = case.sql(
        "SELECT how, workload, pod, container, image_digest, environment FROM runtime_state ORDER BY time"
    )
    assert rs.rows() == [
        ("pod_status_patch", "api", "api-6d5f8b7c9d-ccccc", "api", D2, "production"),
        ("event_pulled", "api", "api-6d5f8b7c9d-ddddd", "api", D1, "production"),
        ("event_created", "api", "api-6d5f8b7c9d-ddddd", "api", D1, "production"),
    ]


def test_observed_at_replaces_the_approximated_snapshot_time(case, tmp_path):
    from forensics import runtime

    p = _pods(tmp_path, "p.json", [_pod("api-6d5f8b7c9d-aaaaa", D1, "2026-03-14T09:00:00Z")])
    (r,) = case.ingest(p)
    assert case.sql("SELECT time_basis, CAST(time AS VARCHAR) FROM runtime_state").row(0) == (
        "approx",
        "2026-03-14 09:00:00+00",
    )
    runtime.observed_at(case, [r.sha256], "2026-03-14T10:45:00Z")
    assert case.sql("SELECT time_basis, CAST(time AS VARCHAR) FROM runtime_state").row(0) == (
        "observed-at",
        "2026-03-14 10:45:00+00",
    )


@pytest.fixture
def repatch_case(case, tmp_path):
    """The verified D1 rolled back to at 10:10; at 10:30 the rogue D2 is patched again with kubectl
    into namespace "prod" (the deploy log says "production"); evidence runs on to 11:15."""
    audit = tmp_path / "audit.log"
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "api", "image": f"reg/api@{D2}"}]}}}}
    audit.write_text(
        _audit("2026-03-14T10:30:00Z", "patch", "deployments", "api", patch)
        + "\n"
        + _audit("2026-03-14T11:15:00Z", "get", "deployments", "api", None)
        + "\n"
    )
    case.ingest(
        [
            _deploys(
                tmp_path,
                [
                    ("08:00", D1, "ci-bot", "pipeline", "deploy"),
                    ("09:40", D2, "deploy-bot", "manual", "deploy"),
                    ("10:10", D1, "ci-bot", "pipeline", "rollback"),
                ],
            ),
            audit,
            _attest(tmp_path, D1),
        ]
    )
    provenance.verify(case, _policy())
    return case


def test_environment_alias_makes_the_prod_repatch_a_downgrade_and_mixed_versions(repatch_case):
    case = repatch_case
    k8s = case.sql(
        "SELECT environment, environment_raw, instance FROM deploys WHERE source LIKE 'k8s_audit%'"
    )
    assert k8s.rows() == [("production", "prod", "k8s:prod")]
    res = provenance.invariant_results(case, _policy())
    down = res["provenance_downgrade"]
    assert [str(t)[11:16] for t in down["time"]] == ["09:40", "10:30"]
    mixed = res["provenance_mixed_versions"]
    assert mixed.height == 1 and (mixed["lane_a"][0], mixed["lane_b"][0]) == ("", "k8s:prod")
    assert (mixed["digest_a"][0], mixed["digest_b"][0]) == (D1, D2)


def test_without_the_alias_the_prod_repatch_is_another_environment_and_both_stay_quiet(repatch_case):
    case = repatch_case
    case.set_environment_alias("prod", "prod")  # turn the default off for this case
    assert case.sql("SELECT environment FROM deploys WHERE source LIKE 'k8s_audit%'").item() == "prod"
    res = provenance.invariant_results(case, _policy())
    assert [str(t)[11:16] for t in res["provenance_downgrade"]["time"]] == ["09:40"]
    assert res["provenance_mixed_versions"].is_empty()


def test_cli_ingest_observed_at_dates_the_snapshot(tmp_path, capsys):
    import forensics
    from forensics import cli

    p = _pods(tmp_path, "p.json", [_pod("api-6d5f8b7c9d-aaaaa", D1, "2026-03-14T09:00:00Z")])
    db = str(tmp_path / "c.duckdb")
    assert cli.main(["ingest", str(p), "--case", db, "--observed-at", "2026-03-14T10:30:00Z"]) == 0
    assert "observed at 2026-03-14T10:30:00Z: 1 file(s)" in capsys.readouterr().out
    with forensics.open_case(db, read_only=True) as c:
        assert c.sql("SELECT time_basis, CAST(time AS VARCHAR) FROM runtime_state").rows() == [
            ("observed-at", "2026-03-14 10:30:00+00")
        ]


def test_cli_env_aliases_set_and_show(repatch_case, tmp_path, capsys):
    from forensics import cli

    db = repatch_case.path
    repatch_case.close()
    assert cli.main(["env-aliases", "--case", db, "--set", "prod=prod", "--format", "json"]) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert {"alias": "prod", "canonical": "prod", "note": "set for this case"} in rows
    assert {"alias": "stg", "canonical": "staging", "note": "default"} in rows
    import forensics

    with forensics.open_case(db, read_only=True) as c:  # rederived: the re-patch is in "prod" again
        assert c.sql("SELECT environment FROM deploys WHERE source LIKE 'k8s_audit%'").item() == "prod"
    assert cli.main(["env-aliases", "--case", db, "--set", "nonsense"]) == 2
