"""The kit as a user installs it: a wheel built from this checkout, installed into a clean venv, run
from a folder outside the checkout. Its queries and notebooks come from the package's own data."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from forensics.sample import scenario as S

REPO = Path(__file__).resolve().parent.parent


def _uv() -> str:
    found = Path(sys.executable).with_name("uv")
    if found.is_file():
        return str(found)
    path = shutil.which("uv")
    if path is None:
        pytest.skip("uv is not installed (make install puts it in .venv)")
    return path


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The bin folder of a clean venv with the freshly built wheel installed (registries and uv's
    cache only). The wheel is built from the sdist, in uv's temporary folder, not in the checkout."""
    uv, work = _uv(), tmp_path_factory.mktemp("wheel")
    subprocess.run([uv, "build", "--quiet", "--out-dir", str(work / "dist"), str(REPO)], check=True)
    (wheel,) = (work / "dist").glob("forensics-*.whl")
    subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(work / "venv")], check=True)
    subprocess.run(
        [uv, "pip", "install", "--quiet", "--python", str(work / "venv/bin/python"), str(wheel)], check=True
    )
    return work / "venv" / "bin"


def _run(bin_dir: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("FORENSICS_QUERIES", "FORENSICS_NOTEBOOKS")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(
        [str(bin_dir / "forensics"), *args], cwd=cwd, env=env, capture_output=True, text=True
    )


@pytest.mark.slow
def test_installed_wheel_queries_and_reports_outside_the_checkout(installed, sample_dir, tmp_path):
    located = subprocess.run(
        [str(installed / "python"), "-c", "import forensics.layout as l; print(l.builtin('queries'))"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert REPO not in Path(located).parents and "site-packages" in located

    ingest = _run(installed, tmp_path, "ingest", str(sample_dir), "--case", "c.duckdb")
    assert ingest.returncode == 0, ingest.stderr
    query = _run(installed, tmp_path, "query", "invariants/double_apply", "--case", "c.duckdb")
    assert query.returncode == 0, query.stderr
    assert S.DOUBLE_CHARGE_ORDER in query.stdout and query.stdout.splitlines()[-1] == "(1 row)"

    report = _run(installed, tmp_path, "run", "credential_revocation", "--case", "c.duckdb", "--out", "out")
    assert report.returncode == 0, report.stderr
    html = tmp_path / "out" / "credential_revocation.html"
    assert html.is_file() and html.stat().st_size > 0


@pytest.mark.slow
def test_installed_wheel_takes_a_user_queries_folder_first(installed, tmp_path):
    (tmp_path / "mine" / "invariants").mkdir(parents=True)
    (tmp_path / "mine" / "invariants" / "double_apply.sql").write_text("-- Mine.\nSELECT 'mine' AS who\n")
    subprocess.run(
        [str(installed / "python"), "-c", "import forensics; forensics.open_case('c.duckdb').close()"],
        cwd=tmp_path,
        check=True,
    )
    got = _run(
        installed, tmp_path, "query", "invariants/double_apply", "--case", "c.duckdb", "--queries", "mine"
    )
    assert got.returncode == 0, got.stderr
    assert got.stdout.splitlines()[0].strip() == "who" and "mine" in got.stdout.splitlines()[2]
