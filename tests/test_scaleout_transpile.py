"""DuckDB SQL to Spark SQL without a Spark session: parameters become literals in sqlglot's tree, the
fix-ups write Spark's functions, what cannot be carried is refused with its reason, and every query's
header names its engines (a reason exactly where Spark is not among them)."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlglot

from forensics import queries
from forensics.scaleout import spark as sp
from forensics.scaleout.transpile import NotTranspilable, to_spark


def test_parameters_are_literals_never_text():
    hostile = "x' OR 1=1 --"
    out = to_spark(
        "SELECT * FROM events WHERE actor = $who AND time >= $t AND list_contains($srcs, source) LIMIT $n",
        {"who": hostile, "t": dt.datetime(2026, 3, 14, 9, tzinfo=dt.UTC), "srcs": ["a", "b"], "n": 5},
    )
    assert "$" not in out and ":who" not in out
    where = sqlglot.parse_one(out, read="spark").args["where"]
    literals = [lit.this for lit in where.find_all(sqlglot.exp.Literal) if lit.is_string]
    assert hostile in literals  # one string literal, quoted by sqlglot
    assert "2026-03-14 09:00:00" in literals  # an UTC instant, zone removed after conversion
    with pytest.raises(NotTranspilable, match=r"\$missing"):
        to_spark("SELECT $missing", {})


@pytest.mark.parametrize(
    ("sql", "want"),
    [
        ("SELECT epoch_us(time) FROM e", "UNIX_MICROS(time)"),
        ("SELECT regexp_matches(a, 'x', 'i') FROM e", "CONCAT('(?i)', 'x')"),
        ("SELECT regexp_full_match(a, 'x') FROM e", "CONCAT('^(?:', 'x', ')$')"),
        ("SELECT time_bucket(INTERVAL 5 MINUTE, time) FROM e", "300000000"),
        ("SELECT time_bucket(to_seconds(90), time) FROM e", "MAKE_DT_INTERVAL(0, 0, 0, 90)"),
        ("SELECT [x.a FOR x IN l IF x.b] FROM e", "TRANSFORM(FILTER(l, x -> x.b), x -> x.a)"),
        ("SELECT date_diff('minute', a, b) FROM e", "DATE_TRUNC('MINUTE', a)"),
        ("SELECT strftime(t, '%Y-%m-%dT%H') FROM e", "DATE_FORMAT(t, 'yyyy\\'-\\'MM\\'-\\'dd\\'T\\'HH')"),
    ],
)
def test_fixups_write_sparks_functions(sql, want):
    assert want in to_spark(sql)


@pytest.mark.parametrize(
    ("sql", "why"),
    [
        ("SELECT * FROM a ASOF JOIN b ON a.k = b.k AND a.t >= b.t", "ASOF"),
        ("SELECT * FROM json_each('{}')", "json_each"),
        ("SELECT time_bucket(INTERVAL 1 MONTH, time) FROM e", "months"),
        ("SELECT regexp_matches(a, 'x', 'g') FROM e", "options"),
    ],
)
def test_what_cannot_be_carried_is_refused(sql, why):
    with pytest.raises(NotTranspilable, match=why):
        to_spark(sql)


def test_every_query_names_its_engines():
    spark_ones = 0
    for name in queries.names():
        engines, reason = sp.engines_of(queries.load(name))
        assert "duckdb" in engines, name
        assert ("spark" in engines) != bool(reason), f"{name}: a reason exactly when Spark is not listed"
        spark_ones += "spark" in engines
    assert spark_ones >= 15
