"""The machine-readable keys of a query's leading comment block (``-- @key: value``)."""

from __future__ import annotations

import pytest

from forensics import queries
from forensics.errors import BadQueryHeader


def test_header_reads_the_at_keys_of_the_leading_comment_block():
    sql = (
        "-- What it answers.\n"
        "-- Params: none. Healthy: zero rows.\n"
        "--   @needs:  attribute_value_counts, credentials \n"
        "-- @engines: duckdb, spark\n"
        "SELECT 1\n"
    )
    assert queries.header(sql) == {"needs": "attribute_value_counts, credentials", "engines": "duckdb, spark"}
    assert queries.header_list(sql, "needs") == ["attribute_value_counts", "credentials"]
    assert queries.header_list(sql, "severity") == []


def test_header_stops_at_the_first_statement_line():
    sql = "-- A query.\n\n-- @title: kept\nSELECT 1 -- @needs: not a header\n-- @severity: high\nFROM t\n"
    assert queries.header(sql) == {"title": "kept"}


def test_header_without_keys_is_empty_and_free_text_with_at_signs_is_not_a_key():
    assert queries.header("SELECT 1\n") == {}
    assert queries.header("-- mail me @ alice: later\nSELECT 1") == {}


def test_header_key_given_twice_is_rejected():
    with pytest.raises(BadQueryHeader, match="@needs twice"):
        queries.header("-- @needs: a\n-- @needs: b\nSELECT 1\n")
