"""The CLI: per-file counts, and one-line errors with exit code 2 for mistakes a user can make."""

from __future__ import annotations

import json

import pytest

from forensics.cli import main


@pytest.fixture
def evidence(tmp_path):
    p = tmp_path / "e.jsonl"
    p.write_text(json.dumps({"time": "2026-03-14T09:00:00Z", "action": "x"}) + "\n{bad\n", encoding="utf-8")
    return p


def test_ingest_prints_per_file_counts(evidence, tmp_path, capsys):
    assert main(["ingest", str(evidence), "--case", str(tmp_path / "c.duckdb")]) == 0
    out = capsys.readouterr().out
    assert "read 2 = loaded 1 + rejected 1" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["ingest", "/no/such/file", "--case", "{case}"], "no such file"),
        (["timeline", "--case", "{case}", "--from", "yesterday"], "not a time"),
        (
            [
                "timeline",
                "--case",
                "{case}",
                "--from",
                "2026-03-14T10:00:00Z",
                "--to",
                "2026-03-14T09:00:00Z",
            ],
            "empty time window",
        ),
        (["run", "no_such_notebook", "--case", "{case}"], "unknown notebook"),
        (["run", "incident_reconstruction", "--case", "{case}", "-p", "nope", "1"], "no parameter 'nope'"),
        (["ingest", "{binary}", "--case", "{case}"], "unknown format"),
        (["ingest", "{evidence}", "--case", "{case}", "--loader", "nope"], "unknown loader"),
        (["timeline", "--case", "/no/such/case.duckdb"], "no such case"),
    ],
)
def test_user_errors_exit_2_with_one_line(evidence, tmp_path, capsys, argv, message):
    case = tmp_path / "c.duckdb"
    main(["ingest", str(evidence), "--case", str(case)])
    binary = tmp_path / "blob.bin"
    binary.write_bytes(b"\x00\x01\x02 not evidence \x00")
    capsys.readouterr()
    argv = [a.format(case=case, evidence=evidence, binary=binary) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_timeline_csv_output(evidence, tmp_path, capsys):
    case = tmp_path / "c.duckdb"
    main(["ingest", str(evidence), "--case", str(case)])
    capsys.readouterr()
    assert main(["timeline", "--case", str(case), "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("event_id,time") and len(lines) == 2


def test_query_parameters_from_the_command_line_are_bound_with_their_types(tmp_path, monkeypatch, capsys):
    qdir = tmp_path / "queries" / "demo"
    qdir.mkdir(parents=True)
    (qdir / "add.sql").write_text(
        "-- Adds one. Params: $n, $since.\nSELECT $n + 1 AS x, $since < TIMESTAMPTZ '2030-01-01' AS past\n"
    )
    monkeypatch.setenv("FORENSICS_QUERIES", str(tmp_path / "queries"))
    case = tmp_path / "c.duckdb"
    import forensics

    forensics.open_case(case).close()
    assert (
        main(
            ["query", "demo/add", "--case", str(case), "--format", "csv"]
            + ["-p", "n", "41", "-p", "since", "2026-03-14T09:00Z"]
        )
        == 0
    )
    assert capsys.readouterr().out.splitlines() == ["x,past", "42,true"]


def test_unknown_query_parameter_is_a_user_error(tmp_path, monkeypatch, capsys):
    qdir = tmp_path / "queries"
    qdir.mkdir()
    (qdir / "one.sql").write_text("SELECT 1 AS x\n")
    monkeypatch.setenv("FORENSICS_QUERIES", str(qdir))
    case = tmp_path / "c.duckdb"
    import forensics

    forensics.open_case(case).close()
    assert main(["query", "one", "--case", str(case), "-p", "nope", "1"]) == 2
    assert "takes no parameters" in capsys.readouterr().err


def test_ingest_reports_progress_to_the_end_of_each_file(tmp_path):
    import forensics

    p = tmp_path / "e.jsonl"
    p.write_text("".join(json.dumps({"time": "2026-03-14T09:00:00Z", "i": i}) + "\n" for i in range(1000)))
    calls = []
    with forensics.open_case(tmp_path / "c.duckdb") as case:
        case.ingest([p], progress=lambda path, done, total: calls.append((path, done, total)))
    assert calls and calls[-1] == (str(p), p.stat().st_size, p.stat().st_size)


def test_ingest_progress_flag_draws_on_stderr(evidence, tmp_path, capsys):
    assert main(["ingest", str(evidence), "--case", str(tmp_path / "c.duckdb"), "--progress"]) == 0
    assert "100.0%" in capsys.readouterr().err
