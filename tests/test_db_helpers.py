"""The small DuckDB helpers: settings put back, and errors raised as themselves."""

from __future__ import annotations

import duckdb
import pytest

from forensics.db import memory_budget, scalar, setting


def test_a_setting_is_put_back_after_its_block(case):
    before = scalar(case.con, "SELECT current_setting('preserve_insertion_order')")
    with setting(case.con, "preserve_insertion_order", not before):
        assert scalar(case.con, "SELECT current_setting('preserve_insertion_order')") is (not before)
    assert scalar(case.con, "SELECT current_setting('preserve_insertion_order')") is before


def test_an_error_inside_a_budget_in_a_transaction_is_raised_as_itself(case):
    # DuckDB refuses every statement of an aborted transaction, the one that would restore the limit
    # too; the error a responder sees must still be the one that happened
    case.con.execute("BEGIN TRANSACTION")
    with pytest.raises(duckdb.ConversionException, match="Could not convert"):
        with memory_budget(case.con):
            case.con.execute("SELECT CAST('not a number' AS INTEGER)").fetchall()
    case.con.execute("ROLLBACK")
