"""Reading CSV: DuckDB's strict reader, each row a record (as a JSON object of strings), each row it
refuses a reject with its line."""

from __future__ import annotations

import os
import tempfile

from forensics.db import scalar
from forensics.ingest.files import ByteStream
from forensics.ingest.journal import Journal
from forensics.ingest.results import _Counts
from forensics.sources.contract import RAW_KEEP, Source
from forensics.staging import temp_name


class CsvReader(Journal):
    """Reads a CSV file into the case."""

    def _read_csv(self, path: str, stream: ByteStream, sha: str, source: Source, counts: _Counts) -> None:
        con = self.con
        tmp = None
        read_path = path
        stream.head(
            256
        )  # tells whether the text is UTF-16 (DuckDB reads UTF-8: it is given the transcoded copy)
        if stream.gzip or stream.encoding:
            fd, tmp = tempfile.mkstemp(suffix=".csv", prefix="forensics-")
            with os.fdopen(fd, "wb") as out:
                for piece in stream:
                    out.write(piece)
            read_path = tmp
        rej_table, rej_scan = temp_name("csvrej"), temp_name("csvscan")
        batch = temp_name("batch")
        try:
            con.execute(
                f"""CREATE TEMP TABLE {batch} AS
                    SELECT CAST(ordinality AS BIGINT) AS record_no, CAST(NULL AS BIGINT) AS line_no,
                           CAST(NULL AS BIGINT) AS byte_offset,
                           CAST(to_json(t) AS JSON) AS doc
                    FROM (SELECT * FROM read_csv(?, all_varchar = true, header = true, strict_mode = true,
                                                 store_rejects = true, rejects_table = '{rej_table}',
                                                 rejects_scan = '{rej_scan}', parallel = false)
                          WITH ORDINALITY) AS t""",
                [read_path],
            )
            # to_json(t) carries the ordinality column too; drop it from the record
            con.execute(f"UPDATE {batch} SET doc = json_merge_patch(doc, '{{\"ordinality\": null}}')")
            rej = scalar(
                con,
                f"""INSERT INTO rejects
                    SELECT ?, line, byte_position, NULL, 'CSV ' || lower(error_type) || ': ' || error_message,
                           left(csv_line, {RAW_KEEP}), strlen(csv_line)
                    FROM (SELECT DISTINCT ON (line) * FROM {rej_table} ORDER BY line)""",
                [sha],
            )
            counts.read += rej
            counts.rejected += rej
            self._run_batch(batch, sha, source, counts)
        finally:
            for t in (batch, rej_table, rej_scan):
                con.execute(f"DROP TABLE IF EXISTS {t}")
            if tmp:
                os.unlink(tmp)
