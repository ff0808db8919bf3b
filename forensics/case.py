"""A case: one DuckDB file holding the evidence ledger, the rejects ledger and every table the
loaders fill. ``open_case(path)`` creates or opens it; the schema files in ``forensics/sql/schema``
run in name order each time, and every statement in them is idempotent."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import polars as pl

from forensics import derive, queries
from forensics.casefile import check_version, guard_path, stamp
from forensics.db import memory_budget
from forensics.derive import cardinality as derive_cardinality
from forensics.errors import BadTimeWindow, UnknownDerivation, UnknownFormat, UnknownParameter
from forensics.ingest import FileResult, ProgressFn, ingest_paths
from forensics.ingest import options as ingest_options
from forensics.ingest.recovery import hide_interrupted, purge_interrupted
from forensics.ingest.reingest import forget as forget_evidence
from forensics.ingest.reingest import note_reingested
from forensics.redact import install_sql, redact_frame, redact_text
from forensics.sources.contract import Source
from forensics.timeparse import install_time_macros
from forensics.timewindow import parse_user_time

if TYPE_CHECKING:
    from forensics.coverage import Coverage as CoverageReport
    from forensics.findings.report import EntityView
    from forensics.sigma.run import Coverage

TIMELINE_ORDER = "time, source, evidence_sha256, evidence_record, event_seq"


def schema_statements() -> list[str]:
    files = sorted(
        (p for p in resources.files("forensics.sql").joinpath("schema").iterdir() if p.name.endswith(".sql")),
        key=lambda p: p.name,
    )
    return [p.read_text(encoding="utf-8") for p in files]


def _quiet_progress(con: duckdb.DuckDBPyConnection) -> None:
    """No progress bar: DuckDB draws it on stdout even when stdout is a pipe or a notebook. Inside a
    Jupyter kernel without ipywidgets, DuckDB 2.0 refuses to change the setting at all (its notebook
    bar needs the widget package); it then draws no widget either, so the print switch is enough."""
    for sql in ("SET enable_progress_bar = false", "SET enable_progress_bar_print = false"):
        try:
            con.execute(sql)
            return
        except duckdb.Error:
            continue


class Case:
    """One case database. Use ``open_case``."""

    def __init__(self, path: str | os.PathLike[str], read_only: bool = False):
        self.path = os.fspath(path)
        self.read_only = read_only
        self.last_pivot: list[str] = []  # what the last timeline's actor, entity, ip, finding filters matched
        if not read_only and self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        guard_path(self.path)  # an existing file that is not a DuckDB case is never opened as one
        # no progress bar: DuckDB draws it on stdout even when stdout is a pipe or a notebook
        self.con = duckdb.connect(self.path, read_only=read_only)
        _quiet_progress(self.con)
        self.con.execute("SET TimeZone = 'UTC'")
        try:
            self.schema_version = check_version(self.con, self.path, read_only)
        except BaseException:
            self.con.close()
            raise
        if not read_only:
            # A checkpoint would otherwise merge (decompress and write again) every row group an insert
            # left part-filled, which an ingest's inserts do once per DuckDB thread: for 1 GB of JSON
            # Lines that was 4 s of a 17 s ingest, and the next ingest paid again for the last file's.
            # Part-filled row groups cost little to scan; deleted rows are not compacted.
            self.con.execute("SET max_vacuum_tasks = 0")
            for sql in schema_statements():  # idempotent: on an older case, this is its migration
                self.con.execute(sql)
            stamp(self.con)
        install_time_macros(self.con)
        install_sql(self.con, persistent=not read_only)
        # the rows of a file whose ingest was cut short are never seen (forensics/ingest/recovery.py)
        self.interrupted = (hide_interrupted if read_only else purge_interrupted)(self.con)

    # -- lifecycle ----------------------------------------------------------------------------
    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Case:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- ingest -------------------------------------------------------------------------------
    def ingest(
        self,
        paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
        *,
        loader: str | Source | None = None,
        mapping: str | None = None,
        progress: ProgressFn | None = None,
        on_file: Callable[[FileResult], None] | None = None,
        year: int | None = None,
        tz: str | None = None,
        observed_at: str | None = None,
        reingest: str | None = None,
    ) -> list[FileResult]:
        """Ingest files or directory trees. Re-ingesting the same bytes changes nothing, unless
        ``reingest`` gives the reason to replace their rows (``forensics.ingest.reingest``).
        ``year``, ``tz`` and ``observed_at`` are the ingest options of ``forensics.ingest.options``."""
        if isinstance(paths, str | os.PathLike):
            paths = [paths]
        paths = list(paths)
        results: list[FileResult] | None = None
        opts = ingest_options.make(year, tz, observed_at)
        again: list[str] = []
        try:
            own = [self.path, self.path + ".wal"] if self.path != ":memory:" else []
            if reingest is not None:
                again = forget_evidence(self.con, paths, reingest, exclude=own)
            with ingest_options.using(opts):
                results = ingest_paths(
                    self.con,
                    paths,
                    loader=loader,  # type: ignore[arg-type]  # a Source works; ingest_paths' annotation says str
                    mapping=mapping,
                    progress=progress,
                    on_file=on_file,
                    exclude=own,
                )
            note_reingested(
                self.con, [r.sha256 for r in results if r.status == "ingested" and r.sha256 in again]
            )
            self._keep_artifact_files(results)
            return results
        except UnknownFormat as e:
            results = getattr(e, "results", None)  # every file was settled; some were not placed
            raise
        finally:
            # only what changed is derived again; a failure part-way rederives everything
            self.rederive(
                None
                if results is None
                else {r.sha256 for r in results if r.status == "ingested"} | set(again)
            )

    def _keep_artifact_files(self, results: list[FileResult]) -> None:
        """Record the hashes of files no loader reads (artifacts), for matching to attestation subjects."""
        rows = [
            (r.path, os.path.basename(r.path), r.sha256, r.size_bytes)
            for r in results
            if r.status == "unplaced"
        ]
        if rows:
            self.con.complete()
            self.con.executemany("INSERT OR IGNORE INTO artifact_files VALUES (?, ?, ?, ?)", rows)

    def rederive(self, changed: Collection[str] | None = None) -> list[str]:
        """Rebuild the derived tables (credentials, deploys, ...) from what the case holds: every one, or
        with ``changed`` (evidence sha256s just ingested) only those that read rows of those files (see
        ``forensics.derive``), then the findings when anything changed. They are aggregations that can
        spill, so they run within the ingest memory budget. Returns the derivations that ran."""
        from forensics import findings

        with memory_budget(self.con):
            ran = derive.run_all(self.con, changed)
            if changed is None or changed:
                findings.derive(self.con)
            return ran

    # -- reading ------------------------------------------------------------------------------
    def sql(self, sql: str, params: Sequence[object] | Mapping[str, object] | None = None) -> pl.DataFrame:
        """Run SQL with bound parameters and return a polars frame."""
        self.con.complete()  # DuckDB 2.0: finish any result an earlier execute() left open
        frame: pl.DataFrame = self.con.sql(sql, params=params or None).pl()
        return frame

    def table(self, name: str) -> pl.DataFrame:
        return self.sql(f'SELECT * FROM "{name}"')

    def evidence(self) -> pl.DataFrame:
        """The evidence ledger: one row per ingested file, with its hash and reconciliation."""
        return self.sql(
            """SELECT evidence_id, path, sha256, size_bytes, format, loader, ingested_at,
                      records_read, records_loaded, records_rejected, records_duplicate, blank_lines,
                      records_read = records_loaded + records_rejected AS reconciled, note,
                      parent_sha256, mapping_path, mapping_sha256
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
        start: str | datetime | None = None,
        end: str | datetime | None = None,
        actors: Iterable[str] | None = None,
        services: Iterable[str] | None = None,
        sources: Iterable[str] | None = None,
        outcomes: Iterable[str] | None = None,
        limit: int | None = None,
        ips: Iterable[str] | None = None,
        credentials: Iterable[str] | None = None,
        entity: str | None = None,
        finding: str | None = None,
        raw: bool = False,
    ) -> pl.DataFrame:
        """Events ordered by time, with a stable tie-break (source, evidence file, record, sequence).
        The evidence's own record (``raw``) is fetched only when ``raw=True``: it is most of an
        event's bytes, and a window query without it reads only the columns it shows.
        ``start`` is inclusive and ``end`` exclusive; filters match any of the values given. Every
        column, ``raw`` too, is redacted (``forensics.redact``); ``raw_event`` shows one original.
        ``actors`` and ``entity`` match identities and their links (``forensics.findings.entities``;
        an unknown name raises UnknownEntity with the nearest names); ``ips`` takes addresses or CIDR
        blocks; ``finding`` gives its evidence and the events around it. ``last_pivot`` says what matched."""
        from forensics.findings import pivots

        pivot = pivots.build(
            self.con, actors=actors, ips=ips, credentials=credentials, entity=entity, finding=finding
        )
        self.last_pivot = pivot.notes
        t0, t1 = parse_user_time(start), parse_user_time(end)
        if t0 and t1 and t1 <= t0:
            raise BadTimeWindow(f"empty time window: end {end} is not after start {start}")
        # only the filters given are in the statement: a bound ``$start IS NULL OR time >= $start`` is not a
        # plain comparison, so DuckDB would read every row group's times instead of skipping by their range
        given = {
            "start": (t0, "time >= $start"),
            "end": (t1, "time < $end"),
            "services": (list(services) if services else None, "list_contains($services, service)"),
            "sources": (list(sources) if sources else None, "list_contains($sources, source)"),
            "outcomes": (list(outcomes) if outcomes else None, "list_contains($outcomes, outcome)"),
            "limit": (limit, None),
        }
        params = {k: v for k, (v, _) in given.items() if v is not None} | pivot.params
        where = [w for v, w in given.values() if v is not None and w] + list(pivot.where)
        return redact_frame(
            self.sql(
                f"""SELECT * EXCLUDE (raw){", raw" if raw else ""} FROM events
                WHERE {" AND ".join(where) or "true"}
                ORDER BY {TIMELINE_ORDER}
                {"LIMIT $limit" if limit is not None else ""}""",
                params,
            )
        )

    def raw_event(self, event_id: str, redact: bool = True) -> str | None:
        """The evidence's own record of one event (``events.raw``), the only place the kit keeps a
        secret in full: redacted unless ``redact=False`` is asked for explicitly."""
        rows = self.sql(
            "SELECT CAST(raw AS VARCHAR) AS raw FROM events WHERE event_id = $id", {"id": event_id}
        )
        if rows.height == 0:
            return None
        raw = rows["raw"][0]
        return redact_text(raw) if redact else raw

    def query(self, name: str, **params: object) -> pl.DataFrame:
        """Run ``queries/<name>.sql`` with its ``$parameters`` bound from keyword arguments.
        Missing parameters are bound as NULL; unknown ones raise ``UnknownParameter``. The result is
        redacted (``forensics.redact``): a query's output is an output."""
        sql = queries.load(name)
        wanted = queries.parameters(sql)
        extra = set(params) - wanted
        if extra:
            raise UnknownParameter(
                f"query {name} takes {sorted(wanted) or 'no parameters'}, not {sorted(extra)}"
            )
        bound = {k: _bindable(params.get(k)) for k in wanted}
        self._provide(name, sql)
        return redact_frame(self.sql(sql, bound))

    def invariants(
        self, names: list[str] | tuple[str, ...] | None = None, **params: object
    ) -> dict[str, pl.DataFrame]:
        """Each invariant query (``names``; None: every one) and its violations (empty frames on a
        healthy system). Each query is given the ``params`` it uses; the rest are ignored."""
        out = {}
        for name in names or queries.invariant_names():
            sql = queries.load(f"invariants/{name}")
            wanted = queries.parameters(sql)
            self._provide(f"invariants/{name}", sql)
            out[name] = redact_frame(self.sql(sql, {k: _bindable(params.get(k)) for k in wanted}))
        return out

    def _provide(self, name: str, sql: str) -> None:
        """Bring the derived tables a query declares with ``-- @needs:`` up to date before it runs. A
        table no derivation keeps current on demand must exist already (derivations run after every
        ingest); otherwise the query cannot be answered, and saying so beats an empty result."""
        for table in queries.header_list(sql, "needs"):
            ensure = _ON_DEMAND.get(table)
            if ensure is not None:
                self.con.complete()
                ensure(self.con, writable=not self.read_only)
            elif not self.sql(
                "SELECT count(*) FROM duckdb_tables() WHERE table_name = $t", {"t": table}
            ).item():
                raise UnknownDerivation(
                    f"query {name} needs {table!r}, which this case does not have and no derivation "
                    f"makes on demand (those that do: {', '.join(sorted(_ON_DEMAND))}); fix its @needs line"
                )

    # -- findings -----------------------------------------------------------------------------
    def findings(
        self,
        min_severity: str | None = None,
        since: str | datetime | None = None,
        detector: str | None = None,
        status: str | None = None,
    ) -> pl.DataFrame:
        """Findings, strongest first, with their status from annotations (docs/findings.md)."""
        from forensics.findings import report

        return report.findings(self, min_severity=min_severity, since=since, detector=detector, status=status)

    def refresh_findings(self, policy: dict[str, Any] | None = None) -> dict[str, int]:
        """Recompute entity links and findings (needs a writable case); invariants are bound from
        ``policy``, else the policy stored in the case (which this never replaces)."""
        from forensics import findings

        return findings.derive(self.con, policy)

    def load_aliases(self, path: str | os.PathLike[str]) -> int:
        """Declare identities that are one principal from a TOML alias file (docs/findings.md)."""
        from forensics.findings.entities import load_aliases

        return load_aliases(self.con, os.fspath(path))

    def entity(self, name: str) -> EntityView:
        """The identities ``name`` matches, those linked to them, the links' reasons, and their events."""
        from forensics.findings import report

        return report.entity(self, name)

    def chain(self) -> pl.DataFrame:
        """The attack chain: findings sharing entities, in time order, one row per step."""
        from forensics.findings.chain import chain

        return chain(self.con)

    def annotate(self, target: str, **kw: Any) -> int:
        """Star, tag, comment on or set the status of a finding or event (``forensics.findings.annotations``)."""
        from forensics.findings.annotations import annotate

        return annotate(self.con, target, **kw)

    def running_at(self, t: str | datetime, service: str | None = None) -> pl.DataFrame:
        """What code was running at ``t``: per service and environment, the digest, who deployed it,
        its attestation verdict, builder and source (see docs/provenance.md)."""
        from forensics import provenance

        return provenance.running_at(self, t, service)

    def set_environment_alias(self, alias: str, canonical: str) -> None:
        """Make ``alias`` another name of environment ``canonical`` in this case (``prod`` =
        ``production`` by default; docs/runtime.md); rederives."""
        from forensics import runtime

        runtime.set_alias(self, alias, canonical)

    def drift(self, at: str | datetime | None = None) -> pl.DataFrame:
        """Pods observed running a digest other than the one deployed (docs/runtime.md)."""
        from forensics import runtime

        return runtime.drift(self, at)

    def coverage(self) -> CoverageReport:
        """What the evidence covers per source and scope, and its gaps (``forensics.coverage``)."""
        from forensics import coverage

        return coverage.coverage(self)

    def invariant_rates(self, by: str | None = None, **params: object) -> pl.DataFrame:
        """Per invariant (and window ``by``: 5m, 1h...): checked, violations, rate (``forensics.rates``)."""
        from forensics import rates

        return rates.invariant_rates(self, by=by, **params)  # type: ignore[arg-type]

    def sigma(self, rules: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[Coverage]:
        """Run the Sigma rules at ``rules`` (files or folders) on the case: their matches replace the
        case's ``sigma`` findings; returns the coverage, one row per rule and source (docs/sigma.md)."""
        from forensics import sigma

        self.con.complete()
        with memory_budget(self.con):  # field tables and match lists can spill instead of growing
            return sigma.run(self.con, [rules] if isinstance(rules, str | os.PathLike) else list(rules))

    def time_range(self) -> tuple[datetime | None, datetime | None]:
        row = self.sql("SELECT min(time) AS lo, max(time) AS hi FROM events").row(0)
        return row[0], row[1]

    # -- scale-out ----------------------------------------------------------------------------
    def export_parquet(self, out: str | os.PathLike[str]) -> dict[str, Any]:
        """Every table as a Parquet tree under ``out`` with its manifest (docs/scale-out.md)."""
        from forensics.scaleout.parquet import export_parquet

        return export_parquet(self.con, out)


#: Derived tables kept current on demand: ``-- @needs: <table>`` runs the function before the query.
_ON_DEMAND: dict[str, Callable[..., None]] = {
    derive_cardinality.TABLE: derive_cardinality.ensure_current,
}


def _bindable(v: object) -> object:
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


def open_case(path: str | os.PathLike[str] = ":memory:", read_only: bool = False) -> Case:
    """Create or open the case database at ``path`` (``:memory:`` for a throwaway case)."""
    return Case(path, read_only=read_only)
