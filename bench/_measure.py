"""Shared by the benchmarks: run one method in its own process and measure it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time

#: Appended to every method: the child reports its own peak RSS (VmHWM of its address space).
#: wait4's ru_maxrss is not enough on Linux: a child started with fork/vfork and exec carries the
#: parent's high-water mark from before the exec, so a parent holding 800 MB makes every child
#: report at least 800 MB.
_REPORT_PEAK = """
import sys as _sys
with open('/proc/self/status') as _f:
    for _line in _f:
        if _line.startswith('VmHWM:'):
            print('FORENSICS_BENCH_VMHWM_KB', _line.split()[1], file=_sys.stderr)
"""


def measure(code: str, *args: str) -> tuple[float, float, int, str]:
    """Run ``code`` with ``args`` in a fresh interpreter. Returns (seconds, CPU seconds (user +
    system, from wait4), peak RSS in bytes, stdout). Peak RSS is the child's own VmHWM where /proc
    has it, else wait4's figure. Output goes through files, so a chatty child cannot block on a full
    pipe. A failing child raises ``RuntimeError`` with the end of its stderr."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", code + _REPORT_PEAK, *args], stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        stderr = err.read().decode(errors="replace")
        if status != 0:
            raise RuntimeError(f"benchmark step failed: {stderr[-2000:]}")
        peak = re.search(r"FORENSICS_BENCH_VMHWM_KB (\d+)", stderr)
        rss = int(peak.group(1)) * 1024 if peak else usage.ru_maxrss * 1024
        return elapsed, usage.ru_utime + usage.ru_stime, rss, out.read().decode(errors="replace").strip()


def run(code: str, *args: str) -> tuple[float, int, str]:
    """``measure`` without the CPU seconds: (seconds, peak RSS in bytes, stdout)."""
    elapsed, _, rss, out = measure(code, *args)
    return elapsed, rss, out


def fresh_db(workdir, name: str):
    """A path for a method's database in ``workdir``, with no database (or WAL) left there by a run before."""
    from pathlib import Path

    db = Path(workdir) / f"{abs(hash(name))}.duckdb"
    for p in (db, Path(str(db) + ".wal")):
        p.unlink(missing_ok=True)
    return db


def file_set(doc: str, *, files: int, per_file: int, prefix: str, folder: str, make_files):
    """The command line of a benchmark over a set of generated files (``--files``, ``--per-file``,
    ``--workdir``), and the files: ``make_files(folder, files, per_file)`` writes them and returns
    the number of events. Returns (workdir, folder, files, events, bytes on disk)."""
    import argparse
    import tempfile
    from pathlib import Path

    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=files, help=f"number of files (default {files})")
    ap.add_argument("--per-file", type=int, default=per_file, help=f"events per file (default {per_file})")
    ap.add_argument("--workdir", default=None, help="where to write the files (default: a temp dir)")
    args = ap.parse_args()
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix=prefix))
    data = workdir / folder
    t0 = time.perf_counter()
    n = make_files(data, args.files, args.per_file)
    size = sum(p.stat().st_size for p in data.iterdir())
    print(
        f"generated {n} events in {args.files} files, {size / 1e6:.0f} MB, in {time.perf_counter() - t0:.1f} s",
        file=sys.stderr,
    )
    return workdir, data, args.files, n, size
