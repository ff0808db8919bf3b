"""Writes ``sample_data/README.md``: the ground truth of the sample incident, from ``scenario``."""

from __future__ import annotations

from pathlib import Path

from forensics.sample import scenario as S


def write(out: Path, seed: int, scale: int, files: list[Path]) -> Path:
    lines = [
        '# Sample incident: "double charge" (2026-03-14, UTC)',
        "",
        "Synthetic and deterministic: made by `forensics sample --out sample_data --seed "
        f"{seed} --scale {scale}` from `forensics/sample/scenario.py`, which is the single source of these facts.",
        "Credentials and digests have real formats and fake values. Tests assert that the kit finds what is below.",
        "",
        "## Story",
        "",
        (S.__doc__ or "").split("The story\n---------\n", 1)[-1].strip(),
        "",
        "## Key events",
        "",
        "| time (UTC) | where | what |",
        "|---|---|---|",
    ]
    lines += [f"| {when:%H:%M:%S} | {where} | {what} |" for when, where, what in S.KEY_EVENTS]
    lines += [
        "",
        "## Credentials",
        "",
        "| credential | kind | principal | revoked | used after revoke | note |",
        "|---|---|---|---|---|---|",
    ]
    for c in S.CREDENTIALS:
        revoked = f"{c.revoked_at:%H:%M} ({c.revoked_how})" if c.revoked_at else "**never**"
        lines.append(
            f"| `{c.id}` | {c.kind} | `{c.principal}` | {revoked} | {c.used_after_revoke} | {c.note} |"
        )
    lines += [
        "",
        "## Deploys",
        "",
        "| time | service | version | digest | actor | via | action | provenance |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for d in S.DEPLOYS:
        prov = "signed SLSA v1" if d.image.workflow else "**none**"
        lines.append(
            f"| {d.time:%H:%M} | {d.service} | {d.image.version} | `{d.image.digest[:19]}…` | {d.actor} "
            f"| {d.via} | {d.action} | {prov} |"
        )
    lines += [
        "",
        "## Payments traffic",
        "",
        f"- checkout's client timeout is {S.CLIENT_TIMEOUT_MS} ms; payments is slow from "
        f"{S.PAYMENTS_SLOW_FROM:%H:%M} to {S.PAYMENTS_SLOW_UNTIL:%H:%M}.",
        f"- {S.RETRIED_CALLS} client calls time out and are retried once each, with no idempotency key.",
        f"- exactly one charge is applied twice: order `{S.DOUBLE_CHARGE_ORDER}` at {S.DOUBLE_CHARGE_TIME:%H:%M:%S}.",
        f"- metric `{S.EXPLOSION_METRIC}` gains label `{S.EXPLOSION_LABEL}` at {S.EXPLOSION_START:%H:%M}: a cardinality explosion.",
        "",
        "## Runtime drift",
        "",
        f"- pod snapshots (`kubectl get pods -n {S.NAMESPACE} -o json`) at "
        + ", ".join(f"{x:%H:%M}" for x in S.POD_SNAPSHOTS)
        + "; at the first every payments pod runs the digest deployed at "
        + f"{S.ROGUE_DEPLOY.time:%H:%M} (no drift).",
        f"- drift: {S.DRIFT}.",
    ]
    lines += _prologue()
    lines += ["", "## Files", ""]
    lines += [f"- `{p.relative_to(out)}`" for p in sorted(files)]
    path = out / "README.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _prologue() -> list[str]:
    """The identity-provider prologue, the export in VPC Flow Logs and the GuardDuty finding."""
    lines = [
        "",
        "## Identity-provider prologue (Okta)",
        "",
        f"`{S.CI_ADMIN}` owns deploy-bot and administers the CI runners. Session "
        f"`{S.OKTA_PHISHED_SESSION}` is the phished one (`idp/okta-system-log.jsonl`).",
        "",
        "| time (UTC) | event | session | from | what |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {e.time:%H:%M:%S} | {e.event_type} | `{e.session}` | {e.ip} | {e.what} |" for e in S.IDP_EVENTS
    ]
    lines += [
        "",
        "## Network and detector evidence",
        "",
        f"- VPC Flow Logs: {len(S.EXFIL_FLOWS)} accepted flows from {S.EXFIL_SRC_IP} ({S.EXFIL_ENI}) to "
        f"{S.ATTACKER_IP}:{S.EXFIL_PORT}, {S.EXFIL_FLOWS[0][0]:%H:%M}-{S.EXFIL_FLOWS[-1][1]:%H:%M}, "
        f"{S.EXFIL_BYTES} bytes in all (the customer export).",
        f"- GuardDuty: one finding `{S.GUARDDUTY_TYPE}` (severity {S.GUARDDUTY_SEVERITY}, high) at "
        f"{S.GUARDDUTY_TIME:%H:%M} for `{S.TEMP_KEY}` from {S.ATTACKER_IP}.",
    ]
    return lines
