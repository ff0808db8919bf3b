"""The case as a Parquet tree (forensics export --parquet / import --parquet): every table, its rows,
hive partitions by source and UTC day, the manifest's counts and hashes, types Spark reads, round trip."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pyarrow.parquet as pq
import pytest

import forensics
from forensics.cli import main
from forensics.scaleout import parquet


@pytest.fixture(scope="module")
def tree(sample_case, tmp_path_factory):
    out = tmp_path_factory.mktemp("tree") / "pq"
    manifest = sample_case.export_parquet(out)
    return out, manifest


def _base_tables(case) -> dict[str, int]:
    names = case.sql("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' AND NOT temporary")[
        "table_name"
    ].to_list()
    return {n: case.sql(f'SELECT count(*) AS n FROM "{n}"').item() for n in names}


def test_every_table_its_rows_and_hashes(sample_case, tree):
    out, manifest = tree
    counts = _base_tables(sample_case)
    assert set(manifest["tables"]) == set(counts)
    assert counts["events"] > 1000
    on_disk = json.loads((out / "manifest.json").read_text())
    for table, n in counts.items():
        spec = on_disk["tables"][table]
        assert spec["rows"] == n
        # read with pyarrow, hash with hashlib: not with the kit
        assert sum(pq.ParquetFile(out / f["path"]).metadata.num_rows for f in spec["files"]) == n
        for f in spec["files"]:
            assert f["path"].startswith(table + "/")
            assert hashlib.sha256((out / f["path"]).read_bytes()).hexdigest() == f["sha256"]


def test_partitions_by_source_and_utc_day(sample_case, tree):
    out, manifest = tree
    assert manifest["tables"]["events"]["partition_by"] == ["source", "day"]
    want = sample_case.sql(
        "SELECT source, strftime(time AT TIME ZONE 'UTC', '%Y-%m-%d') AS day, count(*) AS n FROM events GROUP BY ALL"
    )
    got: dict[tuple[str, str], int] = {}
    for f in manifest["tables"]["events"]["files"]:
        parts = dict(p.split("=", 1) for p in f["path"].split("/")[1:-1])
        key = (parts["source"], parts["day"])
        got[key] = got.get(key, 0) + f["rows"]
    assert got == {(s, d): n for s, d, n in want.iter_rows()}
    # the partition columns are not inside the files; time is an UTC-adjusted timestamp
    schema = pq.ParquetFile(out / manifest["tables"]["events"]["files"][0]["path"]).schema_arrow
    assert "source" not in schema.names and "day" not in schema.names
    assert str(schema.field("time").type) == "timestamp[us, tz=UTC]"
    assert str(schema.field("raw").type) == "string"  # JSON stored as text


def test_round_trip_equal(sample_case, tree, tmp_path):
    out, manifest = tree
    with forensics.open_case(tmp_path / "back.duckdb") as back:
        loaded = parquet.import_parquet(back.con, out)
    assert loaded == _base_tables(sample_case)
    sample_case.con.execute(f"ATTACH '{tmp_path / 'back.duckdb'}' AS back (READ_ONLY)")
    try:
        for table in ("events", "evidence", "spans", "findings", "credentials", "metric_samples"):
            for a, b in ((table, f"back.{table}"), (f"back.{table}", table)):
                left = sample_case.sql(f"SELECT count(*) AS n FROM (FROM {a} EXCEPT ALL FROM {b})").item()
                assert left == 0, (table, a)
    finally:
        sample_case.con.execute("DETACH back")


def test_query_in_place_equals_case(sample_case, tree):
    out, _ = tree
    case = parquet.open_parquet(out)
    for name in ("traces/outcomes", "invariants/expired_credential_used", "provenance/deploy_evidence"):
        assert case.query(name).equals(sample_case.query(name)), name
    assert (
        case.sql("SELECT count(*) FROM events").item()
        == sample_case.sql("SELECT count(*) FROM events").item()
    )


def test_changed_file_is_refused(tree, tmp_path):
    out, manifest = tree
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    victim = copy / manifest["tables"]["events"]["files"][0]["path"]
    victim.write_bytes(victim.read_bytes()[:-1] + b"\0")
    with pytest.raises(parquet.BadParquetTree, match="changed"):
        parquet.read_manifest(copy)
    (copy / "events" / "extra.parquet").write_bytes(b"x")
    with pytest.raises(parquet.BadParquetTree, match="not in the manifest"):
        parquet.read_manifest(copy)


def test_import_into_a_busy_case_is_refused(sample_case, tree):
    out, _ = tree
    with pytest.raises(parquet.BadParquetTree, match="new case"):
        parquet.import_parquet(sample_case.con, out)


def test_types_spark_refuses_are_cast_and_restored(tmp_path):
    con = forensics.open_case(tmp_path / "t.duckdb")
    con.con.execute(
        """CREATE TABLE odd AS SELECT
             '3b6f1c56-1c5e-4a55-9d38-5b9d0c7a1f10'::UUID AS u, INTERVAL 90 MINUTE AS iv,
             12345678901234567890123456789012345678::HUGEINT AS h, 18446744073709551615::UBIGINT AS ub,
             TIMESTAMP_NS '2026-03-14 08:00:00.123456789' AS tns, '{"a": 1}'::JSON AS j"""
    )
    manifest = con.export_parquet(tmp_path / "pq")
    con.close()
    stored = {c["name"]: c["stored"] for c in manifest["tables"]["odd"]["columns"]}
    assert stored == {
        "u": "VARCHAR",
        "iv": "VARCHAR",
        "h": "DECIMAL(38,0)",
        "ub": "DECIMAL(20,0)",
        "tns": "TIMESTAMP",
        "j": "VARCHAR",
    }
    schema = pq.read_schema(tmp_path / "pq" / manifest["tables"]["odd"]["files"][0]["path"])
    assert {str(t) for t in schema.types} <= {
        "string",
        "decimal128(38, 0)",
        "decimal128(20, 0)",
        "timestamp[us]",
    }
    with forensics.open_case(tmp_path / "back.duckdb") as back:
        parquet.import_parquet(back.con, tmp_path / "pq")
        row = back.sql(
            "SELECT u::VARCHAR AS u, iv = INTERVAL 90 MINUTE AS iv, h, ub, tns, j::VARCHAR AS j, typeof(u) AS tu FROM odd"
        ).row(0)
    assert row[0] == "3b6f1c56-1c5e-4a55-9d38-5b9d0c7a1f10" and row[6] == "UUID"
    assert row[1] is True
    assert row[2] == 12345678901234567890123456789012345678 and row[3] == 18446744073709551615
    assert row[4] == dt.datetime(2026, 3, 14, 8, 0, 0, 123457)  # rounded to the microsecond, as documented
    assert json.loads(row[5]) == {"a": 1}


def test_cli_export_and_import(sample_case, tmp_path, capsys):
    src = tmp_path / "small.duckdb"
    rows = sample_case.sql("SELECT * FROM events WHERE source = 'cloudtrail'")
    with forensics.open_case(src) as c:
        c.con.register("rows", rows)
        c.con.execute("INSERT INTO events SELECT * FROM rows")
        n = c.sql("SELECT count(*) FROM events").item()
    assert n == rows.height > 0
    assert main(["export", "--case", str(src), "--parquet", str(tmp_path / "pq")]) == 0
    assert main(["import", "--parquet", str(tmp_path / "pq"), "--case", str(tmp_path / "new.duckdb")]) == 0
    assert f"events: {n} rows" in capsys.readouterr().out
    with forensics.open_case(tmp_path / "new.duckdb", read_only=True) as c:
        assert c.sql("SELECT count(*) FROM events").item() == n


def test_seeded_rows_of_a_new_case_give_way_to_the_trees(tmp_path):
    """A new case already holds the rows the schema seeds (case_meta, environment_aliases): import
    still takes it, and the tree's rows, as the exported case left them, replace the seeds; a case
    whose seeded rows were changed is not new and is refused."""
    with forensics.open_case(tmp_path / "a.duckdb") as a:
        a.set_environment_alias("prod", "prod")  # a default turned off
        a.set_environment_alias("live", "production")
        want = sorted(a.con.execute("SELECT alias, canonical, note FROM environment_aliases").fetchall())
        meta = sorted(a.con.execute("SELECT key, value FROM case_meta").fetchall())
        a.export_parquet(tmp_path / "pq")
    assert ("live", "production", "set for this case") in want and (
        "prod",
        "prod",
        "set for this case",
    ) in want
    with forensics.open_case(tmp_path / "b.duckdb") as b:
        seeds = b.con.execute("SELECT count(*) FROM environment_aliases").fetchone()[0]
        b.con.complete()
        assert seeds > 0  # the new case is not empty, and not busy either
        parquet.import_parquet(b.con, tmp_path / "pq")
        assert (
            sorted(b.con.execute("SELECT alias, canonical, note FROM environment_aliases").fetchall()) == want
        )
        assert sorted(b.con.execute("SELECT key, value FROM case_meta").fetchall()) == meta
    with forensics.open_case(tmp_path / "c.duckdb") as c:
        c.set_environment_alias("stage", "qa")
        with pytest.raises(parquet.BadParquetTree, match="environment_aliases; import into a new case"):
            parquet.import_parquet(c.con, tmp_path / "pq")
