"""Provenance, SBOM, deploy and CI loaders: detection by content, counts computed independently."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import polars as pl

import forensics


def _cdx_count(components: list) -> int:
    return sum(1 + _cdx_count(c.get("components") or []) for c in components)


def test_sbom_component_counts_match_the_files(case, shared_data):
    d = shared_data / "sbom"
    results = case.ingest([d])
    assert all(r.reconciled for r in results)
    got = dict(
        case.sql("""SELECT regexp_extract(e.path, '[^/]+$') AS f, count(*) AS n FROM sbom_components s
                           JOIN evidence e ON e.sha256 = s.evidence_sha256 GROUP BY 1""").iter_rows()
    )
    expected = {}
    for p in sorted(d.glob("*.json")):
        doc = json.loads(p.read_text())
        if doc.get("bomFormat") == "CycloneDX":
            expected[p.name] = _cdx_count(doc.get("components") or [])
        elif "spdxVersion" in doc:
            expected[p.name] = len(doc.get("packages") or [])
        else:
            expected[p.name] = sum(1 for e in doc["@graph"] if e.get("type") == "software_Package")
    for p in d.glob("*.xml"):
        root = ET.parse(p).getroot()
        ns = root.tag.split("}")[0] + "}"
        all_components = len(root.findall(f".//{ns}component"))
        metadata_components = len(root.findall(f"{ns}metadata/{ns}component"))
        expected[p.name] = all_components - metadata_components
    assert got == expected


def test_sbom_rows_carry_purl_version_hashes_and_licenses(case, shared_data):
    case.ingest([shared_data / "sbom" / "cyclonedx__dropwizard-1.3.15.bom.json"])
    doc = json.loads((shared_data / "sbom" / "cyclonedx__dropwizard-1.3.15.bom.json").read_text())
    first = doc["components"][0]
    row = case.sql("SELECT * FROM sbom_components WHERE component_index = 0").row(0, named=True)
    assert (row["name"], row["version"], row["purl"]) == (first["name"], first["version"], first["purl"])
    sha = next(h["content"] for h in first["hashes"] if h["alg"] == "SHA-256")
    assert row["sha256"] == sha.lower()


def test_malformed_cyclonedx_xml_is_rejected_line_by_line_with_the_reason(case, tmp_path):
    p = tmp_path / "bom.xml"
    p.write_text(
        '<?xml version="1.0"?>\n<bom xmlns="http://cyclonedx.org/schema/bom/1.4">\n<components>\n<component>\n'
    )
    (r,) = case.ingest([p])
    assert r.loader == "sbom_xml" and r.records_rejected == 4 and r.records_loaded == 0
    assert "does not parse" in case.rejects()["reason"][0]


def test_xml_entity_expansion_is_refused(case, tmp_path):
    p = tmp_path / "bomb.xml"
    p.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE bom [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>\n'
        '<bom xmlns="http://cyclonedx.org/schema/bom/1.4"><components><component type="library">'
        "<name>&b;</name></component></components></bom>\n"
    )
    (r,) = case.ingest([p])
    assert r.records_loaded == 0 and case.sql("SELECT count(*) AS n FROM sbom_components")["n"][0] == 0


def test_github_workflow_runs_and_jobs_load_as_ci_events(case, shared_data):
    d = shared_data / "deploy_events"
    case.ingest([d / "github_webhooks", d / "github_actions_real", d / "github_rest_examples"])
    runs = case.sql("SELECT * FROM ci_runs")
    job = json.loads(
        (
            d
            / "github_webhooks"
            / "gh-webhook__workflow_job__completed.success.with-organization.payload.json"
        ).read_text()
    )["workflow_job"]
    rows = runs.filter(runs["job_id"] == str(job["id"]))
    # the success and failure payloads share a job id: both deliveries are kept
    assert sorted(rows["conclusion"].to_list()) == ["failure", "success"]
    row = rows.row(0, named=True)
    assert (row["runner_name"], row["head_sha"]) == (job["runner_name"], job["head_sha"])
    run = json.loads(
        (d / "github_webhooks" / "gh-webhook__workflow_run__completed.payload.json").read_text()
    )["workflow_run"]
    assert str(run["id"]) in runs.filter(runs["kind"] == "workflow_run")["run_id"].to_list()
    jobs = json.loads(
        (
            d / "github_actions_real" / "push_api_2499110742-1-list-jobs-for-workflow-run-attempt.json"
        ).read_text()
    )["jobs"]
    assert {str(j["id"]) for j in jobs} <= set(runs["job_id"].to_list())
    assert case.sql(
        "SELECT count(*) AS n FROM events WHERE source = 'github_actions' AND category = 'build'"
    )["n"][0] >= len(jobs)


def test_github_deployment_payloads_load_as_deploy_events(case, shared_data):
    d = shared_data / "deploy_events"
    case.ingest([d / "github_webhooks", d / "github_rest_examples"])
    deploys = case.sql("SELECT * FROM deploys WHERE source = 'github_deployment' ORDER BY time")
    status = json.loads((d / "github_webhooks" / "gh-webhook__deployment_status__payload.json").read_text())
    statuses = deploys.filter(deploys["action"] == "status")
    row = statuses.filter((pl.col("service") == "Hello-World") & (pl.col("environment") == "production")).row(
        0, named=True
    )
    assert row["environment"] == status["deployment_status"]["environment"]
    assert row["status"] == "success"
    created = deploys.filter(deploys["action"] == "deploy")
    assert created.height >= 3 and set(created["status"].to_list()) == {"unknown"}


def test_generic_deploy_csv_and_argocd_history_load(case, tmp_path):
    csv = tmp_path / "deploys.csv"
    csv.write_text(
        "time,service,environment,version,digest,actor,via,action,status\n"
        "2026-03-14T08:00:00Z,api,prod,1.0,sha256:" + "a" * 64 + ",ci,pipeline,deploy,success\n"
    )
    argo = tmp_path / "app.json"
    argo.write_text(
        json.dumps(
            {
                "kind": "Application",
                "metadata": {"name": "web", "namespace": "argocd"},
                "status": {
                    "history": [
                        {
                            "id": 1,
                            "revision": "abc123",
                            "deployedAt": "2026-03-14T08:01:00Z",
                            "source": {"repoURL": "https://github.com/o/r", "path": "k8s/web"},
                        },
                        {
                            "id": 2,
                            "revision": "def456",
                            "deployedAt": "2026-03-14T09:01:00Z",
                            "initiatedBy": {"username": "alice"},
                            "source": {"repoURL": "https://github.com/o/r"},
                        },
                    ]
                },
            }
        )
    )
    results = case.ingest([csv, argo])
    assert [r.loader for r in results] == ["deploys", "argocd"]
    df = case.sql("SELECT service, version, artifact_digest, actor, source FROM deploys ORDER BY time")
    assert df.row(0) == ("api", "1.0", "sha256:" + "a" * 64, "ci", "deploys")
    assert df["version"].to_list()[1:] == ["abc123", "def456"] and df["actor"][2] == "alice"


def test_kubernetes_image_change_becomes_a_manual_deploy(case, tmp_path):
    digest = "sha256:" + "b" * 64
    ev = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "RequestResponse",
        "auditID": "a-1",
        "stage": "ResponseComplete",
        "requestURI": "/apis/apps/v1/namespaces/prod/deployments/web",
        "verb": "patch",
        "user": {"username": "mallory"},
        "sourceIPs": ["203.0.113.9"],
        "objectRef": {"resource": "deployments", "namespace": "prod", "name": "web", "apiGroup": "apps"},
        "responseStatus": {"code": 200},
        "requestObject": {
            "spec": {
                "template": {"spec": {"containers": [{"name": "web", "image": f"reg/web:2.0@{digest}"}]}}
            }
        },
        "requestReceivedTimestamp": "2026-03-14T09:00:00.000000Z",
        "stageTimestamp": "2026-03-14T09:00:00.100000Z",
    }
    p = tmp_path / "audit.log"
    p.write_text(json.dumps(ev) + "\n" + json.dumps(ev | {"auditID": "a-2", "verb": "get"}) + "\n")
    case.ingest([p])
    df = case.sql("SELECT * FROM deploys")
    assert df.height == 1
    row = df.row(0, named=True)
    assert (
        row["service"],
        row["environment"],
        row["artifact_digest"],
        row["actor"],
        row["via"],
        row["version"],
    ) == ("web", "production", digest, "mallory", "manual", "2.0")
    # the namespace as written, beside its name through the case's environment aliases (docs/runtime.md)
    assert row["environment_raw"] == "prod"


def test_every_provenance_record_lands_somewhere(case, shared_data):
    results = case.ingest([shared_data / "provenance"])
    assert all(r.reconciled for r in results)
    loaded = {r.path.rsplit("/", 1)[1]: r.loader for r in results if r.status == "ingested"}
    assert loaded["rules_lint-v1.3.1.tar.gz.intoto.jsonl"] == "sigstore_bundle"
    assert loaded["in-toto__package.2f89b927.link"] == "intoto"
    assert loaded["statement-provenance-sigstorejs1.3.0.json"] == "intoto"
    link = json.loads((shared_data / "provenance" / "in-toto__package.2f89b927.link").read_text())
    products = case.sql("""SELECT subject_name, digest_value FROM attestations a JOIN evidence e ON e.sha256 = a.evidence_sha256
                           WHERE e.path LIKE '%package.2f89b927.link' AND digest_algorithm = 'sha256'""")
    assert dict(products.iter_rows()) == {k: v["sha256"] for k, v in link["signed"]["products"].items()}


def test_reingesting_changes_nothing(tmp_path, shared_data):
    c = forensics.open_case(tmp_path / "c.duckdb")
    c.ingest([shared_data / "provenance"])
    n = c.sql("SELECT count(*) AS n FROM attestations")["n"][0]
    c.ingest([shared_data / "provenance"])
    assert c.sql("SELECT count(*) AS n FROM attestations")["n"][0] == n
    c.close()
