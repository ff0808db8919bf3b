-- Runtime drift: containers observed running a digest other than the desired one. Desired is the
-- latest successful deploy or rollback of the service x environment (deploy log, GitHub deployments,
-- Argo CD, Kubernetes audit), else the latest Deployment spec seen in a snapshot; observed is
-- runtime_state (pod snapshots, ReplicaSets, kubelet pods/status patches, Events Pulled/Created).
-- Environments are compared after normalisation (environment_aliases: prod = production).
-- Params: $grace_minutes (INTEGER, default 5: how long a rollout may take before an old pod counts),
--         $at (optional TIMESTAMPTZ: only drift observed at or before then).
-- Non-empty means: something ran that the deploys say should not have; each row names the pod, the
-- digest, the desired digest, since when, and the deploy that should have replaced it.
-- @engines: duckdb
-- @not-spark: reads the DuckDB table macro fx_runtime_drift
SELECT * FROM fx_runtime_drift(coalesce($grace_minutes, 5))
WHERE $at IS NULL OR first_drift_at <= $at
ORDER BY first_drift_at, service, pod
