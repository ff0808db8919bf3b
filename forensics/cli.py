"""The ``forensics`` command: argument parsing only; every command calls the library.

Errors a user can cause (missing file, unknown format, bad time window, unknown notebook or
parameter) print one line to stderr and exit 2, without a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from forensics import layout
from forensics.errors import ForensicsError, NotebookFailed


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
    from forensics.safe import terminal_text

    path, note = terminal_text(res.path), terminal_text(res.note)
    if res.status == "ingested":
        flag = "" if res.reconciled else "  NOT RECONCILED"
        dup = f", {res.records_duplicate} duplicate" if res.records_duplicate else ""
        print(
            f"{path}: {res.loader} ({res.format}) read {res.records_read} = loaded {res.records_loaded} "
            f"+ rejected {res.records_rejected}{dup}; sha256 {res.sha256[:16]}{flag}"
        )
    elif res.status == "already ingested":
        print(f"{path}: already in the case (sha256 {res.sha256[:16]}), nothing changed")
    else:
        print(f"{path}: not placed: {note}")


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
            ips=args.ip,
            credentials=args.credential,
            entity=args.entity,
            finding=args.finding,
            raw=args.format == "json",
        )
        for note in case.last_pivot:
            print(f"forensics: {note}", file=sys.stderr)
    from forensics.safe import frame_csv, frame_ndjson

    if args.format == "csv":
        sys.stdout.write(frame_csv(df))
    elif args.format == "json":
        sys.stdout.write(frame_ndjson(df))
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

    params = _params(args.param)
    if args.policy:
        params["policy_file"] = os.path.abspath(args.policy)
    if args.store_policy:
        params["store_policy"] = True
    try:
        res = run_report(args.notebook, args.case, params, args.out)
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


def cmd_demo(args) -> int:
    """Ingest the sample incident into a fresh case and write every report."""
    from forensics.sample import demo

    case_path, files = demo.ingest_sample(args.data, args.out, on_file=_print_file)
    _summary(files)
    _demo_sigma(case_path)
    result = demo.write_reports(case_path, args.out, on_report=lambda r: print(f"report {r.name}: {r.html}"))
    for name in result.skipped:
        print(f"report {name}: notebook not present, skipped")
    for failure in result.failures:
        print(f"forensics: {failure}", file=sys.stderr)
    return 1 if result.failures else 0


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
    from forensics import export

    with forensics.open_case(args.case, read_only=True) as case:
        df = case.query(args.name, **_params(args.param))
    from forensics.redact import redact_text
    from forensics.safe import frame_csv, frame_ndjson

    if args.format == "table":
        text = export.write(df, "table")
    else:
        text = frame_csv(df) if args.format == "csv" else frame_ndjson(df)
    # nested columns (lists of structs) are written as JSON text: redact the text as printed, too
    sys.stdout.write(redact_text(text) or "")
    return 0


def cmd_invariants(args) -> int:
    import forensics
    from forensics.policy import policy_for
    from forensics.provenance import invariant_params
    from forensics.safe import terminal_text

    with forensics.open_case(args.case, read_only=True) as case:
        results = case.invariants(**invariant_params(policy_for(case, args.policy)))
    bad = 0
    for name, df in results.items():
        print(
            f"{'VIOLATED' if df.height else 'ok':8} {terminal_text(name)}"
            + (f" ({df.height} rows)" if df.height else "")
        )
        bad += bool(df.height)
    return 1 if bad else 0


def _folders() -> argparse.ArgumentParser:
    """The options naming a user's queries and notebooks folders, read before the built-in ones."""
    f = argparse.ArgumentParser(add_help=False)
    f.add_argument(
        "--queries", metavar="DIR", help="your queries folder, before the built-in one (or FORENSICS_QUERIES)"
    )
    f.add_argument(
        "--notebooks",
        metavar="DIR",
        help="your notebooks folder, before the built-in one (or FORENSICS_NOTEBOOKS)",
    )
    return f


def cmd_verify(args) -> int:
    import forensics
    from forensics import provenance
    from forensics.policy import load_policy

    policy = load_policy(args.policy)
    with forensics.open_case(args.case) as case:
        n = provenance.verify(case, policy, store=not args.no_store)
        counts = case.sql(
            "SELECT verdict, count(DISTINCT attestation_id) AS n FROM attestations GROUP BY ALL ORDER BY ALL"
        )
    print(f"{n} attestations checked: " + ", ".join(f"{v} {c}" for v, c in counts.iter_rows()))
    return 0


def cmd_findings(args) -> int:
    import forensics
    from forensics.findings.report import write
    from forensics.policy import load_policy

    policy = load_policy(args.policy) if args.policy else None  # a bad file fails before the case opens
    refresh = args.refresh or bool(args.aliases) or policy is not None
    with forensics.open_case(args.case, read_only=not refresh) as case:
        if args.aliases:
            case.load_aliases(args.aliases)
        if refresh:
            case.refresh_findings(policy)
        df = case.findings(min_severity=args.min_severity, since=args.since)
    write(df, args.format)
    return 0


def cmd_annotate(args) -> int:
    import forensics

    with forensics.open_case(args.case) as case:
        n = case.annotate(
            args.target,
            star=True if args.star else (False if args.unstar else None),
            tag=args.tag,
            comment=args.comment,
            status=args.status,
            author=args.author,
        )
    print(f"{n} annotation(s) on {args.target}")
    return 0


def cmd_sigma(args) -> int:
    import forensics
    from forensics.sigma import summary_lines

    with forensics.open_case(args.case) as case:
        coverage = case.sigma(args.rules)
    print("\n".join(summary_lines(coverage, verbose=args.verbose)))
    return 0


def build_parser() -> argparse.ArgumentParser:
    folders = _folders()
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
    s.add_argument("--ip", action="append", help="address or CIDR block (repeatable)")
    s.add_argument("--credential", action="append", help="credential id (repeatable)")
    s.add_argument("--entity", help="an identity and everything linked to it")
    s.add_argument("--finding", help="a finding's evidence and the events around it")
    s.set_defaults(func=cmd_timeline)

    s = sub.add_parser(
        "run", parents=[folders], help="execute a report notebook with papermill and render HTML"
    )
    s.add_argument("notebook")
    s.add_argument("--case", required=True)
    s.add_argument("-p", "--param", nargs=2, action="append", metavar=("KEY", "VALUE"))
    s.add_argument("--out", default="reports", help="the only folder the run writes to")
    s.add_argument("--policy", help="provenance policy file (TOML or JSON, docs/provenance.md)")
    s.add_argument("--store-policy", action="store_true", help="replace the policy stored in the case")
    s.set_defaults(func=cmd_run)

    s = sub.add_parser("sample", help="generate the deterministic sample incident")
    s.add_argument("--out", default="sample_data")
    s.add_argument("--seed", type=int, default=7)
    s.add_argument("--scale", type=int, default=1)
    s.set_defaults(func=cmd_sample)

    s = sub.add_parser(
        "demo",
        parents=[folders],
        help="ingest sample_data into a fresh case and write every report (make demo)",
    )
    s.add_argument("--data", default="sample_data")
    s.add_argument("--out", default="reports")
    s.set_defaults(func=cmd_demo)

    s = sub.add_parser("query", parents=[folders], help="run a query from queries/ with bound parameters")
    s.add_argument("name")
    s.add_argument("--case", required=True)
    s.add_argument("-p", "--param", nargs=2, action="append", metavar=("KEY", "VALUE"))
    s.add_argument(
        "--format",
        choices=["table", "csv", "json"],
        default="table",
        help="table (default: every row, lists joined), csv (nested values as JSON) or json (JSON Lines)",
    )
    s.set_defaults(func=cmd_query)

    s = sub.add_parser("invariants", parents=[folders], help="run every invariant; exit 1 if any is violated")
    s.add_argument("--case", required=True)
    s.add_argument("--policy", help="provenance policy file (default: the policy stored in the case)")
    s.set_defaults(func=cmd_invariants)

    s = sub.add_parser("verify", help="verify every attestation against a policy file and store it")
    s.add_argument("--case", required=True)
    s.add_argument(
        "--policy", required=True, help="provenance policy file (TOML or JSON, docs/provenance.md)"
    )
    s.add_argument("--no-store", action="store_true", help="do not keep this policy as the case's policy")
    s.set_defaults(func=cmd_verify)

    s = sub.add_parser("findings", help="print the findings of a case, strongest first")
    s.add_argument("--case", required=True)
    s.add_argument("--format", choices=["table", "json", "csv"], default="table")
    s.add_argument("--min-severity", choices=["critical", "high", "medium", "low", "info"])
    s.add_argument("--since", help="only findings from this time (UTC)")
    s.add_argument("--refresh", action="store_true", help="recompute entity links and findings first")
    s.add_argument("--aliases", help="TOML alias file declaring identities that are one (docs/findings.md)")
    s.add_argument(
        "--policy",
        help="provenance policy file for the invariant findings (implies --refresh; the stored policy is kept)",
    )
    s.set_defaults(func=cmd_findings)

    s = sub.add_parser("annotate", help="star, tag, comment on or set the status of a finding or event")
    s.add_argument("target", help="finding id (F-...) or event id")
    s.add_argument("--case", required=True)
    s.add_argument("--star", action="store_true")
    s.add_argument("--unstar", action="store_true")
    s.add_argument("--tag")
    s.add_argument("--comment")
    s.add_argument("--status", choices=["open", "acknowledged", "false_positive"])
    s.add_argument("--author", help="who annotates (default: the login name)")
    s.set_defaults(func=cmd_annotate)

    s = sub.add_parser(
        "sigma", help="run Sigma rules on a case: matches become findings, each rule's coverage shown"
    )
    s.add_argument("--case", required=True)
    s.add_argument("--rules", required=True, nargs="+", help="rule files or folders (searched recursively)")
    s.add_argument(
        "-v", "--verbose", action="store_true", help="also list the rules that ran without a match"
    )
    s.set_defaults(func=cmd_sigma)
    add_runtime_commands(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "case", None) and args.command in (
        "timeline",
        "run",
        "query",
        "invariants",
        "verify",
        "findings",
        "annotate",
        "sigma",
        "coverage",
        "env-aliases",
    ):
        if not os.path.exists(args.case):
            print(f"forensics: no such case: {args.case} (create it with forensics ingest)", file=sys.stderr)
            return 2
    try:
        layout.use_folders(getattr(args, "queries", None), getattr(args, "notebooks", None))
        return args.func(args)
    except ForensicsError as e:
        print(f"forensics: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())


# -- runtime state, coverage and invariant rates (issue 22) ----------------------------------------
def cmd_ingest_observed(args) -> int:
    """``ingest --observed-at T``: the files' capture time (snapshots have none of their own)."""
    if not getattr(args, "observed_at", None):
        return cmd_ingest(args)
    import forensics
    from forensics import runtime

    progress = _Progress() if sys.stderr.isatty() or args.progress else None
    with forensics.open_case(args.case) as case:
        results = case.ingest(
            args.paths, loader=args.loader, mapping=args.mapping, progress=progress, on_file=_print_file
        )
        shas = [r.sha256 for r in results if r.status in ("ingested", "already ingested") and r.sha256]
        runtime.observed_at(case, shas, args.observed_at)
    _summary(results)
    print(f"observed at {args.observed_at}: {len(shas)} file(s)")
    return 0


def cmd_coverage(args) -> int:
    import json

    import forensics
    from forensics import export
    from forensics.redact import redact_text

    with forensics.open_case(args.case, read_only=True) as case:
        cov = case.coverage()
    if args.format == "json":
        text = json.dumps(cov.to_dict(), default=str, indent=1) + "\n"
    else:
        gaps = cov.gaps.select("kind", "source", "scope", "start", "end", "severity", "statement")
        text = (
            "Coverage per source\n"
            + export.write(cov.sources, "table")
            + f"\n{gaps.height} gap(s)\n"
            + (export.write(gaps, "table") if gaps.height else "no gaps found\n")
        )
    sys.stdout.write(redact_text(text) or "")
    return 0


def cmd_invariants_or_rates(args) -> int:
    if not getattr(args, "rate", False):
        if getattr(args, "by", None) or getattr(args, "format", "table") != "table":
            print("forensics: --by and --format go with --rate", file=sys.stderr)
            return 2
        return cmd_invariants(args)
    import json

    import forensics
    from forensics import export
    from forensics.policy import policy_for
    from forensics.provenance import invariant_params
    from forensics.redact import redact_text

    with forensics.open_case(args.case, read_only=True) as case:
        df = case.invariant_rates(by=args.by, **invariant_params(policy_for(case, args.policy)))
    if args.format == "json":
        text = json.dumps(df.to_dicts(), default=str, indent=1) + "\n"
    else:
        text = export.write(df, "table")
    sys.stdout.write(redact_text(text) or "")
    return 0


def cmd_env_aliases(args) -> int:
    import forensics
    from forensics import export, runtime
    from forensics.safe import terminal_text

    pairs = {}
    for item in args.set or []:
        alias, sep, canonical = item.partition("=")
        if not sep or not alias.strip() or not canonical.strip():
            print(f"forensics: --set takes ALIAS=CANONICAL, not {terminal_text(item)}", file=sys.stderr)
            return 2
        pairs[alias.strip()] = canonical.strip()
    with forensics.open_case(args.case, read_only=not pairs) as case:
        if pairs:
            runtime.load_aliases(case, pairs)
        df = runtime.aliases(case)
    sys.stdout.write(export.write(df, args.format))
    return 0


def add_runtime_commands(sub) -> None:
    """``coverage``; ``invariants --rate [--by 5m|1h] [--format]``; ``ingest --observed-at``."""
    s = sub.add_parser("coverage", help="what the evidence covers per source, and its gaps")
    s.add_argument("--case", required=True)
    s.add_argument("--format", choices=["table", "json"], default="table")
    s.set_defaults(func=cmd_coverage)

    s = sub.add_parser(
        "env-aliases", help="show or set the case's environment aliases (prod = production; docs/runtime.md)"
    )
    s.add_argument("--case", required=True)
    s.add_argument(
        "--set", action="append", metavar="ALIAS=CANONICAL", help="add or change an alias (repeatable)"
    )
    s.add_argument("--format", choices=["table", "json", "csv"], default="table")
    s.set_defaults(func=cmd_env_aliases)

    inv = sub.choices["invariants"]
    inv.add_argument(
        "--rate", action="store_true", help="per invariant (and window): checked, violations, rate"
    )
    inv.add_argument("--by", help="window for --rate: <n>s, <n>m, <n>h or <n>d (e.g. 5m, 1h)")
    inv.add_argument("--format", choices=["table", "json"], default="table")
    inv.set_defaults(func=cmd_invariants_or_rates)

    ing = sub.choices["ingest"]
    ing.add_argument(
        "--observed-at",
        help="capture time (UTC, ISO 8601) of snapshot files (kubectl get ... -o json) that have none of their own",
    )
    ing.set_defaults(func=cmd_ingest_observed)
