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
from forensics.errors import ForensicsError, NotebookFailed, UnknownParameter


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
    elif res.status == "skipped":
        print(f"{path}: NOT READ: {note}")
    elif res.status == "archive":
        print(f"{path}: {note}")
    else:
        print(f"{path}: not placed: {note}")


def cmd_ingest(args) -> int:
    import forensics

    with forensics.open_case(args.case) as case:
        results = _ingest(case, args)
    _summary(results)
    return 0


def cmd_migrate(args) -> int:
    import forensics
    from forensics.casefile import SCHEMA_VERSION

    if not os.path.exists(args.case):
        print(f"forensics: no such case: {args.case}", file=sys.stderr)
        return 2
    with forensics.open_case(args.case) as case:
        before = case.schema_version
    print(f"{args.case}: schema version {before} -> {SCHEMA_VERSION}")
    return 0


def _ingest(case, args) -> list:
    """``case.ingest`` with the ingest subcommand's options (docs/host.md, docs/audit.md, docs/mapping.md)."""
    return case.ingest(
        args.paths,
        loader=args.loader,
        mapping=args.mapping,
        progress=_Progress() if sys.stderr.isatty() or args.progress else None,
        on_file=_print_file,
        year=args.year,
        tz=args.tz,
        observed_at=getattr(args, "observed_at", None),
        reingest=args.reingest,
    )


def _summary(results) -> None:
    done = [r for r in results if r.status == "ingested"]
    unplaced = [r for r in results if r.status == "unplaced"]
    skipped = [r for r in results if r.status == "skipped"]
    print(
        f"{len(done)} files ingested, {sum(r.records_loaded for r in done)} records loaded, "
        f"{sum(r.records_rejected for r in done)} rejected; "
        f"{sum(r.status == 'already ingested' for r in results)} already present; {len(unplaced)} not placed"
        + (f"; {len(skipped)} NOT READ (see skipped_entries)" if skipped else "")
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
    if args.rules:
        _run_sigma_first(args, params)
    try:
        res = run_report(args.notebook, args.case, params, args.out, **_run_options(args))
    except NotebookFailed as e:
        print(f"forensics: {e}", file=sys.stderr)
        return 1
    _print_report(res)
    _top_findings(args.case)
    return 0


def _run_sigma_first(args, params: dict) -> None:
    """``run --rules``: the Sigma rules run on the case before the kernel starts (a short write that is
    released), so the report shows their findings and coverage. Parameters are checked first."""
    from forensics.report import coerce_parameters

    coerce_parameters(args.notebook, dict(params))
    _sigma_summary(args.case, args.rules)


def _sigma_summary(case_path, rules) -> None:
    """Run Sigma rules on a case (a missing rule path is the sigma package's one-line error) and print
    the summary's first line."""
    import forensics
    from forensics import sigma

    with forensics.open_case(case_path) as case:
        print(sigma.summary_lines(case.sigma(rules))[0])


def _run_options(args) -> dict:
    """Options every report run takes from the command line (``run``, ``demo``)."""
    from forensics.kernel import progress_printer

    return {
        "suffix": getattr(args, "suffix", None) or "",
        "name_window": getattr(args, "name_window", False),
        "sign_key": args.sign_key,
        "sigstore": not args.no_sigstore,
        "on_cell": None if args.quiet else progress_printer(sys.stderr),
    }


def _print_report(res) -> None:
    """Where a report's outputs are, its statement and how to check it."""
    print(f"report {res.name}: {res.html}")
    for p in res.files:
        if p not in (res.html, res.statement):
            print(f"  also wrote {p}")
    print(f"  statement ({res.signature}): {res.statement}; check: forensics verify-report {res.html}")


def _top_findings(case_path, limit: int = 5) -> None:
    """The strongest findings of the case, after the report paths."""
    import forensics
    from forensics.safe import terminal_text

    try:
        with forensics.open_case(case_path, read_only=True) as case:
            df = case.findings()
    except Exception as e:  # noqa: BLE001 - the report is written; say why the summary is missing
        print(f"findings: not shown ({type(e).__name__}: {str(e).splitlines()[0][:120]})")
        return
    print(f"findings: {df.height}" + (f", strongest {min(limit, df.height)}:" if df.height else ""))
    for r in df.head(limit).iter_rows(named=True):
        print(f"  {r['severity']:8} {r['finding_id']}  {terminal_text(r['title'])[:100]}")


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
    result = demo.write_reports(case_path, args.out, on_report=_print_report, **_run_options(args))
    for name in result.skipped:
        print(f"report {name}: notebook not present, skipped")
    for failure in result.failures:
        print(f"forensics: {failure}", file=sys.stderr)
    _top_findings(case_path)
    return 1 if result.failures else 0


def _demo_sigma(case_path) -> None:
    """The shared corpus's Sigma rules on the demo case, when the corpus is beside the repository."""
    from forensics import sigma

    rules = sigma.default_rules_dir()
    if rules is None:
        print("sigma: no rules at ../shared/data/sigma, skipped")
        return
    _sigma_summary(case_path, rules)


def cmd_query(args) -> int:
    import duckdb

    import forensics
    from forensics import export
    from forensics.params import check_query

    params = _params(args.param)
    check_query(args.name, params)
    if args.engine == "spark" or args.parquet:
        df = _query_elsewhere(args)
    else:
        if not args.case:
            print("forensics: query needs --case, or --parquet DIR", file=sys.stderr)
            return 2
        with forensics.open_case(args.case, read_only=True) as case:
            try:
                df = case.query(args.name, **params)
            except (duckdb.ConversionException, duckdb.BinderException, duckdb.InvalidInputException) as e:
                first = str(e).splitlines()[0] if str(e) else type(e).__name__
                raise UnknownParameter(f"query {args.name}: a parameter does not fit: {first}") from None
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


def cmd_verify_report(args) -> int:
    """Check a report against its in-toto statement: one line per check, exit 0 only if all pass."""
    from forensics import attest
    from forensics.safe import terminal_text

    if bool(args.identity) != bool(args.issuer):
        print("forensics: --identity and --issuer go together", file=sys.stderr)
        return 2
    checks = attest.verify(
        args.path,
        statement=args.statement,
        case=args.case,
        key=args.key,
        identity=args.identity,
        issuer=args.issuer,
    )
    for c in checks:
        print(terminal_text(c.line()))
    bad = [c for c in checks if not c.ok]
    print(
        f"{'verified' if not bad else 'NOT VERIFIED'}: {len(checks) - len(bad)} of {len(checks)} checks pass"
    )
    return 1 if bad else 0


def _signing() -> argparse.ArgumentParser:
    """Options of every command that writes reports: signing, file names, progress."""
    f = argparse.ArgumentParser(add_help=False)
    f.add_argument("--sign-key", metavar="PEM", help="sign each statement with this Ed25519 or ECDSA key")
    f.add_argument(
        "--no-sigstore", action="store_true", help="do not sign keyless even where an OIDC identity exists"
    )
    f.add_argument("-q", "--quiet", action="store_true", help="no progress line per cell")
    return f


def _query_elsewhere(args):
    """``forensics query`` on a Parquet tree: DuckDB over it in place, or Spark (docs/scale-out.md)."""
    if not args.parquet:
        raise ForensicsError("--engine spark runs on a Parquet tree: give --parquet DIR (forensics export)")
    params = _params(args.param)
    if args.engine == "duckdb":
        from forensics.scaleout.parquet import open_parquet

        with open_parquet(args.parquet) as case:
            return case.query(args.name, **params)
    from forensics import queries
    from forensics.scaleout import spark

    sql = queries.load(args.name)
    engines, reason = spark.engines_of(sql)
    if "spark" not in engines:  # said before a JVM starts
        raise spark.NotPortable(f"query {args.name} does not run on Spark: {reason or 'no reason given'}")
    session = spark.session(args.spark_master)
    needed = spark.tables_read(sql)
    spark.register_parquet(session, args.parquet, verify="://" not in args.parquet, tables=needed)
    return spark.run_query(session, args.name, **params)


def cmd_export(args) -> int:
    import forensics

    with forensics.open_case(args.case, read_only=True) as case:
        if args.parquet:
            manifest = case.export_parquet(args.parquet)
            files = sum(len(t["files"]) for t in manifest["tables"].values())
            rows = sum(t["rows"] for t in manifest["tables"].values())
            print(f"{len(manifest['tables'])} tables, {rows} rows in {files} files; manifest.json written")
            return 0
        from forensics.scaleout.exports import ocsf, timesketch

        n = timesketch.write(case, args.timesketch) if args.timesketch else ocsf.write(case, args.ocsf)
    print(f"{n} records written")
    return 0


def cmd_import(args) -> int:
    import forensics
    from forensics.safe import terminal_text
    from forensics.scaleout.parquet import import_parquet

    with forensics.open_case(args.case) as case:
        loaded = import_parquet(case.con, args.parquet)
        for table, n in loaded.items():
            print(f"{terminal_text(table)}: {n} rows")
        if {"credentials", "findings"} - set(loaded):
            # a tree written by the Spark ingest holds events, evidence and rejects: derive the rest here
            ran = case.rederive()
            print(f"derived here: {', '.join(ran) or 'nothing'}, then the findings")
    return 0


def build_parser() -> argparse.ArgumentParser:
    folders = _folders()
    signing = _signing()
    p = argparse.ArgumentParser(
        prog="forensics",
        description="Incident forensics kit: evidence into one DuckDB case, one timeline, reports.",
    )
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("migrate", help="bring a case made by an older forensics to this schema version")
    s.add_argument("--case", required=True)
    s.set_defaults(func=cmd_migrate)

    s = sub.add_parser("ingest", help="ingest evidence files or directory trees into a case")
    s.add_argument("paths", nargs="+")
    s.add_argument("--case", required=True, help="case database file (created if missing)")
    s.add_argument("--loader", help="force a loader instead of detecting by content")
    s.add_argument("--mapping", help="TOML field mapping for the generic loader (docs/mapping.md)")
    s.add_argument("--progress", action="store_true", help="show progress even when stderr is not a terminal")
    s.add_argument("--year", type=int, help="year of syslog lines, which carry none (docs/host.md)")
    s.add_argument("--tz", help="IANA zone of zone-less local times such as syslog's (default UTC)")
    s.add_argument(
        "--reingest",
        metavar="REASON",
        help="replace the rows of files the case already holds (kept with REASON in the reingests ledger)",
    )
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
        "run", parents=[folders, signing], help="execute a report notebook with papermill and render HTML"
    )
    s.add_argument("notebook")
    s.add_argument("--case", required=True)
    s.add_argument("-p", "--param", nargs=2, action="append", metavar=("KEY", "VALUE"))
    s.add_argument("--out", default="reports", help="the only folder the run writes to")
    s.add_argument("--policy", help="provenance policy file (TOML or JSON, docs/provenance.md)")
    s.add_argument("--store-policy", action="store_true", help="replace the policy stored in the case")
    s.add_argument(
        "--rules",
        nargs="+",
        metavar="PATH",
        help="run these Sigma rules (files or folders) on the case first",
    )
    s.add_argument("--suffix", help="added to every output's name, e.g. -day2 (letters, digits, . _ + -)")
    s.add_argument(
        "--name-window", action="store_true", help="add the window to the names: NAME-<start>-<end>.html"
    )
    s.set_defaults(func=cmd_run)

    s = sub.add_parser("sample", help="generate the deterministic sample incident")
    s.add_argument("--out", default="sample_data")
    s.add_argument("--seed", type=int, default=7)
    s.add_argument("--scale", type=int, default=1)
    s.set_defaults(func=cmd_sample)

    s = sub.add_parser(
        "demo",
        parents=[folders, signing],
        help="ingest sample_data into a fresh case and write every report (make demo)",
    )
    s.add_argument("--data", default="sample_data")
    s.add_argument("--out", default="reports")
    s.set_defaults(func=cmd_demo)

    s = sub.add_parser("query", parents=[folders], help="run a query from queries/ with bound parameters")
    s.add_argument("name")
    s.add_argument("--case", help="the case (or --parquet DIR: a tree written by forensics export)")
    s.add_argument("--engine", choices=["duckdb", "spark"], default="duckdb", help="docs/scale-out.md")
    s.add_argument("--parquet", metavar="DIR", help="run on this Parquet tree where it lies")
    s.add_argument("--spark-master", help="Spark master URL (default: local[2]); with --engine spark")
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

    s = sub.add_parser(
        "verify-report", help="check a report's files (and its case) against its in-toto statement"
    )
    s.add_argument("path", help="a report output (HTML, Markdown, ...) or its .intoto.json statement")
    s.add_argument("--statement", help="the statement, when it is not beside the report")
    s.add_argument("--case", help="also check that this case's evidence is the evidence recorded")
    s.add_argument("--key", metavar="PUB", help="PEM public key that signed the statement")
    s.add_argument("--identity", help="Sigstore: the signer's identity (e.g. a workflow URI)")
    s.add_argument("--issuer", help="Sigstore: the identity's OIDC issuer")
    s.set_defaults(func=cmd_verify_report)

    s = sub.add_parser(
        "export", help="the case as a Parquet tree, Timesketch JSONL or OCSF JSONL (docs/scale-out.md)"
    )
    s.add_argument("--case", required=True)
    to = s.add_mutually_exclusive_group(required=True)
    to.add_argument("--parquet", metavar="DIR", help="every table, hive-partitioned, with a manifest")
    to.add_argument("--timesketch", metavar="FILE", help="the timeline as Timesketch JSONL (redacted)")
    to.add_argument("--ocsf", metavar="FILE", help="events as OCSF 1.x JSONL (redacted)")
    s.set_defaults(func=cmd_export)

    s = sub.add_parser("import", help="read a Parquet tree written by forensics export into a new case")
    s.add_argument("--parquet", metavar="DIR", required=True)
    s.add_argument("--case", required=True, help="the case to create (must hold no rows)")
    s.set_defaults(func=cmd_import)
    add_runtime_commands(sub)
    return p


def _is_duckdb(path: str) -> bool:
    """A DuckDB database file: its header carries ``DUCK`` at byte 8 (an empty file is a new case)."""
    with open(path, "rb") as f:
        head = f.read(12)
    return not head or head[8:12] == b"DUCK"


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
        "export",
    ):
        if not os.path.exists(args.case):
            print(f"forensics: no such case: {args.case} (create it with forensics ingest)", file=sys.stderr)
            return 2
    if getattr(args, "case", None) and os.path.isfile(args.case) and not _is_duckdb(args.case):
        print(f"forensics: {args.case} is not a DuckDB case file", file=sys.stderr)
        return 2
    try:
        layout.use_folders(getattr(args, "queries", None), getattr(args, "notebooks", None))
        return args.func(args)
    except ForensicsError as e:
        print(f"forensics: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


# -- runtime state, coverage and invariant rates (issue 22) ----------------------------------------
def cmd_ingest_observed(args) -> int:
    """``ingest --observed-at T``: the files' capture time (snapshots have none of their own)."""
    if not getattr(args, "observed_at", None):
        return cmd_ingest(args)
    import forensics
    from forensics import runtime

    with forensics.open_case(args.case) as case:
        results = _ingest(case, args)  # loaders take --observed-at too, for records with no time of their own
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


if __name__ == "__main__":
    sys.exit(main())
