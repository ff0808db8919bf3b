"""``forensics demo``: the sample incident ingested into a fresh case, and every report written with
the scope a responder would give for it."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import forensics
from forensics.errors import ForensicsError, NotebookFailed
from forensics.ingest import FileResult
from forensics.report import ReportResult, available, parameters_of, run_report

#: Demo order: provenance_audit first, since it verifies attestations and stores its policy in the case,
#: and the incident report summarises with that policy.
DEFAULT_REPORTS = (
    "provenance_audit",
    "credential_revocation",
    "cardinality_costs",
    "incident_reconstruction",
    "postmortem",
)


def demo_parameters() -> dict[str, dict]:
    """Per-report parameters for the sample incident. The incident report, the postmortem and the
    credential checklist get no scope: they scope themselves from the findings (and say how)."""
    window = {"start": "2026-03-14T08:00:00Z", "end": "2026-03-14T11:00:00Z"}
    return {
        "incident_reconstruction": {"title": "Incident reconstruction: double charge (sample)"},
        "postmortem": {"title": "Postmortem: double charge (sample)"},
        "provenance_audit": {"use_sample_test_key": True, **window},
    }


@dataclass
class DemoReports:
    reports: list[ReportResult] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failures: list[NotebookFailed] = field(default_factory=list)


def ingest_sample(
    data: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    on_file: Callable[[FileResult], None] | None = None,
) -> tuple[Path, list[FileResult]]:
    """Ingest ``data`` into a fresh ``<out>/demo.duckdb``; the case's path and the files' results."""
    if not Path(data).is_dir():
        raise ForensicsError(f"no sample data at {data}; run: forensics sample --out {data}")
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    case_path = out_dir / "demo.duckdb"
    for p in (case_path, Path(str(case_path) + ".wal")):
        if p.exists():
            p.unlink()
    with forensics.open_case(case_path) as case:
        return case_path, case.ingest([data], on_file=on_file)


def write_reports(
    case_path: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    on_report: Callable[[ReportResult], None] | None = None,
    **run_options,
) -> DemoReports:
    """Every demo report on the case, with the sample's parameters, under ``out``. A failing report is
    kept in ``failures`` and the others still run. ``run_options`` go to ``run_report`` (signing,
    progress)."""
    result = DemoReports()
    present = available()
    for name in DEFAULT_REPORTS:
        if name not in present:
            result.skipped.append(name)
            continue
        known = parameters_of(name)
        params = {k: v for k, v in demo_parameters().get(name, {}).items() if k in known}
        try:
            report = run_report(name, case_path, params, out, **run_options)
        except NotebookFailed as e:
            result.failures.append(e)
            continue
        result.reports.append(report)
        if on_report is not None:
            on_report(report)
    return result
