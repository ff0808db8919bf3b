"""SLSA v1 provenance for the legitimate images, signed with a TEST key, and GitHub Actions
workflow_run / workflow_job payloads for their release builds and for the CI_LEAK run.

The provenance is a DSSE envelope (``payloadType`` in-toto) over an in-toto Statement v1 whose
subject is the image digest, signed with an Ed25519 key derived from a fixed, public seed
(``TEST_KEY_SEED``): Ed25519 signatures are deterministic, so the sample's bytes are stable. The
key is a TEST trust root: ``test_trust_key()`` gives it to tests and to
``forensics.provenance.sample_policy()`` under a label that says so; it is never the production
Sigstore root. The rogue payments image has no provenance at all.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
from datetime import timedelta
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from forensics.sample import scenario as S

TEST_KEY_SEED = b"forensics sample data: TEST provenance signing key, never production"
TEST_KEY_LABEL = "TEST trust root: forensics sample signing key (test only, not production trust)"
BUILDER_ID = "https://github.com/actions/runner/github-hosted"
BUILD_TYPE = "https://actions.github.io/buildtypes/workflow/v1"
LEGIT = [S.PAYMENTS_GOOD, S.CHECKOUT_GOOD, S.LEDGER_GOOD]


def _private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(TEST_KEY_SEED).digest())


def test_trust_key() -> dict:
    """The TEST public key as a policy ``keys`` entry (keyid = sha256 of the raw public key)."""
    pub = _private_key().public_key()
    raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    pem = pub.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    return {"keyid": hashlib.sha256(raw).hexdigest(), "public_key_pem": pem, "label": TEST_KEY_LABEL}


def repository(service: str) -> str:
    return f"{S.ORG}/{service}"


def run_id(image: S.Image) -> int:
    """The release run of an image (the same ids as the sample CI job logs)."""
    return 8000 + [i.service for i in LEGIT].index(image.service)


def statement(image: S.Image) -> dict:
    repo = repository(image.service)
    ref = f"refs/tags/v{image.version}"
    rid = run_id(image)
    return {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [
            {"name": f"{S.REGISTRY}/{image.service}", "digest": {"sha256": image.digest.split(":", 1)[1]}}
        ],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": {
                    "workflow": {
                        "ref": ref,
                        "repository": f"https://github.com/{repo}",
                        "path": image.workflow,
                    }
                },
                "internalParameters": {
                    "github": {"event_name": "push", "runner_environment": "github-hosted"}
                },
                "resolvedDependencies": [
                    {"uri": f"git+https://github.com/{repo}@{ref}", "digest": {"gitCommit": image.commit}}
                ],
            },
            "runDetails": {
                "builder": {"id": BUILDER_ID},
                "metadata": {
                    "invocationId": f"https://github.com/{repo}/actions/runs/{rid}/attempts/1",
                    "startedOn": _z(image.built_at - timedelta(minutes=6)),
                    "finishedOn": _z(image.built_at),
                },
            },
        },
    }


def sign(stmt: dict, payload_type: str = "application/vnd.in-toto+json") -> dict:
    payload = json.dumps(stmt, separators=(",", ":"), sort_keys=True).encode()
    t = payload_type.encode()
    pae = b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)
    sig = _private_key().sign(pae)
    return {
        "payloadType": payload_type,
        "payload": base64.b64encode(payload).decode(),
        "signatures": [{"keyid": test_trust_key()["keyid"], "sig": base64.b64encode(sig).decode()}],
    }


def _z(dt) -> str:
    return dt.isoformat().replace("+00:00", "Z")


def _run(image: S.Image | None, rng: random.Random) -> tuple[dict, dict]:
    if image is None:  # the CI_LEAK run: a pull_request_target workflow from a fork on the self-hosted runner
        repo, rid, jid, path, event, actor = (
            S.REPO,
            S.CI_LEAK_RUN_ID,
            S.CI_LEAK_JOB_ID,
            S.CI_LEAK_WORKFLOW,
            "pull_request_target",
            S.ATTACKER_GH_USER,
        )
        start, sha, branch, name = (
            S.CI_LEAK_TIME - timedelta(seconds=40),
            "deadbeef" + "0" * 32,
            "fork-patch-1",
            "PR checks",
        )
        runner, group, labels, conclusion = (
            S.COMPROMISED_RUNNER,
            "self-hosted",
            ["self-hosted", "linux"],
            "success",
        )
    else:
        repo, rid, path, event, actor = (
            repository(image.service),
            run_id(image),
            image.workflow,
            "push",
            "release-manager",
        )
        jid = 80000 + 10 * (rid - 8000) + 1
        start, sha, branch, name = (
            image.built_at - timedelta(minutes=6),
            image.commit,
            f"v{image.version}",
            "release",
        )
        runner, group, labels, conclusion = (
            f"GitHub Actions {rng.randrange(2, 99)}",
            "GitHub Actions",
            ["ubuntu-latest"],
            "success",
        )
    end = start + timedelta(minutes=6)
    owner, rname = repo.split("/")
    repository_obj = {"name": rname, "full_name": repo, "owner": {"login": owner}}
    run = {
        "action": "completed",
        "repository": repository_obj,
        "sender": {"login": actor},
        "workflow_run": {
            "id": rid,
            "name": name,
            "path": path,
            "event": event,
            "head_sha": sha,
            "head_branch": branch,
            "run_number": rid % 1000,
            "run_attempt": 1,
            "status": "completed",
            "conclusion": conclusion,
            "created_at": _z(start),
            "run_started_at": _z(start),
            "updated_at": _z(end),
            "actor": {"login": actor},
            "triggering_actor": {"login": actor},
            "url": f"https://api.github.com/repos/{repo}/actions/runs/{rid}",
        },
    }
    job = {
        "action": "completed",
        "repository": repository_obj,
        "sender": {"login": actor},
        "workflow_job": {
            "id": jid,
            "run_id": rid,
            "run_attempt": 1,
            "name": "build" if image else "checks",
            "workflow_name": name,
            "head_sha": sha,
            "head_branch": branch,
            "status": "completed",
            "conclusion": conclusion,
            "created_at": _z(start),
            "started_at": _z(start + timedelta(seconds=20)),
            "completed_at": _z(end),
            "labels": labels,
            "runner_name": runner,
            "runner_group_name": group,
            "url": f"https://api.github.com/repos/{repo}/actions/jobs/{jid}",
        },
    }
    return run, job


def write(out: Path, rng: random.Random, scale: int) -> list[Path]:
    pdir = out / "provenance"
    pdir.mkdir(parents=True, exist_ok=True)
    written = []
    for image in LEGIT:
        p = pdir / f"{image.service}-{image.version}.intoto.jsonl"
        p.write_text(json.dumps(sign(statement(image)), separators=(",", ":")) + "\n", encoding="utf-8")
        written.append(p)
    cdir = out / "ci"
    cdir.mkdir(parents=True, exist_ok=True)
    lines = []
    for image in [*LEGIT, None]:
        run, job = _run(image, rng)
        lines += [run, job]
    p = cdir / "github_actions_runs.jsonl"
    p.write_text("".join(json.dumps(x, separators=(",", ":")) + "\n" for x in lines), encoding="utf-8")
    written.append(p)
    return written
