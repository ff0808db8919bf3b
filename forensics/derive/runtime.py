"""Rebuild ``runtime_state``: what ran (observed) and what a workload spec asked for (desired).

The rows are the sources' runtime facts (``Source.runtime_sql``, unioned by ``forensics/derive/facts.py``).
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

import duckdb

from forensics.derive import facts

ORDER = 35
READS = ("events",)

_RUNTIME = """
CREATE OR REPLACE TEMP TABLE _fx_runtime AS
SELECT r.time, r.time_basis, r.kind, r.how, r.cluster, r.namespace,
       coalesce(a.canonical, r.namespace) AS environment, r.namespace AS environment_raw,
       fx_redact(r.workload) AS workload, fx_redact(r.pod) AS pod, fx_redact(r.container) AS container,
       fx_redact(r.image) AS image, r.image_digest, r.state, fx_redact(r.detail) AS detail,
       r.event_id, r.source, r.evidence_sha256, r.evidence_record
FROM ({runtime}) r LEFT JOIN environment_aliases a ON a.alias = lower(r.namespace)
WHERE r.image_digest IS NOT NULL
"""


def derive(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(_RUNTIME.format(runtime=facts.union("runtime_sql"))).fetchall()
    con.execute("DELETE FROM runtime_state").fetchall()
    con.execute("INSERT INTO runtime_state BY NAME SELECT * FROM _fx_runtime").fetchall()
    con.execute("DROP TABLE _fx_runtime").fetchall()
