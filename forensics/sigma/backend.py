"""A pySigma backend that compiles a Sigma rule's condition to a DuckDB predicate over columns that
hold the events' original fields, with every rule value a bound parameter.

pySigma parses the rule, applies the modifiers (``contains``, ``all``, ``base64offset``, ``windash``,
``cidr``, ...) and resolves the condition (``1 of selection_*``, ``all of them``, ``not``); this backend
only writes each leaf. ``pysigma-backend-duckdb`` (0.1.4) was not used: it needs pySigma < 2, pastes
values into the SQL, leaves ``%`` and ``_`` in values as LIKE wildcards, compares ``=`` case-sensitively
and reads flat columns, not nested JSON. Why each leaf is written as it is:

* strings: ``ILIKE`` (``LIKE`` for ``|cased``) with ``\\`` escaping the value's own ``%``, ``_`` and ``\\``;
* a field whose records hold a list somewhere along its path is a list column; a leaf on it matches
  when any element does (the reading Elastic and Splunk give a multi-valued field);
* a comparison on a missing field is NULL; under ``not`` it is read as false first, so ``not x``
  matches a record without the field (see ``convert_condition_not``);
* ``null`` matches a missing field or a JSON null; ``exists: true`` needs a non-null value.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import duckdb
from sigma.conditions import ConditionFieldEqualsValueExpression, ConditionNOT, ConditionValueExpression
from sigma.conversion.base import TextQueryBackend
from sigma.conversion.state import ConversionState
from sigma.exceptions import SigmaFeatureNotSupportedByBackendError
from sigma.rule import SigmaRule
from sigma.types import (
    SigmaCasedString,
    SigmaCompareExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SpecialChars,
)

#: DuckDB macro (installed by ``install_macros``) reading dotted-quad IPv4 text as a number, NULL otherwise
IPV4_MACRO = "fx_sigma_ipv4"
_OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"

#: the column holding the record's whole JSON text, which keyword (fieldless) values search
FULLTEXT = "raw_text"

_RE_FLAGS = {
    SigmaRegularExpressionFlag.IGNORECASE: "i",
    SigmaRegularExpressionFlag.MULTILINE: "m",
    SigmaRegularExpressionFlag.DOTALL: "s",
}
_OPS = {
    SigmaCompareExpression.CompareOperators.LT: "<",
    SigmaCompareExpression.CompareOperators.LTE: "<=",
    SigmaCompareExpression.CompareOperators.GT: ">",
    SigmaCompareExpression.CompareOperators.GTE: ">=",
}


def install_macros(con: duckdb.DuckDBPyConnection) -> None:
    """The macros compiled predicates call (temporary: they live as long as the connection)."""
    con.execute(
        f"""CREATE OR REPLACE TEMP MACRO {IPV4_MACRO}(s) AS
            CASE WHEN regexp_full_match(s, '{_OCTET}([.]{_OCTET}){{3}}') THEN
                (split_part(s, '.', 1)::UBIGINT << 24) + (split_part(s, '.', 2)::UBIGINT << 16)
                + (split_part(s, '.', 3)::UBIGINT << 8) + split_part(s, '.', 4)::UBIGINT END"""
    )


def like_pattern(s: SigmaString) -> str:
    """A Sigma string as a LIKE pattern with escape character ``\\``: ``*`` and ``?`` become ``%`` and
    ``_``; the string's own ``%``, ``_`` and ``\\`` are escaped. This is the one place rule text is
    turned into a pattern, and the pattern is always bound, never pasted into SQL."""
    out = []
    for part in s.s:
        if part == SpecialChars.WILDCARD_MULTI:
            out.append("%")
        elif part == SpecialChars.WILDCARD_SINGLE:
            out.append("_")
        elif isinstance(part, str):
            out.append(part.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_"))
        else:
            raise SigmaFeatureNotSupportedByBackendError(
                f"placeholder %{part.name}% is not resolved; give a pipeline that defines it"
            )
    return "".join(out)


@dataclass
class Column:
    """Where a rule field is read from: a column of the field table, a list column when any record
    holds a list on the field's path."""

    name: str
    is_list: bool = False


@dataclass
class Compiled:
    """One rule condition as a predicate over the field table, and the values it binds."""

    predicate: str
    params: dict[str, Any] = field(default_factory=dict)


class DuckDBRawBackend(TextQueryBackend):
    """Compiles conditions against ``columns`` (Sigma field name -> ``Column``), set per source."""

    name: ClassVar[str] = "forensics DuckDB backend over original JSON fields"
    formats: ClassVar[dict[str, str]] = {"default": "DuckDB predicate with named parameters"}
    requires_pipeline: ClassVar[bool] = False
    group_expression: ClassVar[str] = "({expr})"
    or_token: ClassVar[str] = "OR"
    and_token: ClassVar[str] = "AND"
    not_token: ClassVar[str] = "NOT"
    eq_token: ClassVar[str] = " = "
    str_quote: ClassVar[str] = "'"
    # an empty OR / AND (a selection whose every value was filtered away) is false / true
    empty_or_expression: ClassVar[str] = "false"
    empty_and_expression: ClassVar[str] = "true"

    def __init__(self, columns: dict[str, Column] | None = None):
        super().__init__()
        self.columns: dict[str, Column] = columns or {}
        self._params: dict[str, Any] = {}

    # -- entry point ----------------------------------------------------------------------------
    def compile(self, rule: SigmaRule) -> Compiled:
        """The rule's conditions (a list of conditions is their OR) as one predicate."""
        self._params = {}
        queries = self.convert_rule(rule)
        predicate = " OR ".join(f"({q})" for q in queries) if queries else "false"
        return Compiled(predicate, dict(self._params))

    def finalize_query_default(self, rule, query: str, index: int, state: ConversionState) -> str:
        return query

    # -- helpers --------------------------------------------------------------------------------
    def _bind(self, value: Any) -> str:
        name = f"p{len(self._params)}"
        self._params[name] = value
        return f"${name}"

    def _column(self, field_name: str) -> Column:
        try:
            return self.columns[field_name]
        except KeyError:
            raise SigmaFeatureNotSupportedByBackendError(f"field {field_name} has no column") from None

    def _leaf(self, field_name: str, pred: Callable[[str], str]) -> str:
        col = self._column(field_name)
        ref = f'"{col.name}"'
        if col.is_list:
            return f"coalesce(list_bool_or(list_transform({ref}, lambda x: {pred('x')})), false)"
        return pred(ref)

    def _string_pred(self, value: SigmaString) -> Callable[[str], str]:
        op = "LIKE" if isinstance(value, SigmaCasedString) else "ILIKE"
        p = self._bind(like_pattern(value))
        return lambda x: f"{x} {op} {p} ESCAPE '\\'"

    # -- boolean structure: a NULL (missing field) operand reads as false before it is negated --
    def convert_condition_not(self, cond: ConditionNOT, state: ConversionState) -> str:
        inner = self.convert_condition(cond.args[0], state)
        return f"NOT coalesce(({inner}), false)"

    # -- leaves ---------------------------------------------------------------------------------
    def convert_condition_field_eq_val_str(self, cond: ConditionFieldEqualsValueExpression, state) -> str:
        return self._leaf(cond.field, self._string_pred(cond.value))

    def convert_condition_field_eq_val_str_case_sensitive(self, cond, state) -> str:
        return self._leaf(cond.field, self._string_pred(cond.value))

    def convert_condition_field_eq_val_num(self, cond, state) -> str:
        p = self._bind(float(cond.value.number))
        return self._leaf(cond.field, lambda x: f"TRY_CAST({x} AS DOUBLE) = {p}")

    def convert_condition_field_eq_val_bool(self, cond, state) -> str:
        p = self._bind("true" if cond.value.boolean else "false")
        return self._leaf(cond.field, lambda x: f"lower({x}) = {p}")

    def convert_condition_field_eq_val_re(self, cond, state) -> str:
        flags = "".join(sorted(_RE_FLAGS[f] for f in cond.value.flags))
        p = self._bind((f"(?{flags})" if flags else "") + str(cond.value.regexp))
        return self._leaf(cond.field, lambda x: f"regexp_matches({x}, {p})")

    def convert_condition_field_eq_val_cidr(self, cond, state) -> str:
        net = cond.value.network
        if not isinstance(net, ipaddress.IPv4Network):
            raise SigmaFeatureNotSupportedByBackendError(f"IPv6 cidr {net}: only IPv4 ranges are compiled")
        lo, hi = self._bind(int(net.network_address)), self._bind(int(net.broadcast_address))
        return self._leaf(cond.field, lambda x: f"coalesce({IPV4_MACRO}({x}) BETWEEN {lo} AND {hi}, false)")

    def convert_condition_field_compare_op_val(self, cond, state) -> str:
        p = self._bind(float(cond.value.number.number))
        op = _OPS[cond.value.op]
        return self._leaf(cond.field, lambda x: f"TRY_CAST({x} AS DOUBLE) {op} {p}")

    def convert_condition_field_eq_field(self, cond, state) -> str:
        ref = cond.value
        other = self._column(ref.field)
        if other.is_list or self._column(cond.field).is_list:
            raise SigmaFeatureNotSupportedByBackendError("fieldref between list-valued fields")
        y = f'lower("{other.name}")'
        if ref.starts_with and ref.ends_with:
            pred = lambda x: f"contains(lower({x}), {y})"  # noqa: E731
        elif ref.starts_with:
            pred = lambda x: f"starts_with(lower({x}), {y})"  # noqa: E731
        elif ref.ends_with:
            pred = lambda x: f"ends_with(lower({x}), {y})"  # noqa: E731
        else:
            pred = lambda x: f"lower({x}) = {y}"  # noqa: E731
        return self._leaf(cond.field, pred)

    def convert_condition_field_eq_val_null(self, cond, state) -> str:
        col = self._column(cond.field)
        if col.is_list:
            return f'coalesce(len(list_filter("{col.name}", lambda x: x IS NOT NULL)) = 0, true)'
        return f'"{col.name}" IS NULL'

    def convert_condition_field_exists(self, cond, state) -> str:
        col = self._column(cond.field)
        if col.is_list:
            return f'coalesce(len(list_filter("{col.name}", lambda x: x IS NOT NULL)) > 0, false)'
        return f'"{col.name}" IS NOT NULL'

    def convert_condition_field_not_exists(self, cond, state) -> str:
        return f"NOT ({self.convert_condition_field_exists(cond, state)})"

    def convert_condition_field_eq_val_timestamp_part(self, cond, state) -> str:
        raise SigmaFeatureNotSupportedByBackendError("time-part modifiers (|minute, |hour, ...)")

    def convert_condition_field_eq_query_expr(self, cond, state) -> str:
        raise SigmaFeatureNotSupportedByBackendError("query-expression placeholders")

    def convert_condition_query_expr(self, cond, state) -> str:
        raise SigmaFeatureNotSupportedByBackendError("query-expression placeholders")

    # -- keywords: a value without a field is searched for in the record's whole JSON text ------
    def _keyword(self, value: SigmaString) -> str:
        if not value.startswith(SpecialChars.WILDCARD_MULTI):
            value = SpecialChars.WILDCARD_MULTI + value
        if not value.endswith(SpecialChars.WILDCARD_MULTI):
            value = value + SpecialChars.WILDCARD_MULTI
        return self._string_pred(value)(f'"{FULLTEXT}"')

    def convert_condition_val_str(self, cond: ConditionValueExpression, state) -> str:
        return self._keyword(cond.value)

    def convert_condition_val_num(self, cond: ConditionValueExpression, state) -> str:
        return self._keyword(SigmaString(str(cond.value.number)))

    def convert_condition_val_re(self, cond: ConditionValueExpression, state) -> str:
        flags = "".join(sorted(_RE_FLAGS[f] for f in cond.value.flags))
        p = self._bind((f"(?{flags})" if flags else "") + str(cond.value.regexp))
        return f'regexp_matches("{FULLTEXT}", {p})'
