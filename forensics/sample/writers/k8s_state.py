"""Kubernetes live state of the sample incident: ``kubectl get pods -n prod -o json`` captured at
10:00 and 10:30, and ``kubectl get deployments -n prod -o json`` at 10:30 (issue 22).

At 10:00 the three payments pods run the rogue image that was deployed at 09:40 (as deployed: no
drift). At 10:30 the rollback (10:10) has replaced two of them, but one pod of the rogue ReplicaSet
(``scenario.DRIFTED_POD``) still runs the rogue digest: runtime drift. A snapshot has no capture
time of its own; the loader takes its newest status time, so each snapshot carries a status change
at its capture time (a readiness flap at 10:00, the drifted pod's container restart at 10:30)."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from pathlib import Path

from forensics.sample import scenario as S


def _ts(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _suffix(rng: random.Random) -> str:
    return "".join(rng.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))


def _pod(
    rng: random.Random,
    image: S.Image,
    rs_hash: str,
    name: str,
    started: datetime,
    ready_since: datetime,
    restart: datetime | None = None,
) -> dict:
    ref = f"{S.REGISTRY}/{image.service}"
    running_since = restart or started
    status: dict = {
        "name": image.service,
        "image": f"{ref}:{image.version}",
        "imageID": f"{ref}@{image.digest}",
        "ready": True,
        "started": True,
        "restartCount": 1 if restart else 0,
        "state": {"running": {"startedAt": _ts(running_since)}},
        "containerID": f"containerd://{rng.getrandbits(256):064x}",
    }
    if restart:
        status["lastState"] = {
            "terminated": {
                "reason": "OOMKilled",
                "exitCode": 137,
                "startedAt": _ts(started),
                "finishedAt": _ts(restart - timedelta(seconds=2)),
            }
        }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": S.NAMESPACE,
            "uid": f"{rng.getrandbits(128):032x}",
            "labels": {"app": image.service, "pod-template-hash": rs_hash},
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": f"{image.service}-{rs_hash}"}
            ],
            "creationTimestamp": _ts(started - timedelta(seconds=5)),
        },
        "spec": {"containers": [{"name": image.service, "image": f"{ref}:{image.version}"}]},
        "status": {
            "phase": "Running",
            "startTime": _ts(started - timedelta(seconds=5)),
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "True",
                    "lastTransitionTime": _ts(started - timedelta(seconds=5)),
                },
                {"type": "Ready", "status": "True", "lastTransitionTime": _ts(ready_since)},
            ],
            "containerStatuses": [status],
        },
    }


def _others(rng: random.Random, hashes: dict[str, str]) -> list[dict]:
    """checkout and ledger: steady, on the digests deployed at 08:07 and 08:30."""
    pods = []
    for image, deployed in ((S.CHECKOUT_GOOD, S.DEPLOYS[1].time), (S.LEDGER_GOOD, S.DEPLOYS[2].time)):
        for _ in range(2):
            name = f"{image.service}-{hashes[image.service]}-{_suffix(rng)}"
            pods.append(
                _pod(
                    rng,
                    image,
                    hashes[image.service],
                    name,
                    deployed + timedelta(seconds=40),
                    deployed + timedelta(seconds=55),
                )
            )
    return pods


def write(out: Path, rng: random.Random, scale: int) -> list[Path]:
    d = out / "k8s" / "state"
    d.mkdir(parents=True, exist_ok=True)
    hashes = {"checkout": "6c4f9d7b8a", "ledger": "84d6b9c7f5"}
    others = _others(rng, hashes)
    rogue_started = S.ROGUE_DEPLOY.time + timedelta(seconds=45)
    good_started = S.ROLLBACK.time + timedelta(seconds=50)
    rogue_names = [f"payments-{S.PAYMENTS_ROGUE_RS}-{s}" for s in ("q4x7z", "m2k8p")] + [S.DRIFTED_POD]
    good_names = [f"payments-{S.PAYMENTS_GOOD_RS}-{s}" for s in ("h6j2n", "v8c5x")]
    at10, at1030 = S.POD_SNAPSHOTS
    before = [
        # the last pod's readiness flapped at 10:00 (the slow payments of the story): the capture time
        _pod(
            rng,
            S.PAYMENTS_ROGUE,
            S.PAYMENTS_ROGUE_RS,
            n,
            rogue_started,
            at10 if i == 2 else rogue_started + timedelta(seconds=20),
        )
        for i, n in enumerate(rogue_names)
    ]
    after = [
        _pod(rng, S.PAYMENTS_GOOD, S.PAYMENTS_GOOD_RS, n, good_started, good_started + timedelta(seconds=20))
        for n in good_names
    ] + [
        # the drifted pod: its container restarted (OOMKilled) at 10:30, on the same rogue digest
        _pod(
            rng,
            S.PAYMENTS_ROGUE,
            S.PAYMENTS_ROGUE_RS,
            S.DRIFTED_POD,
            rogue_started,
            at1030,
            restart=at1030,
        )
    ]
    written = []
    for when, pods in ((at10, before), (at1030, after)):
        doc = {
            "apiVersion": "v1",
            "kind": "PodList",
            "metadata": {"resourceVersion": ""},
            "items": pods + others,
        }
        path = d / f"pods-{S.NAMESPACE}-{when:%Y%m%dT%H%M}Z.json"
        path.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
        written.append(path)
    deployments = []
    for image, deployed in (
        (S.PAYMENTS_GOOD, S.ROLLBACK.time),
        (S.CHECKOUT_GOOD, S.DEPLOYS[1].time),
        (S.LEDGER_GOOD, S.DEPLOYS[2].time),
    ):
        ref = f"{S.REGISTRY}/{image.service}@{image.digest}"
        deployments.append(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {
                    "name": image.service,
                    "namespace": S.NAMESPACE,
                    "uid": f"{rng.getrandbits(128):032x}",
                    "resourceVersion": str(rng.randint(100000, 999999)),
                    "generation": 3,
                },
                "spec": {
                    "replicas": 3 if image.service == "payments" else 2,
                    "selector": {"matchLabels": {"app": image.service}},
                    "template": {
                        "metadata": {"labels": {"app": image.service}},
                        "spec": {"containers": [{"name": image.service, "image": ref}]},
                    },
                },
                "status": {
                    "replicas": 3 if image.service == "payments" else 2,
                    "availableReplicas": 3 if image.service == "payments" else 2,
                    "conditions": [
                        {
                            "type": "Available",
                            "status": "True",
                            "lastUpdateTime": _ts(deployed + timedelta(minutes=2)),
                            "lastTransitionTime": _ts(deployed + timedelta(minutes=2)),
                        }
                    ],
                    "observedGeneration": 3,
                },
            }
        )
    path = d / f"deployments-{S.NAMESPACE}-{at1030:%Y%m%dT%H%M}Z.json"
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "DeploymentList",
                "metadata": {"resourceVersion": ""},
                "items": deployments,
            },
            indent=1,
        )
        + "\n",
        encoding="utf-8",
    )
    written.append(path)
    return written
