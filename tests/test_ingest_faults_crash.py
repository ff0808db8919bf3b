"""Crash consistency, tested for real: a child ``forensics ingest`` is killed with SIGKILL at several
points (a fault point makes it wait there: forensics/ingest/faults.py), and a small tmpfs fills up during
an ingest. After either, no open of the case (read-only included) shows a partial file, and the next
writable open purges it; ingesting the file again loads all of it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

import forensics
from forensics.ingest import hash_file

FORENSICS = str(Path(sys.executable).with_name("forensics"))


def _lines(path: Path, n: int, seed: int = 0) -> int:
    """A JSON Lines file of n generic records (distinct, hard to compress); returns n."""
    import random

    rnd = random.Random(seed)
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            rec = {
                "time": f"2026-03-14T{(i // 3600) % 24:02d}:{(i // 60) % 60:02d}:{i % 60:02d}Z",
                "action": f"act{i}",
                "actor": f"user{i % 97}",
                "pad": f"{rnd.getrandbits(128):032x}",
            }
            f.write(json.dumps(rec) + "\n")
    return n


def _env(tmp: Path, pause: str | None) -> dict:
    env = dict(os.environ)
    # small commits and inserts, so a file of a few hundred KB commits many times before its evidence row
    env.update(
        FORENSICS_LIMIT_COMMIT_EVERY_BYTES="16384",
        FORENSICS_LIMIT_PIECE_BYTES="8192",
        FORENSICS_LIMIT_ROW_GROUP_ROWS="64",
        FORENSICS_FAULT_SIGNAL=str(tmp / "paused"),
    )
    env.pop("FORENSICS_FAULT_PAUSE", None)
    if pause:
        env["FORENSICS_FAULT_PAUSE"] = pause
    return env


def _ingest_killed(tmp: Path, case: Path, files: list[Path], pause: str) -> None:
    """Run ``forensics ingest`` until it reaches ``pause``, then SIGKILL it."""
    signal_file = tmp / "paused"
    signal_file.unlink(missing_ok=True)
    proc = subprocess.Popen(
        [FORENSICS, "ingest", "--case", str(case), *map(str, files)],
        env=_env(tmp, pause),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while not signal_file.exists():
        if proc.poll() is not None:
            raise AssertionError(f"ingest ended before {pause}: {proc.stderr.read().decode()[-2000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"ingest never reached {pause}")
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL


def _raw_counts(case: Path, sha: str) -> tuple[int, int]:
    """(events of ``sha``, evidence rows of ``sha``) as the bare database holds them, without the kit."""
    con = duckdb.connect(str(case), read_only=True)
    try:
        ev = con.execute("SELECT count(*) FROM events WHERE evidence_sha256 = ?", [sha]).fetchall()[0][0]
        rows = con.execute("SELECT count(*) FROM evidence WHERE sha256 = ?", [sha]).fetchall()[0][0]
        return ev, rows
    finally:
        con.close()


def _check_after_crash(case: Path, whole: dict[Path, int], cut: Path, *, partial_expected: bool) -> None:
    cut_sha = hash_file(str(cut))[0]
    raw_events, raw_rows = _raw_counts(case, cut_sha)
    assert raw_rows == 0
    if partial_expected:  # the kill left partial rows in the database: the scenario is real
        assert raw_events > 0
    # read-only: the cut file is invisible to every reader; complete files are whole
    with forensics.open_case(case, read_only=True) as c:
        assert c.sql("SELECT count(*) FROM events WHERE evidence_sha256 = ?", [cut_sha]).item() == 0
        assert [p for _, p in c.interrupted] == ([str(cut)] if partial_expected else [])
        for path, n in whole.items():
            sha = hash_file(str(path))[0]
            assert c.sql("SELECT count(*) FROM events WHERE evidence_sha256 = ?", [sha]).item() == n
        # every event shown belongs to a file with an evidence row, in the timeline too
        assert (
            c.sql(
                "SELECT count(*) FROM events WHERE evidence_sha256 NOT IN (SELECT sha256 FROM evidence)"
            ).item()
            == 0
        )
        assert len(c.timeline()) == sum(whole.values())
        # the report does not say nothing was lost while a file is cut short
        from forensics import incident

        assert incident.reconciliation_ok(c) is (not partial_expected)
        assert incident.unread_entries(c).get_column("kind").to_list() == (
            ["interrupted"] if partial_expected else []
        )
    out = subprocess.run(
        [FORENSICS, "timeline", "--case", str(case), "--format", "csv"],
        capture_output=True,
        text=True,
        env=_env(case.parent, None),
    )
    assert out.returncode == 0, out.stderr
    assert "act" in out.stdout or not whole
    assert sum(1 for line in out.stdout.splitlines()[1:] if line.strip()) == sum(whole.values())
    # the next writable open purges the cut file and records it in the ledger
    with forensics.open_case(case) as c:
        assert c.sql("SELECT count(*) FROM ingest_journal").item() == 0
        if partial_expected:
            assert (
                c.sql(
                    "SELECT count(*) FROM skipped_entries WHERE kind = 'interrupted' AND sha256 = ?",
                    [cut_sha],
                ).item()
                == 1
            )
    assert _raw_counts(case, cut_sha) == (0, 0)
    # and ingesting it again loads every record
    done = subprocess.run(
        [FORENSICS, "ingest", "--case", str(case), str(cut)],
        capture_output=True,
        text=True,
        env=_env(case.parent, None),
    )
    assert done.returncode == 0, done.stderr
    with forensics.open_case(case, read_only=True) as c:
        assert c.sql("SELECT count(*) FROM events WHERE evidence_sha256 = ?", [cut_sha]).item() == whole.get(
            cut, sum(1 for _ in open(cut))
        )
        assert c.sql("SELECT bool_and(records_read = records_loaded + records_rejected) FROM evidence").item()


@pytest.mark.parametrize(
    "pause, partial",
    [("checkpoint:1", True), ("checkpoint:5", True), ("evidence:2", True)],
)
def test_sigkill_mid_file_leaves_no_partial_file_visible(tmp_path, pause, partial):
    first, big = tmp_path / "a_first.jsonl", tmp_path / "b_big.jsonl"
    n_first = _lines(first, 50, seed=1)
    _lines(big, 3000, seed=2)
    case = tmp_path / "case.duckdb"
    # "evidence:2": the first file's evidence row is committed, the second is killed before its commit
    _ingest_killed(tmp_path, case, [first, big], pause)
    _check_after_crash(case, {first: n_first}, big, partial_expected=partial)


def test_sigkill_after_a_file_commits_keeps_it_whole(tmp_path):
    first, big = tmp_path / "a_first.jsonl", tmp_path / "b_big.jsonl"
    n_first = _lines(first, 50, seed=1)
    _lines(big, 3000, seed=2)
    case = tmp_path / "case.duckdb"
    _ingest_killed(tmp_path, case, [first, big], "committed:1")
    _check_after_crash(case, {first: n_first}, big, partial_expected=False)


@pytest.fixture
def small_fs(tmp_path):
    mnt = tmp_path / "fs"
    mnt.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=20m", "tmpfs", str(mnt)], capture_output=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {res.stderr.decode().strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


@pytest.mark.slow
def test_a_full_disk_mid_ingest_leaves_no_partial_file_visible(tmp_path, small_fs):
    first, big = tmp_path / "a_first.jsonl", tmp_path / "b_big.jsonl"
    n_first = _lines(first, 50, seed=1)
    n_big = _lines(
        big, 400_000, seed=3
    )  # ~40 MB of text that compresses poorly: more than the 20 MB disk holds
    case = small_fs / "case.duckdb"
    env = _env(tmp_path, None)
    env["FORENSICS_LIMIT_COMMIT_EVERY_BYTES"] = str(2 << 20)
    env.pop("FORENSICS_LIMIT_ROW_GROUP_ROWS")
    env.pop("FORENSICS_LIMIT_PIECE_BYTES")
    res = subprocess.run(
        [FORENSICS, "ingest", "--case", str(case), str(first), str(big)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert res.returncode != 0, "the disk did not fill: the test proves nothing"
    assert "Traceback" not in res.stderr or "No space left" in res.stderr or "space" in res.stderr.lower()
    big_sha = hash_file(str(big))[0]
    with forensics.open_case(case, read_only=True) as c:  # on the full disk still
        assert c.sql("SELECT count(*) FROM evidence WHERE sha256 = ?", [big_sha]).item() == 0
        assert c.sql("SELECT count(*) FROM events WHERE evidence_sha256 = ?", [big_sha]).item() == 0
        assert c.sql("SELECT count(*) FROM events").item() == n_first
    subprocess.run(["mount", "-o", "remount,size=400m", str(small_fs)], check=True)
    with forensics.open_case(case) as c:
        assert c.sql("SELECT count(*) FROM events WHERE evidence_sha256 = ?", [big_sha]).item() == 0
        assert c.sql("SELECT count(*) FROM ingest_journal").item() == 0
    done = subprocess.run(
        [FORENSICS, "ingest", "--case", str(case), str(big)], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    with forensics.open_case(case, read_only=True) as c:
        assert c.sql("SELECT count(*) FROM events WHERE evidence_sha256 = ?", [big_sha]).item() == n_big
