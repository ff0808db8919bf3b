"""Scan newly ingested evidence for secrets after every ingest (after the credentials derivation, whose
token hashes it links to). See ``forensics.secrets``."""

from __future__ import annotations

import duckdb

from forensics import secrets

ORDER = 50


def derive(con: duckdb.DuckDBPyConnection) -> None:
    secrets.scan(con, only_new=True)
