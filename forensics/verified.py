"""One parse for provenance: what a verdict shows comes from the bytes that were verified.

Two JSON parsers disagree on a repeated key (DuckDB keeps the first, Python the last), so a bundle,
envelope or statement with a duplicate key anywhere is refused (``loads``: ``DuplicateKey``) and its
verdict is ``failed``. The displayed columns of a verified attestation (builder, repository, ref,
commit, workflow, build type, predicate type, run id) are recomputed here from the verified payload
(``statement_columns``, the same precedence as ``sources/intoto.py``'s SQL); a verdict whose table
columns differ from them is ``failed`` too (``column_differences``).
"""

from __future__ import annotations

import json


class DuplicateKey(ValueError):
    """A JSON object repeats a key: parsers disagree on its value, so the document is refused."""


def _pairs(pairs: list[tuple[str, object]]) -> dict:
    seen: dict = {}
    for k, v in pairs:
        if k in seen:
            raise DuplicateKey(f"duplicate JSON key {k!r}")
        seen[k] = v
    return seen


def loads(text: str | bytes) -> object:
    """``json.loads`` that raises ``DuplicateKey`` when any object repeats a key."""
    return json.loads(text, object_pairs_hook=_pairs)


def _get(d, *path):
    for p in path:
        if isinstance(p, int):
            d = d[p] if isinstance(d, list) and len(d) > p else None
        else:
            d = d.get(p) if isinstance(d, dict) else None
        if d is None:
            return None
    return d if not isinstance(d, dict | list) else None


def _first(*values):
    return next((v for v in values if v is not None), None)


def statement_columns(stmt: dict) -> dict[str, str | None]:
    """The attestation columns an in-toto Statement determines (docs/provenance.md)."""
    pred = stmt.get("predicate") if isinstance(stmt.get("predicate"), dict) else {}
    uri = _first(_get(pred, "invocation", "configSource", "uri"), _get(pred, "materials", 0, "uri"))
    repo_from_uri = None
    ref_from_uri = None
    if uri is not None:
        base, _, ref = str(uri).partition("@")
        repo_from_uri = base.removeprefix("git+")
        ref_from_uri = ref or None
    return {
        "statement_type": _get(stmt, "_type"),
        "predicate_type": _get(stmt, "predicateType"),
        "builder_id": _first(_get(pred, "runDetails", "builder", "id"), _get(pred, "builder", "id")),
        "build_type": _first(
            _get(pred, "buildDefinition", "buildType"), _get(pred, "buildType"), _get(pred, "recipe", "type")
        ),
        "source_repo": _first(
            _get(pred, "buildDefinition", "externalParameters", "workflow", "repository"),
            _get(pred, "buildDefinition", "externalParameters", "source", "uri"),
            repo_from_uri,
        ),
        "source_ref": _first(
            _get(pred, "buildDefinition", "externalParameters", "workflow", "ref"), ref_from_uri
        ),
        "source_commit": _first(
            _get(pred, "buildDefinition", "resolvedDependencies", 0, "digest", "gitCommit"),
            _get(pred, "buildDefinition", "resolvedDependencies", 0, "digest", "sha1"),
            _get(pred, "invocation", "configSource", "digest", "sha1"),
            _get(pred, "materials", 0, "digest", "sha1"),
        ),
        "workflow_path": _first(
            _get(pred, "buildDefinition", "externalParameters", "workflow", "path"),
            _get(pred, "invocation", "configSource", "entryPoint"),
            _get(pred, "recipe", "entryPoint"),
        ),
        "run_id": _first(
            _get(pred, "runDetails", "metadata", "invocationId"),
            _get(pred, "metadata", "buildInvocationId"),
            _get(pred, "metadata", "buildInvocationID"),
        ),
    }


def column_differences(table: dict[str, object], verified: dict[str, object]) -> list[str]:
    """Columns whose table value is not what the verified statement says."""
    return sorted(
        k
        for k, v in verified.items()
        if k in table and (None if table[k] is None else str(table[k])) != (None if v is None else str(v))
    )
