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
        pytest.skip(
            f"real-data corpus not present at {SHARED_DATA} (it lives in ../shared/data beside the repo)"
        )
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


@pytest.fixture
def ranked_source():
    """A minimal source whose records name their event id and rank (for de-duplication tests):
    ``{"t": time, "id": event_uid, "rank": event_rank, "what": action}``. Its category is 'other'."""
    from forensics.sources.contract import Source

    class Ranked(Source):
        name = "ranked"
        containers = ("jsonl",)

        def events_sql(self):
            return """SELECT record_no, fx_time(doc->>'t', false) AS time, NULL AS time_problem,
                             doc->>'id' AS event_uid, CAST(doc->>'rank' AS SMALLINT) AS event_rank,
                             doc->>'what' AS action FROM {batch}"""

    return Ranked()


@pytest.fixture
def write_ranked(tmp_path):
    """Write records for ``ranked_source`` as a JSON Lines file in tmp_path; returns its path."""
    import json

    def write(name, rows):
        p = tmp_path / name
        p.write_text("".join(json.dumps({"t": "2026-03-14T09:00:00Z", **r}) + "\n" for r in rows))
        return p

    return write
