"""The generic loader with a declared TOML field mapping."""

from __future__ import annotations

import json

import pytest

from forensics.errors import BadMapping

MAPPING = """
name = "myapp"
category = "audit"
naive_time = "utc"
[fields]
time = "when"
action = "op"
actor = "who.name"
src_ip = "net.ip"
request_id = "$.meta.\\"req-id\\""
[outcome]
field = "result"
success = ["OK"]
failure = ["denied"]
timeout = ["deadline"]
"""


def _write(tmp_path, rows, mapping=MAPPING, name="app.jsonl"):
    data = tmp_path / name
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    m = tmp_path / "m.toml"
    m.write_text(mapping, encoding="utf-8")
    return data, m


def test_mapping_fills_event_columns_from_nested_fields(case, tmp_path):
    data, m = _write(
        tmp_path,
        [
            {
                "when": "2026-03-14 09:00:00",
                "op": "login",
                "who": {"name": "bob"},
                "net": {"ip": "192.0.2.1"},
                "meta": {"req-id": "r1"},
                "result": "ok",
            }
        ],
    )
    (res,) = case.ingest([data], mapping=str(m))
    assert res.loader == "myapp" and res.records_loaded == 1
    row = case.timeline().row(0, named=True)
    assert (
        row["source"],
        row["category"],
        row["action"],
        row["actor"],
        row["src_ip"],
        row["request_id"],
    ) == ("myapp", "audit", "login", "bob", "192.0.2.1", "r1")
    assert row["outcome"] == "success" and str(row["time"]) == "2026-03-14 09:00:00+00:00"


def test_mapping_outcome_values_keep_timeouts_distinct(case, tmp_path):
    rows = [
        {"when": f"2026-03-14T09:00:0{i}Z", "result": r}
        for i, r in enumerate(["ok", "denied", "deadline", "weird"])
    ]
    data, m = _write(tmp_path, rows)
    case.ingest([data], mapping=str(m))
    got = case.timeline().select("outcome", "outcome_reason").rows()
    assert [o for o, _ in got] == ["success", "failure", "timeout", "unknown"]
    assert got[3][1] == "result=weird"


def test_sidecar_mapping_is_picked_up_next_to_the_file(case, tmp_path):
    data, m = _write(tmp_path, [{"when": "2026-03-14T09:00:00Z", "op": "x"}])
    m.rename(tmp_path / "app.jsonl.mapping.toml")
    (res,) = case.ingest([tmp_path])  # the sidecar itself is not evidence
    assert res.loader == "myapp"


def test_csv_with_mapping(case, tmp_path):
    data = tmp_path / "a.csv"
    data.write_text("when,op,result\n2026-03-14T09:00:00Z,login,OK\n", encoding="utf-8")
    m = tmp_path / "m.toml"
    m.write_text(
        'name = "csvapp"\n[fields]\ntime = "when"\naction = "op"\n[outcome]\nfield = "result"\nsuccess = ["ok"]\n'
    )
    case.ingest([data], mapping=str(m))
    assert case.timeline().select("action", "outcome").row(0) == ("login", "success")


@pytest.mark.parametrize(
    "text, message",
    [
        ('category = "audit"\n[fields]\ntime = "t"', "'name'"),
        ('name = "x"\n[fields]\naction = "a"', "'time'"),
        ('name = "x"\ncategory = "nope"\n[fields]\ntime = "t"', "category"),
        ('name = "x"\n[fields]\ntime = "t"\nbogus = "b"', "cannot map"),
        ('name = "x"\nnaive_time = "local"\n[fields]\ntime = "t"', "naive_time"),
        ("name = [", "not valid TOML"),
    ],
)
def test_bad_mapping_says_what_is_wrong(case, tmp_path, text, message):
    data, m = _write(tmp_path, [{"t": "2026-03-14T09:00:00Z"}], mapping=text)
    with pytest.raises(BadMapping, match=message):
        case.ingest([data], mapping=str(m))


def test_mapping_source_name_is_restricted(case, tmp_path):
    data, m = _write(
        tmp_path,
        [{"t": "2026-03-14T09:00:00Z"}],
        mapping='name = "x\'; DROP TABLE events; --"\n[fields]\ntime = "t"\n',
    )
    with pytest.raises(BadMapping, match="name may hold only"):
        case.ingest([data], mapping=str(m))


def test_mapping_field_paths_cannot_inject_sql(case, tmp_path):
    evil = (
        'name = "x"\n[fields]\ntime = "t\'); DROP TABLE evidence; --"\naction = "a\' || (SELECT 1) || \'"\n'
    )
    data, m = _write(tmp_path, [{"t": "2026-03-14T09:00:00Z"}], mapping=evil)
    (res,) = case.ingest([data], mapping=str(m))
    assert res.records_rejected == 1  # no such field: no time
    assert case.sql("SELECT count(*) FROM evidence").item() == 1
