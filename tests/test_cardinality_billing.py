"""Issue 25 part 6: the cost model counts what vendors bill. Bucketed savings only shrink series
that carry the label; metrics are priced on active series over time; resource attributes are billed
once per resource batch; attribute values can carry an index cost; ids in query strings are flagged.
Expected values are computed here from the generated inputs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from forensics import cardinality as cd

T0 = datetime(2026, 3, 14, 8, 0, tzinfo=UTC)


def _model(**kw) -> cd.CostModel:
    base = {"per_gb_ingested": 1e9, "per_million_spans": 0, "per_1000_active_series_month": 1000}
    return cd.CostModel(**{**base, **kw})


def test_bucketed_saving_leaves_series_without_the_label_alone(case, tmp_path):
    ms = int(T0.timestamp() * 1000)
    with_user = [f'reqs_total{{route="/a",user="u{i}"}} 1 {ms}' for i in range(30)]
    without = [f'reqs_total{{route="/r{j}"}} 1 {ms}' for j in range(50)]
    (tmp_path / "m.prom").write_text("# TYPE reqs_total counter\n" + "\n".join(with_user + without) + "\n")
    case.ingest(tmp_path / "m.prom")
    u = cd.cost_metrics(case, _model()).filter(cd.pl.col("label") == "user").row(0, named=True)
    # independently: 30 series carry user over one other label set (route=/a); bucketed into 10
    # values they become 1 x 10 series; the 50 series without user are untouched
    assert (u["series"], u["series_with_label"]) == (80, 30)
    assert u["saving_if_bucketed"] == pytest.approx(30 - min(30, 1 * 10))
    assert u["saving_if_dropped"] == pytest.approx(30 - 1)


def test_metrics_are_priced_on_active_series_not_every_series_seen(case, tmp_path):
    # 100 series in all, but only 5 at a time: each 20-minute bucket holds 5 fresh series
    lines = []
    for b in range(20):
        t = T0 + timedelta(minutes=20 * b + 1)
        lines += [f'reqs_total{{user="u{5 * b + k}"}} 1 {int(t.timestamp() * 1000)}' for k in range(5)]
    (tmp_path / "m.prom").write_text("# TYPE reqs_total counter\n" + "\n".join(lines) + "\n")
    case.ingest(tmp_path / "m.prom")
    per_bucket: dict[int, set] = {}
    for ln in lines:
        labels, _, stamp = ln.split(" ")
        per_bucket.setdefault(int(stamp) // (20 * 60 * 1000), set()).add(labels)
    active = sorted(len(v) for v in per_bucket.values())
    assert set(active) == {5}
    totals = {r["signal"]: r for r in cd.cost_totals(case, _model()).iter_rows(named=True)}
    m = totals["metrics"]
    assert (m["series"], m["series_seen"]) == (5, 100)
    assert m["cost"] == pytest.approx(5 * 1000 / 1000)
    label = cd.cost_metrics(case, _model()).row(0, named=True)
    assert label["billed_series"] == 5 and label["metric_cost_month"] == pytest.approx(5)


def _kv(d: dict) -> list[dict]:
    return [{"key": k, "value": {"stringValue": v}} for k, v in d.items()]


def test_constant_resource_attribute_is_billed_once_per_batch_and_ranks_below_user_id(case, tmp_path):
    env = {"deployment.environment": "production-cluster-eu-west-1"}
    lines, users = [], []
    for line_no in range(2):
        spans = []
        for i in range(200):
            uid = f"u{line_no * 200 + i:06d}"
            users.append(uid)
            spans.append(
                {
                    "traceId": f"{line_no + 1:032x}",
                    "spanId": f"{i + 1:016x}",
                    "name": "GET /",
                    "kind": 2,
                    "startTimeUnixNano": str(int(T0.timestamp()) * 10**9 + i * 10**6),
                    "endTimeUnixNano": str(int(T0.timestamp()) * 10**9 + i * 10**6 + 500),
                    "attributes": _kv({"user_id": uid}),
                }
            )
        lines.append(
            json.dumps(
                {
                    "resourceSpans": [
                        {
                            "resource": {"attributes": _kv({"service.name": "api", **env})},
                            "scopeSpans": [{"scope": {"name": "t"}, "spans": spans}],
                        }
                    ]
                }
            )
        )
    (tmp_path / "t.jsonl").write_text("\n".join(lines) + "\n")
    case.ingest(tmp_path / "t.jsonl")
    costs = cd.cost_attributes(case, _model(per_1000_indexed_values_month=1000.0), top_n=None)
    by_key = {r["key"]: r for r in costs.iter_rows(named=True)}
    env_bytes = 2 * (len("deployment.environment") + len(env["deployment.environment"]))  # 2 batches
    user_bytes = sum(len("user_id") + len(u) for u in users)
    assert by_key["deployment.environment"]["bytes"] == env_bytes
    assert by_key["deployment.environment"]["bytes_as_seen"] == 400 * env_bytes // 2
    assert by_key["user_id"]["bytes"] == user_bytes
    assert by_key["user_id"]["index_cost_month"] == pytest.approx(len(set(users)))
    assert costs["key"][0] == "user_id"
    offenders = cd.cost_offenders(case, _model(per_1000_indexed_values_month=1000.0))
    assert offenders["item"][0] == "user_id"


def test_ids_in_query_strings_are_flagged_unbounded(case, tmp_path):
    recs = []
    for i in range(40):
        attrs = {"url.full": f"https://shop.example.com/search?q=item{i}&session=s{i}", "route": "/search"}
        lr = {
            "timeUnixNano": str(int((T0 + timedelta(seconds=i)).timestamp()) * 10**9),
            "body": {"stringValue": "x"},
            "attributes": _kv(attrs),
        }
        recs.append(json.dumps({"resourceLogs": [{"resource": {}, "scopeLogs": [{"logRecords": [lr]}]}]}))
    (tmp_path / "l.jsonl").write_text("\n".join(recs) + "\n")
    case.ingest(tmp_path / "l.jsonl")
    df = cd.unbounded_keys(case)
    got = {r["key"]: (r["pattern"], r["unbounded"]) for r in df.iter_rows(named=True)}
    assert got["url.full"] == ("url_with_query", True)
    assert "route" not in got


def test_cost_model_states_its_sources_and_billing(tmp_path):
    m = cd.load_cost_model()
    assert dict(m.sources).keys() >= {"per_gb_ingested", "per_million_spans", "per_1000_active_series_month"}
    assert (m.active_series_window_minutes, m.active_series_quantile) == (20, 0.95)
    bad = tmp_path / "bad.toml"
    bad.write_text(
        "[prices]\nper_gb_ingested = 1\nper_million_spans = 2\nper_1000_active_series_month = 3\n"
        "[billing]\nactive_series_quantile = 2\n"
    )
    with pytest.raises(cd.BadCostModel, match="active_series_quantile"):
        cd.load_cost_model(bad)
