-- Denominator: signed attestations (those with a signer identity). Untimed, like the invariant.
-- @title: signed attestations
-- @engines: duckdb, spark
SELECT NULL::TIMESTAMPTZ AS time, attestation_id AS item FROM attestations WHERE signer_san IS NOT NULL
GROUP BY attestation_id
