"""SQL analyses kept as files under ``queries/<area>/<name>.sql``.

Each file starts with a header comment that says what it answers, its parameters (``$name``,
bound by DuckDB, never pasted into the text) and what a non-empty result means. Files under
``queries/invariants/`` must return zero rows on a healthy system.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from forensics.errors import UnknownQuery

_PARAM = re.compile(r"(?<![:$\w])\$([A-Za-z_]\w*)")


def queries_dir() -> Path:
    env = os.environ.get("FORENSICS_QUERIES")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent / "queries"


def names() -> list[str]:
    """Every query's name: its path under ``queries/`` without ``.sql`` (``area/name``)."""
    root = queries_dir()
    return sorted(p.relative_to(root).with_suffix("").as_posix() for p in root.glob("**/*.sql"))


def find(name: str) -> Path:
    """``area/name`` (or a unique ``name``) to its .sql file. A name is one of ``names()``, never a
    path: anything else (an absolute path, ``..``) is an unknown query."""
    root = queries_dir()
    known = names()
    if name in known:
        return root / f"{name}.sql"
    matches = [k for k in known if k.rsplit("/", 1)[-1] == name]
    if len(matches) == 1:
        return root / f"{matches[0]}.sql"
    raise UnknownQuery(f"unknown query {name!r}; known queries: {', '.join(known)}")


def load(name: str) -> str:
    return find(name).read_text(encoding="utf-8")


def parameters(sql: str) -> set[str]:
    """Named parameters a query uses (comments and string literals excluded)."""
    body = re.sub(r"--[^\n]*", "", sql)
    body = re.sub(r"'(?:[^']|'')*'", "''", body)
    return set(_PARAM.findall(body))


def invariant_names() -> list[str]:
    root = queries_dir() / "invariants"
    return sorted(p.stem for p in root.glob("*.sql"))
