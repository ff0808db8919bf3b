"""The kit's analyses on Spark: a session (local or a given master, or one passed in), the Parquet tree
registered as Spark views named like the case's tables, and ``run_query`` that transpiles a query
(``forensics.scaleout.transpile``), runs it and returns the same polars frame DuckDB would, redacted.

pyspark is optional (``pip install 'forensics[spark]'``) and needs a Java runtime."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import polars as pl

from forensics import queries
from forensics.errors import ForensicsError
from forensics.redact import redact_frame
from forensics.scaleout import parquet
from forensics.scaleout.transpile import to_spark

_log = logging.getLogger(__name__)
_VIEW = re.compile(r"CREATE OR REPLACE VIEW (\w+) AS\s(.*?);[ \t]*(?:\n|$)", re.S)

#: Settings every session the kit starts gets: instants in UTC (principle 8), few shuffle partitions for
#: a local run, no web UI. ANSI mode stays on (Spark 4's default): a bad cast fails, as in DuckDB.
SESSION_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.shuffle.partitions": "2",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    # partition values are text: a source named "2024" stays a string, as in the case
    "spark.sql.sources.partitionColumnTypeInference.enabled": "false",
    # instants written as UTC-adjusted microseconds (not INT96), which DuckDB reads as TIMESTAMPTZ
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.driver.extraJavaOptions": "-Duser.timezone=UTC",
    "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
}


class SparkUnavailable(ForensicsError):
    """pyspark or a Java runtime is missing."""


class NotPortable(ForensicsError):
    """A query whose header does not list the spark engine; the message gives its reason."""


def available() -> str | None:
    """None when Spark can run here, else why not."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed (pip install 'forensics[spark]')"
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        return "no Java runtime (java not on PATH, JAVA_HOME unset)"
    return None


def session(master: str | None = None, app: str = "forensics") -> Any:
    """A SparkSession: the active one when ``master`` is None and one runs, else a new one on
    ``master`` (default ``local[2]``) with ``SESSION_CONF``."""
    why = available()
    if why:
        raise SparkUnavailable(why)
    from pyspark.sql import SparkSession

    if master is None:
        active = SparkSession.getActiveSession()
        if active is not None:
            return active
    # Python functions (the CloudTrail reader's gunzip) run in this interpreter's environment
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.master(master or "local[2]").appName(app)
    for key, value in SESSION_CONF.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("FATAL")  # a failing query raises; its log lines are noise
    return spark


def tables_read(sql: str) -> set[str] | None:
    """The tables a DuckDB query reads by name (CTE names excluded); None when it reads one of the
    schema's views, which read further tables."""
    import sqlglot

    tree = sqlglot.parse_one(sql, read="duckdb")
    ctes = {c.alias_or_name for c in tree.find_all(sqlglot.exp.CTE)}
    names = {t.name for t in tree.find_all(sqlglot.exp.Table) if t.name and t.name not in ctes}
    from forensics.case import schema_statements

    views = {name for text in schema_statements() for name, _ in _VIEW.findall(text)}
    return None if names & views else names


def register_parquet(
    spark: Any, src: str | os.PathLike[str], verify: bool = True, tables: set[str] | None = None
) -> list[str]:
    """Each table of a tree written by ``forensics export --parquet`` as a temporary view of the same
    name, with the partition column ``day`` dropped (it is not a column of the case). A tree on a cluster
    store (``s3://``) is read as it lies and not verified here (``verify=False``)."""
    root = str(src)
    if verify:
        manifest = parquet.read_manifest(root)
    else:
        manifest = json.loads(
            spark.sparkContext.wholeTextFiles(root.rstrip("/") + "/manifest.json").first()[1]
        )
    for table, spec in manifest["tables"].items():
        if tables is not None and table not in tables:
            continue  # reading a table's footers costs seconds; only what the query reads
        folder = f"{root.rstrip('/')}/{table}"
        df = spark.read.option("basePath", folder).parquet(folder)
        if parquet.DAY in df.columns:
            df = df.drop(parquet.DAY)
        df = df.select(*[c["name"] for c in spec["columns"]])  # the case's column order
        df.createOrReplaceTempView(table)
    return list(manifest["tables"]) + (register_schema_views(spark) if tables is None else [])


def register_schema_views(spark: Any) -> list[str]:
    """The case schema's views (``trace_requests``, ``attribute_values``, ...) transpiled to Spark as
    temporary views, in schema order; a view that does not transpile or run is left out and named in
    the log, and a query reading it fails with Spark's "table or view not found"."""
    from forensics.case import schema_statements

    made = []
    for text in schema_statements():
        # sqlglot cannot parse every table DDL of the schema (USING COMPRESSION): only the views are read
        for name, body_sql in _VIEW.findall(text):
            try:
                body = to_spark(body_sql)
                spark.sql(f"CREATE OR REPLACE TEMPORARY VIEW `{name}` AS {body}")
                made.append(name)
            except Exception as e:  # noqa: BLE001 - any failure leaves the view out, as said above
                _log.info("schema view %s not registered on Spark: %s", name, str(e)[:200])
    return made


def engines_of(sql: str) -> tuple[list[str], str]:
    """The engines a query declares (``-- @engines: duckdb, spark``) and, when spark is not among them,
    the reason its ``-- @not-spark:`` line gives."""
    engines = queries.header_list(sql, "engines") or ["duckdb"]
    return engines, queries.header(sql).get("not-spark", "")


def run_query(spark: Any, name: str, force: bool = False, **params: object) -> pl.DataFrame:
    """Run ``queries/<name>.sql`` on ``spark`` over the views ``register_parquet`` made and return
    the result as polars, redacted like ``Case.query``. A query whose header does not list spark raises
    ``NotPortable`` with its reason unless ``force``."""
    sql = queries.load(name)
    engines, reason = engines_of(sql)
    if "spark" not in engines and not force:
        raise NotPortable(f"query {name} does not run on Spark: {reason or 'no reason given in its header'}")
    wanted = queries.parameters(sql)
    extra = set(params) - wanted
    if extra:
        from forensics.errors import UnknownParameter

        raise UnknownParameter(f"query {name} takes {sorted(wanted) or 'no parameters'}, not {sorted(extra)}")
    from forensics.case import _bindable

    bound = {k: _bindable(params.get(k)) for k in wanted}
    return redact_frame(run_sql(spark, sql, bound))


def run_sql(spark: Any, duckdb_sql: str, params: dict[str, object] | None = None) -> pl.DataFrame:
    """DuckDB SQL on Spark: transpiled, parameters bound as literals by Spark, result as polars."""
    text = to_spark(duckdb_sql, params or {})
    df = spark.sql(text)
    table = df.toArrow()
    return pl.from_arrow(table)  # type: ignore[return-value]


def read_tree_frame(spark: Any, src: str | os.PathLike[str], table: str) -> Any:
    """One table of a tree as a Spark DataFrame (for notebooks that go on in PySpark)."""
    return spark.read.parquet(str(Path(src) / table))
