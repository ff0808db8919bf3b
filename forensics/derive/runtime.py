"""Rebuild ``runtime_state``: what ran (observed) and what a workload spec asked for (desired).

Observed rows, one per container seen:

* pod snapshots (``k8s_pods``, action ``pod.observed``): the container's running image digest
  (``imageID``), at the snapshot's capture time when it was given at ingest (``--observed-at``,
  ``snapshot_observations``), else at the time the loader approximated from its newest status time;
* ReplicaSet snapshots with available replicas (``k8s_workloads``, ``replicaset.spec``): the image
  its pods run (no pod name);
* Kubernetes audit ``pods/status`` patches and updates (the kubelet reporting ``containerStatuses``
  with their ``imageID``);
* Events ``Pulled`` (the digest in the message) and ``Created`` (the digest of the last ``Pulled``
  of the same pod and container).

Desired rows: Deployment, StatefulSet and DaemonSet specs from snapshots (the image the spec names,
when it pins a digest). The environment is the namespace, normalised through ``environment_aliases``
(``prod`` = ``production``); the workload of a pod is its owning Deployment (the snapshot's owner
reference, else the pod name without its ReplicaSet hash and pod suffix).
"""

from __future__ import annotations

ORDER = 35
READS = ("events",)

_WORKLOAD_OF_POD = (
    "CASE WHEN regexp_matches({p}, '-[a-z0-9]{{6,10}}-[a-z0-9]{{5}}$') "
    "THEN regexp_replace({p}, '-[a-z0-9]{{6,10}}-[a-z0-9]{{5}}$', '') "
    "ELSE regexp_replace({p}, '-[a-z0-9]{{5}}$', '') END"
)
_DIGEST = "nullif(lower(regexp_extract({x}, 'sha256:[0-9a-fA-F]{{64}}')), '')"

_RUNTIME = f"""
CREATE OR REPLACE TEMP TABLE _fx_runtime AS
WITH pods AS (
    SELECT e.event_id, coalesce(o.observed_at, e.time) AS time,
           CASE WHEN o.observed_at IS NOT NULL THEN 'observed-at' ELSE 'approx' END AS time_basis,
           'observed' AS kind, 'pod_snapshot' AS how, NULL::VARCHAR AS cluster,
           split_part(e.target, '/', 1) AS namespace, e.service AS workload,
           split_part(e.target, '/', 2) AS pod, nullif(split_part(e.target, '/', 3), '') AS container,
           e.raw->'status'->'containerStatuses'->(e.event_seq)->>'image' AS image,
           lower(e.artifact_digest) AS image_digest, e.outcome AS state, e.outcome_reason AS detail, e
    FROM events e LEFT JOIN snapshot_observations o ON o.evidence_sha256 = e.evidence_sha256
    WHERE e.source = 'k8s_pods' AND e.action = 'pod.observed'
), specs AS (
    SELECT e.event_id, coalesce(o.observed_at, e.time) AS time,
           CASE WHEN o.observed_at IS NOT NULL THEN 'observed-at' ELSE 'approx' END AS time_basis,
           CASE WHEN e.action = 'replicaset.spec' THEN 'observed' ELSE 'desired' END AS kind,
           CASE WHEN e.action = 'replicaset.spec' THEN 'replicaset_snapshot' ELSE 'workload_spec' END AS how,
           NULL::VARCHAR AS cluster, split_part(e.target, '/', 1) AS namespace,
           CASE WHEN e.action = 'replicaset.spec'
                THEN coalesce(e.raw->'metadata'->'ownerReferences'->0->>'name', e.service) ELSE e.service END AS workload,
           NULL::VARCHAR AS pod, split_part(e.target, '/', 3) AS container,
           e.raw->'spec'->'template'->'spec'->'containers'->(e.event_seq)->>'image' AS image,
           lower(e.artifact_digest) AS image_digest, e.outcome AS state, e.outcome_reason AS detail, e
    FROM events e LEFT JOIN snapshot_observations o ON o.evidence_sha256 = e.evidence_sha256
    WHERE e.source = 'k8s_workloads' AND e.artifact_digest IS NOT NULL
      AND (e.action IN ('deployment.spec', 'statefulset.spec', 'daemonset.spec')
           OR (e.action = 'replicaset.spec'
               AND coalesce(try_cast(e.raw->'status'->>'availableReplicas' AS INTEGER), 0) > 0))
), status AS (
    SELECT e.event_id, e.time, 'event' AS time_basis, 'observed' AS kind, 'pod_status_patch' AS how,
           e.environment AS cluster, split_part(e.target, '/', 1) AS namespace,
           {_WORKLOAD_OF_POD.format(p="split_part(e.target, '/', 3)")} AS workload,
           split_part(e.target, '/', 3) AS pod, cs->>'name' AS container, cs->>'image' AS image,
           {_DIGEST.format(x="cs->>'imageID'")} AS image_digest, e.outcome AS state,
           'kubelet status ' || e.action AS detail, e
    FROM (SELECT e.*, unnest(CAST(coalesce(e.raw->'requestObject'->'status'->'containerStatuses', '[]') AS JSON[])) AS cs
          FROM events e
          WHERE e.source LIKE 'k8s_audit%' AND e.outcome = 'success'
            AND regexp_matches(e.action, '^(patch|update) pods/status$')) e
), kev AS (
    SELECT e.*,
           coalesce(e.raw->'object', e.raw) AS ev,
           regexp_extract(coalesce(ev->'involvedObject'->>'fieldPath', ev->'regarding'->>'fieldPath', ''),
                          '\\{{([^}}]+)\\}}', 1) AS ctr,
           regexp_extract(coalesce(ev->>'message', ev->>'note', ''), 'image "([^"]+)"', 1) AS img
    FROM events e
    WHERE e.source = 'k8s_events' AND e.action IN ('event:Pulled', 'event:Created') AND e.target LIKE 'Pod/%'
), evs AS (
    SELECT event_id, time, 'event' AS time_basis, 'observed' AS kind,
           CASE WHEN action = 'event:Pulled' THEN 'event_pulled' ELSE 'event_created' END AS how,
           NULL::VARCHAR AS cluster, split_part(target, '/', 2) AS namespace,
           {_WORKLOAD_OF_POD.format(p="split_part(target, '/', 3)")} AS workload,
           split_part(target, '/', 3) AS pod, nullif(ctr, '') AS container, nullif(img, '') AS image,
           coalesce(lower(artifact_digest),
                    last_value(lower(artifact_digest) IGNORE NULLS) OVER (
                        PARTITION BY target, ctr ORDER BY time, event_id
                        ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)) AS image_digest,
           outcome AS state, outcome_reason AS detail, kev AS e
    FROM kev
), allrows AS (
    SELECT * FROM pods UNION ALL BY NAME SELECT * FROM specs UNION ALL BY NAME SELECT * FROM status
    UNION ALL BY NAME SELECT * FROM evs
)
SELECT r.time, r.time_basis, r.kind, r.how, r.cluster, r.namespace,
       coalesce(a.canonical, r.namespace) AS environment, r.namespace AS environment_raw,
       r.workload, r.pod, r.container, r.image, r.image_digest, r.state, r.detail,
       r.event_id, r.e.source AS source, r.e.evidence_sha256 AS evidence_sha256,
       r.e.evidence_record AS evidence_record
FROM allrows r LEFT JOIN environment_aliases a ON a.alias = lower(r.namespace)
WHERE r.image_digest IS NOT NULL
"""


def derive(con) -> None:
    con.execute(_RUNTIME).fetchall()
    con.execute("DELETE FROM runtime_state").fetchall()
    con.execute("INSERT INTO runtime_state BY NAME SELECT * FROM _fx_runtime").fetchall()
    con.execute("DROP TABLE _fx_runtime").fetchall()
