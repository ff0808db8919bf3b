"""Where the kit's files come from: its built-in queries, notebooks and report templates ship inside
the package and are read with ``importlib.resources``; a user's own queries and notebooks folders,
when given, come first, file by file (docs/layout.md).

In the repository the built-in files stay in the top-level ``queries/`` and ``notebooks/`` folders;
the build maps them to the packages ``forensics._queries`` and ``forensics._notebooks`` (setup.py), so
a checkout (editable install) and a wheel read them the same way.

A user folder is named by an environment variable, so that report notebooks, which papermill runs in
another process, read the same queries as the command that started them. ``use_folders`` sets it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Literal

from forensics.errors import BadFolder

Kind = Literal["queries", "notebooks"]

#: The environment variable naming the user's folder of each kind.
ENV: dict[Kind, str] = {"queries": "FORENSICS_QUERIES", "notebooks": "FORENSICS_NOTEBOOKS"}
_PACKAGE: dict[Kind, str] = {"queries": "forensics._queries", "notebooks": "forensics._notebooks"}
_SUFFIX: dict[Kind, str] = {"queries": ".sql", "notebooks": ".ipynb"}


def builtin(kind: Kind) -> Traversable:
    """The kit's own folder of ``kind``, from the installed package (or the checkout, when editable)."""
    return resources.files(_PACKAGE[kind])


def templates() -> Traversable:
    """The report templates (nbconvert's template folders) shipped in ``forensics/templates``."""
    return resources.files("forensics").joinpath("templates")


def user_folder(kind: Kind) -> Path | None:
    """The user's folder of ``kind`` from its environment variable; None when unset or empty."""
    value = os.environ.get(ENV[kind])
    if not value:
        return None
    path = Path(value)
    if not path.is_dir():
        raise BadFolder(f"{ENV[kind]}={value} is not a folder; point it at a folder of {kind} or unset it")
    return path


def use_folders(
    queries: str | os.PathLike[str] | None = None, notebooks: str | os.PathLike[str] | None = None
) -> None:
    """Read the user's ``queries`` and ``notebooks`` folders before the built-in ones, in this process
    and in the report notebooks it runs (through the environment variables in ``ENV``)."""
    given: tuple[tuple[Kind, str | os.PathLike[str] | None], ...] = (
        ("queries", queries),
        ("notebooks", notebooks),
    )
    for kind, value in given:
        if value is None:
            continue
        path = Path(value)
        if not path.is_dir():
            raise BadFolder(f"no {kind} folder at {value}; give an existing folder of {kind}")
        os.environ[ENV[kind]] = str(path.resolve())


def files(kind: Kind) -> dict[str, Traversable]:
    """Every file of ``kind`` by name (``area/name`` for queries, ``name`` for notebooks, without
    the suffix): the user's folder first, so a user file replaces a built-in one of the same name."""
    found: dict[str, Traversable] = {}
    user = user_folder(kind)
    for root in (user, builtin(kind)) if user is not None else (builtin(kind),):
        for name, item in _walk(root, _SUFFIX[kind], recursive=kind == "queries"):
            found.setdefault(name, item)
    return dict(sorted(found.items()))


def _walk(
    root: Traversable, suffix: str, *, recursive: bool, prefix: str = ""
) -> Iterator[tuple[str, Traversable]]:
    # Traversable has no glob(); "_" skips __pycache__ and the like.
    for item in root.iterdir():
        if item.is_dir():
            if recursive and not item.name.startswith((".", "_")):
                yield from _walk(item, suffix, recursive=True, prefix=f"{prefix}{item.name}/")
        elif item.name.endswith(suffix) and not item.name.startswith("."):
            yield prefix + item.name[: -len(suffix)], item
