"""The planted cardinality explosion of the sample incident is found, and the cardinality report
shows personal data only masked."""

from __future__ import annotations

import random

import polars as pl
import pytest

import forensics
from forensics import cardinality as cd
from forensics.sample import scenario as S
from forensics.sample.writers import metrics as writer

WINDOW = 300


def test_sample_writer_is_small_and_deterministic(tmp_path):
    a = writer.write(tmp_path / "a", random.Random(3), 1)
    b = writer.write(tmp_path / "b", random.Random(3), 1)
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
    assert sum(p.stat().st_size for p in a) < 2 * 1024 * 1024


def test_sample_metrics_and_logs_load_without_rejects(sample_case):
    ev = sample_case.evidence().filter(pl.col("loader").is_in(["prometheus", "otlp-logs"]))
    assert ev.height == 2
    assert ev["records_rejected"].to_list() == [0, 0] and all(ev["reconciled"].to_list())


@pytest.mark.parametrize("signal, key", [("metrics", S.EXPLOSION_LABEL), ("logs", "user.id")])
def test_planted_explosion_found_at_its_start_within_one_window(sample_case, signal, key):
    df = cd.explosions(sample_case, window=WINDOW, threshold=5, min_new=10)
    row = df.filter((df["signal"] == signal) & (df["key"] == key))
    assert row.height == 1, df
    start = row["explosion_start"].item()
    assert abs((start - S.EXPLOSION_START).total_seconds()) <= WINDOW


def test_steady_unbounded_key_is_flagged_but_not_an_explosion(sample_case):
    df = cd.explosions(sample_case, window=WINDOW, threshold=5, min_new=10)
    assert "url.full" not in df.filter(df["signal"] == "logs")["key"].to_list()
    flagged = cd.unbounded_keys(sample_case, signal="logs").filter("unbounded")["key"].to_list()
    assert {"url.full", "user.id", "enduser.email"} <= set(flagged)


def test_user_id_is_the_label_responsible_for_most_series(sample_case):
    m = cd.metric_series(sample_case).filter(pl.col("metric") == S.EXPLOSION_METRIC).row(0, named=True)
    assert m["top_label"] == S.EXPLOSION_LABEL
    assert m["series_without_top_label"] == len(writer.BASE_SERIES)
    minutes = int((writer.EXPLOSION_END - S.EXPLOSION_START).total_seconds() // 60)
    assert m["top_label_values"] == minutes * writer.NEW_USERS_PER_MINUTE


@pytest.mark.slow
def test_cardinality_report_shows_the_explosion_and_never_an_email(sample_dir, tmp_path):
    from forensics.report import run_report

    case_path = tmp_path / "case.duckdb"
    with forensics.open_case(case_path) as c:
        c.ingest([sample_dir / "metrics", sample_dir / "otlp"])
        emails = c.sql("SELECT DISTINCT value FROM log_attributes WHERE key = 'enduser.email'")[
            "value"
        ].to_list()
    assert emails
    res = run_report("cardinality_costs", case_path, {"top_n": "0"}, tmp_path / "out")
    html = res.html.read_text(encoding="utf-8")
    assert not [e for e in emails if e in html]
    assert "[email" in html
    assert "explosion: metrics: user_id at 09:45:00" in html
    assert cd.load_cost_model().sha256 in html
