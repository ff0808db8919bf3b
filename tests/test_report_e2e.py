"""End to end: papermill runs the incident report on the sample incident into offline HTML."""

from __future__ import annotations

import json
import re

import nbformat
import pytest

import forensics
from forensics.errors import NotebookFailed
from forensics.report import run_report

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sample_report(sample_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    case_path = out / "case.duckdb"
    with forensics.open_case(case_path) as c:
        c.ingest([sample_dir])
        hashes = c.evidence().get_column("sha256").to_list()
    res = run_report("incident_reconstruction", case_path, {"title": "Sample <b>incident</b>"}, out)
    return res, res.html.read_text(encoding="utf-8"), hashes


def test_report_html_is_self_contained(sample_report):
    _, html, _ = sample_report
    assert "<script src" not in html.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?https?://""", html, re.I)
    assert "<svg" in html


def test_report_lists_every_evidence_hash(sample_report):
    _, html, hashes = sample_report
    assert hashes and all(h in html for h in hashes)


def test_hostile_action_is_escaped_in_html(sample_report):
    _, html, _ = sample_report
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "\x1b[" not in html  # ANSI escapes from the hostile user agent are stripped
    assert "Sample &lt;b&gt;incident&lt;/b&gt;" in html


def test_report_hides_input_cells_and_calls_out_timeouts(sample_report):
    _, html, _ = sample_report
    assert "nb.setup()" not in html
    assert "timed out" in html


def test_failing_notebook_names_the_cell_and_writes_partial_outputs(tmp_path, monkeypatch):
    nbdir = tmp_path / "nbs"
    nbdir.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell("case_path = ''")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [
        params,
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_code_cell("raise ValueError('boom')"),
    ]
    nbformat.write(nb, nbdir / "broken.ipynb")
    monkeypatch.setenv("FORENSICS_NOTEBOOKS", str(nbdir))
    with pytest.raises(NotebookFailed) as err:
        run_report("broken", tmp_path / "c.duckdb", {}, tmp_path / "out")
    assert err.value.cell_index is not None and "ValueError" in str(err.value)
    out = tmp_path / "out"
    assert (out / "broken.FAILED.ipynb").is_file() and (out / "broken.FAILED.html").is_file()
    assert not (out / "broken.html").exists()  # a failed run never takes the report's own name


def test_committed_notebooks_have_no_outputs_and_a_kernelspec():
    from forensics import layout

    for path in (p for p in layout.builtin("notebooks").iterdir() if p.name.endswith(".ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        assert nb["metadata"]["kernelspec"]["name"] == "python3", path
        assert any("parameters" in c.get("metadata", {}).get("tags", []) for c in nb["cells"]), path
        for cell in nb["cells"]:
            assert not cell.get("outputs"), f"{path} is committed with outputs"


def test_cli_parameters_take_the_type_of_the_notebook_default():
    from forensics.report import coerce_parameters

    got = coerce_parameters(
        "incident_reconstruction", {"actors": "alice, bob", "max_rows": "20", "start": "none", "title": "t"}
    )
    assert got == {"actors": ["alice", "bob"], "max_rows": 20, "start": None, "title": "t"}
