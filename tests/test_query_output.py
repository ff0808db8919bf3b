"""``forensics query`` prints every result: a table by default (lists joined), CSV with nested values
as JSON text and formula-like text quoted, or JSON Lines."""

from __future__ import annotations

import csv
import io
import json

import pytest

import forensics
from forensics.cli import main
from forensics.sample import scenario as S

NESTED = (
    "-- Every kind of column. Params: none.\n"
    "SELECT 1 AS n, ['a', 'b'] AS tags, {'k': 'v', 'xs': [1, 2]} AS obj, [[1], [2, 3]] AS grid,\n"
    "       '=HYPERLINK(\"http://x\")' AS formula, 'red' || chr(27) || '[31m' AS esc,\n"
    "       [TIMESTAMPTZ '2026-03-14 09:00:00+00'] AS times\n"
)


@pytest.fixture
def nested_case(tmp_path, monkeypatch):
    (tmp_path / "q").mkdir()
    (tmp_path / "q" / "nested.sql").write_text(NESTED, encoding="utf-8")
    monkeypatch.setenv("FORENSICS_QUERIES", str(tmp_path / "q"))
    case = tmp_path / "c.duckdb"
    forensics.open_case(case).close()
    return case


def test_default_table_prints_list_and_struct_columns(nested_case, capsys):
    assert main(["query", "nested", "--case", str(nested_case)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["n", "tags", "obj", "grid", "formula", "esc", "times"]
    assert set(lines[1]) <= {"-", " "}
    assert "a, b" in lines[2] and '"xs": [1, 2]' in lines[2] and "[[1], [2, 3]]" in lines[2]
    assert "\x1b" not in lines[2] and "[31m" not in lines[2] and "  red  " in lines[2]
    assert lines[-1] == "(1 row)"


def test_csv_writes_nested_values_as_json_and_quotes_formulas(nested_case, capsys):
    assert main(["query", "nested", "--case", str(nested_case), "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 1
    row = rows[0]
    assert json.loads(row["tags"]) == ["a", "b"]
    assert json.loads(row["obj"]) == {"k": "v", "xs": [1, 2]}
    assert json.loads(row["grid"]) == [[1], [2, 3]]
    assert row["formula"] == "'" + '=HYPERLINK("http://x")'
    assert json.loads(row["times"])[0].startswith("2026-03-14 09:00:00")


def test_json_lines_keep_nested_values(nested_case, capsys):
    assert main(["query", "nested", "--case", str(nested_case), "--format", "json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["tags"] == ["a", "b"] and record["grid"] == [[1], [2, 3]]


def test_double_apply_prints_in_the_default_format(sample_dir, tmp_path, capsys):
    case = tmp_path / "c.duckdb"
    with forensics.open_case(case) as c:
        c.ingest([sample_dir / "traces"])
    capsys.readouterr()
    assert main(["query", "invariants/double_apply", "--case", str(case)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == "(1 row)" and S.DOUBLE_CHARGE_ORDER in out
