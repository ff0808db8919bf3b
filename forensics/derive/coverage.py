"""Rebuild ``coverage_gaps`` from ``queries/coverage/gaps.sql`` (docs/coverage.md): what the evidence
cannot see. Runs after every ingest that changed something (it reads the whole ledger: a gap is a
property of all the evidence, not of one file), before the findings, which turn each gap into a
``coverage_gap`` finding."""

from __future__ import annotations

import duckdb

from forensics import queries

ORDER = 90


def derive(con: duckdb.DuckDBPyConnection) -> None:
    sql = queries.load("coverage/gaps")
    params = {k: None for k in queries.parameters(sql)}
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM coverage_gaps")
        # scope and statement quote evidence names: stored redacted, as every derived text (issue 16)
        con.execute(
            "INSERT INTO coverage_gaps BY NAME SELECT * REPLACE (fx_redact(scope) AS scope, "
            f"fx_redact(statement) AS statement) FROM ({sql})",
            params,
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
