"""In-toto attestations: bare DSSE envelopes, in-toto Statements (v0.1, v1) bare or inside DSSE,
bare SLSA provenance predicates (v0.1, v0.2, v1), classic in-toto link metadata (v0.9: products
become subjects), and Google Cloud Build ``--show-provenance`` output (one envelope per entry).

Every record becomes rows of ``attestations``: one per (subject, digest algorithm), or one row with
no subject when the record names none (a bare predicate). The SQL that reads a Statement is shared
with the sigstore bundle source (``attestation_rows_sql``). Nothing here checks a signature: the
verdict stays ``indeterminate`` ("not checked yet") until ``forensics.verify`` runs.
"""

from __future__ import annotations

from typing import Any

from forensics.sources.contract import Batch, Detection, Probe, Source


def attestation_rows_sql(normalized: str, kind: str) -> str:
    """A SELECT producing ``attestations`` rows (plus record_no) from ``normalized``, a SELECT over
    ``{batch} r`` with columns record_no, line_no, doc, bundle, env, stmt_direct, pred_direct, link, msg.
    ``kind`` is a SQL expression chosen by the kit (over ``p``)."""
    return f"""
    WITH n AS ({normalized}),
    s AS (
        SELECT n.*,
               coalesce(try(CAST(decode(from_base64(n.env->>'payload')) AS JSON)), n.stmt_direct) AS stmt
        FROM n
    ),
    p AS (
        SELECT s.*, coalesce(s.stmt->'predicate', s.pred_direct) AS pred,
               coalesce(s.env->'signatures', s.link->'signatures') AS sigs,
               s.bundle->'verificationMaterial'->'tlogEntries'->0 AS tlog
        FROM s
    ),
    subj AS (
        SELECT p.record_no, CAST(e.key AS INTEGER) AS idx, e.value->>'name' AS name, e.value->'digest' AS digest
        FROM p, json_each(p.stmt, '$.subject') e
        WHERE json_type(p.stmt, '$.subject') = 'ARRAY'
        UNION ALL
        SELECT p.record_no, CAST(row_number() OVER (PARTITION BY p.record_no ORDER BY e.key) - 1 AS INTEGER),
               e.key, e.value
        FROM p, json_each(p.link, '$.signed.products') e
        WHERE p.link IS NOT NULL AND json_type(p.link, '$.signed.products') = 'OBJECT'
        UNION ALL
        SELECT p.record_no, 0, NULL,
               json_object(lower(replace(p.msg->'messageDigest'->>'algorithm', 'SHA2_', 'sha')),
                           lower(hex(try(from_base64(p.msg->'messageDigest'->>'digest')))))
        FROM p WHERE p.msg IS NOT NULL AND (p.msg->'messageDigest') IS NOT NULL
    ),
    dig AS (
        SELECT subj.record_no, subj.idx, subj.name, lower(d.key) AS alg, lower(d.value->>'$') AS val
        FROM subj, json_each(subj.digest) d
        WHERE json_type(subj.digest) = 'OBJECT'
    )
    SELECT p.record_no,
           ? || ':' || p.record_no AS attestation_id,
           dig.idx AS subject_index, dig.name AS subject_name,
           dig.alg AS digest_algorithm, dig.val AS digest_value,
           CASE WHEN dig.alg IS NOT NULL THEN dig.alg || ':' || dig.val END AS subject_digest,
           {kind} AS kind,
           CASE WHEN p.env IS NOT NULL THEN 'dsse' WHEN p.msg IS NOT NULL THEN 'message_signature'
                WHEN p.link IS NOT NULL THEN 'signed_link' ELSE 'unsigned' END AS content,
           p.bundle->>'mediaType' AS bundle_media_type,
           p.env->>'payloadType' AS payload_type,
           coalesce(p.stmt->>'_type', p.link->'signed'->>'_type') AS statement_type,
           coalesce(p.stmt->>'predicateType',
                    CASE WHEN (p.pred_direct->'buildDefinition') IS NOT NULL THEN 'https://slsa.dev/provenance/v1'
                         WHEN (p.pred_direct->'invocation') IS NOT NULL THEN 'https://slsa.dev/provenance/v0.2' END,
                    CASE WHEN p.link IS NOT NULL THEN 'in-toto link v0.9' END) AS predicate_type,
           coalesce(p.pred->'runDetails'->'builder'->>'id', p.pred->'builder'->>'id',
                    CASE WHEN p.link IS NOT NULL THEN 'in-toto step ' || (p.link->'signed'->>'name') END) AS builder_id,
           coalesce(p.pred->'buildDefinition'->>'buildType', p.pred->>'buildType', p.pred->'recipe'->>'type') AS build_type,
           coalesce(p.pred->'buildDefinition'->'externalParameters'->'workflow'->>'repository',
                    p.pred->'buildDefinition'->'externalParameters'->'source'->>'uri',
                    regexp_replace(split_part(coalesce(p.pred->'invocation'->'configSource'->>'uri',
                                                       p.pred->'materials'->0->>'uri'), '@', 1), '^git\\+', '')) AS source_repo,
           coalesce(p.pred->'buildDefinition'->'externalParameters'->'workflow'->>'ref',
                    nullif(split_part(coalesce(p.pred->'invocation'->'configSource'->>'uri',
                                               p.pred->'materials'->0->>'uri'), '@', 2), '')) AS source_ref,
           coalesce(p.pred->'buildDefinition'->'resolvedDependencies'->0->'digest'->>'gitCommit',
                    p.pred->'buildDefinition'->'resolvedDependencies'->0->'digest'->>'sha1',
                    p.pred->'invocation'->'configSource'->'digest'->>'sha1',
                    p.pred->'materials'->0->'digest'->>'sha1') AS source_commit,
           coalesce(p.pred->'buildDefinition'->'externalParameters'->'workflow'->>'path',
                    p.pred->'invocation'->'configSource'->>'entryPoint',
                    p.pred->'recipe'->>'entryPoint') AS workflow_path,
           coalesce(p.pred->'runDetails'->'metadata'->>'invocationId', p.pred->'metadata'->>'buildInvocationId',
                    p.pred->'metadata'->>'buildInvocationID') AS run_id,
           fx_time(coalesce(p.pred->'runDetails'->'metadata'->>'startedOn', p.pred->'metadata'->>'buildStartedOn'), false) AS build_started,
           fx_time(coalesce(p.pred->'runDetails'->'metadata'->>'finishedOn', p.pred->'metadata'->>'buildFinishedOn'), false) AS build_finished,
           CAST(json_array_length(p.sigs) AS INTEGER) AS signature_count,
           nullif(p.sigs->0->>'keyid', '') AS keyid,
           try(CAST(p.tlog->>'logIndex' AS BIGINT)) AS rekor_log_index,
           to_timestamp(try(CAST(p.tlog->>'integratedTime' AS BIGINT))) AS rekor_integrated_time,
           (p.tlog->'kindVersion'->>'kind') || '/' || (p.tlog->'kindVersion'->>'version') AS rekor_kind_version,
           CAST(json_array_length(p.bundle->'verificationMaterial'->'timestampVerificationData'->'rfc3161Timestamps') AS INTEGER)
               AS tsa_timestamp_count,
           ? AS evidence_sha256, p.line_no AS evidence_line, p.record_no AS evidence_record,
           p.doc AS envelope
    FROM p LEFT JOIN dig ON dig.record_no = p.record_no
    """


def load_attestations(batch: Batch, normalized: str, kind: str, unusable_sql: str) -> None:
    """Reject the records ``unusable_sql`` names (record_no, reason) and load the rest."""
    batch.reject(unusable_sql)
    sha = batch.file_sha256
    batch.insert_rows(
        "attestations",
        f"SELECT * FROM ({attestation_rows_sql(normalized, kind)}) "
        f"WHERE record_no NOT IN (SELECT record_no FROM ({unusable_sql}))",
        [sha[:16], sha],
    )


def _is_dsse(d: dict[str, Any]) -> bool:
    return isinstance(d.get("payload"), str) and "payloadType" in d and isinstance(d.get("signatures"), list)


def _is_statement(d: dict[str, Any]) -> bool:
    return str(d.get("_type", "")).startswith("https://in-toto.io/Statement/")


def _is_predicate(d: dict[str, Any]) -> bool:
    return ("buildDefinition" in d and "runDetails" in d) or (
        "builder" in d and ("invocation" in d or "recipe" in d)
    )


def _is_link(d: dict[str, Any]) -> bool:
    signed = d.get("signed")
    return isinstance(signed, dict) and signed.get("_type") == "link" and "signatures" in d


class InTotoSource(Source):
    """DSSE envelopes, in-toto Statements, bare SLSA predicates and in-toto links."""

    name = "intoto"
    category = "provenance"
    containers = ("jsonl", "json")

    def detect(self, probe: Probe) -> Detection:
        if isinstance(probe.document, dict) and isinstance(probe.document.get("provenance_summary"), dict):
            return Detection.STRONG
        first = probe.first
        if not first or "mediaType" in first:
            return Detection.NO
        if _is_dsse(first) or _is_statement(first) or _is_link(first):
            return Detection.STRONG
        if _is_predicate(first):
            return Detection.LIKELY
        return Detection.NO

    def record_path(self, probe: Probe) -> str:
        if isinstance(probe.document, dict) and isinstance(probe.document.get("provenance_summary"), dict):
            return "$.provenance_summary.provenance"
        return "$"

    def load_batch(self, batch: Batch) -> None:
        # Cloud Build wraps each envelope: {"envelope": {...}, "build": {"intotoStatement": ...}}
        rec = "coalesce(r.doc->'envelope', r.doc)"
        normalized = f"""
            SELECT r.record_no, r.line_no, r.doc, CAST(NULL AS JSON) AS bundle,
                   CASE WHEN (({rec})->>'payload') IS NOT NULL THEN {rec} END AS env,
                   CASE WHEN starts_with(r.doc->>'_type', 'https://in-toto.io/Statement/') THEN r.doc END AS stmt_direct,
                   CASE WHEN (r.doc->>'_type') IS NULL AND (r.doc->>'payload') IS NULL
                             AND ((r.doc->'buildDefinition') IS NOT NULL OR (r.doc->'builder') IS NOT NULL) THEN r.doc END AS pred_direct,
                   CASE WHEN (r.doc->'signed'->>'_type') = 'link' THEN r.doc END AS link,
                   CAST(NULL AS JSON) AS msg
            FROM {{batch}} r"""
        unusable = f"""
            SELECT r.record_no,
                   'not an in-toto record: no DSSE payload, Statement _type, SLSA predicate or link' AS reason
            FROM {{batch}} r
            WHERE (({rec})->>'payload') IS NULL AND NOT starts_with(coalesce(r.doc->>'_type', ''), 'https://in-toto.io/Statement/')
              AND (r.doc->'buildDefinition') IS NULL AND (r.doc->'builder') IS NULL
              AND coalesce(r.doc->'signed'->>'_type', '') <> 'link'"""
        kind = (
            "CASE WHEN p.link IS NOT NULL THEN 'intoto_link' WHEN p.env IS NOT NULL THEN 'dsse' "
            "WHEN p.stmt_direct IS NOT NULL THEN 'statement' ELSE 'predicate' END"
        )
        load_attestations(batch, normalized, kind, unusable)


SOURCES = [InTotoSource()]
