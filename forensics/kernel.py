"""Quiet, honest kernel runs for ``forensics.report``: the kernel's own log (ipykernel's "running over
TCP without encryption" warning, its shutdown noise) goes to a file that a failure quotes, not to
the responder's terminal; and each cell's start can be reported as a progress line.

papermill and jupyter_client do the work; this module only plugs into their documented extension
points (a papermill engine registered by name; nbclient's ``kernel_manager_class``).
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any

_ENGINE = "forensics"
_LABEL = re.compile(r"""nb\.heading\(\s*(?:f?["'])(.+?)["']""")


def engine() -> str:
    """The name of papermill's nbclient engine with a per-cell callback (registered once)."""
    from papermill.engines import NBClientEngine, papermill_engines

    if _ENGINE not in papermill_engines._engines:

        class Engine(NBClientEngine):
            @classmethod
            def execute_managed_notebook(cls, nb_man, kernel_name, **kwargs):
                on_cell = kwargs.pop("forensics_on_cell", None)
                if on_cell is not None:
                    start = nb_man.cell_start
                    total = len(nb_man.nb.cells)

                    def cell_start(cell, cell_index=None, **kw):
                        on_cell(cell_index or 0, total, cell_label(cell.get("source", "")))
                        return start(cell, cell_index, **kw)

                    nb_man.cell_start = cell_start
                return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)

        papermill_engines.register(_ENGINE, Engine)
    return _ENGINE


def cell_label(source: str) -> str:
    """What a cell does, for a progress line: the section it opens, else its first comment."""
    m = _LABEL.search(source)
    if m:
        return m.group(1)[:60]
    for line in source.splitlines():
        if line.startswith("#"):
            return line.lstrip("# ").strip()[:60]
    return ""


@contextmanager
def quiet_log() -> Iterator[IO[bytes]]:
    """A temporary file for the kernel's stdout and stderr, removed afterwards."""
    with tempfile.TemporaryFile(prefix="forensics-kernel-") as f:
        yield f


def quiet_manager(log: IO[bytes]) -> type:
    """A kernel manager class whose kernel writes its own log to ``log``."""
    from jupyter_client.manager import AsyncKernelManager

    class QuietKernelManager(AsyncKernelManager):
        async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
            kw["stdout"] = log
            kw["stderr"] = log
            await super()._async_launch_kernel(kernel_cmd, **kw)

    return QuietKernelManager


def log_tail(log: IO[bytes], limit: int = 300) -> str:
    """The last lines of the kernel's log, on one line, without the routine transport warning."""
    log.seek(0)
    lines = [
        line.strip()
        for line in log.read().decode("utf-8", "replace").splitlines()
        if line.strip() and "without encryption" not in line
    ]
    return " | ".join(lines)[-limit:]


def progress_printer(stream: Any) -> Callable[[str, int, int, str], None]:
    """``report: cell 3/12 Timeline`` lines for ``run_report(on_cell=...)``."""
    import time

    t0: dict[str, float] = {}

    def show(name: str, index: int, total: int, label: str) -> None:
        from forensics.safe import terminal_text

        start = t0.setdefault(name, time.monotonic())
        text = f"  {name}: cell {index + 1}/{total} at {time.monotonic() - start:.0f} s"
        stream.write(text + (f" ({terminal_text(label)})" if label else "") + "\n")
        stream.flush()

    return show
