"""Kubernetes live state and Events, as ``kubectl get ... -o json`` and support bundles write them.

**Pods** (``PodList`` or one ``Pod``; loader ``k8s_pods``): one event per container status (category
``state``, action ``pod.observed``, ``event_seq`` the container's index; a pod with no container status yet
is one event). target ``namespace/pod/container``; service the workload that owns the pod (a ReplicaSet's
name without its ``pod-template-hash`` is its Deployment); environment the namespace; the running image's
digest (``imageID``) -> artifact_digest; the image reference, state and restart count go in
outcome_reason. Outcome: running and ready -> success; waiting (``ErrImagePull``,
``CrashLoopBackOff``...) or terminated with an error (``OOMKilled``, non-zero exit) -> failure with the reason;
not yet scheduled or no status -> unknown with the phase.

**Workloads** (``DeploymentList``, ``ReplicaSetList``, ``StatefulSetList``, ``DaemonSetList`` or one of them;
loader ``k8s_workloads``): one event per container of the pod template (action ``<kind>.spec``): the desired
image (its digest when the reference pins one) and the replica counts in outcome_reason.

A snapshot has no capture time of its own. The rule: the newest status time in the file (conditions'
``lastTransitionTime`` / ``lastUpdateTime``, containers' start and finish times, ``startTime``,
``creationTimestamp``) is the observation time of every record in it; time_raw names it
``approx:<time>`` so no one mistakes it for a capture time. ``forensics ingest --observed-at T`` gives the
capture time instead (time_raw ``observed:<T>``).

**Events** (``EventList`` of core ``v1`` Events, ``events.k8s.io/v1`` Events, and watch streams of
``{"type": "ADDED", "object": <Event>}`` lines; loader ``k8s_events``): category ``state``; time is
``lastTimestamp``, else ``eventTime``, ``deprecatedLastTimestamp``, ``firstTimestamp``,
``metadata.creationTimestamp``; action ``event:<reason>`` (``event:Pulled``); target the involved object
(``regarding`` in v1 events) as ``Kind/namespace/name``; actor the reporting component; an image digest
in the message -> artifact_digest; ``Warning`` -> failure, ``Normal`` -> success, with the message.
"""

from __future__ import annotations

from typing import Any

from forensics.ingest import options
from forensics.sources._k8s import WORKLOAD_OF_POD
from forensics.sources.contract import Batch, Detection, Probe, Source, most

_DIGEST = r"regexp_extract({x}, 'sha256:[0-9a-f]{{64}}')"

# the newest time a status names, per record; the file's newest is the snapshot's observation time
_NEWEST = """list_max(list_concat(
        json_extract_string(o, '$.status.conditions[*].lastTransitionTime'),
        json_extract_string(o, '$.status.conditions[*].lastUpdateTime'),
        json_extract_string(o, '$.status.containerStatuses[*].state.*.startedAt'),
        json_extract_string(o, '$.status.containerStatuses[*].state.*.finishedAt'),
        [o->>'$.status.startTime', o->>'$.metadata.creationTimestamp']))"""

_PODS = f"""
WITH b AS (SELECT record_no, doc AS o, {_NEWEST} AS newest FROM {{batch}}),
s AS (SELECT *, coalesce(CAST($observed AS TIMESTAMPTZ), max(fx_time(newest, false)) OVER ()) AS observed,
             coalesce('observed:' || $observed, 'approx:' || arg_max(newest, fx_time(newest, false)) OVER ()) AS observed_raw
      FROM b),
c AS (
    SELECT s.*, unnest(CASE WHEN json_array_length(o->'$.status.containerStatuses') > 0
                            THEN CAST(o->'$.status.containerStatuses' AS JSON[]) ELSE [NULL::JSON] END) AS cs,
           unnest(range(CAST(greatest(coalesce(json_array_length(o->'$.status.containerStatuses'), 0), 1) AS BIGINT))) AS i
    FROM s),
f AS (
    SELECT *, coalesce(o->>'$.metadata.ownerReferences[0].name', o->>'$.metadata.name') AS owner,
           o->>'$.metadata.labels.pod-template-hash' AS hash,
           json_keys(cs->'state')[1] AS state,
           coalesce(cs->>'$.state.waiting.reason', cs->>'$.state.terminated.reason') AS why,
           try_cast(cs->>'$.state.terminated.exitCode' AS INTEGER) AS exit_code
    FROM c)
SELECT record_no, CAST(i AS INTEGER) AS event_seq,
       observed AS time, CASE WHEN observed IS NULL THEN 'no status time in the snapshot' END AS time_problem,
       observed_raw AS time_raw,
       'state' AS category, 'pod.observed' AS action,
       (o->>'$.metadata.namespace') || '/' || (o->>'$.metadata.name') || coalesce('/' || (cs->>'name'), '')
           AS target,
       CASE WHEN hash IS NOT NULL AND o->>'$.metadata.ownerReferences[0].kind' = 'ReplicaSet'
                 AND owner LIKE '%-' || hash THEN left(owner, strlen(owner) - strlen(hash) - 1)
            ELSE owner END AS service,
       o->>'$.metadata.namespace' AS environment,
       nullif({_DIGEST.format(x="cs->>'imageID'")}, '') AS artifact_digest,
       CASE WHEN cs IS NULL THEN 'unknown'
            WHEN state = 'running' AND cs->>'ready' = 'true' THEN 'success'
            WHEN state = 'waiting' OR (state = 'terminated' AND coalesce(exit_code, 0) <> 0) THEN 'failure'
            WHEN state = 'terminated' THEN 'success'
            ELSE 'unknown' END AS outcome,
       CASE WHEN cs IS NULL THEN 'phase ' || coalesce(o->>'$.status.phase', '?') || ', no container status'
            ELSE coalesce(state, 'no state') || coalesce(' ' || why, '')
                 || coalesce(' exit ' || exit_code, '') || ', image ' || coalesce(cs->>'image', '?')
                 || ', restarts ' || coalesce(cs->>'restartCount', '0') END
           || CASE WHEN $observed IS NOT NULL THEN '; observed in a snapshot at --observed-at'
                ELSE '; observed in a snapshot (time approximated from its newest status time)' END AS outcome_reason,
       (o->>'$.metadata.uid') || '|' || coalesce(cs->>'name', '') || '|' || coalesce(observed_raw, '')
           AS event_uid
FROM f
"""

_WORKLOADS = f"""
WITH b AS (SELECT record_no, doc AS o, {_NEWEST} AS newest FROM {{batch}}),
s AS (SELECT *, coalesce(CAST($observed AS TIMESTAMPTZ), max(fx_time(newest, false)) OVER ()) AS observed,
             coalesce('observed:' || $observed, 'approx:' || arg_max(newest, fx_time(newest, false)) OVER ()) AS observed_raw
      FROM b),
c AS (
    SELECT s.*, unnest(CAST(o->'$.spec.template.spec.containers' AS JSON[])) AS ct,
           unnest(range(CAST(json_array_length(o->'$.spec.template.spec.containers') AS BIGINT))) AS i
    FROM s)
SELECT record_no, CAST(i AS INTEGER) AS event_seq,
       observed AS time, CASE WHEN observed IS NULL THEN 'no status time in the snapshot' END AS time_problem,
       observed_raw AS time_raw,
       'state' AS category, lower(o->>'kind') || '.spec' AS action,
       (o->>'$.metadata.namespace') || '/' || (o->>'$.metadata.name') || '/' || (ct->>'name') AS target,
       coalesce(o->>'$.metadata.ownerReferences[0].name', o->>'$.metadata.name') AS service,
       o->>'$.metadata.namespace' AS environment,
       nullif({_DIGEST.format(x="ct->>'image'")}, '') AS artifact_digest,
       CASE WHEN coalesce(try_cast(o->>'$.status.availableReplicas' AS INTEGER), 0)
                 >= coalesce(try_cast(o->>'$.spec.replicas' AS INTEGER), 1) THEN 'success'
            ELSE 'failure' END AS outcome,
       'desired image ' || coalesce(ct->>'image', '?') || ', replicas ' || coalesce(o->>'$.spec.replicas', '?')
           || ' desired, ' || coalesce(o->>'$.status.availableReplicas', '0') || ' available'
           || CASE WHEN $observed IS NOT NULL THEN '; observed in a snapshot at --observed-at'
                ELSE '; observed in a snapshot (time approximated from its newest status time)' END AS outcome_reason,
       (o->>'$.metadata.uid') || '|' || (ct->>'name') || '|' || coalesce(o->>'$.metadata.resourceVersion', '')
           AS event_uid
FROM c
"""

_EVENTS = f"""
WITH b AS (SELECT record_no, coalesce(CASE WHEN json_type(doc->'object') = 'OBJECT' THEN doc->'object' END, doc) AS e,
                  doc->>'type' AS watch FROM {{batch}}),
f AS (
    SELECT *, coalesce(e->>'lastTimestamp', e->>'eventTime', e->>'deprecatedLastTimestamp', e->>'firstTimestamp',
                       e->>'$.metadata.creationTimestamp') AS t,
           coalesce(CASE WHEN json_type(e->'regarding') = 'OBJECT' THEN e->'regarding' END, e->'involvedObject') AS obj,
           coalesce(e->>'message', e->>'note') AS msg
    FROM b)
SELECT record_no,
       fx_time(t, false) AS time, fx_time_problem(t, false) AS time_problem, t AS time_raw,
       'state' AS category, 'event:' || coalesce(e->>'reason', '?') AS action,
       coalesce(nullif(e->>'reportingController', ''), nullif(e->>'reportingComponent', ''),
                nullif(e->>'$.source.component', '')) AS actor,
       'kubernetes_component' AS actor_type,
       (obj->>'kind') || '/' || coalesce(obj->>'namespace', '') || '/' || (obj->>'name') AS target,
       coalesce(obj->>'namespace', e->>'$.metadata.namespace') AS environment,
       nullif({_DIGEST.format(x="msg")}, '') AS artifact_digest,
       CASE e->>'type' WHEN 'Warning' THEN 'failure' WHEN 'Normal' THEN 'success' ELSE 'unknown' END AS outcome,
       coalesce(e->>'type', 'no type') || ': ' || coalesce(msg, '') AS outcome_reason,
       (e->>'$.metadata.uid') || '|' || coalesce(e->>'$.metadata.resourceVersion', '') || '|' || coalesce(watch, '')
           AS event_uid
FROM f
"""

_WORKLOAD_KINDS = {"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"}


def _items(probe: Probe) -> tuple[str | None, list[dict[str, Any]]]:
    doc = probe.document
    if isinstance(doc, dict) and isinstance(doc.get("items"), list):
        kind = str(doc.get("kind", ""))
        return (kind[:-4] if kind.endswith("List") else None), [
            o for o in doc["items"][:50] if isinstance(o, dict)
        ]
    objs = probe.objects()
    if len(objs) == 1 and isinstance(objs[0].get("items"), list):  # a large list, probed with its arrays cut
        kind = str(objs[0].get("kind", ""))
        return (kind[:-4] if kind.endswith("List") else None), [
            o for o in objs[0]["items"] if isinstance(o, dict)
        ]
    return None, objs


def _core_event(o: dict[str, Any]) -> bool:
    e = o.get("object") if isinstance(o.get("object"), dict) and "type" in o else o
    return (
        isinstance(e, dict)
        and e.get("kind") == "Event"
        and not str(e.get("apiVersion", "")).startswith("audit.k8s.io")
        and ("involvedObject" in e or "regarding" in e)
    )


# -- runtime facts (forensics/derive/runtime.py): what ran and what a workload spec asked for
_POD_RUNTIME = """
SELECT e.event_id, coalesce(o.observed_at, e.time) AS time,
       CASE WHEN o.observed_at IS NOT NULL THEN 'observed-at' ELSE 'approx' END AS time_basis,
       'observed' AS kind, 'pod_snapshot' AS how, NULL::VARCHAR AS cluster,
       split_part(e.target, '/', 1) AS namespace, e.service AS workload,
       split_part(e.target, '/', 2) AS pod, nullif(split_part(e.target, '/', 3), '') AS container,
       e.raw->'status'->'containerStatuses'->(e.event_seq)->>'image' AS image,
       lower(e.artifact_digest) AS image_digest, e.outcome AS state, e.outcome_reason AS detail,
       e.source AS source, e.evidence_sha256 AS evidence_sha256, e.evidence_record AS evidence_record
FROM events e LEFT JOIN snapshot_observations o ON o.evidence_sha256 = e.evidence_sha256
WHERE e.source = {source} AND e.action = 'pod.observed'
"""

_WORKLOAD_RUNTIME = """
SELECT e.event_id, coalesce(o.observed_at, e.time) AS time,
       CASE WHEN o.observed_at IS NOT NULL THEN 'observed-at' ELSE 'approx' END AS time_basis,
       CASE WHEN e.action = 'replicaset.spec' THEN 'observed' ELSE 'desired' END AS kind,
       CASE WHEN e.action = 'replicaset.spec' THEN 'replicaset_snapshot' ELSE 'workload_spec' END AS how,
       NULL::VARCHAR AS cluster, split_part(e.target, '/', 1) AS namespace,
       CASE WHEN e.action = 'replicaset.spec'
            THEN coalesce(e.raw->'metadata'->'ownerReferences'->0->>'name', e.service) ELSE e.service END AS workload,
       NULL::VARCHAR AS pod, split_part(e.target, '/', 3) AS container,
       e.raw->'spec'->'template'->'spec'->'containers'->(e.event_seq)->>'image' AS image,
       lower(e.artifact_digest) AS image_digest, e.outcome AS state, e.outcome_reason AS detail,
       e.source AS source, e.evidence_sha256 AS evidence_sha256, e.evidence_record AS evidence_record
FROM events e LEFT JOIN snapshot_observations o ON o.evidence_sha256 = e.evidence_sha256
WHERE e.source = {source} AND e.artifact_digest IS NOT NULL
  AND (e.action IN ('deployment.spec', 'statefulset.spec', 'daemonset.spec')
       OR (e.action = 'replicaset.spec'
           AND coalesce(try_cast(e.raw->'status'->>'availableReplicas' AS INTEGER), 0) > 0))
"""

# Events Pulled (the digest in the message) and Created (the digest of the last Pulled of the same
# pod and container)
_EVENT_RUNTIME = f"""
WITH kev AS (
    SELECT e.*,
           coalesce(e.raw->'object', e.raw) AS ev,
           regexp_extract(coalesce(ev->'involvedObject'->>'fieldPath', ev->'regarding'->>'fieldPath', ''),
                          '\\{{([^}}]+)\\}}', 1) AS ctr,
           regexp_extract(coalesce(ev->>'message', ev->>'note', ''), 'image "([^"]+)"', 1) AS img
    FROM events e
    WHERE e.source = {{source}} AND e.action IN ('event:Pulled', 'event:Created') AND e.target LIKE 'Pod/%'
)
SELECT event_id, time, 'event' AS time_basis, 'observed' AS kind,
       CASE WHEN action = 'event:Pulled' THEN 'event_pulled' ELSE 'event_created' END AS how,
       NULL::VARCHAR AS cluster, split_part(target, '/', 2) AS namespace,
       {WORKLOAD_OF_POD.format(p="split_part(target, '/', 3)")} AS workload,
       split_part(target, '/', 3) AS pod, nullif(ctr, '') AS container, nullif(img, '') AS image,
       coalesce(lower(artifact_digest),
                last_value(lower(artifact_digest) IGNORE NULLS) OVER (
                    PARTITION BY target, ctr ORDER BY time, event_id
                    ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)) AS image_digest,
       outcome AS state, outcome_reason AS detail, source, evidence_sha256, evidence_record
FROM kev
"""


class _State(Source):
    category = "state"
    containers = ("json", "jsonl")
    kinds: frozenset[str] = frozenset()

    def _is_mine(self, kind: str | None, o: dict[str, Any]) -> bool:
        return (o.get("kind") or kind) in self.kinds and isinstance(o.get("metadata"), dict)

    def detect(self, probe: Probe) -> Detection:
        kind, objs = _items(probe)
        return most(objs, lambda o: self._is_mine(kind, o))

    def record_path(self, probe: Probe) -> str:
        doc = probe.document
        if isinstance(doc, dict) and isinstance(doc.get("items"), list):
            return "$.items"
        if "items" in probe.top_keys and doc is None:
            return "$.items"
        return super().record_path(probe)


class _Snapshot(_State):
    def load_batch(self, batch: Batch) -> None:
        sql = self.events_sql()
        assert sql is not None  # both snapshot sources map to events
        batch.insert_events(sql, {"observed": options.current().observed_at_text})


class K8sPodsSource(_Snapshot):
    name = "k8s_pods"
    kinds = frozenset({"Pod"})

    def events_sql(self) -> str:
        return _PODS

    def runtime_sql(self) -> str:
        return _POD_RUNTIME


class K8sWorkloadsSource(_Snapshot):
    name = "k8s_workloads"
    kinds = frozenset(_WORKLOAD_KINDS)

    def events_sql(self) -> str:
        return _WORKLOADS

    def runtime_sql(self) -> str:
        return _WORKLOAD_RUNTIME


class K8sEventsSource(_State):
    name = "k8s_events"
    kinds = frozenset({"Event"})

    def _is_mine(self, kind: str | None, o: dict[str, Any]) -> bool:
        return _core_event(o)

    def events_sql(self) -> str:
        return _EVENTS

    def runtime_sql(self) -> str:
        return _EVENT_RUNTIME


SOURCES = [K8sEventsSource(), K8sPodsSource(), K8sWorkloadsSource()]
