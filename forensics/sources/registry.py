"""Finds the sources: every module in ``forensics.sources`` that defines ``SOURCES``."""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from functools import cache

from forensics.errors import UnknownFormat
from forensics.sources.contract import SOURCE_NAME, Detection, Probe, Source

_SKIP = {"contract", "registry"}


@cache
def all_sources() -> tuple[Source, ...]:
    import forensics.sources as pkg

    found: list[Source] = []
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        if info.name in _SKIP or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"forensics.sources.{info.name}")
        found.extend(getattr(module, "SOURCES", ()))
    for s in found:
        if not SOURCE_NAME.fullmatch(s.name):
            raise ValueError(
                f"source name {s.name!r} breaks the spelling rule {SOURCE_NAME.pattern}: rename it"
            )
        for key in s.record_keys:
            if not key.isidentifier():
                raise ValueError(f"source {s.name}: record key {key!r} is not an identifier; use record_path")
    return tuple(found)


def names() -> list[str]:
    return sorted(s.name for s in all_sources())


def get(name: str) -> Source:
    for s in all_sources():
        if s.name == name:
            return s
    raise UnknownFormat(f"unknown loader {name!r}; known loaders: {', '.join(names())}")


@cache
def record_keys() -> tuple[str, ...]:
    """Every wrapper key a source declares (``Source.record_keys``), in the sources' order."""
    return tuple(dict.fromkeys(k for s in all_sources() for k in s.record_keys))


@dataclass
class Placement:
    """Which source the detectors chose for a probed file, how sure it was, and the detectors that
    raised (each as ``detector <name> raised <error>``), which count as ``Detection.NO``."""

    source: Source | None
    level: Detection = Detection.NO
    notes: list[str] = field(default_factory=list)


def place(probe: Probe) -> Placement:
    """The source most sure that it owns the probed file. Ties go to the first by name."""
    best = Placement(None)
    for s in all_sources():
        if probe.container not in s.containers:
            continue
        try:
            level = Detection(s.detect(probe))
        except Exception as e:  # noqa: BLE001 - a detector's bug must not hide the file: it is noted
            best.notes.append(f"detector {s.name} raised {type(e).__name__}: {e}")
            continue
        if level > best.level:
            best.source, best.level = s, level
    return best


def detect(probe: Probe) -> Source | None:
    """The source most sure that it owns the probed file, or None (see ``place``)."""
    return place(probe).source


def generic_with_mapping(mapping_path: str) -> Source:
    from forensics.sources.generic import GenericSource

    return GenericSource.from_mapping_file(mapping_path)
