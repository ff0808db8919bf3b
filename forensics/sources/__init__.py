"""Source families. Each module defines ``SOURCES``; ``registry`` discovers them.

The loader contract (docs/sources.md) is re-exported here: ``from forensics.sources import Source``.
"""

from forensics.sources.contract import (
    CATEGORIES,
    EVENT_COLUMNS,
    RAW_KEEP,
    SOURCE_NAME,
    Batch,
    Detection,
    Probe,
    Source,
    field_path,
    most,
    sql_str,
)

__all__ = [
    "CATEGORIES",
    "EVENT_COLUMNS",
    "RAW_KEEP",
    "SOURCE_NAME",
    "Batch",
    "Detection",
    "Probe",
    "Source",
    "field_path",
    "most",
    "sql_str",
]
