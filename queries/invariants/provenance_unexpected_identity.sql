-- Invariant: every signed attestation was signed by an expected identity and built by an expected builder.
-- Params: $expected_issuer (VARCHAR), $expected_identities (VARCHAR[]: certificate SANs, or
-- 'key:<keyid>' for keyed signatures), $expected_builders (VARCHAR[]). A parameter left NULL is not
-- checked. A row is an attestation whose signer issuer, signer identity or builder is not expected.
-- @denominator: signed_attestations
-- @engines: duckdb, spark
WITH a AS (
    SELECT a.attestation_id, any_value(e.path) AS evidence, any_value(a.signer_san) AS signer_san,
           any_value(a.signer_issuer) AS signer_issuer, any_value(a.builder_id) AS builder_id
    FROM attestations a LEFT JOIN evidence e ON e.sha256 = a.evidence_sha256
    WHERE a.signer_san IS NOT NULL
    GROUP BY a.attestation_id
), r AS (
    SELECT a.*, concat_ws('; ',
           CASE WHEN $expected_issuer IS NOT NULL AND signer_san NOT LIKE 'key:%'
                     AND signer_issuer IS DISTINCT FROM $expected_issuer
                THEN 'issuer ' || coalesce(signer_issuer, '(none)') || ' is not ' || $expected_issuer END,
           CASE WHEN $expected_identities IS NOT NULL AND NOT list_contains($expected_identities, signer_san)
                THEN 'signer ' || signer_san || ' is not an expected identity' END,
           CASE WHEN $expected_builders IS NOT NULL AND builder_id IS NOT NULL
                     AND NOT list_contains($expected_builders, builder_id)
                THEN 'builder ' || builder_id || ' is not an expected builder' END) AS reason
    FROM a
)
SELECT * FROM r WHERE reason <> '' ORDER BY attestation_id
