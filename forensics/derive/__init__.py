"""Derived tables, rebuilt after an ingest from what the case holds.

Each module here defines ``ORDER: int`` and ``derive(con) -> None``; ``run_all`` calls them in
ORDER. A derivation must be idempotent (rebuild, or add only what it has not counted yet and
rebuild when that is not enough, as ``cardinality`` does), so re-ingesting changes nothing.

A module may declare ``READS``, the case tables its derivation reads rows of evidence from: after an
ingest it then reruns only when a file that changed (by evidence sha256) has rows in one of them. An
ingest that changed nothing (every file already ingested) runs no derivation at all.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Collection
from types import ModuleType

import duckdb


def modules() -> list[ModuleType]:
    import forensics.derive as pkg

    mods = [importlib.import_module(f"forensics.derive.{m.name}") for m in pkgutil.iter_modules(pkg.__path__)]
    return sorted(
        (m for m in mods if hasattr(m, "derive")), key=lambda m: (getattr(m, "ORDER", 100), m.__name__)
    )


def _touches(con: duckdb.DuckDBPyConnection, tables: Collection[str], changed: list[str]) -> bool:
    """Whether any of ``tables`` holds rows of the evidence files ``changed``."""
    for table in tables:
        # (a table name the module declared, never user input; the hashes are bound)
        found = con.execute(
            f'SELECT count(*) FROM (SELECT 1 FROM "{table}" WHERE list_contains(?, evidence_sha256) LIMIT 1)',
            [changed],
        ).fetchall()
        if found[0][0]:
            return True
    return False


def stale(con: duckdb.DuckDBPyConnection, changed: Collection[str] | None) -> list[ModuleType]:
    """The derivations to run after the evidence files ``changed`` (their sha256) were ingested; all of
    them when ``changed`` is None (an explicit rederive, or an ingest that failed part-way)."""
    if changed is None:
        return modules()
    shas = sorted(changed)
    if not shas:
        return []
    return [m for m in modules() if not hasattr(m, "READS") or _touches(con, m.READS, shas)]


def run_all(con: duckdb.DuckDBPyConnection, changed: Collection[str] | None = None) -> list[str]:
    """Run the derivations ``stale`` names; returns their module names."""
    ran = []
    for m in stale(con, changed):
        m.derive(con)
        ran.append(m.__name__)
    return ran
