"""forensics: an incident forensics kit. Evidence goes losslessly into one DuckDB case; one timeline
joins it; SQL analyses and papermill notebooks turn it into self-contained reports."""

from forensics.case import Case, open_case
from forensics.errors import ForensicsError

__all__ = ["Case", "ForensicsError", "open_case"]
__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    """``forensics.charts``, ``forensics.nb`` and the other submodules on first use, as the README
    writes them (``forensics.charts.timeline(df)``) without importing them first."""
    import importlib

    if name.startswith("_"):
        raise AttributeError(name)
    try:
        return importlib.import_module(f"forensics.{name}")
    except ModuleNotFoundError as e:
        if e.name == f"forensics.{name}":
            raise AttributeError(f"module 'forensics' has no attribute {name!r}") from None
        raise
