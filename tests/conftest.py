"""Shared fixtures: throwaway cases, the sample incident, and the real-data corpus in ../shared/data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import forensics
from forensics.sample import generate

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("FORENSICS_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture
def case(tmp_path):
    c = forensics.open_case(tmp_path / "case.duckdb")
    yield c
    c.close()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real-data corpus not present at {SHARED_DATA} (it lives in ../shared/data beside the repo)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory) -> Path:
    """The sample incident, generated fresh with the default seed and scale."""
    out = tmp_path_factory.mktemp("sample")
    generate(out)
    return out


@pytest.fixture(scope="session")
def sample_case(sample_dir, tmp_path_factory):
    """A case with the whole sample incident ingested. Treat as read-only."""
    path = tmp_path_factory.mktemp("samplecase") / "sample.duckdb"
    c = forensics.open_case(path)
    c.ingest([sample_dir])
    yield c
    c.close()
