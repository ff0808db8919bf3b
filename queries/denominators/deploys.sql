-- Denominator: deploys. One row per successful deploy or rollback (deploys table).
-- @title: deploys and rollbacks
-- @engines: duckdb, spark
SELECT time, deploy_id AS item FROM deploys WHERE status = 'success' AND action IN ('deploy', 'rollback')
