"""The case as a tree of Parquet files that Spark, Trino and DuckDB read where it lies.

Layout (docs/scale-out.md): ``DIR/<table>/`` per table, hive-partitioned ``source=<source>/day=<YYYY-MM-DD>/``
where the table has a ``source`` column and a ``time`` column (the day is ``time`` in UTC); a missing value is
``__HIVE_DEFAULT_PARTITION__`` as Hive, Spark and DuckDB write it. ``DIR/manifest.json`` lists every table's
columns with their case type and the type stored, and every file with its row count, size and sha256.

Types Spark or Trino refuse are stored as types they read and cast back on import (``STORED_AS``): the
manifest records each cast. DuckDB's own ``COPY ... PARTITION_BY`` writes the files: it is the field's
writer for this and keeps instants as UTC-adjusted Parquet timestamps, which Spark reads as the same instants.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

import duckdb

from forensics.errors import ForensicsError

FORMAT = "forensics-parquet/1"
MANIFEST = "manifest.json"
DAY = "day"  # the partition column derived from ``time``; not a column of the case's tables

#: Case types Spark or Trino cannot read from Parquet, and what is stored instead (a regex over the type
#: text, so a nested type's fields are rewritten too). Every cast is undone on import; the only loss is
#: TIMESTAMP_NS rounded to microseconds (the kit's own tables hold none).
STORED_AS: list[tuple[str, str, str]] = [
    (r"\bTIME WITH TIME ZONE\b", "VARCHAR", "Spark has no time-of-day type"),
    (r"\bTIMESTAMP_NS\b", "TIMESTAMP", "Spark refuses nanosecond timestamps; rounded to the microsecond"),
    (r"\bTIME\b(?! ZONE)", "VARCHAR", "Spark has no time-of-day type"),
    (r"\bUUID\b", "VARCHAR", "Spark refuses Parquet's UUID type; stored as its text"),
    (r"\bINTERVAL\b", "VARCHAR", "Spark refuses Parquet's INTERVAL; stored as DuckDB's interval text"),
    (r"\bU?HUGEINT\b", "DECIMAL(38,0)", "Spark reads HUGEINT as double; a value past 38 digits fails"),
    (r"\bUBIGINT\b", "DECIMAL(20,0)", "Spark has no unsigned integers"),
    (r"\bUINTEGER\b", "BIGINT", "Spark has no unsigned integers"),
    (r"\bUSMALLINT\b", "INTEGER", "Spark has no unsigned integers"),
    (r"\bUTINYINT\b", "SMALLINT", "Spark has no unsigned integers"),
    (r"\bJSON\b", "VARCHAR", "JSON text; Spark reads it with get_json_object/from_json"),
    (r"\bBIT\b", "VARCHAR", "no Parquet bit-string type"),
]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class BadParquetTree(ForensicsError):
    """A Parquet tree that does not match its manifest (a file changed, missing or added), or a target
    that is not empty."""


def stored_type(case_type: str) -> str:
    """The Parquet-side type for a case column type (the same when Spark and Trino read it)."""
    out = case_type
    for pattern, replacement, _why in STORED_AS:
        out = re.sub(pattern, replacement, out)
    return out


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    con.complete()
    names = [
        r[0]
        for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
            "AND schema_name = 'main' AND NOT temporary ORDER BY table_name"
        ).fetchall()
    ]
    con.complete()
    return [n for n in names if _NAME.fullmatch(n)]


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    rows = con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND table_name = ? ORDER BY column_index",
        [table],
    ).fetchall()
    con.complete()
    return [(str(n), str(t)) for n, t in rows]


def export_parquet(con: duckdb.DuckDBPyConnection, out: str | os.PathLike[str]) -> dict[str, Any]:
    """Write every table of the case behind ``con`` under ``out`` (which must be missing or empty) and
    return the manifest, also written as ``out/manifest.json``."""
    root = Path(out)
    if root.exists() and any(root.iterdir()):
        raise BadParquetTree(f"{root} is not empty; export into a new folder")
    root.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "created_at": dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z"),
        "tables": {},
    }
    for table in _tables(con):
        cols = _columns(con, table)
        names = {n for n, _ in cols}
        types = dict(cols)
        select = [
            f"{_q(n)}" if stored_type(t) == t else f"CAST({_q(n)} AS {stored_type(t)}) AS {_q(n)}"
            for n, t in cols
        ]
        partition = ["source"] if "source" in names else []
        if "time" in names and types["time"].startswith("TIMESTAMP"):
            select.append(f"strftime(timezone('UTC', \"time\"::TIMESTAMPTZ), '%Y-%m-%d') AS {DAY}")
            partition.append(DAY)
        rows = con.execute(f"SELECT count(*) FROM {_q(table)}").fetchone()
        con.complete()
        n_rows = int(rows[0]) if rows else 0
        folder = root / table
        folder.mkdir()
        query = f"SELECT {', '.join(select)} FROM {_q(table)}"
        if n_rows and partition:
            con.execute(
                f"COPY ({query}) TO {_lit(str(folder))} (FORMAT parquet, COMPRESSION zstd, "
                f"PARTITION_BY ({', '.join(partition)}), OVERWRITE_OR_IGNORE true)"
            )
        else:
            # one file even for an empty table: its footer carries the schema readers need
            partition = []
            query = f"SELECT {', '.join(s for s in select if not s.endswith(' AS ' + DAY))} FROM {_q(table)}"
            con.execute(
                f"COPY ({query}) TO {_lit(str(folder / 'data_0.parquet'))} (FORMAT parquet, COMPRESSION zstd)"
            )
        con.complete()
        manifest["tables"][table] = {
            "rows": n_rows,
            "partition_by": partition,
            "columns": [{"name": n, "type": t, "stored": stored_type(t)} for n, t in cols],
            "files": _files(con, root, folder),
        }
        if sum(f["rows"] for f in manifest["tables"][table]["files"]) != n_rows:
            raise BadParquetTree(f"{table}: the files written do not hold the table's {n_rows} rows")
    (root / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return manifest


def _files(con: duckdb.DuckDBPyConnection, root: Path, folder: Path) -> list[dict[str, Any]]:
    paths = sorted(folder.rglob("*.parquet"))
    if not paths:
        return []
    meta = dict(
        con.execute(
            "SELECT file_name, num_rows FROM parquet_file_metadata(?)", [[str(p) for p in paths]]
        ).fetchall()
    )
    con.complete()
    return [
        {
            "path": p.relative_to(root).as_posix(),
            "rows": int(meta[str(p)]),
            "bytes": p.stat().st_size,
            "sha256": sha256_file(p),
        }
        for p in paths
    ]


def read_manifest(src: str | os.PathLike[str], verify: bool = True) -> dict[str, Any]:
    """The tree's manifest; with ``verify`` every file's sha256 and size are checked and a file the
    manifest does not list is an error (fail closed: a tree that changed is not read)."""
    root = Path(src)
    try:
        manifest: dict[str, Any] = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadParquetTree(f"{root} has no {MANIFEST}; not a tree written by forensics export") from None
    if manifest.get("format") != FORMAT:
        raise BadParquetTree(f"{root}: unknown format {manifest.get('format')!r}, expected {FORMAT}")
    for table in manifest["tables"]:
        if not _NAME.fullmatch(table):
            raise BadParquetTree(f"{root}: table name {table!r} is not a plain name")
    if verify:
        listed = {f["path"]: f for t in manifest["tables"].values() for f in t["files"]}
        present = {p.relative_to(root).as_posix() for p in root.rglob("*.parquet")}
        if present != set(listed):
            extra, missing = sorted(present - set(listed)), sorted(set(listed) - present)
            raise BadParquetTree(f"{root}: files not in the manifest {extra[:3]}, missing {missing[:3]}")
        for rel, f in listed.items():
            path = root / rel
            if path.stat().st_size != f["bytes"] or sha256_file(path) != f["sha256"]:
                raise BadParquetTree(f"{root}: {rel} changed since export (sha256 differs)")
    return manifest


def table_select(root: Path, table: str, spec: dict[str, Any]) -> str:
    """A DuckDB SELECT that reads one table of the tree back with the case's column types."""
    files = [str(root / f["path"]) for f in spec["files"]]
    hive = bool(spec["partition_by"])
    types = ", ".join(f"{_lit(c)}: VARCHAR" for c in spec["partition_by"])
    source = (
        f"read_parquet([{', '.join(_lit(f) for f in files)}], hive_partitioning = {str(hive).lower()}"
        + (f", hive_types = {{{types}}}" if hive else "")
        + ")"
    )
    cols = [
        _q(c["name"])
        if c["type"] == c["stored"]
        else f"CAST({_q(c['name'])} AS {c['type']}) AS {_q(c['name'])}"
        for c in spec["columns"]
    ]
    if not files:
        empty = [f"NULL::{c['type']} AS {_q(c['name'])}" for c in spec["columns"]]
        return f"SELECT {', '.join(empty)} LIMIT 0"
    return f"SELECT {', '.join(cols)} FROM {source}"


def import_parquet(con: duckdb.DuckDBPyConnection, src: str | os.PathLike[str]) -> dict[str, int]:
    """Load a tree written by ``export_parquet`` into the (new, empty) case behind ``con``, in one
    transaction; returns the rows loaded per table, each equal to the manifest's count or an error."""
    root = Path(src)
    manifest = read_manifest(root)
    existing = set(_tables(con))
    seeded = _seeded_tables(con, [t for t in manifest["tables"] if t in existing])
    busy = [
        t
        for t in manifest["tables"]
        if t in existing and t not in seeded and con.execute(f"SELECT count(*) FROM {_q(t)}").fetchone()[0]  # type: ignore[index]
    ]
    con.complete()
    if busy:
        raise BadParquetTree(f"the case already holds rows in {', '.join(busy[:5])}; import into a new case")
    loaded: dict[str, int] = {}
    con.execute("BEGIN TRANSACTION")
    try:
        for table, spec in manifest["tables"].items():
            select = table_select(root, table, spec)
            if table in existing:
                if table in seeded:
                    # the rows a new case is seeded with give way to the tree's: the exported case had
                    # them too, as the case left them (an alias edited, a default turned off)
                    con.execute(f"DELETE FROM {_q(table)}")
                con.execute(f"INSERT INTO {_q(table)} BY NAME {select}")
            else:
                con.execute(f"CREATE TABLE {_q(table)} AS {select}")
            con.complete()
            n = con.execute(f"SELECT count(*) FROM {_q(table)}").fetchone()
            con.complete()
            loaded[table] = int(n[0]) if n else 0
            if loaded[table] != spec["rows"]:
                raise BadParquetTree(
                    f"{table}: loaded {loaded[table]} rows, the manifest says {spec['rows']}"
                )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return loaded


def _seeded_tables(con: duckdb.DuckDBPyConnection, tables: list[str]) -> set[str]:
    """Of ``tables``, those holding rows that are exactly what the schema seeds a new case with (such
    as ``case_meta`` and ``environment_aliases``): a case holding only those is still new. The seeds are
    read from a fresh in-memory case, so any table the schema seeds now or later counts, by its rows."""
    from forensics.case import Case

    seeded: set[str] = set()
    with Case(":memory:") as fresh:
        fresh_tables = set(_tables(fresh.con))
        for table in tables:
            if table not in fresh_tables:
                continue
            names = [n for n, _ in _columns(con, table)]
            if names != [n for n, _ in _columns(fresh.con, table)]:
                continue  # not the schema a new case has: its rows are not seeds
            cols = ", ".join(_q(n) for n in names)
            want = fresh.con.execute(f"SELECT {cols} FROM {_q(table)}").fetchall()
            fresh.con.complete()
            if not want:
                continue
            got = con.execute(f"SELECT {cols} FROM {_q(table)} LIMIT {len(want) + 1}").fetchall()
            con.complete()
            if sorted(map(repr, got)) == sorted(map(repr, want)):
                seeded.add(table)
    return seeded


def attach_parquet(con: duckdb.DuckDBPyConnection, src: str | os.PathLike[str]) -> list[str]:
    """Query a tree in place: each table of the tree becomes a view of the same name over its files
    (a table the connection already has of that name is dropped first). Returns the tables."""
    root = Path(src)
    manifest = read_manifest(root)
    existing = set(_tables(con))
    for table, spec in manifest["tables"].items():
        if table in existing:
            con.execute(f"DROP TABLE {_q(table)}")
        con.execute(f"CREATE VIEW {_q(table)} AS {table_select(root, table, spec)}")
        con.complete()
    return list(manifest["tables"])


def open_parquet(src: str | os.PathLike[str]) -> Any:
    """A read-only in-memory ``Case`` whose tables are views over the tree's files: ``case.query``,
    ``case.timeline`` and the rest run on the tree where it lies, nothing copied."""
    from forensics.case import Case

    case = Case(":memory:")
    attach_parquet(case.con, src)
    case.read_only = True  # derivations asked for by @needs read, never write
    return case
