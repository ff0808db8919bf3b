-- Denominator: attestations. One row per attestation (bundle, envelope, statement or link). The
-- invariants over attestations name no time, so neither does this: they count in no time window.
-- @title: attestations
-- @engines: duckdb, spark
SELECT NULL::TIMESTAMPTZ AS time, attestation_id AS item FROM attestations GROUP BY attestation_id
