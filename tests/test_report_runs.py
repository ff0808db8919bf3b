"""Issues 18 (parts 4 and 8) and 23 with real kernels: outputs move into place only when complete, a
failed or killed run leaves the previous report as it was, two runs give the same bytes, every run's
statement verifies, and the terminal shows progress and findings, not kernel warnings."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

import forensics
from forensics.cli import main
from forensics.errors import NotebookFailed
from forensics.report import run_report

pytestmark = pytest.mark.slow

TOY = """
import time
from pathlib import Path
from IPython.display import HTML, display
Path(out_dir, "toy-list.csv").write_text(f"tag,{tag}\\n")
time.sleep(float(sleep))
if fail:
    raise ValueError("boom")
display(HTML(f"<p>tag {tag}</p>"))
print("wrote", Path(out_dir, "toy-list.csv"))
"""


@pytest.fixture
def toy(tmp_path, monkeypatch):
    """A user notebook that writes a checklist beside its report, can sleep and can fail; a small case."""
    nbdir = tmp_path / "nbs"
    nbdir.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell(
        "case_path = ''\nout_dir = ''\ntag = 'a'\nsleep = 0.0\nfail = False\nstart = None\nend = None"
    )
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(TOY)]
    nbformat.write(nb, nbdir / "toy.ipynb")
    monkeypatch.setenv("FORENSICS_NOTEBOOKS", str(nbdir))
    ev = tmp_path / "ev.jsonl"
    ev.write_text(json.dumps({"time": "2026-03-14T09:00:00Z", "action": "login"}) + "\n")
    case = tmp_path / "case.duckdb"
    with forensics.open_case(case) as c:
        c.ingest([ev])
    return case, tmp_path / "out"


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def test_failed_rerun_keeps_the_good_report_and_names_its_partial_output(toy):
    case, out = toy
    good = run_report("toy", case, {"tag": "a"}, out, sigstore=False)
    assert sorted(p.name for p in good.files) == [
        "toy-list.csv",
        "toy.html",
        "toy.intoto.json",
        "toy.ipynb",
    ]
    before = _snapshot(out)
    with pytest.raises(NotebookFailed) as err:
        run_report("toy", case, {"tag": "b", "fail": "true"}, out, sigstore=False)
    assert "ValueError: boom" in str(err.value) and "previous report" in str(err.value)
    after = _snapshot(out)
    assert {k: after[k] for k in before} == before  # the good report and its checklist untouched
    assert set(after) - set(before) == {"toy.FAILED.html", "toy.FAILED.ipynb"}
    assert (out / "toy.FAILED" / "toy-list.csv").read_text() == "tag,b\n"
    assert "boom" in (out / "toy.FAILED.html").read_text()
    assert main(["verify-report", str(out / "toy.html"), "--case", str(case)]) == 0
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no staging left behind
    html = (out / "toy.html").read_text()
    assert f"wrote {out.resolve() / 'toy-list.csv'}" in html and ".partial" not in html
    # the next good run replaces the report and clears the failed one's files
    run_report("toy", case, {"tag": "c"}, out, sigstore=False)
    assert (out / "toy-list.csv").read_text() == "tag,c\n"
    assert not (out / "toy.FAILED.html").exists() and not (out / "toy.FAILED").exists()


def test_a_run_killed_mid_way_leaves_the_previous_report_whole(toy):
    case, out = toy
    run_report("toy", case, {"tag": "a"}, out, sigstore=False)
    before = _snapshot(out)
    env = dict(os.environ)
    child = subprocess.Popen(
        [sys.executable, "-m", "forensics.cli", "run", "toy", "--case", str(case), "--out", str(out)]
        + ["-p", "tag", "b", "-p", "sleep", "120", "-q", "--no-sigstore"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # the child and its kernel in one group, killed together
    )
    partial = out / ".toy.partial" / "toy-list.csv"
    deadline = time.monotonic() + 90
    while not partial.exists() and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.2)
    assert partial.exists(), "the run never reached its sleeping cell"
    os.killpg(child.pid, signal.SIGKILL)
    child.wait()
    assert child.returncode == -signal.SIGKILL
    assert _snapshot(out) == before  # old HTML beside old checklist, nothing new mixed in
    assert main(["verify-report", str(out / "toy.html")]) == 0
    run_report(
        "toy", case, {"tag": "c"}, out, sigstore=False
    )  # the next run clears the dead run's staging folder
    assert not (out / ".toy.partial").exists() and (out / "toy-list.csv").read_text() == "tag,c\n"


def test_a_secret_given_as_a_parameter_is_recorded_only_as_a_fingerprint(toy):
    case, out = toy
    token = "ghp_" + "Z9y8X7w6V5u4T3s2R1q0" * 2
    r = run_report("toy", case, {"tag": token[:40]}, out, sigstore=False)
    for p in (r.notebook, r.html, r.statement):  # the kit's own outputs (the toy's CSV is the toy's)
        text = p.read_text(encoding="utf-8")
        assert token[:40] not in text and "<github_token:sha256:" in text, p.name
    assert main(["verify-report", str(r.html)]) == 0


def test_suffix_and_window_names_keep_runs_apart(toy):
    case, out = toy
    a = run_report("toy", case, {"tag": "a"}, out, suffix="-day2", sigstore=False)
    assert sorted(p.name for p in a.files) == [
        "toy-day2.html",
        "toy-day2.intoto.json",
        "toy-day2.ipynb",
        "toy-list-day2.csv",
    ]
    b = run_report(
        "toy",
        case,
        {"tag": "b", "start": "2026-03-14T08:00Z", "end": "2026-03-14T11:30Z"},
        out,
        name_window=True,
        sigstore=False,
    )
    assert b.html.name == "toy-20260314T0800Z-20260314T1130Z.html"
    assert (out / "toy-day2.html").is_file() and (out / "toy-list-day2.csv").read_text() == "tag,a\n"
    for r in (a, b):
        assert main(["verify-report", str(r.html)]) == 0


@pytest.fixture(scope="module")
def demo_case(sample_dir, tmp_path_factory):
    """The sample incident in a closed case (kernels open it themselves)."""
    path = tmp_path_factory.mktemp("democase") / "demo.duckdb"
    with forensics.open_case(path) as c:
        c.ingest([sample_dir])
    return path


def test_two_runs_give_identical_bytes_and_each_verifies(demo_case, tmp_path):
    out = tmp_path / "reports"
    cmd = [sys.executable, "-m", "forensics.cli", "run", "credential_revocation", "--case", str(demo_case)]
    cmd += ["--out", str(out), "-p", "start", "2026-03-14T08:00:00Z", "--no-sigstore"]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr
    one = _snapshot(out)
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr
    two = _snapshot(out)
    statement = json.loads(two["credential_revocation.intoto.json"])
    subjects = {s["name"] for s in statement["subject"]}
    assert subjects == set(two) - {"credential_revocation.intoto.json"}
    assert {".html", ".ipynb", ".md", ".json", ".csv"} <= {Path(n).suffix for n in subjects}
    assert {n: one[n] for n in subjects} == {n: two[n] for n in subjects}
    # quiet and honest: no kernel warning, a progress line per cell, paths and findings at the end
    for run in (first, second):
        assert "without encryption" not in run.stderr and "IPKernelApp" not in run.stderr
        assert "credential_revocation: cell 1/" in run.stderr
        assert f"report credential_revocation: {out / 'credential_revocation.html'}" in run.stdout
        assert "statement (unsigned)" in run.stdout and "findings: " in run.stdout
    html = two["credential_revocation.html"].decode()
    assert "credential_revocation.intoto.json" in html and "forensics verify-report" in html
    assert "generated 20" not in html.lower()
    assert main(["verify-report", str(out / "credential_revocation.html"), "--case", str(demo_case)]) == 0


def test_demo_writes_a_statement_beside_every_report(demo_case, tmp_path):
    from forensics.sample import demo

    out = tmp_path / "demo"
    out.mkdir()
    case = out / "demo.duckdb"
    shutil.copy(demo_case, case)
    result = demo.write_reports(case, out, sigstore=False)
    assert not result.failures, [str(f) for f in result.failures]
    assert len(result.reports) == len([n for n in demo.DEFAULT_REPORTS if n not in result.skipped])
    for r in result.reports:
        assert r.statement == out / f"{r.name}.intoto.json" and r.statement.is_file()
        assert main(["verify-report", str(r.html), "--case", str(case)]) == 0
