"""Deterministic generator of the sample incident (see ``scenario`` for the ground truth).

Each module in ``forensics.sample.writers`` renders the scenario into one family of real evidence
formats through ``write(out: Path, rng: random.Random, scale: int) -> list[Path]``. ``generate``
runs them all with an RNG seeded per writer, so adding a writer never changes another's output.
"""

from __future__ import annotations

import importlib
import pkgutil
import random
import shutil
import zlib
from pathlib import Path

from forensics.sample import readme


def writer_modules() -> list:
    import forensics.sample.writers as pkg

    return [
        importlib.import_module(f"forensics.sample.writers.{m.name}")
        for m in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name)
    ]


def generate(out: str | Path, seed: int = 7, scale: int = 1, clean: bool = True) -> list[Path]:
    """Write the sample incident under ``out``. Same seed and scale, same bytes."""
    out = Path(out)
    if clean and out.exists():
        for child in out.iterdir():
            if child.is_dir():
                shutil.rmtree(child)
            elif child.name != ".gitkeep":
                child.unlink()
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for module in writer_modules():
        name = module.__name__.rsplit(".", 1)[1]
        rng = random.Random(seed * 1_000_003 + zlib.crc32(name.encode()))
        written.extend(module.write(out, rng, scale))
    written.append(readme.write(out, seed, scale, written))
    return written
