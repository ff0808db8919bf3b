"""Finds the sources: every module in ``forensics.sources`` that defines ``SOURCES``."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from forensics.errors import UnknownFormat
from forensics.sources.base import Probe, Source

_SKIP = {"base", "registry"}


@cache
def all_sources() -> tuple[Source, ...]:
    import forensics.sources as pkg

    found: list[Source] = []
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        if info.name in _SKIP or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"forensics.sources.{info.name}")
        found.extend(getattr(module, "SOURCES", ()))
    return tuple(found)


def names() -> list[str]:
    return sorted(s.name for s in all_sources())


def get(name: str) -> Source:
    for s in all_sources():
        if s.name == name:
            return s
    raise UnknownFormat(f"unknown loader {name!r}; known loaders: {', '.join(names())}")


def detect(probe: Probe) -> Source | None:
    """The source most confident that it owns the probed file, or None. Ties go to the first by name."""
    best: tuple[int, Source | None] = (0, None)
    for s in all_sources():
        if probe.container not in s.containers:
            continue
        try:
            score = s.detect(probe)
        except (KeyError, TypeError, AttributeError, IndexError, ValueError):
            score = 0
        if score > best[0]:
            best = (score, s)
    return best[1]


def generic_with_mapping(mapping_path: str) -> Source:
    from forensics.sources.generic import GenericSource

    return GenericSource.from_mapping_file(mapping_path)
