"""The credential-revocation checklist: every credential the incident touched, what it could
reach, whether it is proven revoked, and what to do in which order.

Modules: ``commands`` (the revoke steps per identity type), ``actions`` (persistence and exposure
items, the order of work), ``export`` (Markdown, JSON, CSV). This module builds the rows.

``build`` scans the case for exposed secrets (``forensics.secrets``) and runs
``queries/credentials/checklist.sql`` with the scope the responder gives (principals, credentials,
runners, source addresses, window). Each row carries the credential's kind and lifetime class,
privileges and blast radius seen, first and last use, revocation evidence (an event in the case,
or the status ``not proven revoked``), use after revocation or expiry, and a risk rank.

``write`` renders the same rows as Markdown (the order of work, then checkboxes ordered by rank),
JSON and CSV (``export``). Every value from evidence is escaped for Markdown or shell-quoted in
commands; secrets appear only in their redacted form (the tables hold nothing else).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import polars as pl

from forensics import secrets
from forensics.checklist.actions import items, plan
from forensics.checklist.commands import PHASES, Step, revoke_commands, steps
from forensics.checklist.export import export_rows, plan_to_csv, to_csv, to_json, to_markdown
from forensics.timewindow import parse_user_time

__all__ = [
    "PHASES",
    "Scope",
    "Step",
    "Written",
    "blast_radius",
    "build",
    "commands_table",
    "export_rows",
    "invariant_violations",
    "items",
    "plan",
    "revoke_commands",
    "status_counts",
    "steps",
    "summary",
    "to_csv",
    "to_json",
    "to_markdown",
    "work",
    "write",
]


@dataclass
class Scope:
    """What the responder says is compromised. Empty lists mean 'not given'; with nothing given
    every credential in the case is in scope."""

    principals: list[str] = field(default_factory=list)
    credentials: list[str] = field(default_factory=list)
    runners: list[str] = field(default_factory=list)
    ips: list[str] = field(default_factory=list)
    start: datetime | None = None
    end: datetime | None = None

    @classmethod
    def of(
        cls,
        principals: Iterable[str] | None = None,
        credentials: Iterable[str] | None = None,
        runners: Iterable[str] | None = None,
        ips: Iterable[str] | None = None,
        start=None,
        end=None,
    ) -> Scope:
        return cls(
            _names(principals),
            _names(credentials),
            _names(runners),
            _names(ips),
            parse_user_time(start),
            parse_user_time(end),
        )

    def params(self) -> dict:
        return {
            "principals": self.principals or None,
            "credentials": self.credentials or None,
            "runners": self.runners or None,
            "ips": self.ips or None,
            "start": self.start,
            "end": self.end,
        }

    def describe(self) -> str:
        parts = [
            f"{name}: {', '.join(vals)}"
            for name, vals in (
                ("principals", self.principals),
                ("credentials", self.credentials),
                ("runners", self.runners),
                ("source IPs", self.ips),
            )
            if vals
        ]
        window = f"window {self.start or 'start of evidence'} to {self.end or 'end of evidence'} (UTC)"
        return (
            "; ".join(parts + [window])
            if parts
            else f"no scope given: every credential in the case; {window}"
        )


def _names(values: Iterable[str] | str | None) -> list[str]:
    """A list of names; one string is read as a comma-separated list."""
    if values is None:
        return []
    if isinstance(values, str):
        values = values.split(",")
    return [v.strip() for v in values if v and str(v).strip()]


def build(case, scope: Scope | None = None, *, scan: bool = True) -> pl.DataFrame:
    """The checklist rows, ordered by risk. ``scan`` rebuilds ``secret_exposures`` first (it needs
    a writable case; pass ``scan=False`` on a read-only case that was scanned before)."""
    scope = scope or Scope()
    if scan and not case.read_only:
        secrets.scan(case.con)
    df = case.query("credentials/checklist", **scope.params())
    return df.with_columns(pl.Series("deployed", _deployed(case, df), dtype=pl.List(pl.String)))


def _deployed(case, df: pl.DataFrame) -> list[list[str]]:
    """Deploys of the artifacts each credential pushed or built, when the case has a ``deploys`` table."""
    cols = set(
        case.sql("SELECT column_name FROM information_schema.columns WHERE table_name = 'deploys'")
        .get_column("column_name")
        .to_list()
    )
    digest_col = next((c for c in ("artifact_digest", "digest", "image_digest") if c in cols), None)
    if digest_col is None or df.height == 0:
        return [[] for _ in range(df.height)]
    what = [c for c in ("service", "environment", "time") if c in cols]
    label = " || ' ' || ".join([f"coalesce(CAST(d.{c} AS VARCHAR), '?')" for c in what] or ["'deploy'"])
    pairs = df.select("credential_id", "artifacts").explode("artifacts").drop_nulls()
    if pairs.height == 0:
        return [[] for _ in range(df.height)]
    found = case.sql(
        f"""SELECT p.credential_id, list(DISTINCT {label} || ' ' || d.{digest_col}) AS deployed
            FROM (SELECT unnest($ids) AS credential_id, unnest($digests) AS digest) p
            JOIN deploys d ON d.{digest_col} = p.digest GROUP BY p.credential_id""",
        {
            "ids": pairs.get_column("credential_id").to_list(),
            "digests": pairs.get_column("artifacts").to_list(),
        },
    )
    by_id = (
        dict(
            zip(
                found.get_column("credential_id").to_list(),
                found.get_column("deployed").to_list(),
                strict=True,
            )
        )
        if found.height
        else {}
    )
    return [sorted(by_id.get(cid) or []) for cid in df.get_column("credential_id").to_list()]


@dataclass
class Written:
    markdown: Path
    json: Path
    csv: Path
    plan_csv: Path | None = None


def write(
    df: pl.DataFrame,
    scope: Scope,
    out_dir: str | Path,
    stem: str = "credential_revocation",
    *,
    case=None,
) -> Written:
    """Write ``<stem>.md``, ``<stem>.json``, ``<stem>.csv`` (credentials) and ``<stem>_plan.csv``
    (the order of work) into ``out_dir``. With ``case``, persistence and exposure items of the
    credentials in ``df`` are included (``actions.items``)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    acts = items(case, df.get_column("credential_id").to_list()) if case is not None and df.height else None
    md = out / f"{stem}.md"
    md.write_text(to_markdown(df, scope, acts), encoding="utf-8")
    js = out / f"{stem}.json"
    js.write_text(to_json(df, scope, acts), encoding="utf-8")
    cs = to_csv(df, out / f"{stem}.csv")
    pc = plan_to_csv(plan(df, acts if acts is not None else pl.DataFrame()), out / f"{stem}_plan.csv")
    return Written(md, js, cs, pc)


def work(case, df: pl.DataFrame) -> pl.DataFrame:
    """The order of work as a table (one row per step) for a report: ``actions.plan`` over the rows
    and the persistence and exposure items of their credentials."""
    acts = items(case, df.get_column("credential_id").to_list()) if df.height else None
    rows = plan(df, acts if acts is not None else pl.DataFrame())
    cols = ["order", "phase", "subject", "command", "does", "breaks", "verify", "why"]
    return pl.DataFrame(
        [
            {c: r.get(c) if c != "subject" else "; ".join([r["subject"], *r["also_for"]]) for c in cols}
            for r in rows
        ],
        schema={c: (pl.Int64 if c == "order" else pl.String) for c in cols},
    )


def status_counts(df: pl.DataFrame) -> pl.DataFrame:
    """How many credentials have each status, with uses after revocation and expiry."""
    return (
        df.group_by("status")
        .agg(
            pl.len().alias("credentials"),
            pl.col("uses_after_revocation").sum(),
            pl.col("uses_after_expiry").sum(),
        )
        .sort("status")
    )


def blast_radius(df: pl.DataFrame) -> pl.DataFrame:
    """What each credential reached: privileges, services, targets, artifacts and deploys."""
    return df.select(
        "risk_rank",
        "credential_id",
        *[
            pl.col(c).list.join(", ").alias(c)
            for c in (
                "privileges_seen",
                "denied_actions",
                "not_found_actions",
                "throttled_actions",
                "error_actions",
                "services",
                "targets",
                "artifacts",
                "deployed",
                "src_ips",
                "scope_reasons",
            )
        ],
        "distinct_targets",
    )


def commands_table(df: pl.DataFrame) -> pl.DataFrame:
    """One row per revoke command template, highest risk first (done rows last)."""
    rows = [
        {
            "risk_rank": r["risk_rank"],
            "status": r["status"],
            "credential_id": r["credential_id"],
            "command": cmd,
        }
        for r in df.to_dicts()
        for cmd in revoke_commands(r)
    ]
    schema = {"risk_rank": pl.Int64, "status": pl.String, "credential_id": pl.String, "command": pl.String}
    return pl.DataFrame(rows, schema=schema).sort(pl.col("status") == "revoked", "risk_rank")


INVARIANTS = ("credential_used_after_revocation", "expired_credential_used")


def invariant_violations(case) -> dict[str, pl.DataFrame]:
    """The two credential invariants (empty frames when healthy)."""
    return {name: case.query(f"invariants/{name}") for name in INVARIANTS}


def summary(df: pl.DataFrame) -> pl.DataFrame:
    """The columns a report table shows, one row per credential."""
    return df.select(
        "risk_rank",
        "status",
        "state",
        "kind",
        "credential_id",
        "principal",
        "identity_type",
        pl.col("rank_reasons").list.join("; ").alias("why"),
        "lifetime",
        "expires_at",
        "uses",
        "first_use",
        "last_use",
        pl.col("services").list.join(", "),
        "distinct_targets",
        pl.col("artifacts").list.len().alias("artifacts"),
        "exposures",
        "revoked_at",
        "revoked_how",
        "uses_after_revocation",
        "uses_after_expiry",
        "instance_role_uses_outside_aws",
        "risk_score",
    )
