"""Verification of a case: verdicts into ``attestations``, the stored policy, refresh after an ingest."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from typing import TYPE_CHECKING

import duckdb

from forensics.verified import DuplicateKey, column_differences, statement_columns
from forensics.verified import loads as strict_loads
from forensics.verify.model import (
    FAILED,
    INDETERMINATE,
    NOT_CHECKED,
    POLICY_META_KEY,
    VERIFIED,
    Policy,
    Verdict,
)
from forensics.verify.signing import _record_certificate, certificate_identity
from forensics.verify.verifier import KitVerifier

if TYPE_CHECKING:
    from forensics.case import Case


def _con(case_or_con: Case | duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    return getattr(case_or_con, "con", case_or_con)


def _name_hint(path: str | None) -> str | None:
    if not path:
        return None
    name = os.path.basename(path)
    for suffix in (".sigstore.json", ".sigstore", ".intoto.jsonl", ".jsonl", ".json"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def verify_case(
    case: Case | duckdb.DuckDBPyConnection, policy: dict | Policy | None, store: bool = True
) -> int:
    """Verify every attestation of the case against ``policy`` and write verdicts, reasons, trust
    root and signer identity into ``attestations``. The policy is kept in ``case_meta`` (unless
    ``store`` is false) so later ingests are verified the same way. Returns attestations checked."""
    con = _con(case)
    pol = policy if isinstance(policy, Policy) else Policy.from_dict(policy)
    if store and not isinstance(policy, Policy):
        con.execute(
            "INSERT OR REPLACE INTO case_meta VALUES (?, ?)",
            [POLICY_META_KEY, json.dumps(policy or {}, default=str)],
        ).fetchall()
    return _verify_rows(con, pol, only_unchecked=False)


def stored_policy(case: Case | duckdb.DuckDBPyConnection) -> dict | None:
    row = _con(case).execute("SELECT value FROM case_meta WHERE key = ?", [POLICY_META_KEY]).fetchall()
    return json.loads(row[0][0]) if row else None


def refresh(con: duckdb.DuckDBPyConnection) -> None:
    """After an ingest: verify new attestations with the stored policy, or, with none, record the
    signer identity only (the verdict stays indeterminate, "not checked yet")."""
    pol = stored_policy(con)
    _verify_rows(con, Policy.from_dict(pol) if pol is not None else None, only_unchecked=True)


def _with_artifact_files(con: duckdb.DuckDBPyConnection, pol: Policy) -> Policy:
    """The policy's known artifacts plus the artifact files hashed at ingest (``artifact_files``):
    a subject whose name is such a file must carry its sha256. The policy's own entries win."""
    files = con.execute("SELECT name, sha256 FROM artifact_files ORDER BY path").fetchall()
    if not files:
        return pol
    arts = {name: {"sha256": sha} for name, sha in files}
    arts.update(pol.artifacts)
    return replace(pol, artifacts=arts)


def _shown_from_verified(v: Verdict, shown: dict) -> Verdict:
    """A verified verdict stands only if the columns the table shows are the verified statement's."""
    if v.verdict != VERIFIED or v.statement is None:
        return v
    diff = column_differences(shown, statement_columns(v.statement))
    if not diff:
        return v
    return Verdict(
        FAILED,
        f"the signature verifies, but the table's {', '.join(diff)} differ from the verified statement "
        "(the record reads differently in another parser)",
        v.path,
        v.trust_root,
        v.artifact_match,
        v.identity,
    )


def _verify_rows(con: duckdb.DuckDBPyConnection, pol: Policy | None, only_unchecked: bool) -> int:
    rows = con.execute(
        """SELECT a.attestation_id, any_value(a.content), CAST(any_value(a.envelope) AS VARCHAR), any_value(e.path),
                  list({'n': a.subject_name, 'a': a.digest_algorithm, 'v': a.digest_value})
                      FILTER (WHERE a.digest_algorithm IS NOT NULL),
                  to_json({'statement_type': any_value(a.statement_type), 'predicate_type': any_value(a.predicate_type),
                           'builder_id': any_value(a.builder_id), 'build_type': any_value(a.build_type),
                           'source_repo': any_value(a.source_repo), 'source_ref': any_value(a.source_ref),
                           'source_commit': any_value(a.source_commit), 'workflow_path': any_value(a.workflow_path),
                           'run_id': any_value(a.run_id)})::VARCHAR
           FROM attestations a LEFT JOIN evidence e ON e.sha256 = a.evidence_sha256
           WHERE NOT $only OR (a.verdict_reason = $nc AND a.signer_san IS NULL)
           GROUP BY a.attestation_id ORDER BY a.attestation_id""",
        {"only": only_unchecked, "nc": NOT_CHECKED},
    ).fetchall()
    if not rows:
        return 0
    if pol is not None:
        pol = _with_artifact_files(con, pol)
    kv = KitVerifier(pol) if pol is not None else None
    out = []
    for att_id, content, envelope, path, subj, shown in rows:
        subjects = [(s["n"], s["a"], s["v"]) for s in (subj or [])]
        try:
            record = strict_loads(envelope)
        except DuplicateKey as e:
            out.append(
                (att_id, FAILED, f"{e} in the record: refused, parsers disagree on it", "none") + (None,) * 11
            )
            continue
        if kv is None:
            cert = _record_certificate(record)
            v = Verdict(
                INDETERMINATE, NOT_CHECKED, identity=certificate_identity(cert) if cert is not None else {}
            )
        else:
            try:
                v = kv.verify(record, content, subjects, _name_hint(path))
            except Exception as e:  # noqa: BLE001 - a crash in a check is an indeterminate verdict, never a pass
                v = Verdict(
                    INDETERMINATE, f"verification raised {type(e).__name__}: {' '.join(str(e).split())[:300]}"
                )
        v = _shown_from_verified(v, json.loads(shown))
        i = v.identity
        out.append(
            (
                att_id,
                v.verdict,
                v.reason,
                v.path,
                v.trust_root,
                v.artifact_match,
                i.get("signer_san"),
                i.get("signer_issuer"),
                i.get("cert_repository"),
                i.get("cert_workflow_ref"),
                i.get("cert_sha"),
                i.get("cert_trigger"),
                i.get("cert_runner_environment"),
                i.get("cert_not_before"),
                i.get("cert_not_after"),
            )
        )
    con.execute("""CREATE OR REPLACE TEMP TABLE _fx_verdicts (attestation_id VARCHAR, verdict VARCHAR, reason VARCHAR,
                   path VARCHAR, trust_root VARCHAR, artifact_match VARCHAR, san VARCHAR, issuer VARCHAR, repo VARCHAR,
                   wref VARCHAR, sha VARCHAR, trig VARCHAR, runner VARCHAR, nb TIMESTAMPTZ, na TIMESTAMPTZ)""").fetchall()
    con.executemany("INSERT INTO _fx_verdicts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", out)
    con.execute(
        """UPDATE attestations a SET verdict = v.verdict, verdict_reason = v.reason, verification_path = v.path,
                  trust_root = v.trust_root, artifact_match = v.artifact_match, signer_san = v.san,
                  signer_issuer = v.issuer, cert_repository = v.repo, cert_workflow_ref = v.wref, cert_sha = v.sha,
                  cert_trigger = v.trig, cert_runner_environment = v.runner, cert_not_before = v.nb, cert_not_after = v.na
           FROM _fx_verdicts v WHERE a.attestation_id = v.attestation_id"""
    ).fetchall()
    con.execute("DROP TABLE _fx_verdicts").fetchall()
    return len(out)
