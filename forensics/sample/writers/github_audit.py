"""GitHub part of the sample incident: an organisation audit-log export in GitHub's JSON form (an
array of events with ``@timestamp`` in epoch milliseconds and ``_document_id``). Carries the fork's
pull_request_target run, the deploy-bot PAT used from the attacker's address at 09:20, and its
revocation at 10:22."""

from __future__ import annotations

import base64
import json
import random
from datetime import datetime, timedelta
from pathlib import Path

from forensics.sample import scenario as S

GIT_UA = "git/2.43.0"
PAT_KIND = "Personal access token (classic)"
INSTALLATION_TOKEN = "sha256-hash-of-actions-installation-token"


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def _event(rng: random.Random, when: datetime, action: str, actor: str, **fields) -> dict:
    doc_id = base64.urlsafe_b64encode(rng.getrandbits(128).to_bytes(16, "big")).decode().rstrip("=")
    ev = {
        "@timestamp": _ms(when),
        "_document_id": doc_id,
        "action": action,
        "actor": actor,
        "created_at": _ms(when),
        "org": S.ORG,
        "business": "acme",
        "operation_type": fields.pop("operation_type", "access"),
    }
    ev.update({k: v for k, v in fields.items() if v is not None})
    return ev


def _pat_use(rng: random.Random, when: datetime, action: str, ip: str) -> dict:
    return _event(
        rng,
        when,
        action,
        S.DEPLOY_BOT_GH_USER,
        repo=S.REPO,
        actor_ip=ip,
        user_agent=GIT_UA,
        hashed_token=S.GH_DEPLOY_PAT_HASHED,
        programmatic_access_type=PAT_KIND,
        token_scopes="repo,workflow",
        transport_protocol_name="http",
        repository_public=False,
        request_id=f"{rng.getrandbits(32):08X}:{rng.getrandbits(16):04X}:{rng.getrandbits(24):06X}:{rng.getrandbits(28):07X}:{rng.getrandbits(32):08X}",
    )


def write(out: Path, rng: random.Random, scale: int) -> list[Path]:
    t = S.t
    events = [
        # normal: the deploy token used by the hosted CI
        _pat_use(rng, t("08:01:10"), "git.clone", S.CI_HOSTED_IP),
        _pat_use(rng, t("08:27:40"), "git.clone", S.CI_HOSTED_IP),
        # the fork's pull_request_target workflow runs on the self-hosted runner
        _event(
            rng,
            t("09:10"),
            "workflows.created_workflow_run",
            S.ATTACKER_GH_USER,
            repo=S.REPO,
            workflow_run_id=S.CI_LEAK_RUN_ID,
            name="pr-checks",
            event="pull_request_target",
            head_repository=f"{S.ATTACKER_GH_USER}/payments",
            operation_type="create",
        ),
        _event(
            rng,
            t("09:14"),
            "workflows.completed_workflow_run",
            S.ATTACKER_GH_USER,
            repo=S.REPO,
            workflow_run_id=S.CI_LEAK_RUN_ID,
            name="pr-checks",
            event="pull_request_target",
            conclusion="success",
            runner_name=S.COMPROMISED_RUNNER,
            operation_type="modify",
        ),
        # the PAT used from the attacker's address
        _pat_use(rng, t("09:20"), "git.clone", S.ATTACKER_IP),
        _pat_use(rng, t("09:21:30"), "git.fetch", S.ATTACKER_IP),
        # revocation by the SRE, from the web UI (no token): the event names the revoked token
        _event(
            rng,
            t("10:22"),
            "personal_access_token.access_revoked",
            S.SRE_GH_USER,
            actor_ip=S.OFFICE_IP,
            user=S.DEPLOY_BOT_GH_USER,
            hashed_token=S.GH_DEPLOY_PAT_HASHED,
            programmatic_access_type=PAT_KIND,
            user_agent="Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/124.0",
            operation_type="remove",
        ),
    ]
    # background: Actions cloning with installation tokens, people pushing
    span = (S.DAY_END - S.DAY_START).total_seconds()
    for _ in range(60 * scale):
        when = S.DAY_START + timedelta(seconds=rng.random() * span)
        if rng.random() < 0.6:
            events.append(
                _event(
                    rng,
                    when,
                    "git.clone",
                    S.CI_ACTOR,
                    repo=rng.choice([S.REPO, f"{S.ORG}/checkout", f"{S.ORG}/ledger"]),
                    actor_ip=S.CI_HOSTED_IP,
                    user_agent=GIT_UA,
                    hashed_token=INSTALLATION_TOKEN,
                    programmatic_access_type="GitHub App server-to-server token",
                )
            )
        else:
            events.append(
                _event(
                    rng,
                    when,
                    "git.push",
                    S.SRE_GH_USER,
                    repo=S.REPO,
                    actor_ip=S.OFFICE_IP,
                    user_agent=GIT_UA,
                    operation_type="modify",
                )
            )
    events.sort(key=lambda e: (-e["@timestamp"], e["_document_id"]))  # the export lists newest first
    d = out / "github"
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"{S.ORG}-audit-log-export.json"
    path.write_text(json.dumps(events, indent=1), encoding="utf-8")
    return [path]
