"""The case file is guarded: an existing file that is not a DuckDB case is refused in one line (exit 2)
and left untouched; cases carry a schema version; an older case is migrated by a writable open (or
`forensics migrate`) and refused read-only with that command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

import forensics
from forensics.casefile import SCHEMA_VERSION
from forensics.errors import BadCase

FORENSICS = str(Path(sys.executable).with_name("forensics"))


def _run(*args):
    return subprocess.run([FORENSICS, *map(str, args)], capture_output=True, text=True, timeout=120)


def test_an_evidence_file_given_as_the_case_is_refused_and_untouched(tmp_path):
    ev = tmp_path / "x.jsonl"
    ev.write_text(json.dumps({"time": "2026-03-14T09:00:00Z"}) + "\n")
    before = ev.read_bytes()
    other = tmp_path / "y.jsonl"
    other.write_text(json.dumps({"time": "2026-03-14T09:00:00Z"}) + "\n")
    for args in (("ingest", "--case", ev, other), ("timeline", "--case", ev)):
        res = _run(*args)
        assert res.returncode == 2
        assert len(res.stderr.strip().splitlines()) == 1 and "not a DuckDB case" in res.stderr
    assert ev.read_bytes() == before
    assert not Path(str(ev) + ".wal").exists()


def test_a_foreign_duckdb_database_is_refused(tmp_path):
    db = tmp_path / "other.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE customers (id INT)")
    con.close()
    with pytest.raises(BadCase, match="not a forensics case"):
        forensics.open_case(db)
    assert (
        duckdb.connect(str(db)).execute("SELECT count(*) FROM information_schema.tables").fetchall()[0][0]
        == 1
    )


def _old_case(path: Path) -> None:
    """A case as the kit made it before versions: the core tables without the new ones, no stamp."""
    con = duckdb.connect(str(path))
    from forensics.case import schema_statements

    core = schema_statements()[0]
    con.execute(core)
    con.execute(
        "INSERT INTO evidence VALUES (1, 'a.jsonl', 'ab', 1, 'none', 'jsonl', 'generic', now(), 1, 1, 0, 0, 0, NULL)"
    )
    con.close()


def test_an_older_case_is_refused_read_only_with_the_command_that_migrates_it(tmp_path):
    old = tmp_path / "old.duckdb"
    _old_case(old)
    res = _run("timeline", "--case", old)
    assert res.returncode == 2 and f"forensics migrate --case {old}" in res.stderr
    res = _run("migrate", "--case", old)
    assert res.returncode == 0, res.stderr
    assert f"schema version 1 -> {SCHEMA_VERSION}" in res.stdout
    with forensics.open_case(old, read_only=True) as c:
        assert c.schema_version == SCHEMA_VERSION
        assert c.evidence()["path"].to_list() == ["a.jsonl"]  # the data survived the migration
        assert c.sql("SELECT count(*) FROM skipped_entries").item() == 0


def test_a_new_case_is_stamped_and_a_newer_one_refused(tmp_path):
    p = tmp_path / "c.duckdb"
    with forensics.open_case(p) as c:
        assert c.sql("SELECT value FROM case_meta WHERE key = 'schema_version'").item() == str(SCHEMA_VERSION)
        c.con.execute(
            "UPDATE case_meta SET value = ? WHERE key = 'schema_version'", [str(SCHEMA_VERSION + 1)]
        )
    with pytest.raises(BadCase, match="newer"):
        forensics.open_case(p)
