"""Package data and user folders: the built-in queries and notebooks come from the package, a user's
folder (option or environment variable) comes first by name, and names are never paths."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import forensics
from forensics import queries, report
from forensics.cli import main
from forensics.errors import BadFolder, UnknownDerivation, UnknownNotebook, UnknownQuery


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_builtin_queries_and_notebooks_are_the_repository_folders():
    repo = Path(__file__).resolve().parent.parent
    on_disk = sorted(
        str(p.relative_to(repo / "queries").with_suffix("")) for p in (repo / "queries").rglob("*.sql")
    )
    assert queries.names() == on_disk
    assert report.available() == sorted(p.stem for p in (repo / "notebooks").glob("*.ipynb"))


def test_user_queries_folder_overrides_a_builtin_query_by_name(tmp_path, monkeypatch, capsys):
    mine = tmp_path / "mine"
    _write(mine / "invariants" / "double_apply.sql", "-- Mine. Params: none.\nSELECT 'mine' AS who\n")
    _write(mine / "extra" / "hello.sql", "-- Added. Params: none.\nSELECT 'hello' AS greeting\n")
    builtin = len(queries.names())
    monkeypatch.setenv("FORENSICS_QUERIES", str(mine))
    assert "'mine'" in queries.load("invariants/double_apply")
    assert len(queries.names()) == builtin + 1 and "extra/hello" in queries.names()
    case = tmp_path / "c.duckdb"
    with forensics.open_case(case) as c:
        assert c.invariants(["double_apply"])["double_apply"]["who"].to_list() == ["mine"]
    monkeypatch.delenv("FORENSICS_QUERIES")
    assert "'mine'" not in queries.load("invariants/double_apply")
    # the command-line option does the same, and the notebooks it runs inherit it
    assert (
        main(
            [
                "query",
                "invariants/double_apply",
                "--case",
                str(case),
                "--queries",
                str(mine),
                "--format",
                "csv",
            ]
        )
        == 0
    )
    assert capsys.readouterr().out.splitlines() == ["who", "mine"]


def test_user_notebooks_folder_overrides_a_builtin_notebook(tmp_path, monkeypatch):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    cell = nbformat.v4.new_code_cell("case_path = ''\nmine = True")
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [cell]
    nbformat.write(nb, tmp_path / "provenance_audit.ipynb")
    monkeypatch.setenv("FORENSICS_NOTEBOOKS", str(tmp_path))
    assert set(report.parameters_of("provenance_audit")) == {"case_path", "mine"}
    assert "provenance_audit" in report.available() and "incident_reconstruction" in report.available()


def test_a_missing_user_folder_is_a_user_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FORENSICS_QUERIES", str(tmp_path / "nope"))
    with pytest.raises(BadFolder, match="FORENSICS_QUERIES"):
        queries.names()
    monkeypatch.delenv("FORENSICS_QUERIES")
    forensics.open_case(tmp_path / "c.duckdb").close()
    argv = ["query", "invariants/double_apply", "--case", str(tmp_path / "c.duckdb")]
    assert main([*argv, "--queries", str(tmp_path / "nope")]) == 2
    assert "no queries folder" in capsys.readouterr().err


def test_names_are_looked_up_never_joined_to_a_path(tmp_path, monkeypatch):
    secret = _write(tmp_path / "secret.sql", "SELECT 'leaked' AS x\n")
    monkeypatch.setenv("FORENSICS_QUERIES", str(tmp_path / "q"))
    (tmp_path / "q").mkdir()
    with pytest.raises(UnknownQuery):
        queries.load("../secret")
    with pytest.raises(UnknownQuery):
        queries.load(str(secret.with_suffix("")))
    with pytest.raises(UnknownNotebook):
        report.parameters_of("../notebooks/provenance_audit")


def test_a_query_declares_the_derivation_it_needs(tmp_path, monkeypatch):
    import forensics.case as case_module

    ran: list[str] = []
    monkeypatch.setitem(
        case_module._ON_DEMAND, "attribute_value_counts", lambda con, writable: ran.append("x")
    )
    mine = tmp_path / "q"
    _write(mine / "needs.sql", "-- Declares it.\n-- @needs: attribute_value_counts\nSELECT 1 AS x\n")
    _write(
        mine / "mentions.sql",
        "-- Only names it: attribute_value_counts.\nSELECT 'attribute_value_counts' AS x\n",
    )
    _write(mine / "table.sql", "-- Needs a table every ingest derives.\n-- @needs: evidence\nSELECT 1 AS x\n")
    _write(mine / "unknown.sql", "-- Needs what nothing makes.\n-- @needs: no_such_table\nSELECT 1 AS x\n")
    monkeypatch.setenv("FORENSICS_QUERIES", str(mine))
    with forensics.open_case(tmp_path / "c.duckdb") as c:
        c.query("mentions")
        assert ran == []
        c.query("needs")
        assert ran == ["x"]
        assert c.query("table")["x"].to_list() == [1]
        with pytest.raises(UnknownDerivation, match="no_such_table"):
            c.query("unknown")


def test_the_cardinality_queries_declare_what_they_need():
    for name in queries.names():
        sql = queries.load(name)
        body = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
        if "attribute_value_counts" in body:
            assert "attribute_value_counts" in queries.header_list(sql, "needs"), name


def test_every_shipped_query_has_a_readable_header():
    for name in queries.names():
        queries.header(queries.load(name))


def test_the_analysis_api_and_the_cli_do_not_import_the_sample_generator():
    code = (
        "import sys, forensics, forensics.cli, forensics.provenance, forensics.report, forensics.queries\n"
        "forensics.cli.build_parser()\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('forensics.sample'))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", "import json\n" + code], capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout) == []


def test_demo_without_sample_data_is_a_user_error(tmp_path, capsys):
    assert main(["demo", "--data", str(tmp_path / "none"), "--out", str(tmp_path / "out")]) == 2
    assert "forensics sample --out" in capsys.readouterr().err
