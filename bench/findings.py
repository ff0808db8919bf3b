"""Findings benchmark: what ``forensics.findings.derive`` costs on the 1 GB benchmark case (the
NDJSON audit file of ``bench/ingest.py``, ingested once).

    python bench/findings.py build --workdir /tmp/fb      # generate 1 GB and ingest it (once)
    farm-bench -n 3 --timeout 900 --vs '.venv/bin/python bench/findings.py open --workdir /tmp/fb' \
        -- .venv/bin/python bench/findings.py derive --workdir /tmp/fb

``derive`` opens the case and derives every finding; ``open`` only opens the case, so the CPU
difference is the derivation's. Numbers, not assertions.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["build", "derive", "open"])
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--gb", type=float, default=1.0)
    args = ap.parse_args()
    import forensics

    work = Path(args.workdir)
    case_path = work / "bench.duckdb"
    if args.mode == "build":
        from ingest import MAPPING, make_file

        work.mkdir(parents=True, exist_ok=True)
        data, mapping = work / "audit.jsonl", work / "mapping.toml"
        n = make_file(data, args.gb)
        mapping.write_text(MAPPING, encoding="utf-8")
        with forensics.open_case(case_path) as case:
            case.ingest([data], mapping=str(mapping))
            print(f"{n} events; {case.findings().height} findings")
        data.unlink()
        return
    with forensics.open_case(case_path) as case:
        if args.mode == "derive":
            counts = case.refresh_findings()
            print(sum(counts.values()), "findings")


if __name__ == "__main__":
    main()
