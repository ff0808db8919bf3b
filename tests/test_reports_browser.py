"""Every demo report rendered in headless Chromium (Debian's package ``chromium``): the summary and
findings come before the evidence ledger, no script runs, and the incident report and the postmortem
name the story's attacker address, persistence key, rogue image and double-charged order in their top
screen. Screenshots are kept in pytest's tmp folder as test artefacts (not in git).

Also: a reader holding the case (as a report notebook does) does not lock the CLI out."""

from __future__ import annotations

import html as htmlmod
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import forensics
from forensics.sample import demo
from forensics.sample import scenario as S

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
STORY = (S.ATTACKER_IP, S.PERSIST_KEY, S.PAYMENTS_ROGUE.digest, S.DOUBLE_CHARGE_ORDER)


@pytest.fixture(scope="session")
def demo_reports(sample_dir, tmp_path_factory):
    """One `forensics demo` run (ingest + every default report) shared by the tests below."""
    out = tmp_path_factory.mktemp("demo")
    case_path, _ = demo.ingest_sample(sample_dir, out)
    result = demo.write_reports(case_path, out)
    assert not result.failures, [str(f) for f in result.failures]
    return out, {r.name: r.html for r in result.reports}


def test_demo_writes_five_reports(demo_reports):
    out, reports = demo_reports
    assert set(reports) == set(demo.DEFAULT_REPORTS) and len(reports) == 5
    assert (out / "postmortem.md").is_file()
    for path in reports.values():
        assert "could not be drawn" not in path.read_text(encoding="utf-8")  # every chart rendered


def _dom(path, shot):
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (Debian: apt-get install -y chromium)")
    run = subprocess.run(
        [CHROMIUM, *FLAGS, "--dump-dom", path.as_uri()], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-2000:]
    subprocess.run(
        [CHROMIUM, *FLAGS, "--window-size=1280,1400", f"--screenshot={shot}", path.as_uri()],
        capture_output=True,
        timeout=120,
    )
    return run.stdout


def _text(fragment: str) -> str:
    return htmlmod.unescape(re.sub(r"<[^>]+>", " ", fragment))


@pytest.mark.parametrize("name", demo.DEFAULT_REPORTS)
def test_report_in_a_browser(demo_reports, name, tmp_path_factory):
    _, reports = demo_reports
    shots = tmp_path_factory.mktemp("screenshots")
    dom = _dom(reports[name], shots / f"{name}.png")
    # no script: none in the page, and the page forbids any (CSP default-src 'none')
    assert not re.search(r"<script\b(?![^>]*type=\"application/(json|vnd[^\"]*)\")", dom, re.I)
    assert "default-src 'none'" in dom
    summary = dom.find('id="summary"')
    findings = dom.find("fx-findings")
    ledger = max(dom.find('id="sec-evidence-ledger"'), dom.find('id="sec-appendix-evidence-files"'))
    assert summary != -1 and (findings == -1 or summary < findings)
    if ledger != -1:
        assert summary < ledger and (findings == -1 or findings < ledger)
    # every finding and contents link points at a section present in the page
    targets = set(re.findall(r"href=\"#((?:finding|sec)-[^\"]+)\"", dom))
    assert any(t.startswith("sec-") for t in targets)  # a table of contents
    for target in targets:
        assert f'id="{target}"' in dom, target
    assert (shots / f"{name}.png").stat().st_size > 10_000


@pytest.mark.parametrize("name", ["incident_reconstruction", "postmortem"])
def test_top_screen_names_the_story(demo_reports, name, tmp_path_factory):
    _, reports = demo_reports
    dom = _dom(reports[name], tmp_path_factory.mktemp("top") / f"{name}.png")
    start = dom.index('id="summary"')
    top = _text(dom[start : dom.index("fx-findings", start)])  # the summary before the findings table
    for needle in STORY:
        assert needle in top, (name, needle)


def test_cli_reads_while_a_report_holds_the_case(demo_reports):
    out, _ = demo_reports
    from forensics import reportcase

    case = reportcase.open_for_report(out / "demo.duckdb")  # what every report notebook holds
    try:
        run = subprocess.run(
            [
                str(Path(sys.executable).parent / "forensics"),  # the installed command
                "findings",
                "--case",
                str(out / "demo.duckdb"),
                "--format",
                "json",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 0, run.stderr
        assert S.PERSIST_KEY in run.stdout
        assert case.findings().height == len(run.stdout.strip().splitlines())
    finally:
        case.close()
    # and once closed, a writer can open it again
    with forensics.open_case(out / "demo.duckdb") as c:
        assert c.findings().height
