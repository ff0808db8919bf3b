-- Denominator: deploy actions. One row per deploy, rollback or scale that did not fail.
-- @title: deploys, rollbacks and scalings
-- @engines: duckdb, spark
SELECT time, deploy_id AS item FROM deploys WHERE action IN ('deploy', 'rollback', 'scale') AND status <> 'failure'
