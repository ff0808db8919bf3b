"""The bounds and sizes that govern an ingest, in one place (tests and benchmarks may change them)."""

#: A JSON Lines line longer than this is rejected (its first 64 KiB kept in the ledger).
MAX_LINE_BYTES = 8 * 1024 * 1024
#: A chunk of lines holds at most this many lines (its per-line arrays stay bounded: a newline bomb).
MAX_CHUNK_LINES = 1_000_000
#: A file's decompressed content is read up to this many bytes; the rest is one reject with the reason.
MAX_FILE_BYTES = 1024 * 1024 * 1024 * 1024
#: A single JSON document larger than this (after decompression) is rejected as a whole.
MAX_DOCUMENT_BYTES = 512 * 1024 * 1024
#: A line-oriented file commits after about this many bytes, which bounds memory; see Ingestor.purge.
COMMIT_EVERY_BYTES = 128 * 1024 * 1024
#: A JSON document up to this size is parsed in Python to probe it; larger ones are probed by DuckDB.
SMALL_DOCUMENT_BYTES = 8 * 1024 * 1024
PIECE_BYTES = 32 * 1024 * 1024
#: A line-oriented file's events go into ``events`` in inserts of at least a row group per DuckDB
#: thread, so that every thread compresses and writes its own (see InsertSink).
ROW_GROUP_ROWS = 122_880
#: A JSON document with at least this many records hands them to its source in chunked Arrow.
STAGE_MIN_RECORDS = 10_000
#: A batch is small (its statements are planned once, their results built whole: see ``base.fetch_arrow``)
#: when it has fewer than ``STAGE_MIN_RECORDS`` records and fewer bytes than this: a record may hold
#: many rows (an OTLP record holds dozens of spans), whose result is better streamed.
SMALL_BATCH_BYTES = 4 * 1024 * 1024
#: Small JSON documents of one source (``Source.groupable``: CloudTrail's Records files) are read
#: together, in one transaction and one batch, up to this many bytes of text and this many files;
#: a document larger than ``GROUP_DOCUMENT_BYTES`` is read on its own.
GROUP_MAX_BYTES = 256 * 1024 * 1024
GROUP_MAX_FILES = 4096
GROUP_DOCUMENT_BYTES = 128 * 1024 * 1024
#: A JSON Lines file of a groupable source up to this size (inflated) is read in a group.
GROUP_LINES_BYTES = 8 * 1024 * 1024
#: How much document text the planning thread may hold ready beyond what the ingest has taken.
PLAN_AHEAD_BYTES = 128 * 1024 * 1024
#: An archive member larger than this (decompressed) is not extracted: a skipped entry instead.
MAX_MEMBER_BYTES = 4 * 1024 * 1024 * 1024
#: All members of one archive together are extracted up to this many bytes.
MAX_ARCHIVE_BYTES = 16 * 1024 * 1024 * 1024
HEAD_BYTES = 64 * 1024
GZIP_MAGIC = b"\x1f\x8b"
BOM = b"\xef\xbb\xbf"
MAPPING_SUFFIX = ".mapping.toml"


def _from_environment() -> None:
    """``FORENSICS_LIMIT_<NAME>=<int>`` overrides a bound (tests and benchmarks run the command with small
    caps this way); a value that is not an integer is an error, not ignored."""
    import os

    for name, value in list(globals().items()):
        env = os.environ.get(f"FORENSICS_LIMIT_{name}")
        if env is not None and name.isupper() and isinstance(value, int):
            globals()[name] = int(env)


_from_environment()
