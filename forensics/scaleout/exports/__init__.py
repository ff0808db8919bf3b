"""Exports for the tools responders share cases with: Timesketch JSONL (``timesketch``) and OCSF
JSONL (``ocsf``). Both are outputs: every value passes through ``forensics.redact.redact_value``."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from typing import Any

import duckdb

from forensics.redact import redact_value

BATCH_ROWS = 20_000  # bounded memory: the events are read and written a batch at a time


def batches(con: duckdb.DuckDBPyConnection, sql: str) -> Iterator[list[dict[str, Any]]]:
    """The rows of ``sql`` as dicts, ``BATCH_ROWS`` at a time."""
    con.complete()
    cur = con.cursor()
    try:
        reader = cur.sql(sql).to_arrow_reader(BATCH_ROWS)
        for batch in reader:
            yield batch.to_pylist()
    finally:
        cur.close()


def write_jsonl(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    path: str | os.PathLike[str],
    record: Callable[[dict[str, Any]], dict[str, Any] | None],
    mode: str = "w",
) -> int:
    """Each row of ``sql`` through ``record`` (None: not written), redacted, as one JSON line."""
    n = 0
    with open(path, mode, encoding="utf-8") as out:
        for rows in batches(con, sql):
            for row in rows:
                doc = record(row)
                if doc is None:
                    continue
                out.write(json.dumps(redact_value(doc), ensure_ascii=False, default=str) + "\n")
                n += 1
    return n
