"""Deploy events as generic JSON Lines with a field mapping (category ``deploy``)."""

from __future__ import annotations

import json
import random
from pathlib import Path

from forensics.sample import scenario as S

MAPPING = """\
# Field mapping for the generic deploy log (generic loader; docs/mapping.md).
name = "deploys"
category = "deploy"

[fields]
time = "time"
action = "action"
actor = "actor"
service = "service"
environment = "environment"
artifact_digest = "digest"
target = "image"

[outcome]
field = "status"
success = ["success"]
failure = ["failure", "error"]
timeout = ["timeout"]
"""


def write(out: Path, rng: random.Random, scale: int) -> list[Path]:
    d = out / "deploys"
    d.mkdir(parents=True, exist_ok=True)
    rows = [
        {
            "time": dep.time.isoformat().replace("+00:00", "Z"), "service": dep.service, "environment": dep.environment,
            "version": dep.image.version, "digest": dep.image.digest,
            "image": f"{S.REGISTRY}/{dep.service}@{dep.image.digest}", "actor": dep.actor, "via": dep.via,
            "action": dep.action, "status": dep.status,
        }
        for dep in S.DEPLOYS
    ]
    path = d / "deploys.jsonl"
    path.write_text("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in rows), encoding="utf-8")
    mapping = d / "deploys.jsonl.mapping.toml"
    mapping.write_text(MAPPING, encoding="utf-8")
    return [path, mapping]
