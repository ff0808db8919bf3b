"""The credential-revocation checklist: every credential the incident touched, what it could
reach, and whether it is proven revoked.

``build`` scans the case for exposed secrets (``forensics.secrets``) and runs
``queries/credentials/checklist.sql`` with the scope the responder gives (principals, credentials,
runners, source addresses, window). Each row carries the credential's kind and lifetime class,
privileges and blast radius seen, first and last use, revocation evidence (an event in the case,
or the status ``not proven revoked``), use after revocation or expiry, and a risk rank.

``write`` renders the same rows as Markdown (checkboxes ordered by risk, with a revoke command
template per provider), JSON and CSV. Every value from evidence is escaped for Markdown
(``forensics.display.md_text``) or shell-quoted in command templates; secrets appear only in
their redacted form (the tables hold nothing else).
"""

from __future__ import annotations

import csv
import json
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from forensics import secrets
from forensics.display import clean, md_text
from forensics.redact import redact_value
from forensics.safe import csv_cell, json_text
from forensics.timewindow import parse_user_time


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


# --------------------------------------------------------------------------------------------
# revoke command templates


def _arn_name(arn: str | None, kind: str) -> str | None:
    """The user or role name in an IAM/STS ARN (``user/NAME``, ``role/NAME``, ``assumed-role/NAME/session``)."""
    if not arn:
        return None
    marker = {"user": ":user/", "role": ":role/", "assumed-role": ":assumed-role/"}[kind]
    if marker not in arn:
        return None
    return arn.split(marker, 1)[1].split("/")[-1 if kind == "user" else 0]


def _q(value: str | None, placeholder: str) -> str:
    """A shell-quoted value from evidence (control characters removed), or a placeholder to fill in."""
    return shlex.quote(clean(value, None)) if value else placeholder


def revoke_commands(row: dict, now: datetime | None = None) -> list[str]:
    """Command templates that revoke one credential at its provider. Values from evidence are
    shell-quoted; ``<ANGLE>`` placeholders are what the responder must fill in. Run them only
    after reading them."""
    kind, cid, principal = row.get("kind") or "", row.get("credential_id"), row.get("principal")
    # without ``now`` the shell takes the time when the command runs: tokens minted between this
    # report and the revocation are denied too, and the checklist's bytes do not depend on the clock
    if kind == "aws_access_key" and cid and cid.startswith("AKIA"):
        user = _q(_arn_name(principal, "user"), "<USER_NAME>")
        key = _q(cid, "<ACCESS_KEY_ID>")
        return [
            f"aws iam update-access-key --user-name {user} --access-key-id {key} --status Inactive",
            f"aws iam delete-access-key --user-name {user} --access-key-id {key}",
        ]
    if kind == "aws_temporary_key" or (cid or "").startswith("ASIA"):
        role = _q(_arn_name(principal, "assumed-role") or _arn_name(principal, "role"), "<ROLE_NAME>")
        policy = json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Action": "*",
                        "Resource": "*",
                        "Condition": {
                            "DateLessThan": {
                                "aws:TokenIssueTime": now.strftime("%Y-%m-%dT%H:%M:%SZ") if now else "__NOW__"
                            }
                        },
                    }
                ],
            },
            separators=(",", ":"),
        )
        cmds = [
            f"aws iam put-role-policy --role-name {role} --policy-name AWSRevokeOlderSessions "
            f"--policy-document "
            + shlex.quote(policy).replace("__NOW__", "'\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\"'")
        ]
        if row.get("issued_by"):
            cmds.append(f"# and revoke the credential that minted it: {clean(row['issued_by'], 120)}")
        return cmds
    if kind in ("github_pat", "github_oauth", "github_token"):
        return [
            "gh api --method POST /credentials/revoke -f 'credentials[]=<THE_TOKEN>'",
            f"# or the owner ({clean(principal, 80) or '<USER>'}) deletes it: Settings > Developer settings > "
            "Personal access tokens; for an organization: gh api --method POST "
            "/orgs/<ORG>/personal-access-tokens/<PAT_ID> -f action=revoke",
        ]
    if kind == "github_deploy_key":
        return [f"gh repo deploy-key delete {_q(cid, '<KEY_ID>')} --repo <OWNER/REPO>"]
    if kind in ("github_app", "github_installation"):
        return [
            f"gh api --method DELETE /app/installations/{_q(cid, '<INSTALLATION_ID>')}  # with the app's JWT",
            "# an installation token expires within an hour; suspend the installation to stop new ones:",
            f"gh api --method PUT /app/installations/{_q(cid, '<INSTALLATION_ID>')}/suspended",
        ]
    if kind == "k8s_service_account_token" or (principal or "").startswith("system:serviceaccount:"):
        parts = (principal or "").split(":")
        ns, sa = (parts[2], parts[3]) if len(parts) == 4 else (None, None)
        nsq, saq = _q(ns, "<NAMESPACE>"), _q(sa, "<SERVICE_ACCOUNT>")
        return [
            f"kubectl -n {nsq} get secrets --field-selector type=kubernetes.io/service-account-token "
            f"-o json | jq -r '.items[] | select(.metadata.annotations[\"kubernetes.io/service-account.name\"]=={shlex.quote(json.dumps(sa or '<SERVICE_ACCOUNT>'))[1:-1]}) | .metadata.name'",
            f"kubectl -n {nsq} delete secret <TOKEN_SECRET_NAME>",
            "# bound (TokenRequest) tokens die with their service account: recreate it to rotate them",
            f"kubectl -n {nsq} delete serviceaccount {saq} && kubectl -n {nsq} create serviceaccount {saq}",
        ]
    if kind == "k8s_client_certificate" or (cid or "").startswith("X509SHA256="):
        return [
            "# a client certificate cannot be revoked alone: remove its RBAC bindings, then rotate the CA",
            f"kubectl get clusterrolebindings,rolebindings -A -o wide | grep -F -- {_q(principal, '<USER>')}",
        ]
    if kind == "gcp_service_account_key":
        return [
            f"gcloud iam service-accounts keys disable {_q(cid, '<KEY_ID>')} --iam-account {_q(principal, '<SA_EMAIL>')}",
            f"gcloud iam service-accounts keys delete {_q(cid, '<KEY_ID>')} --iam-account {_q(principal, '<SA_EMAIL>')}",
        ]
    if kind == "gitlab_pat":
        return [
            "curl --request POST --header 'PRIVATE-TOKEN: <ADMIN_TOKEN>' "
            "'https://<GITLAB_HOST>/api/v4/personal_access_tokens/<TOKEN_ID>/revoke'"
        ]
    if kind == "slack_token":
        return ["curl -X POST -H 'Authorization: Bearer <THE_TOKEN>' https://slack.com/api/auth.revoke"]
    if kind == "private_key":
        return [
            "# remove the public half wherever it is trusted (authorized_keys, deploy keys, IdP) and issue a new key"
        ]
    if kind == "jwt":
        return [
            "# rotate the signing key of the issuer, or revoke the session it belongs to; a JWT cannot be revoked alone"
        ]
    return ["# no template for this kind: revoke it at its issuer"]


# --------------------------------------------------------------------------------------------
# exports


def export_rows(df: pl.DataFrame) -> list[dict]:
    """The rows as plain JSON-ready dicts (times as ISO 8601 UTC), with their revoke commands, every
    string redacted (``forensics.redact``)."""
    out = []
    for row in df.to_dicts():
        rec = {k: (v.astimezone(UTC).isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}
        rec["revoke_commands"] = revoke_commands(row)
        out.append(redact_value(rec))
    return out


def to_json(df: pl.DataFrame, scope: Scope) -> str:
    """The checklist as JSON for people: redacted, with C1 and bidi characters escaped."""
    return json_text(
        json.dumps(
            {
                "scope": scope.describe(),
                "credentials": export_rows(df),
            },
            indent=2,
            ensure_ascii=False,
        )
    )


def to_csv(df: pl.DataFrame, path: Path) -> Path:
    """The checklist as CSV: redacted, every cell safe to open in a spreadsheet (``safe.csv_cell``)."""
    rows = export_rows(df)
    cols = list(df.columns) + ["revoke_commands"]
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(cols)
        for r in rows:
            w.writerow(
                [
                    csv_cell(
                        "; ".join(str(x) for x in r[c])
                        if isinstance(r[c], list)
                        else ("" if r[c] is None else r[c])
                    )
                    for c in cols
                ]
            )
    return path


def _md_list(values, limit: int = 8) -> str:
    values = list(values or [])
    shown = ", ".join(md_text(v, 120) for v in values[:limit])
    return (
        shown + (f" (+{len(values) - limit} more)" if len(values) > limit else "") if values else "none seen"
    )


def _md_time(t) -> str:
    return (
        md_text(t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")) if isinstance(t, datetime) else "unknown"
    )


def to_markdown(df: pl.DataFrame, scope: Scope) -> str:
    """The checklist as Markdown: one checkbox per credential, highest risk first. A box is ticked
    only for a credential whose revocation event is in the case."""
    lines = [
        "# Credential revocation checklist",
        "",
        f"Scope: {md_text(scope.describe(), None)}",
        "",
        "Generated by forensics; when: see the run's statement (docs/attestation.md). "
        "A box is ticked only when the revocation event is in the evidence; re-run after acting.",
        "",
    ]
    if df.height == 0:
        lines.append("No credential is in scope.")
        return "\n".join(lines) + "\n"
    for row in df.to_dicts():
        box = "x" if row["status"] == "revoked" else " "
        lines.append(
            f"- [{box}] **{row['risk_rank']}.** `{md_text(row['kind'], 60)}` "
            f"{md_text(row['credential_id'], 120)} of {md_text(row['principal'] or 'unknown principal', 160)}: "
            f"**{md_text(row['status'])}** (risk {row['risk_score']})"
        )
        sub = [
            f"lifetime: {md_text(row['lifetime'])}"
            + (f", expires {_md_time(row['expires_at'])}" if row["expires_at"] else "")
            + (f", issued {_md_time(row['issued_at'])}" if row["issued_at"] else "")
            + (f" by {md_text(row['issued_by'], 120)}" if row["issued_by"] else ""),
            f"in scope because: {_md_list(row['scope_reasons'])}",
            f"used {row['uses']} times ({row['successful_uses']} successful), first {_md_time(row['first_use'])}, "
            f"last {_md_time(row['last_use'])}, from {_md_list(row['src_ips'])}",
            f"privileges seen: {_md_list(row['privileges_seen'])}; denied: {_md_list(row['denied_actions'])}",
            f"blast radius: services {_md_list(row['services'])}; {row['distinct_targets']} distinct targets "
            f"({_md_list(row['targets'], 5)}); artifacts {_md_list(row['artifacts'])}; deployed {_md_list(row['deployed'])}",
        ]
        if row["exposures"]:
            sub.append(
                f"exposed {row['exposures']} times as {_md_list(row['exposed_as'])} in {_md_list(row['exposed_in'], 4)}"
            )
        if row["status"] == "revoked":
            sub.append(
                f"revoked {_md_time(row['revoked_at'])} by {md_text(row['revoked_how'], 160)} "
                f"(event {md_text(row['revocation_event_id'], 80)})"
            )
        else:
            sub.append(
                "revocation: "
                + md_text(row["revocation_note"] or "no revocation event in the evidence", None)
            )
        if row["uses_after_revocation"]:
            sub.append(
                f"**used {row['uses_after_revocation']} times after revocation "
                f"({row['successful_uses_after_revocation']} successful)**"
            )
        if row["uses_after_expiry"]:
            sub.append(
                f"**used {row['uses_after_expiry']} times after expiry "
                f"({row['successful_uses_after_expiry']} successful)**"
            )
        if row["instance_role_uses_outside_aws"]:
            sub.append(
                f"**instance-role session used {row['instance_role_uses_outside_aws']} times from outside AWS "
                f"({_md_list(row['src_ips'])})**"
            )
        lines += [f"  - {s}" for s in sub]
        lines += (
            ["  - revoke:", "", "    ```sh"]
            + [f"    {clean(c, None)}" for c in revoke_commands(row)]
            + ["    ```", ""]
        )
    return "\n".join(lines) + "\n"


@dataclass
class Written:
    markdown: Path
    json: Path
    csv: Path


def write(
    df: pl.DataFrame, scope: Scope, out_dir: str | Path, stem: str = "credential_revocation"
) -> Written:
    """Write ``<stem>.md``, ``<stem>.json`` and ``<stem>.csv`` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    md = out / f"{stem}.md"
    md.write_text(to_markdown(df, scope), encoding="utf-8")
    js = out / f"{stem}.json"
    js.write_text(to_json(df, scope), encoding="utf-8")
    cs = to_csv(df, out / f"{stem}.csv")
    return Written(md, js, cs)


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
        "kind",
        "credential_id",
        "principal",
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
