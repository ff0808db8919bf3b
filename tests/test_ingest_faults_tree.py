"""Every entry of a tree is in the ledger: special files are never opened (a FIFO or a link to /dev/zero
would hang the ingest), broken links, directory links, hidden and unreadable files are recorded with a
reason and the rest of the tree goes on; UTF-16 text is transcoded and read."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import forensics

FORENSICS = str(Path(sys.executable).with_name("forensics"))


def _jsonl(n: int, tag: str) -> str:
    return "".join(
        json.dumps({"time": f"2026-03-14T09:00:{i % 60:02d}Z", "action": f"{tag}{i}"}) + "\n"
        for i in range(n)
    )


@pytest.fixture
def hostile_tree(tmp_path):
    root = tmp_path / "tree"
    (root / "sub").mkdir(parents=True)
    (root / "a.jsonl").write_text(_jsonl(10, "a"))
    (root / "sub" / "b.jsonl").write_text(_jsonl(7, "b"))
    os.mkfifo(root / "pipe")
    (root / "zero").symlink_to("/dev/zero")
    (root / "gone").symlink_to(root / "nowhere.jsonl")
    (root / "loop").symlink_to(root / "sub")
    (root / ".hidden.jsonl").write_text(_jsonl(3, "h"))
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(root / "sock"))
    kinds = {
        "pipe": "fifo",
        "zero": "device",
        "gone": "broken-link",
        "loop": "directory-link",
        ".hidden.jsonl": "hidden",
        "sock": "socket",
    }
    try:
        os.mknod(root / "dev", stat.S_IFCHR | 0o600, os.makedev(1, 5))  # a copy of /dev/zero
        kinds["dev"] = "device"
    except OSError:
        pass
    # UTF-16 text, with a BOM (little-endian) and without one (big-endian)
    (root / "u16le.jsonl").write_bytes(_jsonl(5, "le").encode("utf-16"))
    (root / "u16be.jsonl").write_bytes(_jsonl(4, "be").encode("utf-16-be"))
    yield root, kinds
    s.close()


def test_a_hostile_tree_is_read_without_hanging_and_every_entry_is_in_the_ledger(tmp_path, hostile_tree):
    root, kinds = hostile_tree
    case = tmp_path / "case.duckdb"
    res = subprocess.run(
        [FORENSICS, "ingest", "--case", str(case), str(root)], capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    with forensics.open_case(case, read_only=True) as c:
        got = dict(c.sql("SELECT regexp_extract(path, '[^/]+$'), kind FROM skipped_entries").rows())
        assert got == kinds
        ev = dict(c.sql("SELECT regexp_extract(path, '[^/]+$'), records_loaded FROM evidence").rows())
        assert ev == {"a.jsonl": 10, "b.jsonl": 7, "u16le.jsonl": 5, "u16be.jsonl": 4}
        fmt = dict(c.sql("SELECT regexp_extract(path, '[^/]+$'), format FROM evidence").rows())
        assert fmt["u16le.jsonl"].startswith("utf-16") and fmt["u16be.jsonl"].startswith("utf-16")
        actions = set(c.sql("SELECT action FROM events").get_column("action").to_list())
        assert {"le0", "le4", "be0", "be3"} <= actions
        from forensics import incident

        assert not incident.reconciliation_ok(c)  # the report does not say nothing was lost
    # a second run adds nothing to the ledger
    subprocess.run(
        [FORENSICS, "ingest", "--case", str(case), str(root)], capture_output=True, timeout=120, check=True
    )
    with forensics.open_case(case, read_only=True) as c:
        assert c.sql("SELECT count(*) FROM skipped_entries").item() == len(kinds)


def test_a_fifo_named_explicitly_is_skipped_not_opened(tmp_path):
    os.mkfifo(tmp_path / "p")
    case = tmp_path / "case.duckdb"
    res = subprocess.run(
        [FORENSICS, "ingest", "--case", str(case), str(tmp_path / "p")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0 and "NOT READ" in res.stdout


def test_an_unreadable_file_is_recorded_and_the_tree_goes_on(tmp_path):
    # root reads any file whatever its mode; this procfs file refuses even root (EACCES)
    target = "/proc/sys/vm/compact_memory"
    try:
        open(target, "rb").close()
        pytest.skip(f"{target} is readable here: no unreadable file to test with")
    except PermissionError:
        pass
    except OSError as e:
        pytest.skip(f"{target}: {e}")
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "a.jsonl").write_text(_jsonl(3, "ok"))
    (tree / "b_unreadable.jsonl").symlink_to(target)
    (tree / "c.jsonl").write_text(_jsonl(2, "ok2"))
    case = tmp_path / "case.duckdb"
    res = subprocess.run(
        [FORENSICS, "ingest", "--case", str(case), str(tree)], capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
    with forensics.open_case(case, read_only=True) as c:
        got = c.sql("SELECT regexp_extract(path, '[^/]+$'), kind, reason FROM skipped_entries").rows()
        assert [(n, k) for n, k, _ in got] == [("b_unreadable.jsonl", "unreadable")]
        assert "Permission denied" in got[0][2]
        assert c.sql("SELECT sum(records_loaded) FROM evidence").item() == 5
