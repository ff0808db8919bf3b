"""A record of a few MB (one JSON object with thousands of long values) must not exhaust the ingest's
memory budget in any later step: the logs cardinality and the secret scan read it whole above 1 MB."""

from __future__ import annotations

import json

import forensics


def test_a_5_mb_object_of_long_values_ingests_and_its_secret_is_still_found(tmp_path):
    doc = {
        f"k{i}": "x" * 1000 for i in range(5000)
    }  # 5 MB of 1,000-letter runs (secret-shaped to the prefilter)
    doc["eventTime"] = "2026-01-01T00:00:00Z"
    token = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    doc["note"] = f"deploy with {token} please"
    p = tmp_path / "big.json"
    p.write_text(json.dumps(doc))
    assert p.stat().st_size > 5_000_000
    with forensics.open_case(tmp_path / "c.duckdb") as case:
        (res,) = case.ingest([p])  # raised OutOfMemoryException in the secret scan and the logs counts
        assert (res.records_read, res.records_loaded, res.records_rejected) == (1, 1, 0)
        kinds = case.sql("SELECT kind, fingerprint FROM secret_exposures")
        assert "github_pat" in kinds["kind"].to_list() or "github_token" in kinds["kind"].to_list()
        counted = case.sql(
            "SELECT key, value FROM attribute_value_counts WHERE signal = 'logs' AND key = '(record)'"
        )
        assert counted.height == 1 and "too large to count by key" in counted["value"][0]
