"""Declarative wrapper keys (``Source.record_keys``) and detectors that raise: issue 14, parts 3 and 9a."""

from __future__ import annotations

import json

import pytest

from forensics.ingest import limits
from forensics.sources import registry
from forensics.sources.contract import Detection, Probe, Source

N_ENTRIES = 25_000


def _entry(i: int) -> dict:
    return {
        "insertId": f"id-{i}",
        "logName": "projects/p/logs/cloudaudit.googleapis.com%2Factivity",
        "timestamp": f"2026-03-14T09:{(i // 60) % 60:02d}:{i % 60:02d}Z",
        "protoPayload": {
            "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
            "serviceName": "storage.googleapis.com",
            "methodName": "storage.objects.get",
            "resourceName": f"projects/_/buckets/b/objects/o{i}",
            "authenticationInfo": {"principalEmail": "sa@p.iam.gserviceaccount.com"},
            "requestMetadata": {"callerIp": "203.0.113.5", "callerSuppliedUserAgent": "gcloud"},
        },
    }


@pytest.fixture(scope="module")
def gcp_export(tmp_path_factory):
    """A ``{"entries": [...]}`` export (as ``gcloud logging read --format=json`` wraps a listing) larger
    than the small-document size, so the probe reads only its start."""
    p = tmp_path_factory.mktemp("gcp") / "export.json"
    p.write_text(json.dumps({"entries": [_entry(i) for i in range(N_ENTRIES)], "nextPageToken": "t"}))
    assert p.stat().st_size > limits.SMALL_DOCUMENT_BYTES
    return p


@pytest.mark.parametrize("loader", [None, "gcp_audit"])
def test_large_gcp_entries_export_gives_every_entry(case, gcp_export, loader):
    expected = len(json.loads(gcp_export.read_text())["entries"])  # counted independently of the kit
    (res,) = case.ingest([gcp_export], loader=loader)
    assert (res.status, res.loader, res.reconciled) == ("ingested", "gcp_audit", True)
    assert (res.records_read, res.records_loaded, res.records_rejected) == (expected, expected, 0)
    assert case.sql("SELECT count(*), count(DISTINCT event_uid) FROM events").row(0) == (expected, expected)


def test_small_gcp_entries_export_is_split_too(case, tmp_path):
    p = tmp_path / "small.json"
    p.write_text(json.dumps({"entries": [_entry(i) for i in range(3)]}))
    (res,) = case.ingest([p])
    assert (res.loader, res.records_loaded, res.records_rejected) == ("gcp_audit", 3, 0)


def test_every_record_key_is_declared_by_a_source():
    declared = {k for s in registry.all_sources() for k in s.record_keys}
    assert set(registry.record_keys()) == declared and {"Records", "entries"} <= declared


class _Broken(Source):
    name = "broken"

    def detect(self, probe: Probe) -> Detection:
        raise KeyError("no such field")


def test_a_detector_that_raises_is_named_in_the_evidence_note(case, tmp_path, monkeypatch):
    sources = registry.all_sources()
    monkeypatch.setattr(registry, "all_sources", lambda: (_Broken(), *sources))
    p = tmp_path / "gcp.jsonl"
    p.write_text("".join(json.dumps(_entry(i)) + "\n" for i in range(2)))
    (res,) = case.ingest([p])
    assert res.loader == "gcp_audit" and res.records_loaded == 2
    assert "detector broken raised KeyError" in res.note
    note = case.sql("SELECT note FROM evidence").item()
    assert "detector broken raised KeyError" in note


def test_a_detector_that_raises_is_named_when_nothing_places_the_file(case, tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "all_sources", lambda: (_Broken(),))
    p = tmp_path / "x.jsonl"
    p.write_text('{"a": 1}\n{"a": 2}\n')
    (res,) = case.ingest([tmp_path])
    assert res.status == "unplaced" and "detector broken raised KeyError" in res.note
