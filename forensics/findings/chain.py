"""The attack chain: findings that share entities, in time order (docs/findings.md, "Chain").

Findings are joined when they share an actor, credential, IP, artifact, request, host or service
(resource entities such as a metric or a log source do not join). The chain is the largest group
so joined, ordered by time; a finding marked false positive is left out."""

from __future__ import annotations

import duckdb
import polars as pl

from forensics.redact import redact_frame

#: Entity kinds that join two findings into one chain.
JOINING = ("actor", "credential", "ip", "artifact", "request", "host", "service")

_EDGES = """
WITH f AS (
    SELECT * FROM findings_status WHERE status <> 'false_positive' AND time IS NOT NULL
), ent AS (
    SELECT finding_id, e.kind || ':' || e.id AS ent FROM f, unnest(f.entities) AS u(e)
    WHERE list_contains($kinds, e.kind)
)
SELECT DISTINCT a.finding_id, b.finding_id FROM ent a JOIN ent b ON a.ent = b.ent AND a.finding_id < b.finding_id
"""

COLUMNS = ["step", "time", "finding_id", "detector", "severity", "title", "entities", "evidence"]


def chain(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """One row per step: step, time, finding_id, detector, severity, title, entities, evidence."""
    con.complete()
    edges = con.execute(_EDGES, {"kinds": list(JOINING)}).fetchall()
    # Connected components by union-find over the findings' edges: a few hundred findings at most,
    # so this is cheap in Python; the edges themselves come from one join in DuckDB.
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        parent[root(a)] = root(b)
    groups: dict[str, list[str]] = {}
    for x in list(parent):
        groups.setdefault(root(x), []).append(x)
    best = max(groups.values(), key=len, default=[])
    con.complete()
    df = con.sql(
        """SELECT time, finding_id, detector, severity, title, entities, evidence FROM findings
           WHERE list_contains($ids, finding_id) ORDER BY time, severity_rank DESC, finding_id""",
        params={"ids": best},
    ).pl()
    df = df.with_row_index("step", offset=1).with_columns(pl.col("step").cast(pl.Int64)).select(COLUMNS)
    return redact_frame(df)  # entity ids are the events' own names: shown as fingerprints
