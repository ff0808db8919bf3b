"""Fault points for crash tests: ``FORENSICS_FAULT_PAUSE=<point>:<n>`` makes the n-th passage through
``point`` (``checkpoint``: after a partial commit; ``evidence``: the evidence row written, before its
commit; ``committed``: after a file's commit) write ``FORENSICS_FAULT_SIGNAL`` (a path) and sleep, so
that a test can kill the process there with SIGKILL. Unset (always, outside tests), a passage is one
dictionary lookup."""

from __future__ import annotations

import os
import time

_passes: dict[str, int] = {}


def point(name: str) -> None:
    spec = os.environ.get("FORENSICS_FAULT_PAUSE")
    if not spec:
        return
    want, _, n = spec.partition(":")
    if want != name:
        return
    _passes[name] = _passes.get(name, 0) + 1
    if _passes[name] != int(n or 1):
        return
    signal = os.environ.get("FORENSICS_FAULT_SIGNAL")
    if signal:
        with open(signal, "w") as f:
            f.write(name)
    while True:  # the test kills us here
        time.sleep(60)
