"""Bomb benchmark (issue 15, part 5): peak RSS and CPU seconds of `forensics ingest` in a child process on

- a newline bomb: about 1 MB of gzip that inflates to 1 GiB of newlines (two records, at its ends);
- a 200 MB single JSON document (one object, one record), then a small file ingested into the same case
  (the later ingest whose secret scan used to run out of memory on the big document's row).

    python bench/bombs.py                 # 1 GiB bomb, 200 MB document
    python bench/bombs.py --gib 0.25 --doc-mb 50

Peak RSS is the child's own VmHWM (see _measure.py). Numbers, not assertions: the target of the issue is
under 1.5 GB for both; the table says whether each run stayed under it.
"""

from __future__ import annotations

import argparse
import gzip
import json
import tempfile
from pathlib import Path

from _measure import fresh_db, measure

INGEST = """
import sys
from forensics.cli import main
code = main(["ingest", "--case", sys.argv[1], *sys.argv[2:]])
sys.exit(code)
"""

LIMIT = 1.5e9


def newline_bomb(path: Path, gib: float) -> None:
    block = b"\n" * (1 << 20)
    with gzip.open(path, "wb", compresslevel=9) as f:
        f.write(b'{"time": "2026-03-14T09:00:00Z", "action": "first"}\n')
        for _ in range(int(gib * 1024)):
            f.write(block)
        f.write(b'{"time": "2026-03-14T09:00:01Z", "action": "last"}\n')


def big_document(path: Path, mb: int) -> None:
    item = "x" * 1000
    n = mb * 1000
    with open(path, "w") as f:
        f.write('{"time": "2026-03-14T09:00:00Z", "action": "huge", "items": [')
        f.write(",".join(json.dumps(f"{i} {item}") for i in range(n)))
        f.write("]}\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gib", type=float, default=1.0, help="inflated size of the newline bomb")
    ap.add_argument("--doc-mb", type=int, default=200, help="size of the single document")
    ap.add_argument("--workdir", default=None)
    args = ap.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="forensics-bombs-"))
    bomb, doc, small = work / "bomb.jsonl.gz", work / "doc.json", work / "small.jsonl"
    newline_bomb(bomb, args.gib)
    big_document(doc, args.doc_mb)
    small.write_text(json.dumps({"time": "2026-03-14T10:00:00Z", "action": "after"}) + "\n")
    rows = []
    db = fresh_db(work, "bomb")
    rows.append(
        (
            f"newline bomb: {bomb.stat().st_size / 1e6:.1f} MB gzip -> {args.gib:g} GiB",
            *measure(INGEST, str(db), str(bomb)),
        )
    )
    db = fresh_db(work, "doc")
    rows.append((f"single document: {doc.stat().st_size / 1e6:.0f} MB", *measure(INGEST, str(db), str(doc))))
    rows.append(("a small file after it, same case", *measure(INGEST, str(db), str(small))))
    print("| input | wall s | CPU s | peak RSS | under 1.5 GB |")
    print("|---|---|---|---|---|")
    for name, wall, cpu, rss, _out in rows:
        print(f"| {name} | {wall:.1f} | {cpu:.1f} | {rss / 1e6:.0f} MB | {'yes' if rss < LIMIT else 'NO'} |")


if __name__ == "__main__":
    main()
