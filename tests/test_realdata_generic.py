"""Every real file in ../shared/data goes through the generic path without raising, and reconciles."""

from __future__ import annotations

import hashlib

import pytest

import forensics

pytestmark = pytest.mark.realdata


def test_every_shared_file_ingests_through_the_generic_loader_and_reconciles(shared_data, tmp_path):
    files = sorted(p for p in shared_data.rglob("*") if p.is_file())
    assert files, "the shared corpus is empty"
    with forensics.open_case(tmp_path / "real.duckdb") as case:
        for path in files:
            results = case.ingest([path], loader="generic")
            for res in results:
                assert res.status in ("ingested", "already ingested"), (path, res)
                if res.status == "ingested":
                    assert res.reconciled, (path, res)
        ev = case.evidence()
        assert ev.get_column("reconciled").all()
        # every distinct file (by its bytes, hashed here independently) is in the ledger exactly once
        assert set(ev.get_column("sha256")) == {hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
