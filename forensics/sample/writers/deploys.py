"""Deploy events in the kit's generic deploy format (JSON Lines; read by the ``deploys`` source by
content, no mapping needed): time, service, environment, version, digest, image, actor, via,
action, status, id. The rogue payments image is deployed by hand as deploy-bot at 09:40; the
10:10 rollback goes back to the last verified image through the pipeline."""

from __future__ import annotations

import json
import random
from pathlib import Path

from forensics.sample import scenario as S


def write(out: Path, rng: random.Random, scale: int) -> list[Path]:
    d = out / "deploys"
    d.mkdir(parents=True, exist_ok=True)
    rows = [
        {
            "id": f"dep-{i + 1:04d}",
            "time": dep.time.isoformat().replace("+00:00", "Z"),
            "service": dep.service,
            "environment": dep.environment,
            "version": dep.image.version,
            "digest": dep.image.digest,
            "image": f"{S.REGISTRY}/{dep.service}@{dep.image.digest}",
            "actor": dep.actor,
            "via": dep.via,
            "action": dep.action,
            "status": dep.status,
        }
        for i, dep in enumerate(S.DEPLOYS)
    ]
    path = d / "deploys.jsonl"
    path.write_text("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in rows), encoding="utf-8")
    return [path]
