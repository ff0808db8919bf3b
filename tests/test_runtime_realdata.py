"""Runtime state from the real Kubernetes snapshots and Events under ../shared/data/k8s_state."""

from __future__ import annotations

import json
import re

import pytest

import forensics

DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def _items(path):
    doc = json.loads(path.read_text())
    return doc["items"] if isinstance(doc, dict) and "items" in doc else [doc]


@pytest.fixture(scope="module")
def state_case(shared_data, tmp_path_factory):
    c = forensics.open_case(tmp_path_factory.mktemp("rt") / "rt.duckdb")
    c.ingest([shared_data / "k8s_state"])
    yield c
    c.close()


@pytest.mark.realdata
def test_every_running_container_digest_of_the_real_pod_snapshots_is_an_observation(state_case, shared_data):
    expected = sorted(
        (p["metadata"]["namespace"], p["metadata"]["name"], cs["name"], DIGEST.search(cs["imageID"]).group(0))
        for f in sorted((shared_data / "k8s_state" / "pods").glob("*.json"))
        for p in _items(f)
        for cs in (p.get("status") or {}).get("containerStatuses") or []
        if DIGEST.search(cs.get("imageID") or "")
    )
    got = state_case.sql(
        "SELECT namespace, pod, container, image_digest FROM runtime_state WHERE how = 'pod_snapshot'"
    ).rows()
    assert expected and sorted(got) == expected


@pytest.mark.realdata
def test_real_deployment_specs_pinning_a_digest_are_desired_rows_and_no_deploys_means_no_drift(
    state_case, shared_data
):
    pinned = sum(
        1
        for f in sorted((shared_data / "k8s_state" / "workloads").glob("*deployments*.json"))
        for d in _items(f)
        for ct in d["spec"]["template"]["spec"]["containers"]
        if DIGEST.search(ct.get("image") or "")
    )
    assert state_case.sql("SELECT count(*) FROM runtime_state WHERE kind = 'desired'").item() == pinned
    # the pods run what their Deployment specs ask for, where a spec pins a digest
    assert state_case.drift().is_empty()
    assert state_case.sql("SELECT count(*) FROM runtime_state WHERE time IS NULL").item() == 0
