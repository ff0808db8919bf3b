"""Which of a rule's fields a source's records carry, and where lists sit on their paths.

DuckDB's ``json_group_structure`` merges the structure of every record of a source in one scan. A
Sigma field ``a.b.c`` is looked up in it: absent (no record has it), a path through lists (read with
``[*]`` so that a leaf on it matches when any element does) or mixed (records disagree on a step's
type: read both ways). From the fields a source lacks, ``can_match`` decides whether a rule can match
there at all, by Sigma's semantics on a missing field.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass

import duckdb
from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.rule import SigmaRule
from sigma.types import SigmaExists, SigmaExpansion, SigmaFieldReference, SigmaNull

#: at most this many list steps on one path are read each way (2**n JSON paths)
MAX_MIXED_STEPS = 4


@dataclass(frozen=True)
class FieldShape:
    """How to read one Sigma field from a source's records."""

    present: bool
    paths: tuple[str, ...]  # JSON paths; more than one, or any with [*], make a list column
    listy: bool


def _quote(key: str) -> str:
    return '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def structure(con: duckdb.DuckDBPyConnection, source: str) -> object:
    """The merged structure of every record of ``source`` (None when it has none)."""
    rows = con.execute(
        "SELECT json_group_structure(raw) FROM events WHERE source = $s AND raw IS NOT NULL", {"s": source}
    ).fetchall()
    return json.loads(rows[0][0]) if rows and rows[0][0] is not None else None


def field_shape(struct: object, field: str) -> FieldShape:
    """Where ``field`` (dotted, as Sigma names nested keys) is in a merged structure."""
    keys = field.split(".")
    node = struct
    steps: list[str] = []  # "" a plain step, "[*]" a list step, "?" either
    leaf_list = False
    for i, key in enumerate(keys):
        while isinstance(node, list) and steps:  # a list before the key: step into its elements
            steps[-1] = steps[-1] if steps[-1] == "?" else "[*]"
            node = node[0] if node else "NULL"
        if node == "JSON":  # records disagree from here on: read this and every further step both ways
            if steps:
                steps[-1] = "?"
            steps += ["?"] * (len(keys) - i)
            node = "JSON"
            break
        if not isinstance(node, dict) or key not in node:
            return FieldShape(False, (), False)
        node = node[key]
        steps.append("")
    if isinstance(node, list):
        steps[-1] = steps[-1] if steps[-1] == "?" else "[*]"
        leaf_list = True
    elif node == "JSON":
        steps[-1] = "?"
    return _paths(keys, steps, leaf_list)


def _paths(keys: list[str], steps: list[str], leaf_list: bool) -> FieldShape:
    mixed = [i for i, s in enumerate(steps) if s == "?"][:MAX_MIXED_STEPS]
    paths = []
    for choice in itertools.product(("", "[*]"), repeat=len(mixed)):
        chosen = dict(zip(mixed, choice, strict=True))
        paths.append(
            "$"
            + "".join(
                "." + _quote(k) + chosen.get(i, "" if steps[i] == "?" else steps[i])
                for i, k in enumerate(keys)
            )
        )
    listy = leaf_list or len(paths) > 1 or any("[*]" in p for p in paths)
    return FieldShape(True, tuple(paths), listy)


def rule_fields(rule: SigmaRule) -> list[str]:
    """Every field a rule's detection names (after its pipeline), in order of first use."""
    seen: dict[str, None] = {}
    for cond in rule.detection.parsed_condition:
        for leaf in _leaves(cond.parsed):
            if isinstance(leaf, ConditionFieldEqualsValueExpression):
                seen[leaf.field] = None
                if isinstance(leaf.value, SigmaFieldReference):
                    seen[leaf.value.field] = None
    return list(seen)


def uses_keywords(rule: SigmaRule) -> bool:
    return any(
        isinstance(leaf, ConditionValueExpression)
        for cond in rule.detection.parsed_condition
        for leaf in _leaves(cond.parsed)
    )


def _leaves(cond):
    if isinstance(cond, ConditionAND | ConditionOR | ConditionNOT):
        for a in cond.args:
            yield from _leaves(a)
    else:
        yield cond


def can_match(rule: SigmaRule, absent: set[str]) -> bool:
    """False when the rule cannot match any record lacking the ``absent`` fields: each leaf on an
    absent field is false (true for ``null`` and ``exists: false``), and the condition is then false
    whatever the other fields hold."""
    return any(_eval(c.parsed, absent) is not False for c in rule.detection.parsed_condition)


def _eval(cond, absent: set[str]) -> bool | None:
    """Three-valued: True/False when the absent fields decide the condition, None otherwise."""
    if isinstance(cond, ConditionAND):
        vals = [_eval(a, absent) for a in cond.args]
        return False if False in vals else (True if all(v is True for v in vals) else None)
    if isinstance(cond, ConditionOR):
        vals = [_eval(a, absent) for a in cond.args]
        return True if True in vals else (False if vals and all(v is False for v in vals) else None)
    if isinstance(cond, ConditionNOT):
        v = _eval(cond.args[0], absent)
        return None if v is None else not v
    if isinstance(cond, ConditionFieldEqualsValueExpression):
        ref = cond.value.field if isinstance(cond.value, SigmaFieldReference) else None
        if cond.field not in absent and ref not in absent:
            return None
        value = cond.value
        if isinstance(value, SigmaExpansion):
            value = value.values[0] if value.values else None
        if isinstance(value, SigmaNull):
            return True
        if isinstance(value, SigmaExists):
            return not value.exists
        return False
    return None
