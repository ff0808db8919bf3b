"""CI job logs in the GitHub Actions text format (``<time>Z <text>`` per line).

One log is the incident: job ``CI_LEAK_JOB_ID`` of run ``CI_LEAK_RUN_ID`` on the self-hosted
``COMPROMISED_RUNNER``, where a ``pull_request_target`` workflow from a fork dumps its environment
at ``CI_LEAK_TIME``: the deploy-bot access key id and, on the next line, its secret key. The others
are ordinary jobs on hosted runners (with commit SHAs and digests that must not look like secrets).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path

from forensics.sample import scenario as S


def _ts(t: datetime, rng: random.Random) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond:06d}{rng.randrange(10)}Z"


def _header(workflow_ref: str, runner: str, group: str) -> list[str]:
    return [
        "Requested labels: " + ("self-hosted" if group == "self-hosted" else "ubuntu-latest"),
        f"Job defined at: {workflow_ref}",
        "Waiting for a runner to pick up this job...",
        f"Job is about to start running on the runner: {runner} ({group})",
        "Current runner version: '2.321.0'",
        f"Runner name: '{runner}'",
        f"Runner group name: '{group}'",
        f"Machine name: '{runner}'",
        "##[group]GITHUB_TOKEN Permissions",
        "Contents: read",
        "Metadata: read",
        "##[endgroup]",
    ]


def _render(start: datetime, body: list[str], rng: random.Random, leak_at: int | None = None) -> str:
    out, t = [], start
    for i, text in enumerate(body):
        t = S.CI_LEAK_TIME if i == leak_at else t + timedelta(milliseconds=rng.randrange(20, 900))
        out.append(f"{_ts(t, rng)} {text}")
    return "\n".join(out) + "\n"


def _leak_log(rng: random.Random) -> str:
    ref = f"{S.REPO}/{S.CI_LEAK_WORKFLOW}@refs/pull/417/merge"
    body = _header(ref, S.COMPROMISED_RUNNER, "self-hosted") + [
        "##[group]Run actions/checkout@v4",
        "with:",
        f"  repository: {S.ATTACKER_GH_USER}/payments",
        "  ref: refs/pull/417/head",
        "##[endgroup]",
        "Syncing repository: acme-pay/payments",
        "##[group]Run ./scripts/pr-check.sh",
        "[command]/usr/bin/bash -e ./scripts/pr-check.sh",
        "collecting diagnostics for flaky test report",
    ]
    leak_at = len(body)
    body += [
        f"AWS_ACCESS_KEY_ID={S.DEPLOY_BOT_KEY}",
        f"AWS_SECRET_ACCESS_KEY={S.DEPLOY_BOT_SECRET}",
        "AWS_DEFAULT_REGION=" + S.REGION,
        "RUNNER_NAME=" + S.COMPROMISED_RUNNER,
        "uploading diagnostics to https://paste.example.net/u/7f3a",
        "##[endgroup]",
        "##[group]Run make test",
        "ok  \tpayments/internal/charge\t0.412s",
        "##[endgroup]",
        "Cleaning up orphan processes",
    ]
    start = S.CI_LEAK_TIME - timedelta(seconds=40)
    return _render(start, body, rng, leak_at=leak_at)


def _normal_log(image: S.Image, rng: random.Random) -> str:
    ref = f"{S.ORG}/{image.service}/{image.workflow}@refs/heads/main"
    runner = f"GitHub Actions {rng.randrange(2, 99)}"
    body = _header(ref, runner, "GitHub Actions") + [
        "##[group]Run actions/checkout@v4",
        "with:",
        f"  repository: {S.ORG}/{image.service}",
        "##[endgroup]",
        f"HEAD is now at {image.commit[:7]} release {image.version}",
        f"Checked out commit {image.commit}",
        "##[group]Run docker build",
        f"#12 writing image {image.digest} done",
        f"#13 naming to {S.REGISTRY}/{image.service}:{image.version} done",
        "##[endgroup]",
        "##[group]Run actions/attest-build-provenance@v1",
        f"Attestation created for {S.REGISTRY}/{image.service}@{image.digest}",
        "##[endgroup]",
        "Cleaning up orphan processes",
    ]
    return _render(image.built_at - timedelta(minutes=3), body, rng)


def write(out: Path, rng: random.Random, scale: int) -> list[Path]:
    d = out / "ci" / "job_logs"
    d.mkdir(parents=True, exist_ok=True)
    written = []
    leak = d / f"run-{S.CI_LEAK_RUN_ID}-job-{S.CI_LEAK_JOB_ID}.log"
    leak.write_text(_leak_log(rng), encoding="utf-8")
    written.append(leak)
    for n, image in enumerate(i for i in S.IMAGES if i.workflow):
        path = d / f"run-{8000 + n}-job-{80000 + 10 * n + 1}.log"
        path.write_text(_normal_log(image, rng), encoding="utf-8")
        written.append(path)
    return written
