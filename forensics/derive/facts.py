"""The facts sources contribute to the derived tables, unioned (issue 14 part 4: loaders own their facts).

A source answers each fact hook of the contract (``forensics.sources.contract.Source``) with a SELECT over
the case, or None; ``{source}`` in it stands for the source's own name as a SQL literal. ``union(hook)``
is every source's answer, ``UNION ALL BY NAME``, each row tagged with the answering source as
``fact_source``, plus a typed empty row set so that a case without any such source still has the columns.
``derive/`` reads facts only through here: it never names a source.
"""

from __future__ import annotations

from forensics.sources import registry
from forensics.sources.contract import sql_str

#: Each hook's columns and their types (the empty row set a union starts from).
COLUMNS: dict[str, dict[str, str]] = {
    "credential_links_sql": {
        "credential_id": "VARCHAR",
        "issued_by": "VARCHAR",
        "issuer_principal": "VARCHAR",
        "principal": "VARCHAR",
        "how": "VARCHAR",
        "issued_at": "TIMESTAMPTZ",
        "expires_at": "TIMESTAMPTZ",
        "event_id": "VARCHAR",
    },
    "credential_states_sql": {
        "credential_id": "VARCHAR",
        "event_id": "VARCHAR",
        "time": "TIMESTAMPTZ",
        "change": "VARCHAR",
        "how": "VARCHAR",
        "listed": "BOOLEAN",
        "counts_as_use": "BOOLEAN",
    },
    "principal_revocations_sql": {
        "principal_like": "VARCHAR",
        "principal_regex": "VARCHAR",
        "credential_kind": "VARCHAR",
        "identity_type": "VARCHAR",
        "credential_like": "VARCHAR",
        "cutoff": "TIMESTAMPTZ",
        "time": "TIMESTAMPTZ",
        "event_id": "VARCHAR",
        "change": "VARCHAR",
        "how": "VARCHAR",
    },
    "credential_kinds_sql": {"credential_id": "VARCHAR", "kind": "VARCHAR"},
    "credential_sessions_sql": {
        "credential_id": "VARCHAR",
        "created": "TIMESTAMPTZ",
        "created_from": "VARCHAR",
        "identity_type": "VARCHAR",
        "role_arn": "VARCHAR",
        "console": "BOOLEAN",
    },
    "deploys_sql": {
        "event_id": "VARCHAR",
        "time": "TIMESTAMPTZ",
        "time_raw": "VARCHAR",
        "service": "VARCHAR",
        "environment": "VARCHAR",
        "instance": "VARCHAR",
        "version": "VARCHAR",
        "artifact_digest": "VARCHAR",
        "image": "VARCHAR",
        "actor": "VARCHAR",
        "via": "VARCHAR",
        "action": "VARCHAR",
        "status": "VARCHAR",
        "status_detail": "VARCHAR",
        "source": "VARCHAR",
        "evidence_sha256": "VARCHAR",
        "evidence_record": "BIGINT",
        "inferred": "BOOLEAN",
    },
    "identity_links_sql": {
        "kind": "VARCHAR",
        "id": "VARCHAR",
        "linked_kind": "VARCHAR",
        "linked_id": "VARCHAR",
        "same_principal": "BOOLEAN",
        "reason": "VARCHAR",
        "evidence_kind": "VARCHAR",
        "evidence_id": "VARCHAR",
    },
    "runtime_sql": {
        "event_id": "VARCHAR",
        "time": "TIMESTAMPTZ",
        "time_basis": "VARCHAR",
        "kind": "VARCHAR",
        "how": "VARCHAR",
        "cluster": "VARCHAR",
        "namespace": "VARCHAR",
        "workload": "VARCHAR",
        "pod": "VARCHAR",
        "container": "VARCHAR",
        "image": "VARCHAR",
        "image_digest": "VARCHAR",
        "state": "VARCHAR",
        "detail": "VARCHAR",
        "source": "VARCHAR",
        "evidence_sha256": "VARCHAR",
        "evidence_record": "BIGINT",
    },
    "ci_runs_sql": {},  # the ci_runs table's own columns: a source answering it selects them all
}


def answers(hook: str) -> list[tuple[str, str]]:
    """``(source name, SQL)`` of every registered source that answers ``hook``."""
    found = []
    for s in registry.all_sources():
        sql = getattr(s, hook)()
        if sql:
            found.append((s.name, sql.replace("{source}", sql_str(s.name))))
    return found


def union(hook: str) -> str:
    """A SELECT of every source's rows for ``hook`` with ``fact_source``, the source that gave each."""
    empty = ", ".join(f"CAST(NULL AS {t}) AS {c}" for c, t in COLUMNS[hook].items())
    parts = [f"SELECT {empty}{', ' if empty else ''}CAST(NULL AS VARCHAR) AS fact_source WHERE false"]
    parts += [f"SELECT *, {sql_str(name)} AS fact_source FROM ({sql})" for name, sql in answers(hook)]
    return "\nUNION ALL BY NAME\n".join(parts)
