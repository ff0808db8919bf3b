"""The CI job log source: GitHub Actions text lines become build events, losslessly."""

from __future__ import annotations

LOG = """\
2026-03-14T09:11:24.1058756Z Job defined at: acme-pay/payments/.github/workflows/pr-checks.yml@refs/pull/417/merge
2026-03-14T09:11:26.3522457Z Runner name: 'ci-runner-7'
2026-03-14T09:11:28.0513214Z ##[group]Run ./scripts/pr-check.sh
2026-03-14T09:11:29.0000000Z a, b, c with commas
this line has no timestamp prefix

2026-03-14T09:12:03.1234567Z ##[error]Process completed with exit code 1.
"""


def _ingest(case, tmp_path, text=LOG, name="job.log"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return case.ingest(path)[0]


def test_job_log_lines_become_build_events_with_times_from_the_prefix(case, tmp_path):
    res = _ingest(case, tmp_path)
    assert res.loader == "ci_joblog"
    assert (
        res.records_read == 6
        and res.records_loaded == 5
        and res.records_rejected == 1
        and res.blank_lines == 1
    )
    ev = case.sql("SELECT time, time_raw, action, category, outcome FROM events ORDER BY evidence_line")
    assert ev.get_column("category").unique().to_list() == ["build"]
    assert ev.get_column("time_raw")[-1] == "2026-03-14T09:12:03.1234567Z"
    assert ev.get_column("time")[-1].microsecond == 123456
    assert ev.get_column("action").to_list() == ["log", "log", "step.start", "log", "log.error"]
    assert ev.get_column("outcome").to_list()[-1] == "failure"


def test_line_without_prefix_is_rejected_with_its_line_number(case, tmp_path):
    _ingest(case, tmp_path)
    rej = case.rejects()
    assert rej.height == 1
    assert rej.get_column("line")[0] == 5
    assert "timestamp prefix" in rej.get_column("reason")[0]


def test_runner_and_repository_come_from_the_log_header_not_the_file_name(case, tmp_path):
    _ingest(case, tmp_path, name="ci-runner-99_other-org_other-repo.log")
    ev = case.sql("SELECT DISTINCT actor, actor_type, service FROM events")
    assert ev.rows() == [("ci-runner-7", "ci_runner", "acme-pay/payments")]
    step = case.sql("SELECT target FROM events WHERE action = 'step.start'").item()
    assert step == "Run ./scripts/pr-check.sh"


def test_job_log_with_commas_in_its_first_lines_is_still_read_as_a_job_log(case, tmp_path):
    text = "2026-03-14T09:00:00.0000000Z a, b\n2026-03-14T09:00:01.0000000Z c, d\n"
    res = _ingest(case, tmp_path, text)
    assert res.loader == "ci_joblog" and res.records_loaded == 2


def test_each_line_keeps_its_full_text_in_raw(case, tmp_path):
    _ingest(case, tmp_path)
    line = case.sql("SELECT raw->>'line' AS l FROM events WHERE evidence_line = 4").item()
    assert line == "2026-03-14T09:11:29.0000000Z a, b, c with commas"
