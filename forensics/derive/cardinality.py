"""Per signal, attribute key and value: occurrences, bytes and first/last time, kept after every
ingest in ``attribute_value_counts`` so that the per-key analyses (``queries/cardinality/``) read
one row per distinct value instead of every occurrence (docs/cardinality.md, docs/schema.md).

Counts are exact. The table holds what ``telemetry_attributes`` holds, aggregated: a signal's rows
are added to for evidence files not counted before, and the signal is recounted from scratch when
an evidence file it counted changed (rows deleted, e.g. an event replaced by a better copy from a
later file, or the remains of a killed ingest purged). ``attribute_value_counts_sources`` records
what was counted: per source table and evidence file, its rows, and per source table its total.

``ensure_current(con, writable)`` is what readers call (``Case.query`` does, for every query that
reads the table): a check of table totals (metadata, milliseconds), then, when something changed
outside an ingest (or the case predates the table), the same update; on a read-only case the
counts are built in TEMP tables of the same names, which the connection reads instead.
"""

from __future__ import annotations

import duckdb

from forensics.db import memory_budget

ORDER = 60

TABLE = "attribute_value_counts"
#: Span attribute rows counted in one pass (see ``_count``); measured on 2 cores under the 1 GB
#: ingest limit: 60 M rows in one pass 68 s, in six passes 30 s.
SPAN_ROWS_PER_PASS = 10_000_000
SIGNALS = ("metrics", "logs", "spans")

#: Per signal, the source tables whose rows it counts, with the rows that matter.
SOURCES = {
    "metrics": {"metric_labels": "TRUE"},
    "logs": {"log_attributes": "TRUE", "events": "category = 'other' AND raw IS NOT NULL"},
    "spans": {"span_attributes": "TRUE", "spans": "TRUE"},
}
#: Tables whose totals say whether anything changed since the last count (the evidence ledger
#: too: a new file that replaces rows of an earlier one may leave every total as it was).
TOTALS = ("metric_labels", "log_attributes", "events", "span_attributes", "spans", "evidence")

# Each signal's occurrences as telemetry_attributes defines them (40_cardinality.sql), grouped by
# key and value, with each occurrence's earliest and latest time (the same time but for spans).
# {where} restricts the evidence files read ("TRUE": all of them). Values are stored redacted
# (forensics.redact: a secret as its kind and fingerprint), after grouping, so the scan stays one pass.
_GROUP = """
    SELECT {signal} AS signal, key, fx_redact(value) AS value, count(*) AS occurrences, CAST(sum(bytes) AS BIGINT) AS bytes,
           min(time) AS first_seen, max(time_last) AS last_seen
    FROM ({rows}) GROUP BY key, value
"""
_ROWS = {
    "metrics": """SELECT key, value, time, time AS time_last, strlen(key) + coalesce(strlen(value), 0) AS bytes
                  FROM metric_labels l WHERE {where}""",
    "logs": """SELECT key, value, time, time AS time_last, strlen(key) + coalesce(strlen(value), 0) AS bytes
               FROM log_attributes l WHERE {where}
               UNION ALL
               SELECT j.key, CASE WHEN strlen(CAST(j.value AS VARCHAR)) > 65536
                                   THEN '(' || strlen(CAST(j.value AS VARCHAR)) || ' bytes: too long to count by value)'
                                  WHEN j.type = 'VARCHAR' THEN j.value ->> '$' ELSE CAST(j.value AS VARCHAR) END,
                      l.time, l.time, strlen(j.key) + strlen(CAST(j.value AS VARCHAR))
               FROM (SELECT * FROM events l
                     WHERE l.category = 'other' AND l.raw IS NOT NULL AND {where}
                       AND strlen(CAST(l.raw AS VARCHAR)) <= 16777216) l,  -- (filtered before any parse)
                    json_each(l.raw) j""",
    # Counted from span_attributes alone (as attribute_values does); the time is the start of the
    # span the attribute belongs to, earliest and latest when a span id occurs more than once in a
    # file (Zipkin's shared client/server spans): the same first and last time as the view's join.
    "spans": """SELECT l.key, l.value, s.t0 AS time, s.t1 AS time_last,
                       strlen(l.key) + coalesce(strlen(l.value), 0) AS bytes
                FROM span_attributes l
                LEFT JOIN (SELECT trace_id, span_id, evidence_sha256, min(start) AS t0, max(start) AS t1
                           FROM spans l WHERE {where} GROUP BY ALL) s
                  ON s.trace_id = l.trace_id AND s.span_id = l.span_id AND s.evidence_sha256 = l.evidence_sha256
                WHERE {where}""",
}


def _group_sql(signal: str, where: str) -> str:
    return _GROUP.format(signal=f"'{signal}'", rows=_ROWS[signal].format(where=where))


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params=None) -> list[tuple]:
    return con.execute(sql, params or []).fetchall()


def current_totals(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rows per source table now (each a metadata read)."""
    sql = " UNION ALL ".join(f"SELECT '{t}', count(*) FROM {t}" for t in TOTALS)
    return dict(_rows(con, sql))


def _stored_totals(con: duckdb.DuckDBPyConnection) -> dict[str, int] | None:
    """Totals at the last count, or None when the case was never counted."""
    if not _rows(con, "SELECT 1 FROM duckdb_tables() WHERE table_name = ?", [f"{TABLE}_sources"]):
        return None  # a case from before the table, opened read-only
    rows = _rows(con, f"SELECT source_table, row_count FROM {TABLE}_sources WHERE sha256 IS NULL")
    return dict(rows) if rows else None


def is_current(con: duckdb.DuckDBPyConnection) -> bool:
    """True when the counts cover exactly what the source tables hold (as far as totals tell)."""
    return _stored_totals(con) == current_totals(con)


def _signature(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str, str], int]:
    """(signal, source table, evidence sha256) -> rows, for every file the counts read; also left
    in TEMP table _avc_now."""
    parts = [
        f"""SELECT '{t}' AS source_table, evidence_sha256 AS sha256, '{sig}' AS signal, count(*) AS row_count
                 FROM {t} WHERE {cond} GROUP BY evidence_sha256"""
        for sig, tables in SOURCES.items()
        for t, cond in tables.items()
    ]
    con.execute(f"CREATE OR REPLACE TEMP TABLE _avc_now AS {' UNION ALL '.join(parts)}")
    return {(s, t, e): n for t, e, s, n in _rows(con, "SELECT * FROM _avc_now")}


def _count(con: duckdb.DuckDBPyConnection, signal: str, where: str, span_rows: int, empty: bool) -> None:
    """Add the occurrences of ``signal`` that ``where`` selects to the table (``empty``: the
    signal has no rows there yet, so a plain insert). Spans go in passes of about
    SPAN_ROWS_PER_PASS attribute rows, split by trace id so that each pass joins its attributes to
    its own spans: one join of tens of millions of rows spills under the ingest memory budget and
    is slower than the passes and their merges."""
    passes = max(1, -(-span_rows // SPAN_ROWS_PER_PASS)) if signal == "spans" else 1
    for k in range(passes):
        part = where if passes == 1 else f"({where}) AND hash(l.trace_id) % {passes} = {k}"
        if empty and k == 0:
            con.execute(f"INSERT INTO {TABLE} {_group_sql(signal, part)}")
            continue
        con.execute(f"CREATE OR REPLACE TEMP TABLE _avc_delta AS {_group_sql(signal, part)}")
        con.execute(
            f"""MERGE INTO {TABLE} a USING _avc_delta d
                ON a.signal = d.signal AND a.key = d.key AND a.value IS NOT DISTINCT FROM d.value
                WHEN MATCHED THEN UPDATE SET occurrences = a.occurrences + d.occurrences, bytes = a.bytes + d.bytes,
                     first_seen = least(a.first_seen, d.first_seen), last_seen = greatest(a.last_seen, d.last_seen)
                WHEN NOT MATCHED THEN INSERT VALUES (d.signal, d.key, d.value, d.occurrences, d.bytes,
                                                     d.first_seen, d.last_seen)"""
        )
        con.execute("DROP TABLE _avc_delta")


def update(con: duckdb.DuckDBPyConnection, temp: bool = False) -> dict[str, str]:
    """Bring ``attribute_value_counts`` up to date; returns what was done per signal
    (``added N files`` or ``recounted``; nothing for an unchanged signal). With ``temp``, the
    tables are (re)built as TEMP tables (a read-only case)."""
    totals = current_totals(con)
    if temp:
        con.execute(f"""CREATE OR REPLACE TEMP TABLE {TABLE} (signal VARCHAR NOT NULL, key VARCHAR NOT NULL,
                        value VARCHAR, occurrences BIGINT NOT NULL, bytes BIGINT NOT NULL,
                        first_seen TIMESTAMPTZ, last_seen TIMESTAMPTZ)""")
        con.execute(f"""CREATE OR REPLACE TEMP TABLE {TABLE}_sources (source_table VARCHAR NOT NULL,
                        sha256 VARCHAR, signal VARCHAR, row_count BIGINT NOT NULL)""")
    elif _stored_totals(con) == totals:
        return {}
    now = _signature(con)
    before = {
        (s, t, e): n
        for s, t, e, n in _rows(
            con,
            f"SELECT signal, source_table, sha256, row_count FROM {TABLE}_sources WHERE sha256 IS NOT NULL",
        )
    }
    done: dict[str, str] = {}
    for signal in SIGNALS:
        old = {k: n for k, n in before.items() if k[0] == signal}
        new = {k: n for k, n in now.items() if k[0] == signal}
        if old == new:
            continue
        if any(new.get(k) != n for k, n in old.items()):
            con.execute(f"DELETE FROM {TABLE} WHERE signal = ?", [signal])
            _count(
                con, signal, "TRUE", sum(n for (_, t, _), n in new.items() if t == "span_attributes"), True
            )
            done[signal] = "recounted"
            continue
        files = sorted({e for (_, _, e) in new.keys() - old.keys()})
        con.execute("CREATE OR REPLACE TEMP TABLE _avc_files AS SELECT unnest(?::VARCHAR[]) AS sha", [files])
        every = files == sorted({e for (_, _, e) in new})
        where = "TRUE" if every else "l.evidence_sha256 IN (SELECT sha FROM _avc_files)"
        if not old:  # nothing of this signal was counted: its rows are exactly these files'
            con.execute(f"DELETE FROM {TABLE} WHERE signal = ?", [signal])
        fileset = set(files)
        span_rows = sum(n for (_, t, e), n in new.items() if t == "span_attributes" and e in fileset)
        _count(con, signal, where, span_rows, not old)
        con.execute("DROP TABLE _avc_files")
        done[signal] = f"added {len(files)} files"
    con.execute(f"DELETE FROM {TABLE}_sources")
    con.execute(f"INSERT INTO {TABLE}_sources SELECT * FROM _avc_now")
    con.execute(
        f"""INSERT INTO {TABLE}_sources SELECT t.name, NULL, NULL, t.n
                    FROM (SELECT unnest(?::VARCHAR[]) AS name, unnest(?::BIGINT[]) AS n) t""",
        [list(totals), list(totals.values())],
    )
    con.execute("DROP TABLE _avc_now")
    return done


def derive(con: duckdb.DuckDBPyConnection) -> None:
    """After an ingest: count what the new evidence files added (recount a signal whose counted
    files changed)."""
    con.execute("BEGIN TRANSACTION")
    try:
        update(con)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def ensure_current(con: duckdb.DuckDBPyConnection, writable: bool) -> None:
    """Before reading the counts: bring them up to date if the source tables changed since the
    last count (rows written outside an ingest, or a case from before the table existed). A
    read-only case gets TEMP tables of the same names; later calls keep them current."""

    if is_current(con):
        return
    temp_held = bool(
        _rows(con, f"SELECT 1 FROM duckdb_tables() WHERE table_name = '{TABLE}_sources' AND temporary")
    )
    with memory_budget(con):  # the same budget as after an ingest: the counting can spill
        if writable and not temp_held:
            derive(con)
        else:
            update(con, temp=not temp_held)
