"""A case: one DuckDB file holding the evidence ledger, the rejects ledger and every table the
loaders fill. ``open_case(path)`` creates or opens it; the schema files in ``forensics/sql/schema``
run in name order each time, and every statement in them is idempotent."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from importlib import resources
from pathlib import Path

import duckdb
import polars as pl

from forensics import derive, queries
from forensics.db import memory_budget
from forensics.derive import cardinality as derive_cardinality
from forensics.errors import BadTimeWindow, UnknownParameter
from forensics.ingest import FileResult, ProgressFn, ingest_paths
from forensics.sources.base import Source
from forensics.timeparse import install_time_macros
from forensics.timewindow import parse_user_time

TIMELINE_ORDER = "time, source, evidence_sha256, evidence_record, event_seq"


def schema_statements() -> list[str]:
    files = sorted(
        (p for p in resources.files("forensics.sql").joinpath("schema").iterdir() if p.name.endswith(".sql")),
        key=lambda p: p.name,
    )
    return [p.read_text(encoding="utf-8") for p in files]


class Case:
    """One case database. Use ``open_case``."""

    def __init__(self, path: str | os.PathLike, read_only: bool = False):
        self.path = os.fspath(path)
        self.read_only = read_only
        if not read_only and self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.con = duckdb.connect(self.path, read_only=read_only)
        self.con.execute("SET TimeZone = 'UTC'")
        if not read_only:
            # A checkpoint would otherwise merge (decompress and write again) every row group an insert
            # left part-filled, which an ingest's inserts do once per DuckDB thread: for 1 GB of JSON
            # Lines that was 4 s of a 17 s ingest, and the next ingest paid again for the last file's.
            # Part-filled row groups cost little to scan; deleted rows are not compacted.
            self.con.execute("SET max_vacuum_tasks = 0")
            for sql in schema_statements():
                self.con.execute(sql)
        install_time_macros(self.con)

    # -- lifecycle ----------------------------------------------------------------------------
    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Case:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- ingest -------------------------------------------------------------------------------
    def ingest(
        self,
        paths: str | os.PathLike | Iterable[str | os.PathLike],
        *,
        loader: str | Source | None = None,
        mapping: str | None = None,
        progress: ProgressFn | None = None,
        on_file=None,
    ) -> list[FileResult]:
        """Ingest files or directory trees. Re-ingesting the same bytes changes nothing."""
        if isinstance(paths, str | os.PathLike):
            paths = [paths]
        try:
            own = [self.path, self.path + ".wal"] if self.path != ":memory:" else []
            return ingest_paths(
                self.con,
                paths,
                loader=loader,
                mapping=mapping,
                progress=progress,
                on_file=on_file,
                exclude=own,
            )
        finally:
            self.rederive()

    def rederive(self) -> None:
        """Rebuild the derived tables (credentials, deploys, ...) from what the case holds. They are
        aggregations that can spill, so they run within the ingest memory budget."""

        with memory_budget(self.con):
            derive.run_all(self.con)

    # -- reading ------------------------------------------------------------------------------
    def sql(self, sql: str, params: Sequence | dict | None = None) -> pl.DataFrame:
        """Run SQL with bound parameters and return a polars frame."""
        self.con.complete()  # DuckDB 2.0: finish any result an earlier execute() left open
        return self.con.sql(sql, params=params or None).pl()

    def table(self, name: str) -> pl.DataFrame:
        return self.sql(f'SELECT * FROM "{name}"')

    def evidence(self) -> pl.DataFrame:
        """The evidence ledger: one row per ingested file, with its hash and reconciliation."""
        return self.sql(
            """SELECT evidence_id, path, sha256, size_bytes, format, loader, ingested_at,
                      records_read, records_loaded, records_rejected, records_duplicate, blank_lines,
                      records_read = records_loaded + records_rejected AS reconciled, note
               FROM evidence ORDER BY evidence_id"""
        )

    def rejects(self, sha256: str | None = None) -> pl.DataFrame:
        return self.sql(
            """SELECT e.path, r.* FROM rejects r LEFT JOIN evidence e ON e.sha256 = r.evidence_sha256
               WHERE $sha IS NULL OR r.evidence_sha256 = $sha
               ORDER BY e.evidence_id, r.line, r.record_index, r.byte_offset""",
            {"sha": sha256},
        )

    def timeline(
        self,
        start=None,
        end=None,
        actors: Iterable[str] | None = None,
        services: Iterable[str] | None = None,
        sources: Iterable[str] | None = None,
        outcomes: Iterable[str] | None = None,
        limit: int | None = None,
    ) -> pl.DataFrame:
        """Events ordered by time, with a stable tie-break (source, evidence file, record, sequence).
        ``start`` is inclusive and ``end`` exclusive; filters match any of the values given."""
        t0, t1 = parse_user_time(start), parse_user_time(end)
        if t0 and t1 and t1 <= t0:
            raise BadTimeWindow(f"empty time window: end {end} is not after start {start}")
        params = {
            "start": t0,
            "end": t1,
            "actors": list(actors) if actors else None,
            "services": list(services) if services else None,
            "sources": list(sources) if sources else None,
            "outcomes": list(outcomes) if outcomes else None,
            "limit": limit,
        }
        return self.sql(
            f"""SELECT * EXCLUDE (raw), raw FROM events
                WHERE ($start IS NULL OR time >= $start) AND ($end IS NULL OR time < $end)
                  AND ($actors IS NULL OR list_contains($actors, actor))
                  AND ($services IS NULL OR list_contains($services, service))
                  AND ($sources IS NULL OR list_contains($sources, source))
                  AND ($outcomes IS NULL OR list_contains($outcomes, outcome))
                ORDER BY {TIMELINE_ORDER}
                LIMIT coalesce($limit, 9223372036854775807)""",
            params,
        )

    def query(self, name: str, **params) -> pl.DataFrame:
        """Run ``queries/<name>.sql`` with its ``$parameters`` bound from keyword arguments.
        Missing parameters are bound as NULL; unknown ones raise ``UnknownParameter``."""
        sql = queries.load(name)
        wanted = queries.parameters(sql)
        extra = set(params) - wanted
        if extra:
            raise UnknownParameter(
                f"query {name} takes {sorted(wanted) or 'no parameters'}, not {sorted(extra)}"
            )
        bound = {k: _bindable(params.get(k)) for k in wanted}
        if "attribute_value_counts" in sql:
            self.con.complete()
            derive_cardinality.ensure_current(self.con, writable=not self.read_only)
        return self.sql(sql, bound)

    def invariants(
        self, names: list[str] | tuple[str, ...] | None = None, **params
    ) -> dict[str, pl.DataFrame]:
        """Each invariant query (``names``; None: every one) and its violations (empty frames on a
        healthy system). Each query is given the ``params`` it uses; the rest are ignored."""
        out = {}
        for name in names or queries.invariant_names():
            sql = queries.load(f"invariants/{name}")
            wanted = queries.parameters(sql)
            out[name] = self.sql(sql, {k: _bindable(params.get(k)) for k in wanted})
        return out

    def running_at(self, t, service: str | None = None) -> pl.DataFrame:
        """What code was running at ``t``: per service and environment, the digest, who deployed it,
        its attestation verdict, builder and source (see docs/provenance.md)."""
        from forensics import provenance

        return provenance.running_at(self, t, service)

    def sigma(self, rules: str | os.PathLike | Iterable[str | os.PathLike]):
        """Run the Sigma rules at ``rules`` (files or folders) on the case: their matches replace the
        case's ``sigma`` findings; returns the coverage, one row per rule and source (docs/sigma.md)."""
        from forensics import sigma

        self.con.complete()
        with memory_budget(self.con):  # field tables and match lists can spill instead of growing
            return sigma.run(self.con, [rules] if isinstance(rules, str | os.PathLike) else list(rules))

    def time_range(self) -> tuple[datetime | None, datetime | None]:
        row = self.sql("SELECT min(time) AS lo, max(time) AS hi FROM events").row(0)
        return row[0], row[1]


def _bindable(v):
    """CLI and notebook values as SQL parameters: numbers from numeric text, times from ISO text."""
    if isinstance(v, str) and re.fullmatch(r"-?[0-9]+", v.strip()):
        return int(v)
    if isinstance(v, str) and re.fullmatch(r"-?[0-9]*\.[0-9]+", v.strip()):
        return float(v)
    if isinstance(v, str):
        try:
            return parse_user_time(v) if v and v[:4].isdigit() and "-" in v else v
        except BadTimeWindow:
            return v
    if isinstance(v, tuple | set):
        return list(v)
    return v


def open_case(path: str | os.PathLike = ":memory:", read_only: bool = False) -> Case:
    """Create or open the case database at ``path`` (``:memory:`` for a throwaway case)."""
    return Case(path, read_only=read_only)
