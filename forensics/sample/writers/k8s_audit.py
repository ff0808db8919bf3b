"""Kubernetes audit part of the sample incident: ``audit.k8s.io/v1`` Event JSON lines as the
API server's log backend writes them, with several stages per auditID (RequestReceived, then
ResponseStarted for watches, then ResponseComplete). Carries the 09:40 manual patch of the
payments deployment to the rogue image by deploy-bot, and the pipeline's deploys and rollback."""

from __future__ import annotations

import json
import random
import uuid
from datetime import datetime, timedelta
from pathlib import Path

from forensics.sample import scenario as S

KUBECTL_UA = "kubectl/v1.29.2 (linux/amd64) kubernetes/4b8e819"
CI_UA = "argocd-application-controller/v2.10.1 (linux/amd64)"
CI_SA_CRED = "JTI=6f1c2d3e-4a5b-4c6d-8e7f-901a2b3c4d5e"
CI_SA_TOKEN_CRED = "JTI=0d9e8f7a-6b5c-4d3e-9f2a-1b0c9d8e7f6a"
CI_POD_IP = "10.20.1.15"
NODE_IP = "10.20.0.11"


def _ts(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _event(
    rng: random.Random,
    when: datetime,
    user: dict,
    verb: str,
    obj: dict,
    ip: str,
    ua: str,
    code: int,
    *,
    request_object: dict | None = None,
    response_object: dict | None = None,
    stages=("RequestReceived", "ResponseComplete"),
    annotations: dict | None = None,
    status_reason: str | None = None,
) -> list[dict]:
    audit_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    path = "/apis/apps/v1" if obj.get("apiGroup") == "apps" else "/api/v1"
    uri = (
        path
        + (f"/namespaces/{obj['namespace']}" if obj.get("namespace") else "")
        + f"/{obj['resource']}"
        + (f"/{obj['name']}" if obj.get("name") else "")
        + (f"/{obj['subresource']}" if obj.get("subresource") else "")
    )
    out = []
    for i, stage in enumerate(stages):
        ev = {
            "kind": "Event",
            "apiVersion": "audit.k8s.io/v1",
            "level": "RequestResponse" if request_object else "Metadata",
            "auditID": audit_id,
            "stage": stage,
            "requestURI": uri,
            "verb": verb,
            "user": user,
            "sourceIPs": [ip],
            "userAgent": ua,
            "objectRef": obj,
            "requestReceivedTimestamp": _ts(when),
            "stageTimestamp": _ts(when + timedelta(milliseconds=3 + 40 * i + rng.randint(0, 20))),
            "annotations": {
                "authorization.k8s.io/decision": "allow" if code != 403 else "forbid",
                "authorization.k8s.io/reason": "" if code != 403 else "no RBAC policy matched",
                **(annotations or {}),
            },
        }
        if request_object is not None:
            ev["requestObject"] = request_object
        if stage != "RequestReceived":
            ev["responseStatus"] = {"metadata": {}, "code": code}
            if status_reason:
                ev["responseStatus"].update({"status": "Failure", "reason": status_reason})
            if response_object is not None and stage == "ResponseComplete":
                ev["responseObject"] = response_object
        out.append(ev)
    return out


def _patch_image(image: str) -> dict:
    return {"spec": {"template": {"spec": {"containers": [{"name": "payments", "image": image}]}}}}


def write(out: Path, rng: random.Random, scale: int) -> list[Path]:
    ci = {
        "username": S.K8S_CI_SA,
        "uid": "3b2a1c0d-ci-deployer",
        "groups": ["system:serviceaccounts", "system:serviceaccounts:ci", "system:authenticated"],
        "extra": {
            "authentication.kubernetes.io/credential-id": [CI_SA_CRED],
            "authentication.kubernetes.io/pod-name": ["argocd-application-controller-0"],
        },
    }
    bot = {
        "username": S.K8S_DEPLOY_BOT,
        "groups": ["deployers", "system:authenticated"],
        "extra": {"authentication.kubernetes.io/credential-id": [S.K8S_DEPLOY_BOT_CRED]},
    }
    node = {"username": "system:node:prod-eu-1-node-a", "groups": ["system:nodes", "system:authenticated"]}
    events: list[dict] = []
    # the pipeline's deploys (and the rollback) and the manual rogue deploy
    for dep in S.DEPLOYS:
        manual = dep.via == "manual"
        image = f"{S.REGISTRY}/{dep.service}@{dep.image.digest}"
        events += _event(
            rng,
            dep.time,
            bot if manual else ci,
            "patch",
            {
                "resource": "deployments",
                "namespace": S.NAMESPACE,
                "name": dep.service,
                "apiGroup": "apps",
                "apiVersion": "v1",
            },
            S.ATTACKER_IP if manual else CI_POD_IP,
            KUBECTL_UA if manual else CI_UA,
            200,
            request_object=_patch_image(image),
        )
    # the kubelet asks for a bound token for the CI service account (TokenRequest)
    events += _event(
        rng,
        S.t("08:00:30"),
        node,
        "create",
        {
            "resource": "serviceaccounts",
            "subresource": "token",
            "namespace": "ci",
            "name": "ci-deployer",
            "apiVersion": "v1",
        },
        NODE_IP,
        "kubelet/v1.29.2 (linux/amd64) kubernetes/4b8e819",
        201,
        response_object={
            "kind": "TokenRequest",
            "apiVersion": "authentication.k8s.io/v1",
            "status": {"token": "", "expirationTimestamp": "2026-03-14T09:00:30Z"},
        },
        annotations={"authentication.kubernetes.io/issued-credential-id": CI_SA_TOKEN_CRED},
    )
    # the attacker tries to read secrets first and is refused
    events += _event(
        rng,
        S.t("09:39"),
        bot,
        "list",
        {"resource": "secrets", "namespace": S.NAMESPACE, "apiVersion": "v1"},
        S.ATTACKER_IP,
        KUBECTL_UA,
        403,
        status_reason="Forbidden",
    )
    # background: nodes and controllers watching and reading
    span = (S.DAY_END - S.DAY_START).total_seconds()
    for _ in range(120 * scale):
        when = S.DAY_START + timedelta(seconds=rng.random() * span)
        kind = rng.random()
        if kind < 0.4:
            events += _event(
                rng,
                when,
                node,
                "watch",
                {"resource": "pods", "apiVersion": "v1"},
                NODE_IP,
                "kubelet/v1.29.2 (linux/amd64) kubernetes/4b8e819",
                200,
                stages=("RequestReceived", "ResponseStarted", "ResponseComplete"),
            )
        elif kind < 0.8:
            events += _event(
                rng,
                when,
                ci,
                "get",
                {
                    "resource": "deployments",
                    "namespace": S.NAMESPACE,
                    "name": rng.choice(["payments", "checkout", "ledger"]),
                    "apiGroup": "apps",
                    "apiVersion": "v1",
                },
                CI_POD_IP,
                CI_UA,
                200,
            )
        else:
            events += _event(
                rng,
                when,
                node,
                "get",
                {
                    "resource": "configmaps",
                    "namespace": S.NAMESPACE,
                    "name": "payments-config",
                    "apiVersion": "v1",
                },
                NODE_IP,
                "kubelet/v1.29.2 (linux/amd64) kubernetes/4b8e819",
                200,
            )
    # one request that timed out at the API server
    events += _event(
        rng,
        S.t("09:51:12"),
        ci,
        "list",
        {"resource": "pods", "namespace": S.NAMESPACE, "apiVersion": "v1"},
        CI_POD_IP,
        CI_UA,
        504,
        status_reason="Timeout",
    )
    events.sort(key=lambda e: (e["stageTimestamp"], e["auditID"]))
    d = out / "k8s"
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"{S.CLUSTER}-kube-apiserver-audit.log"
    path.write_text("".join(json.dumps(e, separators=(",", ":")) + "\n" for e in events), encoding="utf-8")
    return [path]
