"""Issue 18 part 3: every report parameter is typed and checked before a kernel starts; a bad one is
one line on stderr and exit 2 (no notebook runs, nothing is written)."""

from __future__ import annotations

import json

import pytest

import forensics
from forensics.cli import main
from forensics.errors import BadTimeWindow, UnknownParameter
from forensics.params import coerce

KNOWN = {
    "case_path": {"inferred_type_name": "str", "default": '""'},
    "flag": {"inferred_type_name": "bool", "default": "False"},
    "n": {"inferred_type_name": "None", "default": "500"},
    "ratio": {"inferred_type_name": "float", "default": "5.0"},
    "names": {"inferred_type_name": "list", "default": "[]"},
    "repos": {"inferred_type_name": "dict", "default": "{}"},
    "start": {"inferred_type_name": "None", "default": "None"},
    "end": {"inferred_type_name": "None", "default": "None"},
    "policy_file": {"inferred_type_name": "str", "default": '""'},
}


@pytest.mark.parametrize(
    "raw, want",
    [
        ({"flag": "true"}, {"flag": True}),
        ({"flag": "No"}, {"flag": False}),
        ({"flag": "0"}, {"flag": False}),
        ({"n": "20"}, {"n": 20}),
        ({"ratio": "2.5"}, {"ratio": 2.5}),
        ({"names": "a, b,,c"}, {"names": ["a", "b", "c"]}),
        ({"names": '["a,b", "c"]'}, {"names": ["a,b", "c"]}),
        ({"names": "none"}, {"names": []}),
        ({"repos": '{"o/r": {"identity": "x"}}'}, {"repos": {"o/r": {"identity": "x"}}}),
        ({"start": "2026-03-14T08:00Z", "end": "2026-03-14T09:00Z"}, None),
        ({"flag": True, "names": ("x",)}, {"flag": True, "names": ["x"]}),
    ],
)
def test_values_take_the_parameters_type(raw, want):
    assert coerce("nb", raw, KNOWN) == (raw if want is None else want)


@pytest.mark.parametrize(
    "raw, error, words",
    [
        ({"flag": "ture"}, UnknownParameter, "must be true or false"),
        ({"flag": 1}, UnknownParameter, "must be a bool"),
        ({"n": "abc"}, UnknownParameter, "whole number"),
        ({"n": "1.5"}, UnknownParameter, "whole number"),
        ({"ratio": "fast"}, UnknownParameter, "must be a number"),
        ({"names": "[1,"}, UnknownParameter, "JSON list"),
        ({"repos": "[1]"}, UnknownParameter, "no file"),
        ({"repos": "{1}"}, UnknownParameter, "JSON object"),
        ({"start": "yesterday"}, BadTimeWindow, "parameter start of nb"),
        ({"start": "2026-03-14T10:00Z", "end": "2026-03-14T09:00Z"}, BadTimeWindow, "not after start"),
        ({"start": "2026-03-14T10:00Z", "end": "2026-03-14T10:00Z"}, BadTimeWindow, "not after start"),
        ({"policy_file": "/no/such/policy.toml"}, UnknownParameter, "no such file"),
        ({"nope": "1"}, UnknownParameter, "no parameter 'nope'"),
    ],
)
def test_bad_values_are_named_errors(raw, error, words):
    with pytest.raises(error) as e:
        coerce("nb", raw, KNOWN)
    assert words in str(e.value) and "\n" not in str(e.value)


def test_a_mapping_parameter_can_be_a_json_or_toml_file(tmp_path):
    want = {"o/r": {"identity": "https://x", "builder_id": "b"}}
    (tmp_path / "r.json").write_text(json.dumps(want))
    (tmp_path / "r.toml").write_text('["o/r"]\nidentity = "https://x"\nbuilder_id = "b"\n')
    for name in ("r.json", "r.toml"):
        assert coerce("nb", {"repos": str(tmp_path / name)}, KNOWN) == {"repos": want}
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(UnknownParameter, match="not valid JSON/TOML"):
        coerce("nb", {"repos": str(tmp_path / "bad.json")}, KNOWN)


@pytest.fixture
def empty_case(tmp_path):
    path = tmp_path / "c.duckdb"
    forensics.open_case(path).close()
    return path


@pytest.mark.parametrize(
    "argv, words",
    [
        (["run", "incident_reconstruction", "-p", "max_rows", "abc"], "whole number"),
        (["run", "provenance_audit", "-p", "use_sample_test_key", "ture"], "must be true or false"),
        (
            [
                "run",
                "incident_reconstruction",
                "-p",
                "start",
                "2026-03-14T10:00Z",
                "-p",
                "end",
                "2026-03-14T09Z",
            ],
            "not after start",
        ),
        (["run", "credential_revocation", "-p", "start", "noon"], "not a time"),
        (["run", "provenance_audit", "--policy", "{tmp}/none.toml"], "no such file"),
        (["run", "provenance_audit", "--policy", "{tmp}/bad.toml"], "policy"),
        (["run", "incident_reconstruction", "--suffix", "../x"], "--suffix"),
        (["run", "incident_reconstruction", "--sign-key", "{tmp}/bad.toml"], "not a usable PEM private key"),
        (["run", "incident_reconstruction", "--sign-key", "{tmp}/none.pem"], "--sign-key"),
        (["query", "traces/latency", "-p", "start", "notatime"], "not a time"),
        (["query", "traces/latency", "-p", "bucket_s", "abc"], "must be a number"),
        (
            ["query", "traces/latency", "-p", "start", "2026-03-14T10:00Z", "-p", "end", "2026-03-14T09:00Z"],
            "not after start",
        ),
    ],
)
def test_cli_parameter_errors_are_one_line_and_exit_2(empty_case, tmp_path, capsys, argv, words):
    (tmp_path / "bad.toml").write_text("no_such_key = 1\n")
    out = tmp_path / "out"
    argv = [a.format(tmp=tmp_path) for a in argv] + ["--case", str(empty_case)]
    if argv[0] == "run":
        argv += ["--out", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert words in err, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists() or not any(out.iterdir())  # no kernel ran, nothing written


@pytest.mark.parametrize(
    "command", ["run incident_reconstruction", "query traces/latency", "timeline", "findings"]
)
def test_case_that_is_not_duckdb_is_one_line_and_exit_2(tmp_path, capsys, command):
    bad = tmp_path / "notes.txt"
    bad.write_text("this is not a database\n" * 10)
    assert main([*command.split(), "--case", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "not a DuckDB case file" in err and err.count("\n") == 1
