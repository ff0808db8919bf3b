"""Sigma rules on a case (docs/sigma.md): pySigma parses each rule, ``backend`` compiles it to DuckDB
over the events' original fields, ``run`` writes findings (detector ``sigma``) and the coverage of
every rule; ``coverage(case)`` reads that coverage back for reports."""

from __future__ import annotations

from typing import TYPE_CHECKING

from forensics.sigma.rules import LOGSOURCES, SigmaRulesNotFound, default_rules_dir, load_rules
from forensics.sigma.run import DETECTOR, STATUSES, Coverage, run
from forensics.sigma.text import summary_lines

if TYPE_CHECKING:
    from forensics.case import Case


def coverage(case: Case):
    """The coverage of the case's last Sigma run (a polars frame, one row per rule and source)."""
    from forensics.sigma.run import coverage as _coverage

    return _coverage(case.con if hasattr(case, "con") else case)


__all__ = [
    "DETECTOR",
    "LOGSOURCES",
    "STATUSES",
    "Coverage",
    "SigmaRulesNotFound",
    "coverage",
    "default_rules_dir",
    "load_rules",
    "run",
    "summary_lines",
]
