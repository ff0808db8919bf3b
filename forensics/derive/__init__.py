"""Derived tables, rebuilt after every ingest from what the case holds.

Each module here defines ``ORDER: int`` and ``derive(con) -> None``; ``run_all`` calls them in
ORDER. A derivation must be idempotent (rebuild, or add only what it has not counted yet and
rebuild when that is not enough, as ``cardinality`` does), so re-ingesting changes nothing.
"""

from __future__ import annotations

import importlib
import pkgutil


def modules() -> list:
    import forensics.derive as pkg

    mods = [importlib.import_module(f"forensics.derive.{m.name}") for m in pkgutil.iter_modules(pkg.__path__)]
    return sorted(
        (m for m in mods if hasattr(m, "derive")), key=lambda m: (getattr(m, "ORDER", 100), m.__name__)
    )


def run_all(con) -> None:
    for m in modules():
        m.derive(con)
