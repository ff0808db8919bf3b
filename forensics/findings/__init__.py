"""Findings: what the kit concludes, one table fed by every detector (``queries/findings/``) and every
invariant that fires, entities linked across sources, the attack chain, and annotations.
See docs/findings.md."""

from __future__ import annotations

from typing import Any

import duckdb

from forensics.findings.entities import derive_links
from forensics.findings.store import SEVERITY_RANK, detector_names, run_detector, run_invariants


def derive(con: duckdb.DuckDBPyConnection, policy: dict[str, Any] | None = None) -> dict[str, int]:
    """Rebuild entity links and every detector's findings from what the case holds (idempotent).
    Invariants are bound from ``policy``, else the case's stored policy. Returns the number of findings
    per detector."""
    con.complete()
    derive_links(con)
    counts = {name: run_detector(con, name) for name in detector_names()}
    counts["invariant"] = run_invariants(con, policy)
    return counts


__all__ = ["SEVERITY_RANK", "derive", "detector_names", "run_detector", "run_invariants"]
