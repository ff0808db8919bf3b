"""Lossless ingest: hash a file, split it into records, hand them to a source, account for each one.

Every record read from a file ends in a case table or in the ``rejects`` ledger, and the evidence
row records ``records_read = records_loaded + records_rejected`` (``records_duplicate`` is the part
of ``records_loaded`` that matched an event the case already held). Blank lines are counted in
``blank_lines`` and are not records.

Containers are recognised by content, never by file name: gzip by its magic bytes; then JSON Lines,
one JSON document (an array, an object holding its records under a key a source declares in
``record_keys``, such as ``{"Records": [...]}``, or any object), CSV, or text.
Inputs are only ever opened for reading.

The package, by seam: ``files`` (the walk, hashing, byte streams), ``sniff`` (the container and a sample
of records), ``plan`` (a file's source, planned ahead in a thread), ``chunks`` (lines cut into chunks),
``lines``, ``documents`` and ``csvs`` (the readers), ``groups`` (many small files in one transaction),
``journal`` (transactions and partial commits), ``ledger`` (the SQL that sorts out non-records),
``limits`` (the bounds) and ``engine`` (``Ingestor`` and ``ingest_paths``, the entry point).
"""

from __future__ import annotations

from forensics.ingest import limits
from forensics.ingest.engine import Ingestor, ingest_paths
from forensics.ingest.files import ByteStream, hash_file, iter_input_files
from forensics.ingest.results import FileResult, ProgressFn
from forensics.ingest.sniff import sniff

__all__ = [
    "ByteStream",
    "FileResult",
    "Ingestor",
    "ProgressFn",
    "hash_file",
    "ingest_paths",
    "iter_input_files",
    "limits",
    "sniff",
]
