"""SQL analyses kept as files under ``queries/<area>/<name>.sql`` (shipped in the package; a user's
folder may add or replace files by name, see ``forensics.layout``).

Each file starts with a header comment that says what it answers, its parameters (``$name``,
bound by DuckDB, never pasted into the text) and what a non-empty result means. Files under
``queries/invariants/`` must return zero rows on a healthy system.

Besides its free text, the leading comment block may declare machine-readable keys, one per line, as
``-- @key: value`` (``@needs``, ``@engines``, ``@denominator``, ``@severity``, ``@technique``,
``@title``); ``header(sql)`` reads them.
"""

from __future__ import annotations

import re
from importlib.resources.abc import Traversable

from forensics import layout
from forensics.errors import BadQueryHeader, UnknownQuery

_PARAM = re.compile(r"(?<![:$\w])\$([A-Za-z_]\w*)")
_HEADER_KEY = re.compile(r"--\s*@([A-Za-z_][\w-]*)\s*:(.*)")


def names() -> list[str]:
    """Every query by name (``area/name``): the user's folder's (``FORENSICS_QUERIES``) and the
    built-in ones, a user file replacing a built-in one of the same name (docs/layout.md)."""
    return list(layout.files("queries"))


def find(name: str) -> Traversable:
    """``area/name`` (or a unique ``name``) to its .sql file. Names are looked up, never joined to a path."""
    found = layout.files("queries")
    if name in found:
        return found[name]
    matches = [key for key in found if key.rsplit("/", 1)[-1] == name]
    if len(matches) == 1:
        return found[matches[0]]
    raise UnknownQuery(f"unknown query {name!r}; known queries: {', '.join(found)}")


def load(name: str) -> str:
    return find(name).read_text(encoding="utf-8")


def parameters(sql: str) -> set[str]:
    """Named parameters a query uses (comments and string literals excluded)."""
    body = re.sub(r"--[^\n]*", "", sql)
    body = re.sub(r"'(?:[^']|'')*'", "''", body)
    return set(_PARAM.findall(body))


def invariant_names() -> list[str]:
    """The queries directly under ``invariants/``, by their short name."""
    return [key.split("/", 1)[1] for key in names() if key.count("/") == 1 and key.startswith("invariants/")]


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
