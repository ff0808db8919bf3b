"""Safe files and names that stay inside: formula prefixes, control characters, query and notebook
names that are never paths, and --out as the only place a run writes."""

from __future__ import annotations

import csv
import io
import json

import polars as pl
import pytest

from forensics.cli import main
from forensics.errors import UnknownNotebook, UnknownQuery
from forensics.safe import csv_cell, escape_controls, frame_csv, frame_ndjson, terminal_text


@pytest.mark.parametrize("lead", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_cells_starting_with_a_formula_prefix_are_quoted(lead):
    value = f'{lead}HYPERLINK("http://evil")'
    assert csv_cell(value).startswith("'")
    rows = list(csv.reader(io.StringIO(frame_csv(pl.DataFrame({"c": [value, "plain"]})))))
    assert rows[1][0].startswith("'") and rows[2][0] == "plain"


def test_control_characters_are_visible_escapes_everywhere():
    hostile = "name\x1b[31m\x07\u202eevil\x9b"
    for out in (escape_controls(hostile), terminal_text(hostile), frame_csv(pl.DataFrame({"c": [hostile]}))):
        assert not any(ch in out for ch in "\x1b\x07\u202e\x9b")
        assert "\\x1b" in out and "\\u202e" in out
    js = frame_ndjson(pl.DataFrame({"c": [hostile]}))
    assert "\u202e" not in js and "\x9b" not in js
    assert json.loads(js)["c"] == hostile  # still valid JSON with the same value


def test_numbers_stay_numbers_in_csv():
    rows = list(csv.reader(io.StringIO(frame_csv(pl.DataFrame({"n": [-5, 3]})))))
    assert rows[1] == ["-5"]


@pytest.mark.parametrize("name", ["/etc/passwd", "../queries/credentials/checklist", "credentials/../x"])
def test_query_names_are_never_paths(name, tmp_path):
    from forensics import queries

    with pytest.raises(UnknownQuery):
        queries.find(name)


def test_cli_refuses_a_query_given_as_an_absolute_path(tmp_path, capsys):
    evil = tmp_path / "evil.sql"
    evil.write_text(f"COPY (SELECT 1) TO '{tmp_path / 'written.csv'}'")
    case = tmp_path / "c.duckdb"
    import forensics

    forensics.open_case(case).close()
    assert main(["query", str(evil.with_suffix("")), "--case", str(case)]) == 2
    assert not (tmp_path / "written.csv").exists()
    assert "unknown query" in capsys.readouterr().err


@pytest.mark.parametrize(
    "name", ["../notebooks/incident_reconstruction", "/tmp/x", "credential_revocation/.."]
)
def test_notebook_names_are_never_paths(name):
    from forensics.report import notebook_path

    with pytest.raises(UnknownNotebook), notebook_path(name):
        pass


def test_a_run_never_writes_into_the_notebooks_folder(tmp_path):
    from forensics.errors import UnknownParameter
    from forensics.report import notebooks_dir, run_report

    before = (notebooks_dir() / "credential_revocation.ipynb").read_bytes()
    with pytest.raises(UnknownParameter):
        run_report("credential_revocation", tmp_path / "c.duckdb", {}, notebooks_dir())
    with pytest.raises(UnknownParameter):
        run_report(
            "credential_revocation", tmp_path / "c.duckdb", {"out_dir": str(tmp_path / "x")}, tmp_path / "o"
        )
    assert (notebooks_dir() / "credential_revocation.ipynb").read_bytes() == before
