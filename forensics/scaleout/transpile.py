"""DuckDB SQL to Spark SQL: sqlglot (pinned in the ``spark`` extra) plus the kit's fix-up pass over its
tree, for the constructs where sqlglot's Spark output fails or silently means something else.

DuckDB SQL stays the one source: a query is written for DuckDB and transpiled when it runs on Spark.
The fix-ups (each one tested against DuckDB's answer in tests/test_scaleout_spark.py):

- ``$name`` parameters: bound as typed literals built in sqlglot's tree (never pasted text);
- ``time_bucket(width, ts[, origin])``: Spark has no DATE_BIN; rewritten to microsecond arithmetic
  from DuckDB's default origin (2000-01-03 00:00 UTC), exact for any day-time width;
- ``to_seconds/to_minutes/to_hours/to_days(n)``: ``make_dt_interval``;
- ``epoch_us(ts)``, ``epoch_ms(ts)``, ``epoch_ns``: ``unix_micros``/``unix_millis`` (sqlglot reads
  ``epoch_ms`` as "number to time", the other direction);
- ``epoch(ts)``: ``unix_micros(ts) / 1e6`` (sqlglot's UNIX_TIMESTAMP drops the fraction);
- ``regexp_matches(s, p, 'i')`` and other options: the flags as an inline ``(?i)`` group (sqlglot
  drops the flag); ``regexp_full_match(s, p)``: ``s RLIKE '^(?:p)$'``;
- ``[f(x) FOR x IN xs IF c(x)]``: ``transform(filter(xs, ...), ...)``; ``x[a:b]`` on a list built in
  the query: ``slice``; ``json_object``: ``to_json(named_struct(...))``; ``LIMIT coalesce($n, big)``:
  the bound number (Spark wants an integer constant); ``list_contains(NULL, x)``: NULL;
- ``strftime(ts, fmt)``: ``date_format`` with the literal text quoted;
- ``date_diff('unit', a, b)``: DuckDB counts unit boundaries crossed, Spark whole units elapsed; both
  ends are truncated to the unit first, which makes Spark count boundaries.

What stays unportable is said in each query's header (``-- @not-spark: reason``): ASOF JOIN,
``json_each``, ``json_exists``, ``map_contains``, ``arg_min/arg_max`` with a count, ``TRY``, and
``->`` on JSON strings (DuckDB keeps the quotes, Spark's get_json_object does not).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlglot
from sqlglot import exp

#: DuckDB's default time_bucket origin for day-time widths, in microseconds since the epoch
_ORIGIN_US = 946857600 * 1_000_000  # 2000-01-03 00:00:00 UTC
_UNIT_US = {
    "MICROSECOND": 1,
    "MILLISECOND": 1_000,
    "SECOND": 1_000_000,
    "MINUTE": 60_000_000,
    "HOUR": 3_600_000_000,
    "DAY": 86_400_000_000,
    "WEEK": 7 * 86_400_000_000,
}
_TO_INTERVAL = {"TO_DAYS": 0, "TO_HOURS": 1, "TO_MINUTES": 2, "TO_SECONDS": 3}


class NotTranspilable(ValueError):
    """DuckDB SQL that sqlglot and the fix-up pass cannot carry to Spark."""


def to_spark(sql: str, params: dict[str, object] | None = None) -> str:
    """``sql`` (DuckDB) as Spark SQL with ``params`` bound as literals."""
    try:
        trees = sqlglot.parse(sql, read="duckdb")
    except sqlglot.errors.ParseError as e:
        raise NotTranspilable(f"sqlglot cannot parse the query: {e}") from e
    statements = [t for t in trees if t is not None]
    if len(statements) != 1:
        raise NotTranspilable(f"one statement expected, found {len(statements)}")
    tree = fix_up(statements[0], params or {})
    try:
        return tree.sql(dialect="spark", unsupported_level=sqlglot.ErrorLevel.RAISE)
    except sqlglot.errors.UnsupportedError as e:
        raise NotTranspilable(str(e)) from e


def fix_up(tree: exp.Expr, params: dict[str, object]) -> exp.Expr:
    """The kit's rewrites over sqlglot's tree (module docstring)."""

    def bind(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Placeholder) and node.name:
            if node.name not in params:
                raise NotTranspilable(f"parameter ${node.name} is not bound")
            return literal(params[node.name])
        return node

    def rewrite(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.ArrayContains) and isinstance(node.this, exp.Null):
            return exp.Null()  # list_contains(NULL, x) is NULL; Spark refuses an untyped NULL array
        if isinstance(node, exp.Limit) and isinstance(node.expression, exp.Coalesce):
            first = next(
                (
                    a
                    for a in [node.expression.this, *node.expression.expressions]
                    if not isinstance(a, exp.Null)
                ),
                None,
            )
            if isinstance(first, exp.Literal) and not first.is_string:
                if int(first.name) >= 2**31:
                    return exp.Limit(expression=exp.Literal.number(2**31 - 1))
                return exp.Limit(expression=first.copy())
        if (
            isinstance(node, exp.Bracket)
            and len(node.expressions) == 1
            and isinstance(node.expressions[0], exp.Slice)
        ):
            return _slice(node)
        if (
            isinstance(node, exp.Array)
            and len(node.expressions) == 1
            and isinstance(node.expressions[0], exp.Comprehension)
        ):
            return _comprehension(node.expressions[0])
        if isinstance(node, exp.TimeToStr) and isinstance(node.args.get("format"), exp.Literal):
            pattern = java_pattern(node.args["format"].name)
            return exp.Anonymous(
                this="date_format", expressions=[node.this.copy(), exp.Literal.string(pattern)]
            )
        if isinstance(node, exp.JSONObject):
            pairs: list[exp.Expr] = []
            for kv in node.expressions:
                pairs += [kv.this.copy(), kv.expression.copy()]
            # DuckDB keeps a NULL member ({"k": null}); Spark's to_json drops it unless told
            keep_nulls = exp.Anonymous(  # Spark's map(k, v); sqlglot would write map_from_arrays
                this="map", expressions=[exp.Literal.string("ignoreNullFields"), exp.Literal.string("false")]
            )
            return exp.func("to_json", exp.func("named_struct", *pairs), keep_nulls)
        if isinstance(node, exp.Anonymous):
            name = node.name.upper()
            args = node.expressions
            if name in _TO_INTERVAL and len(args) == 1:
                parts: list[exp.Expr] = [exp.Literal.number(0)] * 4
                parts[_TO_INTERVAL[name]] = args[0]
                return exp.func("make_dt_interval", *parts)
            if name in ("EPOCH_US", "EPOCH_NS") and len(args) == 1:
                micros = exp.func("unix_micros", args[0])
                return (
                    micros
                    if name == "EPOCH_US"
                    else exp.Mul(this=micros, expression=exp.Literal.number(1000))
                )
            if name == "FX_TIME_PROBLEM" and args:
                # the kit's macro saying why a time text did not parse; on Spark: the text itself
                return exp.func("concat", exp.Literal.string("time not read: "), args[0])
            if name in ("JSON_EACH", "JSON_EXISTS", "MAP_CONTAINS", "TIME_BUCKET"):
                raise NotTranspilable(f"{node.name}() has no Spark equivalent the kit maps")
        if isinstance(node, exp.UnixToTime) and node.args.get("scale") is not None:
            # DuckDB's epoch_ms(timestamp) is a number; sqlglot reads every epoch_ms as number-to-time
            scale = node.args["scale"]
            if isinstance(scale, exp.Expr) and scale.name in ("3", "millis") and _is_time(node.this):
                return exp.func("unix_millis", node.this)
        if isinstance(node, exp.TimeToUnix):
            return exp.Div(
                this=exp.func("unix_micros", node.this), expression=exp.Literal.number("1000000.0")
            )
        if isinstance(node, exp.RegexpLike) and node.args.get("flag") is not None:
            return _regexp_flags(node)
        if isinstance(node, exp.RegexpFullMatch):
            anchored = exp.func(
                "concat", exp.Literal.string("^(?:"), node.expression, exp.Literal.string(")$")
            )
            return exp.RegexpLike(this=node.this, expression=anchored)
        if isinstance(node, exp.DateDiff) and node.args.get("date_part_boundary"):
            unit = node.args.get("unit")
            unit_name = unit.name.upper() if isinstance(unit, exp.Expr) else "DAY"
            if unit_name in ("DAY", "HOUR", "MINUTE", "SECOND", "WEEK", "MONTH", "YEAR"):
                # Spark's own date_trunc(fmt, ts), named as is: sqlglot would write TRUNC (dates only)
                trunc_a = exp.Anonymous(
                    this="date_trunc", expressions=[exp.Literal.string(unit_name), node.expression]
                )
                trunc_b = exp.Anonymous(
                    this="date_trunc", expressions=[exp.Literal.string(unit_name), node.this]
                )
                return exp.DateDiff(this=trunc_b, expression=trunc_a, unit=exp.var(unit_name))
        if (
            isinstance(node, exp.Join)
            and node.args.get("kind", "")
            and "ASOF" in str(node.args.get("kind")).upper()
        ):
            raise NotTranspilable("ASOF JOIN has no Spark equivalent")
        return node

    for join in tree.find_all(exp.Join):
        if "ASOF" in join.sql(dialect="duckdb").upper().split(" JOIN")[0]:
            raise NotTranspilable("ASOF JOIN has no Spark equivalent")

    def buckets(node: exp.Expr) -> exp.Expr:
        # after ``rewrite``, so that a width given as to_seconds(n) is already Spark's interval
        return _time_bucket(node) if isinstance(node, exp.DateBin) else node

    return tree.transform(bind).transform(rewrite).transform(buckets)


#: strftime directives as Java DateTimeFormatter letters (Spark's date_format)
_STRFTIME = {
    "Y": "yyyy", "y": "yy", "m": "MM", "d": "dd", "H": "HH", "I": "hh", "M": "mm", "S": "ss",
    "f": "SSSSSS", "j": "DDD", "b": "MMM", "B": "MMMM", "a": "EEE", "A": "EEEE", "p": "a", "z": "Z",
    "e": "d", "-m": "M", "-d": "d", "-H": "H", "-M": "m", "-S": "s",
}  # fmt: skip


def java_pattern(fmt: str) -> str:
    """A strftime format as Spark's pattern, literal text quoted (sqlglot leaves a ``T`` or ``Z``
    bare, which Spark refuses or reads as a field)."""
    out, literal, i = [], "", 0

    def flush() -> None:
        nonlocal literal
        if literal:
            out.append("'" + literal.replace("'", "''") + "'")
            literal = ""

    while i < len(fmt):
        if fmt[i] == "%" and i + 1 < len(fmt):
            key = fmt[i + 1 : i + 3] if fmt[i + 1] == "-" else fmt[i + 1]
            if key == "%":
                literal += "%"
            elif key in _STRFTIME:
                flush()
                out.append(_STRFTIME[key])
            else:
                raise NotTranspilable(f"strftime directive %{key} is not mapped")
            i += 1 + len(key)
        else:
            literal += fmt[i]
            i += 1
    flush()
    return "".join(out)


def _comprehension(node: exp.Comprehension) -> exp.Expr:
    """DuckDB's ``[f(x) FOR x IN xs IF c(x)]``: Spark's ``transform(filter(xs, x -> c(x)), x -> f(x))``."""
    var = node.expression
    items = node.args["iterator"].copy()
    condition = node.args.get("condition")
    if condition is not None:
        items = exp.func("filter", items, exp.Lambda(this=condition.copy(), expressions=[var.copy()]))
    return exp.func("transform", items, exp.Lambda(this=node.this.copy(), expressions=[var.copy()]))


def _slice(node: exp.Bracket) -> exp.Expr:
    """DuckDB's 1-based inclusive ``x[a:b]`` on a list: Spark's ``slice(x, a, b - a + 1)``. Only for a
    function's result (a list built in the query); a column could be text, whose slice is not mapped."""
    base, cut = node.this, node.expressions[0]
    if not isinstance(base, exp.Func):
        raise NotTranspilable("x[a:b] on a column (list or text?) is not mapped")
    start = cut.this if cut.this is not None else exp.Literal.number(1)
    end = cut.expression
    if not (isinstance(start, exp.Literal) and isinstance(end, exp.Literal)):
        raise NotTranspilable("x[a:b] with computed bounds is not mapped")
    a, b = int(start.name), int(end.name)
    return exp.func("slice", base.copy(), exp.Literal.number(a), exp.Literal.number(b - a + 1))


def _is_time(node: exp.Expr) -> bool:
    """Whether an expression is (likely) a time, not a number: a column or a cast to a time type."""
    if isinstance(node, exp.Cast):
        return node.to.is_type(*exp.DataType.TEMPORAL_TYPES)
    return isinstance(node, exp.Column)


def _width_us(width: exp.Expr) -> exp.Expr:
    """A day-time interval as microseconds: a literal's value computed here, anything else in SQL."""
    if isinstance(width, exp.Interval):
        unit = width.args.get("unit")
        unit_name = (unit.name if isinstance(unit, exp.Expr) else "").upper().rstrip("S")
        value = width.this
        if unit_name in _UNIT_US and isinstance(value, exp.Literal):
            try:
                return exp.Literal.number(int(float(value.name) * _UNIT_US[unit_name]))
            except ValueError:
                pass
        if unit_name in ("MONTH", "YEAR", "QUARTER"):
            raise NotTranspilable("time_bucket by months or years has no fixed width")
    zero = exp.func("timestamp_micros", exp.Literal.number(0))
    return exp.func("unix_micros", exp.Add(this=zero, expression=width))


def _time_bucket(node: exp.DateBin) -> exp.Expr:
    """time_bucket(width, ts[, origin]) as microsecond arithmetic; an ``offset`` third argument
    (an interval) is not mapped."""
    width = _width_us(node.this)
    ts = node.expression
    origin_arg = node.args.get("unit") or node.args.get("origin")
    if origin_arg is None:
        origin: exp.Expr = exp.Literal.number(_ORIGIN_US)
    elif isinstance(origin_arg, exp.Interval):
        raise NotTranspilable("time_bucket with an offset is not mapped")
    else:
        origin = exp.func("unix_micros", origin_arg)
    since = exp.Sub(this=exp.func("unix_micros", ts), expression=origin)
    buckets = exp.func("floor", exp.Div(this=exp.paren(since), expression=exp.paren(width.copy())))
    micros = exp.Add(this=exp.Mul(this=buckets, expression=exp.paren(width)), expression=origin.copy())
    return exp.func("timestamp_micros", exp.Cast(this=micros, to=exp.DataType.build("BIGINT")))


def _regexp_flags(node: exp.RegexpLike) -> exp.Expr:
    flag = node.args["flag"]
    if not isinstance(flag, exp.Literal) or not flag.is_string:
        raise NotTranspilable("regexp options must be a literal")
    inline = "".join(c for c in flag.name if c in "ims")  # RE2 and Java share these letters
    if set(flag.name) - set("imsc"):
        raise NotTranspilable(f"regexp options {flag.name!r} are not mapped")
    if "c" in flag.name:
        inline = inline.replace("i", "") if flag.name.rindex("c") > flag.name.rfind("i") else inline
    pattern = node.expression
    if inline:
        pattern = exp.func("concat", exp.Literal.string(f"(?{inline})"), pattern)
    return exp.RegexpLike(this=node.this, expression=pattern)


def literal(value: object) -> exp.Expr:
    """A Python value as a typed SQL literal in sqlglot's tree (strings quoted by sqlglot)."""
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int | float):
        return exp.Literal.number(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        text = value.isoformat(sep=" ")
        return exp.Cast(this=exp.Literal.string(text), to=exp.DataType.build("TIMESTAMP"))
    if isinstance(value, dt.date):
        return exp.Cast(this=exp.Literal.string(value.isoformat()), to=exp.DataType.build("DATE"))
    if isinstance(value, list | tuple):
        return exp.Array(expressions=[literal(v) for v in value])
    if isinstance(value, str):
        return exp.Literal.string(value)
    raise NotTranspilable(f"cannot bind a {type(value).__name__} parameter")


def explain(sql: str, params: dict[str, Any] | None = None) -> str:
    """The Spark text for a query, for reading (``forensics query --engine spark --show-sql``)."""
    return to_spark(sql, params)
