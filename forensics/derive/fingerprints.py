"""``events.credential_id`` holds no secret (issue 16): a loader that uses a token as its id (a GitHub
token in ``hashed_token``, a JWT, a key in a generic mapping) stores it as loaded; this derivation, the
first after every ingest, replaces each such id by its fingerprint (``fx_redact``: ``<kind:sha256:…>``),
the form every output shows. Only the evidence's raw record (``events.raw``) keeps the token.

Only the distinct ids that match the redaction rule's cheap prefilter (``forensics.redact.HINT``, one
RE2 match per event, about 0.1 µs) go through ``fx_redact`` (microseconds each), and only ids it changes
are rewritten; a fingerprint holds no secret, so a rerun rewrites nothing.
"""

from __future__ import annotations

import duckdb

from forensics.redact import HINT

ORDER = 0
READS = ("events",)


def derive(con: duckdb.DuckDBPyConnection) -> None:
    # distinct ids first: fx_redact runs once per id, not once per event
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _fx_cred_fp AS
           SELECT old, fx_redact(old) AS new FROM (
               SELECT DISTINCT credential_id AS old FROM events
               WHERE credential_id IS NOT NULL AND regexp_matches(credential_id, $hint))""",
        {"hint": HINT},
    ).fetchall()
    con.execute(
        "UPDATE events SET credential_id = f.new FROM _fx_cred_fp f"
        " WHERE events.credential_id = f.old AND f.new <> f.old"
    ).fetchall()
    con.execute("DROP TABLE _fx_cred_fp").fetchall()
