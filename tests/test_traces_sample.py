"""The sample incident's payment traces: the kit finds what the generator put there."""

from __future__ import annotations

import json

import polars as pl

from forensics import traces as T
from forensics.charts import traces as C
from forensics.sample import scenario as S
from forensics.sample.writers import otlp_traces


def test_sample_trace_file_is_small_and_every_line_loads(sample_case, sample_dir):
    path = sample_dir / "traces" / "otel-collector-traces.jsonl"
    assert path.stat().st_size < 1_500_000
    lines = path.read_text(encoding="utf-8").splitlines()
    spans = sum(
        len(ss["spans"])
        for line in lines
        for rs in json.loads(line)["resourceSpans"]
        for ss in rs["scopeSpans"]
    )
    ev = sample_case.sql("SELECT * FROM evidence WHERE path LIKE '%otel-collector-traces.jsonl'")
    assert ev["loader"][0] == "otlp"
    assert ev["records_read"][0] == ev["records_loaded"][0] == len(lines)
    assert sample_case.sql("SELECT count(*) AS n FROM spans WHERE source = 'otlp'")["n"][0] == spans


def test_retries_counted_exactly_as_generated(sample_case):
    r = T.retries(sample_case)
    assert r.height == S.RETRIED_CALLS
    assert sorted(r["request_key"]) == sorted(order for _, order in otlp_traces.RETRIED)
    assert set(r["failed_outcome"]) == {"timeout"}
    assert r["gap_ms"].to_list() == [float(otlp_traces.RETRY_GAP_MS)] * S.RETRIED_CALLS
    assert (
        sample_case.sql("SELECT count(*) AS n FROM spans WHERE retry_of_span_id IS NOT NULL")["n"][0]
        == S.RETRIED_CALLS
    )


def test_double_charge_found_exactly_once(sample_case):
    d = T.double_applies(sample_case)
    assert d["request_key"].to_list() == [S.DOUBLE_CHARGE_ORDER]
    assert d["applies"][0] == 2
    assert d["first_applied_at"][0] < d["client_timed_out_at"][0] <= d["second_applied_at"][0]
    assert sample_case.invariants()["double_apply"].height == 1


def test_double_charge_trace_can_be_asked_for_by_order(sample_case):
    spans = T.trace_spans(sample_case, request_key=S.DOUBLE_CHARGE_ORDER)
    assert spans["trace_id"].n_unique() == 1
    assert (
        spans.filter(pl.col("side_effect") & (pl.col("outcome") == "success")).height == 4
    )  # capture + INSERT, twice
    assert spans.filter(pl.col("retry_of_span_id").is_not_null()).height == 1


def test_client_timeouts_are_a_third_outcome(sample_case):
    t = sample_case.sql(
        "SELECT outcome, count(*) AS n FROM spans WHERE kind = 'client' AND service = 'checkout' GROUP BY ALL"
    )
    counts = dict(t.iter_rows())
    assert counts["timeout"] == S.RETRIED_CALLS
    ev = sample_case.sql("SELECT count(*) AS n FROM events WHERE category = 'trace' AND outcome = 'timeout'")
    assert (
        ev["n"][0] == 0
    )  # client spans are not promoted; their callers' server spans succeeded after retrying


def test_cut_off_trace_is_unknown_not_success(sample_case):
    cut = sample_case.sql(
        "SELECT kind, service, outcome, outcome_reason FROM spans WHERE request_key = $o AND kind IN ('server', 'client')",
        {"o": otlp_traces.CUT_OFF_ORDER},
    )
    assert cut.height == 3
    assert set(cut["outcome"]) == {"unknown"}
    assert all("no end" in r for r in cut["outcome_reason"])
    ev = sample_case.sql(
        "SELECT outcome FROM events WHERE category = 'trace' AND target = $o",
        {"o": otlp_traces.CUT_OFF_ORDER},
    )
    assert set(ev["outcome"]) == {"unknown"}


def test_rogue_deploy_visibly_raises_latency(sample_case):
    d = T.deploy_impact(sample_case, minutes=30, service="payments")
    rogue = d.filter(pl.col("deployed_at") == S.ROGUE_DEPLOY.time)
    assert rogue.height == 1 and rogue["p95_ratio"][0] > 5
    good = d.filter(pl.col("deployed_at") == S.DEPLOYS[0].time)
    assert good["p95_ratio"][0] < 1.5


def test_burn_rate_alerts_fire_in_the_slow_window_only(sample_case):
    burn = T.burn_rate(sample_case, 0.999, service="payments")
    alerts = T.burn_alerts(burn)
    fast = alerts.filter(pl.col("alert") == "fast_alert")
    assert fast.height == 1
    assert S.PAYMENTS_SLOW_FROM <= fast["fired"][0] <= S.PAYMENTS_SLOW_UNTIL


def test_rates_carry_client_cohorts_and_retries(sample_case):
    r = T.rates(sample_case, service="payments", bucket_s=3600)
    assert r["retries"].sum() == S.RETRIED_CALLS
    assert set(r["client_service"].drop_nulls()) == {"checkout"}
    assert {S.PAYMENTS_GOOD.version, S.PAYMENTS_ROGUE.version} <= set(r["service_version"])


def test_summary_and_charts_render(sample_case):
    s = T.traces_summary(sample_case, slo=0.999, service="payments")
    head = s.headline()
    assert head["double_applied_requests"][0] == 1 and head["retried_calls"][0] == S.RETRIED_CALLS
    for chart in (
        C.timeouts_retries(T.rates(sample_case, service="payments"), s.double_applies),
        C.latency(s.latency, s.deploys),
        C.burn(s.burn, 0.999),
    ):
        assert chart.to_dict()["layer"]


def test_double_charge_log_lines_link_to_their_trace(sample_case):
    from forensics import traces
    from forensics.sample import scenario as S
    from forensics.sample.writers.otlp_traces import trace_id_for

    links = traces.audit_links(sample_case)
    mine = links.filter(links["trace_id"] == trace_id_for(S.DOUBLE_CHARGE_ORDER))
    assert mine.height >= 2 and set(mine["linked_by"]) == {"trace_id"}
