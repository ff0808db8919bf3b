"""SQL analyses kept as files under ``queries/<area>/<name>.sql``.

Each file starts with a header comment that says what it answers, its parameters (``$name``,
bound by DuckDB, never pasted into the text) and what a non-empty result means. Files under
``queries/invariants/`` must return zero rows on a healthy system.

Besides its free text, the leading comment block may declare machine-readable keys, one per line, as
``-- @key: value`` (``@needs``, ``@engines``, ``@denominator``, ``@severity``, ``@technique``,
``@title``); ``header(sql)`` reads them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from forensics.errors import BadQueryHeader, UnknownQuery

_PARAM = re.compile(r"(?<![:$\w])\$([A-Za-z_]\w*)")
_HEADER_KEY = re.compile(r"--\s*@([A-Za-z_][\w-]*)\s*:(.*)")


def queries_dir() -> Path:
    env = os.environ.get("FORENSICS_QUERIES")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent / "queries"


def find(name: str) -> Path:
    """``area/name`` (or a unique ``name``) to its .sql file."""
    root = queries_dir()
    direct = root / f"{name}.sql"
    if direct.is_file():
        return direct
    matches = sorted(root.glob(f"**/{name}.sql"))
    if len(matches) == 1:
        return matches[0]
    known = ", ".join(sorted(str(p.relative_to(root).with_suffix("")) for p in root.glob("**/*.sql")))
    raise UnknownQuery(f"unknown query {name!r}; known queries: {known}")


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


def header(sql: str) -> dict[str, str]:
    """The ``-- @key: value`` lines of a query's leading comment block (the comment and blank lines
    before its first statement line), as ``{key: value}`` with the value stripped. ``@`` lines after
    the block are SQL comments like any other. A key given twice raises ``BadQueryHeader``."""
    keys: dict[str, str] = {}
    for raw in sql.lstrip("\ufeff").splitlines():
        line = raw.strip()
        if not line:
            continue
        if not line.startswith("--"):
            break
        m = _HEADER_KEY.fullmatch(line)
        if m is None:
            continue
        key, value = m.group(1), m.group(2).strip()
        if key in keys:
            raise BadQueryHeader(f"query header declares @{key} twice; keep one '-- @{key}:' line")
        keys[key] = value
    return keys


def header_list(sql: str, key: str) -> list[str]:
    """A comma-separated header key as a list (``@needs: a, b`` -> ``["a", "b"]``); [] when absent."""
    return [v.strip() for v in header(sql).get(key, "").split(",") if v.strip()]
