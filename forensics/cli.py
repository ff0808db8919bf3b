"""The ``forensics`` command: argument parsing only; every command calls the library.

Errors a user can cause (missing file, unknown format, bad time window, unknown notebook or
parameter) print one line to stderr and exit 2, without a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from forensics.errors import ForensicsError, NotebookFailed

#: Demo order: provenance_audit first, since it verifies attestations and stores its policy in the case,
#: and the incident report summarises with that policy.
DEFAULT_REPORTS = (
    "provenance_audit",
    "credential_revocation",
    "cardinality_costs",
    "incident_reconstruction",
)


class _Progress:
    """Progress on stderr for long files: bytes done, rate, and per-file counts at the end."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.t0: dict[str, float] = {}

    def __call__(self, path: str, done: int, total: int) -> None:
        t0 = self.t0.setdefault(path, time.monotonic())
        rate = done / max(time.monotonic() - t0, 1e-6) / 1e6
        pct = 100.0 * done / total if total else 100.0
        self.stream.write(f"\r  {path}: {pct:5.1f}% of {total / 1e6:.1f} MB, {rate:.0f} MB/s")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()


def _print_file(res) -> None:
    if res.status == "ingested":
        flag = "" if res.reconciled else "  NOT RECONCILED"
        dup = f", {res.records_duplicate} duplicate" if res.records_duplicate else ""
        print(
            f"{res.path}: {res.loader} ({res.format}) read {res.records_read} = loaded {res.records_loaded} "
            f"+ rejected {res.records_rejected}{dup}; sha256 {res.sha256[:16]}{flag}"
        )
    elif res.status == "already ingested":
        print(f"{res.path}: already in the case (sha256 {res.sha256[:16]}), nothing changed")
    else:
        print(f"{res.path}: not placed: {res.note}")


def cmd_ingest(args) -> int:
    import forensics

    progress = _Progress() if sys.stderr.isatty() or args.progress else None
    with forensics.open_case(args.case) as case:
        results = case.ingest(
            args.paths, loader=args.loader, mapping=args.mapping, progress=progress, on_file=_print_file
        )
    _summary(results)
    return 0


def _summary(results) -> None:
    done = [r for r in results if r.status == "ingested"]
    unplaced = [r for r in results if r.status == "unplaced"]
    print(
        f"{len(done)} files ingested, {sum(r.records_loaded for r in done)} records loaded, "
        f"{sum(r.records_rejected for r in done)} rejected; "
        f"{len(results) - len(done) - len(unplaced)} already present; {len(unplaced)} not placed"
    )


def cmd_timeline(args) -> int:
    import forensics

    with forensics.open_case(args.case, read_only=True) as case:
        df = case.timeline(
            start=args.start,
            end=args.end,
            actors=args.actor,
            services=args.service,
            sources=args.source,
            outcomes=args.outcome,
            limit=args.limit,
        )
    if args.format != "json":
        df = df.drop("raw")
    if args.format == "csv":
        sys.stdout.write(df.write_csv())
    elif args.format == "json":
        sys.stdout.write(df.write_ndjson())
    else:
        from forensics.display import clean

        cols = ["time", "source", "action", "actor", "src_ip", "target", "outcome"]
        for row in df.select(cols).iter_rows():
            print("  ".join(clean(v, 60) if i else f"{v:%Y-%m-%dT%H:%M:%S.%fZ}" for i, v in enumerate(row)))
    return 0


def _params(pairs) -> dict:
    return {k: v for k, v in (pairs or [])}


def cmd_run(args) -> int:
    from forensics.report import run_report

    try:
        res = run_report(args.notebook, args.case, _params(args.param), args.out)
    except NotebookFailed as e:
        print(f"forensics: {e}", file=sys.stderr)
        return 1
    print(f"report: {res.html}\nnotebook: {res.notebook}")
    return 0


def cmd_sample(args) -> int:
    from forensics.sample import generate

    files = generate(args.out, seed=args.seed, scale=args.scale)
    print(f"wrote {len(files)} files under {args.out}")
    return 0


def demo_parameters() -> dict[str, dict]:
    """Per-report parameters for the sample incident: the scope a responder would give."""
    from forensics.sample import scenario as S

    window = {"start": "2026-03-14T08:00:00Z", "end": "2026-03-14T11:00:00Z"}
    return {
        "incident_reconstruction": {
            "title": "Incident reconstruction: double charge (sample)",
            "slo_service": "payments",
            **window,
        },
        "provenance_audit": {"use_sample_test_key": True, **window},
        "credential_revocation": {
            "principals": [S.DEPLOY_BOT_GH_USER, S.DEPLOY_BOT_ARN],
            "runners": [S.COMPROMISED_RUNNER],
            "ips": [S.ATTACKER_IP, S.ATTACKER_IP_2],
            **window,
        },
    }


def cmd_demo(args) -> int:
    """Ingest the sample incident into a fresh case and write every report."""
    import forensics
    from forensics.report import available, parameters_of, run_report

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    case_path = out / "demo.duckdb"
    for p in (case_path, Path(str(case_path) + ".wal")):
        if p.exists():
            p.unlink()
    if not Path(args.data).is_dir():
        raise ForensicsError(f"no sample data at {args.data}; run: forensics sample --out {args.data}")
    with forensics.open_case(case_path) as case:
        results = case.ingest([args.data], on_file=_print_file)
    _summary(results)
    _demo_sigma(case_path)
    failed = 0
    for name in DEFAULT_REPORTS:
        if name not in available():
            print(f"report {name}: notebook not present, skipped")
            continue
        try:
            params = {k: v for k, v in demo_parameters().get(name, {}).items() if k in parameters_of(name)}
            res = run_report(name, case_path, params, out)
            print(f"report {name}: {res.html}")
        except NotebookFailed as e:
            failed += 1
            print(f"forensics: {e}", file=sys.stderr)
    return 1 if failed else 0


def _demo_sigma(case_path) -> None:
    """The shared corpus's Sigma rules on the demo case, when the corpus is beside the repository."""
    import forensics
    from forensics import sigma

    rules = sigma.default_rules_dir()
    if rules is None:
        print("sigma: no rules at ../shared/data/sigma, skipped")
        return
    with forensics.open_case(case_path) as case:
        print(sigma.summary_lines(case.sigma(rules))[0])


def cmd_query(args) -> int:
    import forensics

    with forensics.open_case(args.case, read_only=True) as case:
        df = case.query(args.name, **_params(args.param))
    sys.stdout.write(df.write_csv() if args.format == "csv" else df.write_ndjson())
    return 0


def cmd_invariants(args) -> int:
    import forensics

    with forensics.open_case(args.case, read_only=True) as case:
        results = case.invariants()
    bad = 0
    for name, df in results.items():
        print(f"{'VIOLATED' if df.height else 'ok':8} {name}" + (f" ({df.height} rows)" if df.height else ""))
        bad += bool(df.height)
    return 1 if bad else 0


def cmd_sigma(args) -> int:
    import forensics
    from forensics.sigma import summary_lines

    with forensics.open_case(args.case) as case:
        coverage = case.sigma(args.rules)
    print("\n".join(summary_lines(coverage, verbose=args.verbose)))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="forensics",
        description="Incident forensics kit: evidence into one DuckDB case, one timeline, reports.",
    )
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("ingest", help="ingest evidence files or directory trees into a case")
    s.add_argument("paths", nargs="+")
    s.add_argument("--case", required=True, help="case database file (created if missing)")
    s.add_argument("--loader", help="force a loader instead of detecting by content")
    s.add_argument("--mapping", help="TOML field mapping for the generic loader (docs/mapping.md)")
    s.add_argument("--progress", action="store_true", help="show progress even when stderr is not a terminal")
    s.set_defaults(func=cmd_ingest)

    s = sub.add_parser("timeline", help="print the timeline of a case")
    s.add_argument("--case", required=True)
    s.add_argument("--from", dest="start")
    s.add_argument("--to", dest="end")
    s.add_argument("--actor", action="append")
    s.add_argument("--service", action="append")
    s.add_argument("--source", action="append")
    s.add_argument("--outcome", action="append", choices=["success", "failure", "timeout", "unknown"])
    s.add_argument("--limit", type=int)
    s.add_argument("--format", choices=["table", "csv", "json"], default="table")
    s.set_defaults(func=cmd_timeline)

    s = sub.add_parser("run", help="execute a report notebook with papermill and render HTML")
    s.add_argument("notebook")
    s.add_argument("--case", required=True)
    s.add_argument("-p", "--param", nargs=2, action="append", metavar=("KEY", "VALUE"))
    s.add_argument("--out", default="reports")
    s.set_defaults(func=cmd_run)

    s = sub.add_parser("sample", help="generate the deterministic sample incident")
    s.add_argument("--out", default="sample_data")
    s.add_argument("--seed", type=int, default=7)
    s.add_argument("--scale", type=int, default=1)
    s.set_defaults(func=cmd_sample)

    s = sub.add_parser("demo", help="ingest sample_data into a fresh case and write every report (make demo)")
    s.add_argument("--data", default="sample_data")
    s.add_argument("--out", default="reports")
    s.set_defaults(func=cmd_demo)

    s = sub.add_parser("query", help="run a query from queries/ with bound parameters")
    s.add_argument("name")
    s.add_argument("--case", required=True)
    s.add_argument("-p", "--param", nargs=2, action="append", metavar=("KEY", "VALUE"))
    s.add_argument("--format", choices=["csv", "json"], default="csv")
    s.set_defaults(func=cmd_query)

    s = sub.add_parser("invariants", help="run every invariant; exit 1 if any is violated")
    s.add_argument("--case", required=True)
    s.set_defaults(func=cmd_invariants)

    s = sub.add_parser(
        "sigma", help="run Sigma rules on a case: matches become findings, each rule's coverage shown"
    )
    s.add_argument("--case", required=True)
    s.add_argument("--rules", required=True, nargs="+", help="rule files or folders (searched recursively)")
    s.add_argument(
        "-v", "--verbose", action="store_true", help="also list the rules that ran without a match"
    )
    s.set_defaults(func=cmd_sigma)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "case", None) and args.command in ("timeline", "run", "query", "invariants", "sigma"):
        if not os.path.exists(args.case):
            print(f"forensics: no such case: {args.case} (create it with forensics ingest)", file=sys.stderr)
            return 2
    try:
        return args.func(args)
    except ForensicsError as e:
        print(f"forensics: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
