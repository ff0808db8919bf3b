"""The CloudTrail loader's mapping on Spark: JSON Lines files and S3-delivered ``{"Records": [...]}``
files (plain or gzip) read where they lie (a path, a glob or an ``s3://`` URI), mapped by the loader's
own SQL and written as the kit's Parquet tree (``forensics.scaleout.parquet``: ``events``,
``evidence``, ``rejects``) with a manifest whose per-file counts reconcile as the kit's do: read =
loaded + rejected, blank lines counted apart, and of the loaded those whose ``eventID`` an earlier
record (by path, then position) had counted as duplicate and written once.

One source of truth: the record shape (``_SHAPE``) and the mapping SELECT (``_JSON_EVENTS``) are the
loader's, the latter transpiled by ``forensics.scaleout.transpile``. What this path does not keep, and
how the ledger is kept, is in docs/scale-out.md ("CloudTrail on Spark"); in short: each file is read
whole by one task (line numbers and record indexes stay exact, so a file must fit one executor's
memory), a duplicate JSON key is not detected (Spark keeps the last value, the kit rejects the record),
times the kit's ``fx_time`` reads beyond ISO 8601 are rejected here, and the console CSV and digest
files are left to the kit's own ingest (digests are counted as skipped).
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
from pathlib import Path
from typing import Any

from forensics.case import Case
from forensics.scaleout import parquet
from forensics.scaleout.transpile import to_spark
from forensics.sources import cloudtrail as loader

SOURCE = loader.CloudTrailSource.name
#: The keys of a document whose array holds the records, the loader's: S3 delivery (``Records``), a
#: LookupEvents answer (``Events``)
_RECORD_KEYS = loader.CloudTrailSource.record_keys
_SPARK_TYPES = {
    "VARCHAR": "STRING",
    "JSON": "STRING",
    "BIGINT": "BIGINT",
    "INTEGER": "INT",
    "SMALLINT": "SMALLINT",
    "BOOLEAN": "BOOLEAN",
    "DOUBLE": "DOUBLE",
    "TIMESTAMP WITH TIME ZONE": "TIMESTAMP",
}


def spark_schema(shape: Any) -> str:
    """The loader's ``json_transform`` shape as a Spark DDL type (JSON values kept as their text)."""
    if isinstance(shape, str):
        return "STRING"
    if isinstance(shape, list):
        return f"ARRAY<{spark_schema(shape[0])}>"
    return "STRUCT<" + ", ".join(f"`{k}`: {spark_schema(v)}" for k, v in shape.items()) + ">"


def mapping_sql() -> str:
    """The loader's mapping SELECT (everything after its parse and time CTEs) as Spark SQL over a
    view ``t`` with columns ``record_no``, ``s`` (the parsed event), ``t_raw``, ``key_id``, ``time``."""
    sql = loader._JSON_EVENTS
    return to_spark(sql[sql.index("SELECT record_no,\n       time,") :])


def _case_columns(table: str) -> list[tuple[str, str]]:
    with Case(":memory:") as case:
        return [
            (str(n), str(t))
            for n, t in case.sql(f"DESCRIBE {table}").select(["column_name", "column_type"]).iter_rows()
        ]


def _decode(content: bytes) -> str:
    """A file's bytes as text, gunzipped when they are gzip (Spark's binaryFile reader does not)."""
    if content[:2] == b"\x1f\x8b":
        content = gzip.decompress(content)
    return content.decode("utf-8", errors="replace")


def ingest(spark: Any, paths: str | list[str], out: str | os.PathLike[str]) -> dict[str, Any]:
    """Map the CloudTrail files under ``paths`` on ``spark`` into a Parquet tree at ``out`` (a local
    folder, missing or empty); return its manifest, whose ``ingest`` entry lists each file's counts."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType

    root = Path(out)
    if root.exists() and any(root.iterdir()):
        raise parquet.BadParquetTree(f"{root} is not empty; write into a new folder")
    schema = spark_schema(json.loads(loader._SHAPE))
    lookup = spark_schema(json.loads(loader._LOOKUP_SHAPE))
    decode = F.udf(_decode, StringType(), useArrow=False)
    files = (
        spark.read.format("binaryFile")
        .option("recursiveFileLookup", "true")
        .load(paths if isinstance(paths, list) else [paths])
        .select(
            F.col("path"),
            F.sha2(F.col("content"), 256).alias("sha256"),
            F.col("length").alias("size_bytes"),
            F.when(F.hex(F.substring("content", 1, 2)) == "1F8B", F.lit("gzip"))
            .otherwise(F.lit("none"))
            .alias("compression"),
            decode("content").alias("text"),
        )
    )
    files.createOrReplaceTempView("ct_files")
    envelope = "STRUCT<" + ", ".join(f"`{k}`: ARRAY<STRING>" for k in _RECORD_KEYS) + ">"
    keys = "|".join(_RECORD_KEYS)
    records = ", ".join(f"from_json(text, '{envelope}').`{k}`" for k in _RECORD_KEYS)
    # one row per record: a Records file's entries by position, a JSON Lines file's lines by number
    spark.sql(
        rf"""
        CREATE OR REPLACE TEMPORARY VIEW ct_records AS
        WITH f AS (
            SELECT path, sha256, size_bytes, compression, text,
                   text RLIKE '^\\s*\\{{\\s*"({keys})"\\s*:' AS is_records,
                   text RLIKE '"digestStartTime"' AND text RLIKE '"logFiles"' AS is_digest
            FROM ct_files
        )
        SELECT path, sha256, 'json' AS format, CAST(NULL AS BIGINT) AS line, CAST(pos + 1 AS BIGINT) AS record_no, rec
        FROM f LATERAL VIEW posexplode(coalesce({records})) r AS pos, rec
        WHERE is_records AND NOT is_digest
        UNION ALL
        SELECT path, sha256, 'jsonl', CAST(pos + 1 AS BIGINT), CAST(pos + 1 AS BIGINT), regexp_replace(rec, '\r$', '')
        FROM f LATERAL VIEW posexplode(split(regexp_replace(text, '\r?\n$', ''), '\n')) r AS pos, rec
        WHERE NOT is_records AND NOT is_digest
        """
    )
    # The loader's parse CTEs in Spark's terms (its mapping SELECT, transpiled, reads what they yield):
    # ``s`` the event (a LookupEvents element's CloudTrailEvent string parsed, else an EventBridge
    # envelope's detail, else the record), ``o`` the LookupEvents element's own fields (NULL for other
    # records, as DuckDB's json_transform gives NULL fields), ``t_raw`` and ``key_id``.
    # (from_json of text that is no JSON object gives a struct of NULLs, not NULL as DuckDB's TRY_CAST
    # to JSON does: hence the MAP test before a nested document is taken as the event.)
    spark.sql(
        f"""
        CREATE OR REPLACE TEMPORARY VIEW ct_parsed AS
        WITH p AS (
            SELECT *, trim(rec) = '' AS blank,
                   trim(rec) LIKE '{{%' AND from_json(rec, 'MAP<STRING, STRING>') IS NOT NULL AS is_object,
                   from_json(rec, '{schema}') AS doc
            FROM ct_records
        ), q AS (
            SELECT *,
                   CASE WHEN trim(doc.CloudTrailEvent) LIKE '{{%'
                             AND from_json(doc.CloudTrailEvent, 'MAP<STRING, STRING>') IS NOT NULL
                        THEN from_json(doc.CloudTrailEvent, '{schema}') END AS embedded,
                   CASE WHEN doc.CloudTrailEvent IS NOT NULL THEN from_json(rec, '{lookup}') END AS o
            FROM p
        ), m AS (
            SELECT *, CASE WHEN embedded IS NOT NULL THEN embedded
                           WHEN doc.`detail-type` IS NOT NULL AND trim(doc.detail) LIKE '{{%'
                           THEN from_json(doc.detail, '{schema}') ELSE doc END AS s,
                      CASE WHEN doc.`detail-type` IS NOT NULL THEN doc.time END AS envelope_time
            FROM q
        )
        SELECT *, coalesce(s.eventTime, s.`@timestamp`, envelope_time, o.EventTime) AS t_raw,
               coalesce(nullif(s.userIdentity.accessKeyId, ''), nullif(o.AccessKeyId, '')) AS key_id
        FROM m
        """
    )
    spark.sql(
        "CREATE OR REPLACE TEMPORARY VIEW t AS SELECT *, try_cast(t_raw AS TIMESTAMP) AS time FROM ct_parsed "
        "WHERE NOT blank AND is_object"
    )
    mapped = spark.sql(
        mapping_sql().replace("SELECT record_no,", "SELECT path, sha256, line, format, rec, record_no,", 1)
    )
    mapped.createOrReplaceTempView("ct_mapped")
    spark.sql(
        r"""
        CREATE OR REPLACE TEMPORARY VIEW ct_events AS
        SELECT *, row_number() OVER (PARTITION BY coalesce(event_uid, sha256 || ':' || record_no)
                                     ORDER BY path, record_no) > 1 AS duplicate
        FROM ct_mapped WHERE time IS NOT NULL
        """
    )
    event_cols = _case_columns("events")
    ingested_at = dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(sep=" ")
    select = {
        "event_id": "substr(sha256, 1, 16) || ':' || record_no || ':0'",
        "source": f"'{SOURCE}'",
        "category": f"'{loader.CloudTrailSource.category}'",
        "evidence_sha256": "sha256",
        "evidence_line": "line",
        "evidence_record": "record_no",
        "event_seq": "0",
        "event_rank": "0",
        "raw": "rec",
    }
    # a column of events the mapping does not yield (end_time, span_id, ... or one added later) is NULL,
    # as the kit's insert_events leaves it
    mapped_cols = set(mapped.columns)
    cols = ", ".join(
        f"CAST({select.get(n, n if n in mapped_cols else 'NULL')} AS {_SPARK_TYPES[parquet.stored_type(t)]}) AS `{n}`"
        for n, t in event_cols
    )
    events = spark.sql(
        f"SELECT {cols}, date_format(time, 'yyyy-MM-dd') AS day FROM ct_events WHERE NOT duplicate"
    )
    events.drop("source").write.partitionBy("day").parquet(str(root / "events" / f"source={SOURCE}"))
    reject_cols = {
        "evidence_sha256": "sha256",
        "line": "line",
        "byte_offset": "NULL",
        "record_index": "record_no",
        "reason": "reason",
        "raw_text": "rec",
        "raw_length": "length(rec)",
    }
    rejects = spark.sql(
        f"""
        SELECT {", ".join(f"CAST({reject_cols[n]} AS {_SPARK_TYPES[parquet.stored_type(t)]}) AS `{n}`" for n, t in _case_columns("rejects"))}
        FROM (SELECT *, CASE WHEN NOT is_object THEN 'not a JSON object'
                             ELSE 'time missing or not ISO 8601: ' || coalesce(t_raw, 'no eventTime') END AS reason
              FROM ct_parsed WHERE NOT blank AND (NOT is_object OR try_cast(t_raw AS TIMESTAMP) IS NULL))
        """
    )
    rejects.coalesce(1).write.parquet(str(root / "rejects"))
    counts = spark.sql(
        """
        SELECT f.path, f.sha256, f.size_bytes, f.compression,
               coalesce(c.format, CASE WHEN f.text RLIKE '"digestStartTime"' THEN 'json' ELSE 'jsonl' END) AS format,
               coalesce(c.read, 0) AS records_read, coalesce(c.blank, 0) AS blank_lines,
               coalesce(e.loaded, 0) AS records_loaded, coalesce(e.duplicate, 0) AS records_duplicate,
               coalesce(c.read, 0) - coalesce(e.loaded, 0) AS records_rejected,
               f.text RLIKE '"digestStartTime"' AND f.text RLIKE '"logFiles"' AS digest
        FROM ct_files f
        LEFT JOIN (SELECT sha256, first(format) AS format, count_if(NOT blank) AS read, count_if(blank) AS blank
                   FROM ct_parsed GROUP BY sha256) c USING (sha256)
        LEFT JOIN (SELECT sha256, count(*) AS loaded, count_if(duplicate) AS duplicate
                   FROM ct_events GROUP BY sha256) e USING (sha256)
        """
    ).collect()
    rejected = {
        r["evidence_sha256"]: r["n"]
        for r in rejects.groupBy("evidence_sha256").count().withColumnRenamed("count", "n").collect()
    }
    ledger = []
    for i, r in enumerate(sorted(counts, key=lambda r: r["path"]), start=1):
        row = r.asDict()
        row["reconciled"] = row["records_read"] == row["records_loaded"] + row["records_rejected"] and row[
            "records_rejected"
        ] == rejected.get(row["sha256"], 0)
        row["note"] = (
            "a CloudTrail digest file: not events, left to the kit's ingest" if row.pop("digest") else None
        )
        row["evidence_id"] = i
        ledger.append(row)
    _write_evidence(spark, root, ledger, ingested_at)
    return _manifest(root, ledger)


def _write_evidence(spark: Any, root: Path, ledger: list[dict[str, Any]], ingested_at: str) -> None:
    fields = (
        "evidence_id BIGINT, path STRING, sha256 STRING, size_bytes BIGINT, compression STRING, format STRING, "
        "records_read BIGINT, records_loaded BIGINT, records_rejected BIGINT, records_duplicate BIGINT, "
        "blank_lines BIGINT, note STRING, loader STRING, ingested_at STRING"
    )
    names = [f.split()[0] for f in fields.split(", ")]
    rows = [tuple({**r, "loader": SOURCE, "ingested_at": ingested_at}[n] for n in names) for r in ledger]
    df = spark.createDataFrame(rows, schema=fields)  # typed: a column of all NULL notes has no type to infer
    df.createOrReplaceTempView("ct_ledger")
    # a column of the case's ledger this path does not fill (an archive's parent, a mapping file) is NULL,
    # as in a file the kit ingests alone
    cols = ", ".join(
        f"CAST({n if n in names else 'NULL'} AS {_SPARK_TYPES[parquet.stored_type(t)]}) AS `{n}`"
        for n, t in _case_columns("evidence")
    )
    spark.sql(f"SELECT {cols} FROM ct_ledger").coalesce(1).write.parquet(str(root / "evidence"))


def _manifest(root: Path, ledger: list[dict[str, Any]]) -> dict[str, Any]:
    """The tree's manifest in ``forensics.scaleout.parquet``'s format (so ``import --parquet`` and
    ``register_parquet`` read it), with the per-file ledger under ``ingest``."""
    import pyarrow.parquet as pq

    tables: dict[str, Any] = {}
    for table, partition in (("events", ["source", "day"]), ("evidence", []), ("rejects", [])):
        files = []
        for p in sorted((root / table).rglob("*.parquet")):
            files.append(
                {
                    "path": p.relative_to(root).as_posix(),
                    "rows": pq.ParquetFile(p).metadata.num_rows,
                    "bytes": p.stat().st_size,
                    "sha256": parquet.sha256_file(p),
                }
            )
        tables[table] = {
            "rows": sum(f["rows"] for f in files),
            "partition_by": partition,
            "columns": [
                {"name": n, "type": t, "stored": parquet.stored_type(t)} for n, t in _case_columns(table)
            ],
            "files": files,
        }
    manifest = {
        "format": parquet.FORMAT,
        "created_at": dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z"),
        "written_by": "forensics.scaleout.cloudtrail (Spark)",
        "ingest": [{k: v for k, v in r.items() if k != "text"} for r in ledger],
        "tables": tables,
    }
    (root / parquet.MANIFEST).write_text(
        json.dumps(manifest, indent=1, sort_keys=True, default=str) + "\n", encoding="utf-8"
    )
    return manifest
