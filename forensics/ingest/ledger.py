"""The ledger SQL: which lines and records are not records (and why), and their rows in ``rejects``."""

from __future__ import annotations

import duckdb
import pyarrow as pa

from forensics.db import scalar
from forensics.sources.contract import RAW_KEEP, Source


def _text_lines_sql(view: str, limit: int, where: str = "true") -> str:
    """The ledger of the lines of ``view`` (line_no, byte_offset, text) for a source that reads text lines:
    every non-blank line is a record, its ``doc`` the line as a JSON string; a line over the bound keeps its
    text in ``bad_text``, with its reason."""
    ws = "' ' || chr(9) || chr(10) || chr(13)"
    return f"""SELECT line_no AS record_no, line_no, byte_offset, CASE WHEN reason IS NULL THEN to_json(text) END AS doc,
                      reason, CASE WHEN reason IS NOT NULL THEN text END AS bad_text
               FROM (SELECT *, CASE WHEN strlen(text) > {limit} THEN 'line exceeds the {limit} byte bound' END AS reason
                     FROM {view} WHERE ({where}) AND trim(text, {ws}) <> '')"""


def _json_text(lines: pa.Table) -> pa.Table:
    """A table of lines with its ``text`` column typed JSON (Arrow's ``arrow.json``, the same buffers), which
    DuckDB reads as JSON without checking it again: only for lines ``_not_records_sql`` has let through."""
    json_type = pa.json_(pa.large_string())
    text = pa.chunked_array(
        [pa.ExtensionArray.from_storage(json_type, c) for c in lines.column("text").chunks], type=json_type
    )
    return lines.set_column(lines.schema.get_field_index("text"), "text", text)


def _not_records_sql(view: str, limit: int, where: str = "true", extra: str = "") -> str:
    """The lines of ``view`` (line_no, byte_offset, text, ...) that are not records, with their text in
    ``bad_text`` and their reason: blank (reason ''), over-long, malformed JSON, or not an object. The test
    that lets a record through (its text starts with '{' and is valid JSON) is one parse, and the reasons
    are worked out only for the lines it stops. ``where`` filters the view's rows; ``extra`` adds columns."""
    ws = "' ' || chr(9) || chr(10) || chr(13)"
    return f"""SELECT line_no, byte_offset, text AS bad_text{extra},
                      CASE WHEN strlen(text) > {limit} THEN 'line exceeds the {limit} byte bound'
                           WHEN trim(text, {ws}) = '' THEN ''
                           WHEN NOT json_valid(text) THEN 'malformed JSON'
                           ELSE 'non-object record (' || json_type(text) || ')' END AS reason
               FROM {view}
               WHERE ({where}) AND (strlen(text) > {limit} OR NOT (starts_with(text, '{{') OR starts_with(ltrim(text, {ws}), '{{'))
                                    OR NOT json_valid(text))"""


def _reject_lines(
    con: duckdb.DuckDBPyConnection, ledger: str, sha_sql: str, params: list | None = None
) -> None:
    """Write the lines of a ledger (``_not_records_sql``, ``_text_lines_sql``) that are not records (reason
    not blank) to the rejects ledger."""
    con.execute(
        f"""INSERT INTO rejects
            SELECT {sha_sql}, line_no, byte_offset, line_no, reason, left(bad_text, {RAW_KEEP}), strlen(bad_text)
            FROM {ledger} WHERE reason <> ''""",
        params or [],
    )


def _kept_sql(source: Source) -> str:
    """Which split records of a document go to ``source``: objects, and arrays for a source that takes
    array records (e.g. Zipkin's list of traces). A record is minified JSON, so its first character
    tells."""
    kept = "starts_with(CAST(doc AS VARCHAR), '{')"
    if source.accepts_array_records:
        kept += " OR starts_with(CAST(doc AS VARCHAR), '[')"
    return kept


def _reject_non_objects(
    con: duckdb.DuckDBPyConnection,
    table: str,
    kept: str,
    sha_sql: str,
    record_sql: str,
    params: list | None = None,
):
    """Write the records of ``table`` that ``kept`` refuses to the rejects ledger, with their type;
    returns how many."""
    return scalar(
        con,
        f"""INSERT INTO rejects SELECT {sha_sql}, NULL, NULL, {record_sql}, 'non-object record (' || json_type(doc) || ')',
                   left(CAST(doc AS VARCHAR), {RAW_KEEP}), strlen(CAST(doc AS VARCHAR))
            FROM {table} WHERE NOT ({kept})""",
        params or [],
    )
