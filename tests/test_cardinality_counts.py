"""attribute_value_counts, the per-value counts the per-key analyses read: after every ingest (new
files added, a signal recounted when a file it counted changed), on read-only cases, and on cases
from before the table, it holds exactly what a recount of every occurrence gives."""

from __future__ import annotations

import json
from datetime import timedelta

import polars as pl
import pytest

import forensics
from forensics import cardinality as cd
from forensics.derive import cardinality as dc
from tests.test_cardinality_analysis import T0, _nanos, write_logs

# What the table must hold: counts and bytes of every occurrence (spans from span_attributes
# alone, as attribute_values), first and last times of the timed ones (telemetry_attributes).
RECOUNT = """
WITH c AS (SELECT signal, key, value, count(*) AS occurrences, CAST(sum(bytes) AS BIGINT) AS bytes
           FROM attribute_values GROUP BY ALL),
     t AS (SELECT signal, key, value, min(time) AS first_seen, max(time) AS last_seen
           FROM telemetry_attributes GROUP BY ALL)
SELECT c.*, t.first_seen, t.last_seen
FROM c LEFT JOIN t ON t.signal = c.signal AND t.key = c.key AND t.value IS NOT DISTINCT FROM c.value
ORDER BY ALL
"""
HELD = "SELECT signal, key, value, occurrences, bytes, first_seen, last_seen FROM attribute_value_counts ORDER BY ALL"

TOP_VALUES_OVER_ROWS = """
SELECT signal, key, value, occurrences, rank FROM (
    SELECT signal, key, value, count(*) AS occurrences,
           row_number() OVER (PARTITION BY signal, key ORDER BY count(*) DESC, value) AS rank
    FROM attribute_values GROUP BY signal, key, value)
WHERE rank <= $n ORDER BY signal, key, rank
"""


def assert_exact(case):
    held, recount = case.sql(HELD), case.sql(RECOUNT)
    assert held.height > 0
    assert held.equals(recount), (held, recount)
    assert cd.attribute_keys(case).equals(case.query("cardinality/attribute_keys_over_rows", signal=None))


def _otlp_spans(path, spans: list[tuple[str, str, int, dict[str, str]]], service="api") -> None:
    """One OTLP JSON line per span: (trace id, span id, start seconds after T0, attributes)."""
    lines = []
    for trace, span, at, attrs in spans:
        start = T0 + timedelta(seconds=at)
        s = {
            "traceId": trace,
            "spanId": span,
            "name": "op",
            "kind": 2,
            "startTimeUnixNano": _nanos(start),
            "endTimeUnixNano": _nanos(start + timedelta(milliseconds=5)),
            "attributes": [{"key": k, "value": {"stringValue": v}} for k, v in attrs.items()],
        }
        res = {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]}
        lines.append(json.dumps({"resourceSpans": [{"resource": res, "scopeSpans": [{"spans": [s]}]}]}))
    path.write_text("\n".join(lines) + "\n")


def _zipkin_shared(path, trace: str, span: str, at: int, attrs: dict[str, str]) -> None:
    """A Zipkin client and server span sharing one span id, starting 2 s apart."""

    def one(kind, service, seconds):
        return {
            "traceId": trace,
            "id": span,
            "kind": kind,
            "name": "call",
            "localEndpoint": {"serviceName": service},
            "timestamp": int((T0 + timedelta(seconds=seconds)).timestamp() * 1_000_000),
            "duration": 1000,
            "tags": attrs,
        }

    path.write_text(json.dumps([one("CLIENT", "web", at), one("SERVER", "api", at + 2)]))


def _prom(path, users: list[str], at: int) -> None:
    ms = int((T0 + timedelta(seconds=at)).timestamp() * 1000)
    path.write_text(
        "# TYPE reqs_total counter\n" + "".join(f'reqs_total{{user="{u}"}} 1 {ms}\n' for u in users)
    )


def test_counts_are_exact_after_each_ingest_and_merge_what_later_files_add(case, tmp_path):
    write_logs(
        tmp_path / "l1.jsonl",
        [(T0 + timedelta(seconds=i), {"user": f"u{i % 3}", "k": "v"}) for i in range(6)],
    )
    _otlp_spans(
        tmp_path / "s1.jsonl",
        [(f"{i:032x}", f"{i:016x}", i, {"route": f"/r{i % 2}", "req": f"q{i}"}) for i in range(1, 5)],
    )
    _prom(tmp_path / "m1.prom", ["a", "b"], 0)
    (tmp_path / "g1.jsonl").write_text(
        "".join(
            json.dumps({"time": f"2026-03-14T08:00:0{i}Z", "user": f"u{i}", "n": i}) + "\n" for i in range(3)
        )
    )
    case.ingest([tmp_path / "l1.jsonl", tmp_path / "s1.jsonl", tmp_path / "m1.prom", tmp_path / "g1.jsonl"])
    assert {r[0] for r in case.sql("SELECT DISTINCT signal FROM attribute_value_counts").rows()} == {
        "logs",
        "spans",
        "metrics",
    }
    assert_exact(case)

    # later files: values already counted (earlier and later times), new values, a shared Zipkin span id
    write_logs(
        tmp_path / "l2.jsonl",
        [(T0 - timedelta(minutes=1), {"user": "u1"}), (T0 + timedelta(hours=1), {"user": "u9"})],
    )
    _otlp_spans(tmp_path / "s2.jsonl", [(f"{9:032x}", f"{9:016x}", -30, {"route": "/r0", "req": "q1"})])
    _zipkin_shared(tmp_path / "z.json", "ab" * 16, "cd" * 8, 100, {"route": "/r1", "peer": "10.0.0.1"})
    _prom(tmp_path / "m2.prom", ["b", "c"], 60)
    case.ingest([tmp_path / "l2.jsonl", tmp_path / "s2.jsonl", tmp_path / "z.json", tmp_path / "m2.prom"])
    assert_exact(case)
    # u1: twice in l1, once in g1 (a generic log), once in l2, a minute before the rest
    user = case.sql(
        "SELECT * FROM attribute_value_counts WHERE signal = 'logs' AND key = 'user' AND value = 'u1'"
    ).row(0, named=True)
    assert user["occurrences"] == 4 and user["first_seen"] == T0 - timedelta(minutes=1)
    peer = case.sql("SELECT * FROM attribute_value_counts WHERE key = 'peer'").row(0, named=True)
    assert peer["first_seen"] == T0 + timedelta(seconds=100) and peer["last_seen"] == T0 + timedelta(
        seconds=102
    )

    before = case.sql(HELD)
    case.ingest([tmp_path / "l1.jsonl", tmp_path / "z.json"])  # the same bytes again change nothing
    assert case.sql(HELD).equals(before)
    assert dc.update(case.con) == {}


def test_spans_counted_in_passes_by_trace_id_are_exact(case, tmp_path, monkeypatch):
    monkeypatch.setattr(dc, "SPAN_ROWS_PER_PASS", 4)  # 15 attribute rows per file (3 a span): 4 passes
    for f in range(2):
        _otlp_spans(
            tmp_path / f"s{f}.jsonl",
            [
                (f"{i % 3:032x}", f"{f}{i:015x}", 10 * f + i, {"route": f"/r{i % 2}", "req": f"q{i + f}"})
                for i in range(5)
            ],
        )
        case.ingest([tmp_path / f"s{f}.jsonl"])
        assert_exact(case)
    case.con.execute("DELETE FROM attribute_value_counts_sources WHERE sha256 IS NULL")  # force a recount
    case.con.execute("UPDATE attribute_value_counts_sources SET row_count = 0 WHERE source_table = 'spans'")
    assert dc.update(case.con) == {"spans": "recounted"}
    assert_exact(case)


def test_a_later_file_replacing_rows_of_a_counted_one_recounts_that_signal(case, ranked_source, write_ranked):
    case.ingest(
        [
            write_ranked(
                "a.jsonl", [{"id": "x", "rank": 1, "what": "partial"}, {"id": "y", "rank": 1, "what": "kept"}]
            )
        ],
        loader=ranked_source,
    )
    assert_exact(case)
    case.ingest([write_ranked("b.jsonl", [{"id": "x", "rank": 3, "what": "complete"}])], loader=ranked_source)
    assert_exact(case)  # "partial" is gone: adding b's rows alone would have kept it
    assert not case.sql("SELECT * FROM attribute_value_counts WHERE value = 'partial'").height


def test_rows_of_a_killed_ingest_are_not_counted_twice(case, tmp_path):
    from forensics.ingest import hash_file

    p = tmp_path / "a.jsonl"
    write_logs(p, [(T0, {"user": "u1"}), (T0, {"user": "u2"})])
    sha, _ = hash_file(str(p))
    # a killed ingest of p left one of its rows; another file's ingest counts it
    case.con.execute("INSERT INTO log_attributes VALUES ('orphan', 'log', 'user', 'u1', ?, ?)", [T0, sha])
    case.con.execute("INSERT INTO ingest_journal VALUES (?, ?, now())", [sha, str(p)])
    write_logs(tmp_path / "b.jsonl", [(T0, {"user": "u3"})])
    case.ingest([tmp_path / "b.jsonl"])
    assert_exact(case)
    case.ingest([p])  # purges the remains, loads p whole
    assert_exact(case)
    assert case.sql("SELECT occurrences FROM attribute_value_counts WHERE value = 'u1'").item() == 1


def test_read_only_case_changed_outside_an_ingest_is_answered_exactly_and_left_untouched(tmp_path):
    path = tmp_path / "c.duckdb"
    with forensics.open_case(path) as c:
        _otlp_spans(
            tmp_path / "s.jsonl",
            [(f"{i:032x}", f"{i:016x}", i, {"route": f"/r{i % 2}"}) for i in range(1, 4)],
        )
        c.ingest([tmp_path / "s.jsonl"])
        # written with SQL, not through an ingest: a value, a NULL value, an attribute of no span
        c.con.execute("""INSERT INTO span_attributes VALUES ('%032x', '%016x', 'span', 'route', '/new', 'x'),
                                                           ('%032x', '%016x', 'span', 'route', NULL, 'x')""")
        held = c.sql(HELD)
    with forensics.open_case(path, read_only=True) as c:
        assert not dc.is_current(c.con)
        keys = cd.attribute_keys(c)
        assert keys.equals(c.query("cardinality/attribute_keys_over_rows", signal=None))
        route = keys.filter(pl.col("key") == "route").row(0, named=True)
        assert (route["occurrences"], route["distinct_exact"]) == (5, 3)
        assert c.sql(HELD).equals(c.sql(RECOUNT))  # the connection reads its TEMP counts
        assert c.sql("SELECT * FROM c.main.attribute_value_counts ORDER BY ALL").equals(
            held
        )  # the file's own
    with forensics.open_case(path) as c:  # writable: brought up to date in the case itself
        cd.attribute_keys(c)
        assert dc.is_current(c.con)
        assert_exact(c)


def test_case_from_before_the_table_is_counted_when_read(tmp_path):
    path = tmp_path / "old.duckdb"
    with forensics.open_case(path) as c:
        write_logs(tmp_path / "l.jsonl", [(T0 + timedelta(seconds=i), {"k": f"v{i % 4}"}) for i in range(10)])
        c.ingest([tmp_path / "l.jsonl"])
        c.con.execute("DROP TABLE attribute_value_counts; DROP TABLE attribute_value_counts_sources")
    with forensics.open_case(path, read_only=True) as c:
        assert cd.attribute_keys(c).equals(c.query("cardinality/attribute_keys_over_rows", signal=None))
        assert cd.explosions(c, min_new=1, threshold=0.1).height == 0
    with forensics.open_case(path) as c:
        assert cd.attribute_keys(c)["distinct_exact"].to_list() == [4]
        assert_exact(c)


@pytest.mark.parametrize("n", [1, 2, 3, 10])
def test_top_values_rank_ties_by_value_as_before(case, tmp_path, n):
    # k: c x3, a x2, b x2, d x1 ; j: one value
    vals = ["c", "c", "c", "b", "a", "b", "a", "d"]
    write_logs(
        tmp_path / "l.jsonl", [(T0 + timedelta(seconds=i), {"k": v, "j": "same"}) for i, v in enumerate(vals)]
    )
    case.ingest([tmp_path / "l.jsonl"])
    got = case.query("cardinality/top_values", per_key=n)
    assert got.equals(case.sql(TOP_VALUES_OVER_ROWS, {"n": n}))
    assert got.filter(pl.col("key") == "k")["value"].to_list() == ["c", "a", "b", "d"][:n]
    assert case.query("cardinality/top_values", per_key=0).is_empty()


def test_emptying_the_record_of_what_was_counted_counts_everything_again(case, tmp_path):
    write_logs(tmp_path / "l.jsonl", [(T0, {"k": "a"}), (T0, {"k": "b"})])
    case.ingest([tmp_path / "l.jsonl"])
    case.con.execute("UPDATE log_attributes SET value = 'c' WHERE value = 'b'")  # totals unchanged: not seen
    assert dc.is_current(case.con)
    case.con.execute("DELETE FROM attribute_value_counts_sources")
    assert cd.attribute_keys(case).equals(case.query("cardinality/attribute_keys_over_rows", signal=None))
    assert_exact(case)
    assert case.sql("SELECT value FROM attribute_value_counts ORDER BY value")["value"].to_list() == [
        "a",
        "c",
    ]
