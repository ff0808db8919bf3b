"""Run Sigma rules on a case: every rule gets a coverage row saying whether and how it ran, every
match becomes findings (detector ``sigma``, one finding per rule, source and actor).

Per source, the fields the rules name are read from ``events.raw`` once, into a temporary table
(one JSON parse per record for all scalar fields), and each rule's compiled predicate runs over it
in DuckDB. Matches go to a temporary table first, so a rule whose SQL fails (a regular expression
RE2 refuses, say) is recorded as ``error`` without undoing the others; the findings and the
coverage are then replaced in one transaction.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field

import duckdb
import polars as pl
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError

from forensics.sigma import shape
from forensics.sigma.backend import FULLTEXT, Column, Compiled, DuckDBRawBackend, install_macros
from forensics.sigma.rules import (
    LoadedRule,
    field_hint,
    load_rules,
    logsource_text,
    severity,
    sources_for,
    technique,
)

DETECTOR = "sigma"

#: coverage statuses, in the order the command lists them
STATUSES = (
    "matched",
    "no_match",
    "cannot_match",
    "no_records",
    "no_loader",
    "unsupported",
    "error",
    "invalid",
)


@dataclass
class Coverage:
    """What became of one rule on one source."""

    rule_id: str
    title: str
    path: str
    logsource: str
    source: str | None
    status: str
    reason: str
    matches: int = 0
    findings: int = 0
    fields_absent: list[str] = field(default_factory=list)
    level: str | None = None
    author: str | None = None


@dataclass
class _Job:
    loaded: LoadedRule
    source: str
    cov: Coverage
    k: int = 0
    compiled: Compiled | None = None


def run(con: duckdb.DuckDBPyConnection, rule_paths: Iterable[str | os.PathLike]) -> list[Coverage]:
    """Run the rules at ``rule_paths`` on the case behind ``con``; replace the case's Sigma findings
    and coverage; return the coverage, one row per rule and source."""
    from forensics.sources import registry

    loaded = load_rules(rule_paths)
    loaders = set(registry.names())
    present = {r[0] for r in con.execute("SELECT DISTINCT source FROM events").fetchall()}
    coverage: list[Coverage] = []
    jobs: list[_Job] = []
    seen_ids: dict[str, str] = {}
    for lr in loaded:
        for cov, src in _applicability(lr, loaders, present, seen_ids):
            coverage.append(cov)
            if src is not None:
                jobs.append(_Job(lr, src, cov, k=len(jobs)))
    install_macros(con)
    con.execute(_HITS_DDL)
    for src in sorted({j.source for j in jobs}):
        _run_source(con, src, [j for j in jobs if j.source == src])
    _write(con, coverage, jobs)
    return coverage


def _applicability(lr: LoadedRule, loaders: set[str], present: set[str], seen_ids: dict[str, str]):
    rule = lr.rule
    base = dict(rule_id=lr.rule_id, title=lr.title, path=lr.path)
    if rule is None or lr.error:
        yield (
            Coverage(**base, logsource="", source=None, status="invalid", reason=lr.error or "unreadable"),
            None,
        )
        return
    meta = dict(level=severity(rule)[0], author=getattr(rule, "author", None))
    if isinstance(rule, SigmaCorrelationRule):
        why = f"{rule.type.name.lower()} correlation: pySigma parses it, the kit does not run correlation rules yet"
        yield Coverage(**base, logsource="", source=None, status="unsupported", reason=why, **meta), None
        return
    ls = logsource_text(rule)
    if lr.rule_id in seen_ids:
        why = f"rule id already used by {seen_ids[lr.rule_id]}; findings are keyed by rule id"
        yield Coverage(**base, logsource=ls, source=None, status="invalid", reason=why, **meta), None
        return
    seen_ids[lr.rule_id] = lr.path
    sources = sources_for(rule)
    if sources is None:
        why = f"the kit maps no source to logsource {ls}"
        yield Coverage(**base, logsource=ls, source=None, status="no_loader", reason=why, **meta), None
        return
    for src in sources:
        if src not in loaders:
            why = f"logsource {ls} is source {src}, which no loader of the kit writes yet"
            yield Coverage(**base, logsource=ls, source=src, status="no_loader", reason=why, **meta), None
        elif src not in present:
            why = f"the case holds no {src} records"
            yield Coverage(**base, logsource=ls, source=src, status="no_records", reason=why, **meta), None
        else:
            yield Coverage(**base, logsource=ls, source=src, status="no_match", reason="", **meta), src


def _run_source(con: duckdb.DuckDBPyConnection, src: str, jobs: list[_Job]) -> None:
    struct = shape.structure(con, src)
    shapes: dict[str, shape.FieldShape] = {}
    runnable: list[_Job] = []
    for job in jobs:
        rule = job.loaded.rule
        fields = shape.rule_fields(rule)
        for f in fields:
            shapes.setdefault(f, shape.field_shape(struct, f))
        absent = [f for f in fields if not shapes[f].present]
        job.cov.fields_absent = absent
        if absent and not shape.can_match(rule, set(absent)):
            job.cov.status = "cannot_match"
            hints = sorted({h for f in absent if (h := field_hint(f))})
            job.cov.reason = (
                f"never in {src} records: {', '.join(absent)}; the rule cannot match as written"
                + (f"; records carry {'; '.join(hints)}" if hints else "")
            )
            continue
        runnable.append(job)
    needed = sorted({f for j in runnable for f in shape.rule_fields(j.loaded.rule)})
    columns = {f: Column(f"c{i}", shapes[f].listy) for i, f in enumerate(needed)}
    fulltext = any(shape.uses_keywords(j.loaded.rule) for j in runnable)
    backend = DuckDBRawBackend(columns)
    for job in runnable:
        try:
            job.compiled = backend.compile(job.loaded.rule)
        except SigmaError as e:
            job.cov.status, job.cov.reason = "unsupported", f"pySigma/backend: {e}"
    runnable = [j for j in runnable if j.compiled is not None]
    if not runnable:
        return
    con.execute(_field_table_sql(needed, shapes, columns, fulltext), {"s": src})
    for job in runnable:
        _match(con, job)
    con.execute("DROP TABLE IF EXISTS _sigma_fields")


def _field_table_sql(needed, shapes, columns, fulltext: bool) -> str:
    """The temporary table of one source's events with a column per Sigma field. JSON paths are
    written by ``shape`` from field names (keys quoted and escaped), never from record values."""
    scalars = [f for f in needed if shapes[f].present and not shapes[f].listy]
    cols = [f"_s[{i + 1}] AS {columns[f].name}" for i, f in enumerate(scalars)]
    cols += [f"NULL::VARCHAR AS {columns[f].name}" for f in needed if not shapes[f].present]
    for f in needed:
        if shapes[f].listy:
            parts = [
                f"json_extract_string(raw, {_sql_str(p)})"
                if "[*]" in p
                else f"CASE WHEN json_type(raw, {_sql_str(p)}) = 'ARRAY' THEN []::VARCHAR[] "
                f"ELSE [json_extract_string(raw, {_sql_str(p)})] END"
                for p in shapes[f].paths
            ]
            cols.append(
                f"list_concat({', '.join(parts)}) AS {columns[f].name}"
                if len(parts) > 1
                else f"{parts[0]} AS {columns[f].name}"
            )
    paths = "[" + ", ".join(_sql_str(shapes[f].paths[0]) for f in scalars) + "]"
    extract = f"json_extract_string(raw, {paths}::VARCHAR[]) AS _s" if scalars else "NULL AS _s"
    text = f", CAST(raw AS VARCHAR) AS {FULLTEXT}" if fulltext else ""
    return f"""CREATE OR REPLACE TEMP TABLE _sigma_fields AS
        SELECT event_id, time, actor, src_ip{text}{"".join(", " + c for c in cols)}
        FROM (SELECT *, {extract} FROM events WHERE source = $s)"""


def _sql_str(s: str) -> str:
    """A JSON path (built from a rule's field name) as a SQL string literal. DuckDB's json functions
    need a constant path to parse records once, so paths are literals; quotes are doubled here."""
    return "'" + s.replace("'", "''") + "'"


def _match(con: duckdb.DuckDBPyConnection, job: _Job) -> None:
    c = job.compiled
    sql = f"""INSERT INTO _sigma_hits
              SELECT $k, $src, event_id, time, actor, src_ip FROM _sigma_fields WHERE {c.predicate}"""
    k = job.k
    try:
        con.execute(sql, {**c.params, "k": k, "src": job.source})
        n = con.execute("SELECT count(*) FROM _sigma_hits WHERE k = $k", {"k": k}).fetchall()[0][0]
    except duckdb.Error as e:
        job.cov.status, job.cov.reason = "error", f"indeterminate: DuckDB refused the compiled rule: {e}"
        job.compiled = None
        return
    job.cov.matches = n
    job.cov.status = "matched" if n else "no_match"
    if job.cov.fields_absent and not job.cov.reason:
        job.cov.reason = f"never in {job.source} records: {', '.join(job.cov.fields_absent)}"


_HITS_DDL = """CREATE OR REPLACE TEMP TABLE _sigma_hits (
    k BIGINT, source VARCHAR, event_id VARCHAR, time TIMESTAMPTZ, actor VARCHAR, src_ip VARCHAR)"""

_FINDINGS_SQL = """
INSERT INTO findings
SELECT 'F-' || left(sha256('sigma|' || r.rule_id || '|' || h.source || '|' || coalesce(h.actor, '')), 16),
       'sigma', r.rule_id, min(h.time), max(h.time), r.severity, r.severity_rank, fx_redact(r.title),
       fx_redact(count(*) || ' ' || h.source || ' event(s) by ' || coalesce(h.actor, 'an unknown actor')
           || ' match Sigma rule "' || r.title || '" (' || r.level || ')'),
       r.technique,
       list_concat(CASE WHEN h.actor IS NULL THEN [] ELSE [{'kind': 'actor', 'id': h.actor}] END,
                   list_transform(list_sort(list_distinct(list(h.src_ip)))[1:20], lambda ip: {'kind': 'ip', 'id': ip})),
       list({'kind': 'event', 'id': h.event_id} ORDER BY h.time, h.event_id),
       count(*),
       json_object('rule_path', r.path, 'author', r.author, 'matches', count(*), 'level', r.level,
                   'logsource', r.logsource, 'source', h.source)
FROM _sigma_hits h JOIN _sigma_rules r ON r.k = h.k
GROUP BY r.k, r.rule_id, r.severity, r.severity_rank, r.title, r.level, r.technique, r.path, r.author,
         r.logsource, h.source, h.actor
"""


def _write(con: duckdb.DuckDBPyConnection, coverage: list[Coverage], jobs: list[_Job]) -> None:
    done = [j for j in jobs if j.compiled is not None]
    rules = pl.DataFrame(
        {
            "k": [j.k for j in done],
            "rule_id": [j.cov.rule_id for j in done],
            "title": [j.cov.title for j in done],
            "severity": [severity(j.loaded.rule)[0] for j in done],
            "severity_rank": [severity(j.loaded.rule)[1] for j in done],
            "level": [j.cov.level for j in done],
            "technique": [technique(j.loaded.rule) for j in done],
            "path": [j.cov.path for j in done],
            "author": [j.cov.author for j in done],
            "logsource": [j.cov.logsource for j in done],
        },
        schema_overrides={"k": pl.Int64, "severity_rank": pl.Int16},
    )
    con.register("_sigma_rules_df", rules.to_arrow())
    con.execute("CREATE OR REPLACE TEMP TABLE _sigma_rules AS SELECT * FROM _sigma_rules_df")
    con.unregister("_sigma_rules_df")
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM findings WHERE detector = $d", {"d": DETECTOR})
        con.execute(_FINDINGS_SQL)
        counts = dict(
            con.execute(
                "SELECT rule_id || '|' || (attributes->>'$.source'), count(*) FROM findings "
                "WHERE detector = $d GROUP BY ALL",
                {"d": DETECTOR},
            ).fetchall()
        )
        for c in coverage:
            c.findings = counts.get(f"{c.rule_id}|{c.source}", 0)
        cov = pl.DataFrame([vars(c) for c in coverage], schema=_COVERAGE_SCHEMA)
        con.register("_sigma_cov_df", cov.to_arrow())
        con.execute("DELETE FROM sigma_coverage")
        con.execute("INSERT INTO sigma_coverage SELECT *, now() FROM _sigma_cov_df")
        con.unregister("_sigma_cov_df")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.execute("DROP TABLE IF EXISTS _sigma_hits")
        con.execute("DROP TABLE IF EXISTS _sigma_rules")


_COVERAGE_SCHEMA = {
    "rule_id": pl.String,
    "title": pl.String,
    "path": pl.String,
    "logsource": pl.String,
    "source": pl.String,
    "status": pl.String,
    "reason": pl.String,
    "matches": pl.Int64,
    "findings": pl.Int64,
    "fields_absent": pl.List(pl.String),
    "level": pl.String,
    "author": pl.String,
}


def coverage(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """The coverage of the case's last Sigma run: one row per rule and source, with its status and
    reason (empty before any run)."""
    con.complete()
    return con.sql(
        "SELECT * FROM sigma_coverage ORDER BY array_position($st, status), logsource, path, source",
        params={"st": list(STATUSES)},
    ).pl()
