"""Persistence and exposure as checklist items, and the order of work.

``items(case, credentials)`` runs ``queries/credentials/actions.sql`` for the credentials in scope and
gives one item per thing the attacker created or changed (with its undo command) and per secret,
parameter, KMS key or S3 bucket it read (with "rotate" and who else reads it). ``plan(rows, items)``
orders everything as a responder acts: contain the live paths (revoke credentials, highest rank
first), undo persistence, rotate what was read or exposed, then clean up (delete what was only
deactivated, once the evidence is kept).
"""

from __future__ import annotations

from typing import Any

import polars as pl

from forensics.checklist.commands import PHASES, steps
from forensics.checklist.undo import rotate_step, undo_steps


def items(case, credentials: list[str]) -> pl.DataFrame:
    """Persistence and exposure items of the credentials in scope, with their commands."""
    schema: dict[str, Any] = {
        "phase": pl.String,
        "item": pl.String,
        "what": pl.String,
        "credential_id": pl.String,
        "actor": pl.String,
        "first_time": pl.Datetime("us", "UTC"),
        "events": pl.List(pl.String),
        "bytes_out": pl.Float64,
        "also_read_by": pl.List(pl.String),
        "steps": pl.List(
            pl.Struct({k: pl.String for k in ("phase", "command", "does", "breaks", "verify", "doc")})
        ),
    }
    if not credentials:
        return pl.DataFrame(schema=schema)
    raw = case.query("credentials/actions", credentials=list(credentials))
    out = []
    for r in raw.filter(pl.col("phase") == "persistence").to_dicts():
        what = " ".join(
            str(v)
            for v in (
                r["action"],
                r.get("user_name") or r.get("role_name") or r.get("group_name") or r.get("k8s_name"),
                r.get("policy_arn")
                or r.get("policy_name")
                or r.get("access_key_id")
                or r.get("serial_number")
                or r.get("key_name"),
            )
            if v
        )
        out.append(
            {
                "phase": "persistence",
                "item": r["item"],
                "what": what,
                "credential_id": r["credential_id"],
                "actor": r["actor"],
                "first_time": r["time"],
                "events": [r["event_id"]],
                "bytes_out": None,
                "also_read_by": [],
                "steps": [s.as_dict() for s in undo_steps(r)],
            }
        )
    exp = raw.filter(pl.col("phase") == "rotate")
    if exp.height:
        # one item per secret/parameter/key; S3 objects grouped per bucket, with the bytes that left
        exp = exp.with_columns(
            pl.when(pl.col("item") == "s3_object")
            .then(pl.col("resource").str.extract(r"^(s3://[^/]+)/", 1))
            .otherwise(pl.col("resource"))
            .alias("what")
        )
        grouped = exp.group_by("item", "what", maintain_order=True).agg(
            pl.col("credential_id").first(),
            pl.col("actor").first(),
            pl.col("region").first(),
            pl.col("time").min().alias("first_time"),
            pl.col("event_id").alias("events"),
            pl.col("bytes_out").sum().alias("bytes_out"),
            pl.col("resource").unique().sort().alias("resources"),
            pl.col("also_read_by").explode().drop_nulls().unique().sort().alias("also_read_by"),
        )
        for g in grouped.to_dicts():
            desc = g["what"]
            if g["item"] == "s3_object":
                desc = f"{g['what']}: {len(g['resources'])} objects ({', '.join(g['resources'][:5])})"
                if g["bytes_out"]:
                    desc += f", {int(g['bytes_out'])} bytes out"
            out.append(
                {
                    "phase": "rotate",
                    "item": g["item"],
                    "what": desc,
                    "credential_id": g["credential_id"],
                    "actor": g["actor"],
                    "first_time": g["first_time"],
                    "events": g["events"],
                    "bytes_out": g["bytes_out"] if g["item"] == "s3_object" else None,
                    "also_read_by": g["also_read_by"] or [],
                    "steps": [rotate_step(g["item"], g["what"], g["region"]).as_dict()],
                }
            )
    return pl.DataFrame(out, schema=schema)


def plan(rows: pl.DataFrame, acts: pl.DataFrame) -> list[dict]:
    """Every step in the order a responder acts: phase (contain, persistence, rotate, cleanup), then
    the credential's rank or the item's time. Credentials already revoked with no successful use
    after it need nothing but their clean-up."""
    work: list[tuple[int, float, dict]] = []
    for r in rows.to_dicts():
        done = r.get("status") == "revoked" and not r.get("successful_uses_after_revocation")
        deleted = any(str(e).startswith("deleted ") for e in r.get("state_events") or [])
        for s in steps(r):
            if done and (s.phase == "contain" or deleted):  # nothing left to do for it
                continue
            phase = s.phase
            work.append(
                (
                    PHASES.index(phase),
                    float(r.get("risk_rank") or 0),
                    {
                        **s.as_dict(),
                        "phase": phase,
                        "subject": f"{r.get('kind')} {r.get('credential_id')}",
                        "why": "; ".join(r.get("rank_reasons") or []) or None,
                        "rank": r.get("risk_rank"),
                    },
                )
            )
    for i, a in enumerate(acts.to_dicts()):
        for s in a["steps"]:
            work.append(
                (
                    PHASES.index(s["phase"]),
                    1e9 + i,
                    {
                        **s,
                        "subject": f"{a['item']} {a['what']}",
                        "why": f"{a['actor']} with {a['credential_id']}"
                        + (f"; also read by {', '.join(a['also_read_by'])}" if a["also_read_by"] else ""),
                        "rank": None,
                    },
                )
            )
    work.sort(key=lambda w: (w[0], w[1]))
    # one command serves several credentials (a user-level session deny covers all of its sessions):
    # it is listed once, at its most urgent place, naming every credential it covers
    merged: dict[str, dict] = {}
    for _, _, w in work:
        key = w["command"]
        if key in merged and not key.startswith("#"):
            merged[key]["also_for"].append(w["subject"])
        else:
            merged[key if key not in merged else f"{key}#{len(merged)}"] = {**w, "also_for": []}
    return [{"order": n + 1, **w} for n, w in enumerate(merged.values())]
