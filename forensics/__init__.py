"""forensics: an incident forensics kit. Evidence goes losslessly into one DuckDB case; one timeline
joins it; SQL analyses and papermill notebooks turn it into self-contained reports."""

from forensics.case import Case, open_case
from forensics.errors import ForensicsError

__all__ = ["Case", "ForensicsError", "open_case"]
__version__ = "0.1.0"
