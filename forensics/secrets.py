"""Secret scanning: credential-shaped strings in everything the case ingested.

The scan is one DuckDB query (``queries/credentials/secret_exposures.sql``): RE2 patterns over
every string leaf of ``events.raw`` (log fields, CI job log lines), span attribute values and the
raw text of rejected records. It rebuilds the ``secret_exposures`` table, which stores where each
secret was exposed (evidence sha256, line, record, field) and only a redacted form of it: kind,
first four characters and a fingerprint (``forensics.display.redact`` computed in SQL). The secret
itself is never stored, returned or shown.

An AWS access key id is an identifier, not a secret (the revoke command needs it in full); the
secret access key beside it is the secret, and the key id's row says whether one was found within
five lines of the same file (``secret_nearby``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import duckdb
import polars as pl

from forensics import queries

if TYPE_CHECKING:
    from forensics.case import Case


def scan(con: duckdb.DuckDBPyConnection, only_new: bool = False) -> int:
    """Scan the case for secrets and return the number of exposures held. With ``only_new``, only
    evidence files not scanned before are read (the post-ingest derivation); otherwise the table is
    rebuilt from everything, which also links exposures to credentials that arrived later."""
    sql = queries.load("credentials/secret_exposures")
    con.execute("BEGIN TRANSACTION")
    try:
        if not only_new:
            con.execute("DELETE FROM secret_exposures")
            con.execute("DELETE FROM secret_scans")
        con.execute(f"INSERT INTO secret_exposures BY NAME {sql}", {"only_new": only_new})
        con.execute(
            "INSERT INTO secret_scans SELECT sha256 FROM evidence WHERE sha256 NOT IN (SELECT evidence_sha256 FROM secret_scans)"
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return con.execute("SELECT count(*) FROM secret_exposures").fetchall()[0][0]


def exposures(case: Case) -> pl.DataFrame:
    """The exposures table, redacted, in evidence order (run ``scan`` first)."""
    return case.sql(
        """SELECT x.kind, x.redacted, x.credential_id, x.secret_nearby, x.time, x.actor, x.source,
                  ev.path AS evidence_path, x.evidence_sha256, x.evidence_line, x.field
           FROM secret_exposures x LEFT JOIN evidence ev ON ev.sha256 = x.evidence_sha256
           ORDER BY x.time NULLS LAST, x.evidence_sha256, x.evidence_line, x.exposure_id"""
    )
