"""The findings runner: every detector in ``queries/findings/`` and every invariant that fires become
rows of the ``findings`` table (docs/findings.md). Set-based: each detector is one INSERT ... SELECT,
written inside one transaction per detector after deleting that detector's rows."""

from __future__ import annotations

import re
from typing import Any

import duckdb

from forensics import queries

SEVERITY_RANK = {"critical": 4, "high": 3, "medium": 2, "low": 1, "info": 0}

#: Detector output columns, in order (docs/findings.md, "Adding a detector").
COLUMNS = (
    "group_key", "rule_id", "time", "end", "severity", "title", "summary", "technique",
    "entities", "evidence", "matches", "attributes",
)  # fmt: skip

#: Invariants as findings: severity, ATT&CK technique and title of each (docs/findings.md).
INVARIANTS = {
    "credential_used_after_revocation": ("high", "T1078.004", "Credential used after its revocation"),
    "expired_credential_used": ("medium", "T1078.004", "Credential used after its expiry"),
    "double_apply": ("high", None, "Request applied twice after a client timeout"),
    "provenance_attestation_failed": ("high", "T1195.002", "Attestation failed verification"),
    "provenance_deploy_outside_pipeline": ("high", "T1072", "Deploy made outside the pipeline"),
    "provenance_deploy_without_attestation": ("high", "T1525", "Deployed code has no provenance"),
    "provenance_downgrade": ("high", "T1525", "Provenance downgrade"),
    "provenance_mixed_versions": ("low", None, "Mixed versions past the rollout window"),
    "provenance_rollback_unverified": ("low", None, "Rollback to a digest with no verified attestation"),
    "provenance_unexpected_identity": ("high", "T1195.002", "Attestation signed by an unexpected identity"),
}
#: Invariant columns that name entities, and the entity kind of each.
_ENTITY_COLUMNS = {
    "credential_id": "credential", "principal": "actor", "actor": "actor", "src_ip": "ip",
    "service": "service", "artifact_digest": "artifact", "request_key": "request",
}  # fmt: skip
#: The column whose value groups an invariant's rows into one finding, first present wins.
_GROUP_COLUMNS = ("credential_id", "request_key", "deploy_id", "attestation_id", "service")

_HEADER = re.compile(r"^--\s*@(\w+):\s*(.*?)\s*$")


def header(sql: str) -> dict[str, str]:
    """The ``-- @key: value`` lines of a query's leading comment block. A local stand-in for
    ``forensics.queries.header``, which the architecture branch adds."""
    out: dict[str, str] = {}
    for line in sql.splitlines():
        if not line.startswith("--"):
            break
        m = _HEADER.match(line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def detector_names() -> list[str]:
    return sorted(n.split("/", 1)[1] for n in queries.names() if n.startswith("findings/"))


def _insert(con: duckdb.DuckDBPyConnection, detector: str, select_sql: str, params: dict) -> int:
    """Replace ``detector``'s rows with ``select_sql`` (columns as COLUMNS), in one transaction."""
    ranks = " ".join(f"WHEN '{k}' THEN {v}" for k, v in SEVERITY_RANK.items())
    sql = f"""INSERT INTO findings
        SELECT 'F-' || left(sha256($detector || '|' || rule || '|' || group_key), 16), $detector, rule, time, "end",
               sev, CASE sev {ranks} END, fx_redact(coalesce(title, $title)), fx_redact(summary),
               coalesce(technique, $technique), entities, evidence, matches,
               CAST(fx_redact(CAST(attributes AS VARCHAR)) AS JSON)  -- text shown as is: redacted (issue 16)
        FROM (SELECT d.*, coalesce(CAST(d.rule_id AS VARCHAR), $rule) AS rule,
                     coalesce(CAST(d.severity AS VARCHAR), $severity) AS sev
              FROM ({select_sql}) d)"""
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM findings WHERE detector = $d", {"d": detector})
        con.execute(sql, params)
        n = con.execute("SELECT count(*) FROM findings WHERE detector = $d", {"d": detector}).fetchall()[0][0]
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return n


def run_detector(con: duckdb.DuckDBPyConnection, name: str) -> int:
    """Run ``queries/findings/<name>.sql`` and store its findings; returns how many."""
    sql = queries.load(f"findings/{name}")
    h = header(sql)
    body = "\n".join(ln for ln in sql.splitlines() if not ln.lstrip().startswith("--"))
    wanted = queries.parameters(sql)
    params = {k: None for k in wanted} | {
        "detector": name,
        "rule": name,
        "title": h.get("title", name),
        "severity": h.get("severity", "medium"),
        "technique": h.get("technique"),
    }
    return _insert(con, name, f"SELECT {', '.join(_q(c) for c in COLUMNS)} FROM ({body})", params)


def _q(col: str) -> str:
    return f'"{col}"'


def run_invariants(con: duckdb.DuckDBPyConnection, policy: dict[str, Any] | None = None) -> int:
    """Every invariant that fires becomes findings of detector ``invariant`` (rule_id: its name), one per
    credential, request, deploy or attestation it names. Its severity and technique are in INVARIANTS.
    Their parameters come from ``policy`` when given, else from the policy stored in the case (issue 16:
    every consumer uses the stored policy)."""
    from forensics.provenance import invariant_params
    from forensics.verify import stored_policy

    bound = invariant_params(policy if policy is not None else stored_policy(con))
    parts = []
    for name in queries.invariant_names():
        sql = queries.load(f"invariants/{name}").strip().rstrip(";")
        con.execute(f"DESCRIBE SELECT * FROM ({sql}) LIMIT 0", {k: None for k in queries.parameters(sql)})
        cols = {r[0] for r in con.fetchall()}
        parts.append(_invariant_select(name, sql, cols))
    union = " UNION ALL ".join(p for p, _ in parts)
    wanted = set().union(*(queries.parameters(p) for p, _ in parts)) - {
        "detector",
        "rule",
        "title",
        "severity",
    }
    params = {k: bound.get(k) for k in wanted} | {
        "detector": "invariant", "rule": "invariant", "title": "Invariant violated", "severity": "medium",
        "technique": None,
    }  # fmt: skip
    return _insert(con, "invariant", union, params)


def _invariant_select(name: str, sql: str, cols: set[str]) -> tuple[str, None]:
    severity, technique, title = INVARIANTS.get(name, ("medium", None, name.replace("_", " ")))
    group = next((c for c in _GROUP_COLUMNS if c in cols), None)
    key = f'CAST(v."{group}" AS VARCHAR)' if group else "'all'"
    t0 = next((c for c in ("time", "first_applied_at", "mixed_from") if c in cols), None)
    t1 = next((c for c in ("time", "second_applied_at", "mixed_until") if c in cols), None)
    ents = [
        f"list(DISTINCT struct_pack(kind := '{k}', id := CAST(v.\"{c}\" AS VARCHAR)))"
        for c, k in _ENTITY_COLUMNS.items()
        if c in cols
    ]
    ev = []
    if "event_id" in cols:
        ev.append("list(struct_pack(kind := 'event', id := v.event_id))")
    if "deploy_id" in cols:
        ev.append("list(struct_pack(kind := 'deploy', id := v.deploy_id))")
    if "attestation_id" in cols:
        ev.append("list(struct_pack(kind := 'attestation', id := v.attestation_id))")
    if "side_effect_span_ids" in cols:
        # A double-apply's side effects share the logical request's trace in every case seen; the
        # first trace id names them (the invariant keeps up to five).
        ev.append(
            "flatten(list([struct_pack(kind := 'span', id := v.trace_ids[1] || ':' || s)"
            " FOR s IN v.side_effect_span_ids]))"
        )
    if "revoked_event_id" in cols:
        ev.append("list(DISTINCT struct_pack(kind := 'event', id := v.revoked_event_id))")
    reason = "string_agg(DISTINCT v.reason, '; ')" if "reason" in cols else "NULL"
    summary = f"count(*) || ' violation(s) of {name}' || coalesce(': ' || {reason}, '')"
    if name == "double_apply":
        summary = (
            "'request ' || any_value(v.request_key) || ' applied ' || max(v.applies) || ' times ('"
            " || array_to_string(flatten(list(v.side_effects)), ', ') || ') after ' || max(v.client_timeouts)"
            " || ' client timeout(s)'"
        )
    elif name in ("credential_used_after_revocation", "expired_credential_used"):
        summary = (
            "any_value(v.credential_id) || ' used ' || count(*) || ' time(s) after ' || "
            + ("'revocation (' || any_value(v.revoked_how) || ')'" if "revoked_how" in cols else "'expiry'")
            + " || ': ' || string_agg(DISTINCT v.action || ' ' || v.outcome, ', ')"
        )
    sev = f"'{severity}'"
    if name == "credential_used_after_revocation":
        sev = "CASE WHEN bool_or(v.outcome = 'success') THEN 'critical' ELSE 'high' END"
    named = next(
        (c for c in ("credential_id", "request_key", "service", "attestation_id") if c in cols), None
    )
    title_key = f"coalesce(any_value(CAST(v.\"{named}\" AS VARCHAR)), '')" if named else "''"
    select = f"""SELECT {key} AS group_key, '{name}' AS rule_id,
            {f'min(v."{t0}")' if t0 else "NULL::TIMESTAMPTZ"} AS time,
            {f'max(v."{t1}")' if t1 else "NULL::TIMESTAMPTZ"} AS "end",
            {sev} AS severity, '{title}: ' || {title_key} AS title, {summary} AS summary,
            {f"'{technique}'" if technique else "NULL"} AS technique,
            list_filter({" || ".join(ents) or "[]"}, lambda x: x.id IS NOT NULL)::STRUCT(kind VARCHAR, id VARCHAR)[] AS entities,
            list_filter({" || ".join(ev) or "[]"}, lambda x: x.id IS NOT NULL)[1:500]::STRUCT(kind VARCHAR, id VARCHAR)[] AS evidence,
            count(*) AS matches, NULL::JSON AS attributes
        FROM ({sql}) v GROUP BY {key}"""
    return select, None
