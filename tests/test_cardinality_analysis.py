"""Cardinality analyses on small hand-built inputs: exact counts, label impact, top-N without a cap,
explosion change points, unbounded-looking keys, the cost model and costs, and masking."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from forensics import cardinality as cd
from forensics.errors import ForensicsError

T0 = datetime(2026, 3, 14, 8, 0, tzinfo=UTC)


def _nanos(t: datetime) -> str:
    return str(int(t.timestamp() * 1_000_000) * 1000)


def write_logs(path, records: list[tuple[datetime, dict[str, str]]]) -> None:
    """OTLP logs JSON Lines: one request per record, log attributes as given, no resource attributes."""
    lines = []
    for when, attrs in records:
        lr = {
            "timeUnixNano": _nanos(when),
            "body": {"stringValue": "x"},
            "attributes": [{"key": k, "value": {"stringValue": v}} for k, v in attrs.items()],
        }
        lines.append(json.dumps({"resourceLogs": [{"resource": {}, "scopeLogs": [{"logRecords": [lr]}]}]}))
    path.write_text("\n".join(lines) + "\n")


def test_attribute_keys_counts_exactly_with_shares_bytes_and_approximation(case, tmp_path):
    values = ["a", "b", "c", "d", "e", "a", "b", "a"]
    write_logs(
        tmp_path / "l.jsonl",
        [(T0 + timedelta(seconds=i), {"k": v, "const": "same"}) for i, v in enumerate(values)],
    )
    case.ingest([tmp_path / "l.jsonl"])
    df = cd.attribute_keys(case, signal="logs")
    k = df.filter(df["key"] == "k").row(0, named=True)
    assert (k["occurrences"], k["distinct_exact"], k["bytes"]) == (8, 5, 8 * (1 + 1))
    assert k["distinct_approx"] == 5 and k["approx_error_pct"] == 0.0
    assert k["share_of_occurrences_pct"] == 50.0
    assert k["share_of_bytes_pct"] == pytest.approx(100 * 16 / (16 + 8 * (5 + 4)), abs=1e-3)
    c = df.filter(df["key"] == "const").row(0, named=True)
    assert (c["distinct_exact"], c["occurrences"]) == (1, 8)
    assert df["key"].to_list() == ["k", "const"]  # most distinct first


def _prom(lines: list[str]) -> str:
    return "# TYPE reqs_total counter\n" + "\n".join(lines) + "\n"


def test_metric_series_names_the_label_responsible_for_most_series(case, tmp_path):
    ms = int(T0.timestamp() * 1000)
    lines = [
        f'reqs_total{{route="{r}",user="{u}"}} 1 {ms}' for r in ("/a", "/b") for u in ("u1", "u2", "u3", "u4")
    ]
    (tmp_path / "m.prom").write_text(_prom(lines))
    case.ingest([tmp_path / "m.prom"])
    m = cd.metric_series(case).row(0, named=True)
    assert (m["metric"], m["samples"], m["series"]) == ("reqs_total", 8, 8)
    assert (
        m["top_label"],
        m["top_label_values"],
        m["series_without_top_label"],
        m["series_due_to_top_label"],
    ) == ("user", 4, 2, 6)
    labels = {r["label"]: r for r in cd.metric_labels(case).iter_rows(named=True)}
    assert labels["route"]["series_if_dropped"] == 4 and labels["user"]["series_if_dropped"] == 2


def test_top_n_offenders_have_no_ten_row_cap(case, tmp_path):
    attrs = {f"key{i:02d}": f"v{i}" for i in range(15)}
    write_logs(tmp_path / "l.jsonl", [(T0, attrs)])
    case.ingest([tmp_path / "l.jsonl"])
    assert cd.attribute_keys(case).height == 15
    assert cd.attribute_keys(case, top_n=12).height == 12
    assert cd.top_offenders(case).height == 15
    assert cd.top_offenders(case, top_n=11)["rank"].to_list() == list(range(1, 12))


def _explosion_logs(tmp_path):
    """60 minutes: 'steady' gets one new value a minute throughout; 'boom' appears at minute 40
    (08:40:30) with 20 new values a minute; 'status' has 2 values all along."""
    recs = []
    for m in range(60):
        base = T0 + timedelta(minutes=m)
        recs.append((base + timedelta(seconds=10), {"steady": f"s{m}", "status": "ok" if m % 2 else "err"}))
        if m >= 40:
            recs += [(base + timedelta(seconds=30 + j), {"boom": f"b{m}-{j}"}) for j in range(20)]
    write_logs(tmp_path / "boom.jsonl", recs)


def test_explosion_change_point_is_found_with_its_start_time(case, tmp_path):
    _explosion_logs(tmp_path)
    case.ingest([tmp_path / "boom.jsonl"])
    df = cd.explosions(case, window="5m", threshold=5, min_new=10)
    assert df["key"].to_list() == ["boom"]
    row = df.row(0, named=True)
    assert row["window_start"] == T0 + timedelta(minutes=40)
    assert row["explosion_start"] == T0 + timedelta(minutes=40, seconds=30)
    assert (row["new_values"], row["distinct_before"], row["distinct_total"]) == (100, 0, 400)


def test_explosion_threshold_and_minimum_are_parameters(case, tmp_path):
    _explosion_logs(tmp_path)
    case.ingest([tmp_path / "boom.jsonl"])
    assert cd.explosions(case, window="5m", threshold=1000, min_new=10).is_empty()
    assert cd.explosions(case, window="5m", threshold=5, min_new=101).is_empty()
    nv = cd.new_values(case, window="10m", key="boom")
    assert nv["new_values"].to_list() == [200, 200] and nv["distinct_so_far"].to_list() == [200, 400]


def test_unbounded_looking_keys_are_flagged_by_pattern(case, tmp_path):
    recs = []
    for i in range(20):
        recs.append(
            (
                T0 + timedelta(seconds=i),
                {
                    "req.id": f"{i:08x}-0000-4000-8000-{i:012x}",
                    "mail": f"user{i}@example.com",
                    "peer": f"10.0.0.{i}",
                    "url": f"https://api.example.com/orders/{10000 + i}",
                    "at": f"2026-03-14T08:00:{i:02d}Z",
                    "status": "ok" if i % 2 else "error",
                },
            )
        )
    write_logs(tmp_path / "u.jsonl", recs)
    case.ingest([tmp_path / "u.jsonl"])
    df = cd.unbounded_keys(case)
    got = {r["key"]: (r["pattern"], r["unbounded"], r["personal_data"]) for r in df.iter_rows(named=True)}
    assert got["req.id"] == ("uuid", True, False)
    assert got["mail"] == ("email", True, True)
    assert got["peer"] == ("ip", True, True)
    assert got["url"] == ("url_with_id", True, False)
    assert got["at"] == ("timestamp", True, False)
    assert "status" not in got


def test_cost_model_defaults_are_documented_and_hashed(tmp_path):
    m = cd.load_cost_model()
    assert m.sha256 == hashlib.sha256(cd.DEFAULT_COST_MODEL.read_bytes()).hexdigest()
    assert (m.per_gb_ingested, m.per_million_spans, m.per_1000_active_series_month) == (0.50, 0.30, 8.00)
    own = tmp_path / "costs.toml"
    own.write_text(
        'currency = "EUR"\n[prices]\nper_gb_ingested = 1\nper_million_spans = 2\n'
        "per_1000_active_series_month = 3\n"
    )
    m2 = cd.load_cost_model(own)
    assert (m2.currency, m2.per_gb_ingested, m2.bucket_count, m2.path) == ("EUR", 1.0, 10, str(own))
    assert m2.sha256 == hashlib.sha256(own.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    "text, message",
    [
        ("[prices]\nper_gb_ingested = 1\nper_million_spans = 2\n", "must set"),
        (
            "[prices]\nper_gb_ingestd = 1\nper_million_spans = 2\nper_1000_active_series_month = 3\n",
            "unknown keys",
        ),
        ("[prices]\nper_gb_ingested = -1\nper_million_spans = 2\nper_1000_active_series_month = 3\n", ">= 0"),
        ("[prices\n", "not valid TOML"),
    ],
)
def test_bad_cost_model_is_refused_with_a_reason(tmp_path, text, message):
    p = tmp_path / "bad.toml"
    p.write_text(text)
    with pytest.raises(cd.BadCostModel, match=message):
        cd.load_cost_model(p)


def test_costs_and_savings_follow_the_model_exactly(case, tmp_path):
    write_logs(tmp_path / "l.jsonl", [(T0 + timedelta(seconds=i), {"key": "v" * 40}) for i in range(10)])
    ms = int(T0.timestamp() * 1000)
    lines = [f'reqs_total{{route="/a",user="u{i}"}} 1 {ms}' for i in range(30)]
    (tmp_path / "m.prom").write_text(_prom(lines))
    case.ingest([tmp_path / "l.jsonl", tmp_path / "m.prom"])
    model = cd.CostModel(
        per_gb_ingested=1e9,
        per_million_spans=0,
        per_1000_active_series_month=1000,
        hash_bytes=16,
        bucket_count=10,
        bucket_label_bytes=8,
    )
    a = cd.cost_attributes(case, model).row(0, named=True)
    assert a["bytes"] == 10 * (3 + 40) and a["cost"] == pytest.approx(430)
    assert a["saving_if_dropped"] == pytest.approx(430)
    assert a["saving_if_hashed"] == pytest.approx(10 * (40 - 16))
    assert a["saving_if_bucketed"] == pytest.approx(10 * (40 - 8))
    u = cd.cost_metrics(case, model).filter(cd.pl.col("label") == "user").row(0, named=True)
    assert (u["series"], u["series_if_dropped"]) == (30, 1)
    assert u["metric_cost_month"] == pytest.approx(30) and u["saving_if_dropped"] == pytest.approx(29)
    assert u["saving_if_hashed"] == 0 and u["saving_if_bucketed"] == pytest.approx(20)
    totals = {r["signal"]: r for r in cd.cost_totals(case, model).iter_rows(named=True)}
    assert totals["metrics"]["series"] == 30 and totals["metrics"]["cost"] == pytest.approx(30)
    offenders = cd.cost_offenders(case, model)
    assert offenders["cumulative_cost_pct"].to_list()[-1] == pytest.approx(100, abs=0.01)


@pytest.mark.parametrize(
    "value, kind",
    [
        ("alice@example.com", "email"),
        ("10.1.2.3", "ip"),
        ("2001:db8::1", "ip"),
        ("AKIAEXAMPLEDEPLOY001", "aws key"),
        ("ghp_EXAMPLEdeploybotPAT0000000000000000", "token"),
        ("Bearer abcdefghijklmnop", "secret"),
    ],
)
def test_personal_data_and_secrets_are_shown_masked(value, kind):
    assert cd.sensitive_kind(value) == kind
    shown = cd.mask_value(value)
    assert value not in shown and "sha256:" in shown


def test_values_under_sensitive_keys_are_masked_and_others_cleaned_and_truncated():
    assert "hunter2" not in cd.mask_value("hunter2", key="db.password")
    assert cd.mask_value("\x1b[31mred\x1b[0m") == "red"
    assert len(cd.mask_value("x" * 500)) == 120
    df = cd.pl.DataFrame({"key": ["enduser.email", "route"], "value": ["customer07", "/a"]})
    out = cd.mask_frame(df)
    assert out["value"].to_list()[1] == "/a" and "customer07" not in out["value"].to_list()[0]


def test_window_parameter_accepts_units():
    assert [cd.window_seconds(w) for w in ("5m", "300", "1h", 90, "2d")] == [300, 300, 3600, 90, 172800]
    with pytest.raises(ForensicsError):
        cd.window_seconds("five minutes")


def test_new_values_for_several_keys_in_one_pass_match_one_key_at_a_time(sample_case):
    pairs = [("metrics", "user_id"), ("logs", "user.id")]
    together = cd.new_values(sample_case, "5m", pairs=pairs)
    apart = pl.concat([cd.new_values(sample_case, "5m", s, k) for s, k in pairs])
    assert together.height > 0
    assert together.sort(["signal", "key", "window_start"]).equals(
        apart.sort(["signal", "key", "window_start"])
    )
