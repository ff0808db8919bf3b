-- Denominator: rollbacks. One row per successful rollback.
-- @title: rollbacks
-- @engines: duckdb, spark
SELECT time, deploy_id AS item FROM deploys WHERE action = 'rollback' AND status = 'success'
