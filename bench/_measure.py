"""Shared by the benchmarks: run one method in its own process and measure it."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time


def run(code: str, *args: str) -> tuple[float, int, str]:
    """Run ``code`` with ``args`` in a fresh interpreter. Returns (seconds, peak RSS in bytes from
    wait4, stdout). Output goes through files, so a chatty child cannot block on a full pipe."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", code, *args], stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        if status != 0:
            raise RuntimeError(f"benchmark step failed: {err.read().decode(errors='replace')[-2000:]}")
        return elapsed, usage.ru_maxrss * 1024, out.read().decode(errors="replace").strip()
