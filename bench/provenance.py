"""Provenance benchmark: ingest N deploys and N/10 keyed attestations, verify, answer what_was_running.

    .venv/bin/python bench/provenance.py 20000

Baseline, side by side: the same what-was-running join done in plain Python over the loaded rows
(dicts keyed by digest, a sort per service), to show what the SQL path costs in comparison.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import forensics
from forensics import provenance
from forensics.sample.writers import provenance as W


def _write(d: Path, n: int) -> list[Path]:
    services = [f"svc{i:03d}" for i in range(max(1, n // 100))]
    digests = [f"sha256:{i:064x}" for i in range(max(1, n // 10))]
    with open(d / "deploys.jsonl", "w") as f:
        for i in range(n):
            f.write(
                json.dumps(
                    {
                        "id": str(i),
                        "time": f"2026-03-14T{(i // 3600) % 24:02d}:{(i // 60) % 60:02d}:{i % 60:02d}Z",
                        "service": services[i % len(services)],
                        "environment": "production",
                        "digest": digests[i % len(digests)],
                        "actor": "ci-bot",
                        "via": "pipeline",
                        "action": "deploy",
                        "status": "success",
                    }
                )
                + "\n"
            )
    with open(d / "att.intoto.jsonl", "w") as f:
        for dg in digests:
            stmt = {
                "_type": "https://in-toto.io/Statement/v1",
                "subject": [{"name": "x", "digest": {"sha256": dg[7:]}}],
                "predicateType": "https://slsa.dev/provenance/v1",
                "predicate": {
                    "buildDefinition": {
                        "externalParameters": {"workflow": {"repository": "https://github.com/o/r"}}
                    },
                    "runDetails": {"builder": {"id": W.BUILDER_ID}},
                },
            }
            f.write(json.dumps(W.sign(stmt)) + "\n")
    return [d / "deploys.jsonl", d / "att.intoto.jsonl"]


def _python_join(case) -> int:
    deploys = case.sql("SELECT service, environment, time, artifact_digest FROM deploys").to_dicts()
    att = {}
    for r in case.sql("SELECT subject_digest, verdict FROM attestations").to_dicts():
        att.setdefault(r["subject_digest"], []).append(r["verdict"])
    lanes: dict = {}
    for r in deploys:
        lanes.setdefault((r["service"], r["environment"]), []).append(r)
    out = 0
    for rows in lanes.values():
        rows.sort(key=lambda r: r["time"])
        for r in rows:
            v = att.get(r["artifact_digest"], [])
            _ = (
                "verified"
                if "verified" in v
                else ("failed" if "failed" in v else ("indeterminate" if v else "none"))
            )
            out += 1
    return out


def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        files = _write(d, n)
        case = forensics.open_case(d / "c.duckdb")
        t = time.perf_counter()
        case.ingest(files)
        t_ingest = time.perf_counter() - t
        policy = {
            "repositories": {"o/r": {"builder_id": W.BUILDER_ID}},
            "keys": [W.test_trust_key() | {"repositories": ["o/r"]}],
        }
        t = time.perf_counter()
        provenance.verify(case, policy)
        t_verify = time.perf_counter() - t
        t = time.perf_counter()
        rows = provenance.what_was_running(case).height
        t_sql = time.perf_counter() - t
        t = time.perf_counter()
        rows_py = _python_join(case)
        t_py = time.perf_counter() - t
        print(f"deploys={n} attestations={max(1, n // 10)}")
        print(
            f"ingest {t_ingest:.2f}s  verify {t_verify:.2f}s ({max(1, n // 10) / t_verify:.0f} attestations/s)"
        )
        print(
            f"what_was_running SQL {t_sql:.3f}s ({rows} rows)  |  Python baseline {t_py:.3f}s ({rows_py} rows)"
        )
        case.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20000)
