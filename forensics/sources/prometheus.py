"""Prometheus text exposition and OpenMetrics, parsed by ``prometheus_client``'s own parsers.

Exposition is text, not JSON records, so this source sets ``reads_text_lines``: the engine hands
it every non-blank line (as a JSON string, ``record_no`` = line number) and it accounts for each:

- a sample line becomes one row of ``metric_samples`` (and its labels rows of ``metric_labels``);
- ``# HELP``, ``# TYPE``, ``# UNIT`` and ``# EOF`` lines are metadata: loaded, their content is in
  ``metric_samples.family`` / ``type`` of the samples they describe;
- any other comment, and a sample line the parser refuses, is rejected with its line number and
  the reason.

Time: only a timestamp written in the exposition counts (milliseconds in the Prometheus text
format, seconds in OpenMetrics). A sample without one is loaded with ``time`` NULL: a file name or
modification time is never used as a sample time. A series of scrapes is therefore one file with
per-sample timestamps, or OpenMetrics scrapes each ending with ``# EOF``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa
from prometheus_client.openmetrics.parser import text_string_to_metric_families as om_families
from prometheus_client.parser import text_string_to_metric_families as prom_families

from forensics.sources.contract import Batch, Detection, Probe, Source, temp_name

_SAMPLE_LINE = re.compile(
    r"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})?[ \t]+[-+]?([0-9.eE+-]+|NaN|Nan|nan|[+-]?Inf|inf)([ \t]+-?[0-9.eE+-]+)?[ \t]*$"
)
_META = re.compile(r"^#[ \t]+(HELP|TYPE|UNIT)[ \t]+(\S+)")
_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*")


@dataclass
class _FileState:
    openmetrics: bool = False
    family: str | None = None
    meta: dict[str, str] = field(
        default_factory=dict
    )  # HELP/TYPE/UNIT line of the current family, by directive


@dataclass
class _Line:
    line_no: int
    text: str


class PrometheusSource(Source):
    """Prometheus text exposition format 0.0.4 and OpenMetrics 1.0 text."""

    name = "prometheus"
    category = "other"
    containers = ("text", "csv")
    reads_text_lines = True

    def __init__(self) -> None:
        self._state: dict[str, _FileState] = {}

    def detect(self, probe: Probe) -> Detection:
        lines = [ln.strip() for ln in probe.head.splitlines() if ln.strip()][:200]
        if not lines:
            return Detection.NO
        if any(_META.match(ln) for ln in lines):
            return Detection.STRONG
        samples = [ln for ln in lines if not ln.startswith("#")]
        if samples and sum(1 for ln in samples if _SAMPLE_LINE.match(ln)) >= 0.9 * len(samples):
            return Detection.LIKELY
        return Detection.NO

    # -- loading ---------------------------------------------------------------------------------
    def load_batch(self, batch: Batch) -> None:
        con = batch.con
        lines = [
            _Line(n, t)
            for n, t in con.execute(
                f"SELECT record_no, doc->>'$' FROM {batch.table} ORDER BY record_no"
            ).fetchall()
        ]
        state = self._state.setdefault(batch.file_sha256, _FileState())
        if any(ln.text.strip() == "# EOF" for ln in lines):
            state.openmetrics = True
        samples: list[dict[str, Any]] = []
        rejects: list[tuple[int, str]] = []
        meta_lines: list[int] = []
        segment: list[_Line] = []
        for ln in lines:
            segment.append(ln)
            if ln.text.strip() == "# EOF":
                self._parse_segment(segment, state, samples, rejects, meta_lines)
                segment = []
                state.family, state.meta = None, {}  # the next scrape declares its families again
        if segment:
            self._parse_segment(segment, state, samples, rejects, meta_lines)
        self._write(batch, samples, rejects, meta_lines)

    def finish(self, case_con: duckdb.DuckDBPyConnection, evidence_sha256: str) -> None:
        self._state.pop(evidence_sha256, None)

    def _parse_segment(
        self,
        segment: list[_Line],
        state: _FileState,
        samples: list[dict[str, Any]],
        rejects: list[tuple[int, str]],
        meta_lines: list[int],
    ) -> None:
        """Parse one run of lines (one OpenMetrics scrape, or a Prometheus text batch): as a whole
        when the parser accepts it, else line by line so that each bad line gets its own reason."""
        sample_lines: list[tuple[_Line, list[str]]] = []  # line, metadata context for it
        for ln in segment:
            text = ln.text.rstrip("\r")
            if text.startswith("#"):
                m = _META.match(text)
                if m:
                    if m.group(2) != state.family:
                        state.family, state.meta = m.group(2), {}
                    state.meta[m.group(1)] = text
                    meta_lines.append(ln.line_no)
                elif text.strip() == "# EOF":
                    meta_lines.append(ln.line_no)
                else:
                    rejects.append((ln.line_no, "comment line: not a sample"))
                continue
            sample_lines.append((ln, list(state.meta.values()) if self._belongs(text, state.family) else []))
            if not self._belongs(text, state.family):
                state.family, state.meta = None, {}
        if not sample_lines:
            return
        parse = om_families if state.openmetrics else prom_families
        whole = self._parse_whole(segment, sample_lines, state, parse)
        if whole is not None:
            samples.extend(whole)
            return
        for ln, meta in sample_lines:
            text = "\n".join(meta + [ln.text.rstrip("\r")]) + "\n" + ("# EOF\n" if state.openmetrics else "")
            try:
                got = [(f, s) for f in parse(text) for s in f.samples]
            except (ValueError, KeyError, IndexError, TypeError) as e:
                rejects.append(
                    (
                        ln.line_no,
                        f"{'OpenMetrics' if state.openmetrics else 'Prometheus'} parser: "
                        f"{str(e)[:200] or type(e).__name__}",
                    )
                )
                continue
            if len(got) != 1:
                rejects.append((ln.line_no, f"parser yielded {len(got)} samples for one line"))
                continue
            samples.append(self._row(ln, *got[0], state.openmetrics))

    def _parse_whole(
        self,
        segment: list[_Line],
        sample_lines: list[tuple[_Line, list[str]]],
        state: _FileState,
        parse: Any,
    ) -> list[dict[str, Any]] | None:
        first_meta = sample_lines[0][1]
        lines = [ln.text.rstrip("\r") for ln in segment]
        head = [m for m in first_meta if m not in lines]
        text = "\n".join(head + lines) + "\n"
        if state.openmetrics and not text.rstrip().endswith("# EOF"):
            text += "# EOF\n"
        try:
            got = [(f, s) for f in parse(text) for s in f.samples]
        except (ValueError, KeyError, IndexError, TypeError):
            return None
        if len(got) != len(sample_lines):
            return None
        rows = []
        for (ln, _meta), (fam, s) in zip(sample_lines, got, strict=True):
            m = _NAME.match(ln.text)
            if m is None or m.group(0) != s.name:
                return None
            rows.append(self._row(ln, fam, s, state.openmetrics))
        return rows

    @staticmethod
    def _belongs(text: str, family: str | None) -> bool:
        if family is None:
            return False
        m = _NAME.match(text)
        return m is not None and (m.group(0) == family or m.group(0).startswith(family + "_"))

    @staticmethod
    def _row(ln: _Line, fam: Any, s: Any, openmetrics: bool) -> dict[str, Any]:
        ts_us = None
        ts_raw = None
        if s.timestamp is not None:
            if hasattr(s.timestamp, "sec"):
                ts_us = s.timestamp.sec * 1_000_000 + s.timestamp.nsec // 1000
                ts_raw = f"{s.timestamp.sec}.{s.timestamp.nsec:09d}"
            elif openmetrics:
                ts_us = round(float(s.timestamp) * 1_000_000)
                ts_raw = repr(float(s.timestamp))
            else:
                ms = round(float(s.timestamp) * 1000)
                ts_us = ms * 1000
                ts_raw = str(ms)
        return {
            "record_no": ln.line_no,
            "metric": s.name,
            "family": fam.name,
            "type": fam.type,
            "labels": json.dumps(dict(sorted(s.labels.items())), separators=(",", ":"), ensure_ascii=False),
            "value": float(s.value),
            "ts_us": ts_us,
            "time_raw": ts_raw,
            "sample_bytes": len(ln.text.encode("utf-8")),
        }

    def _write(
        self,
        batch: Batch,
        samples: list[dict[str, Any]],
        rejects: list[tuple[int, str]],
        meta_lines: list[int],
    ) -> None:
        con = batch.con
        source = "openmetrics" if self._state[batch.file_sha256].openmetrics else "prometheus"
        if samples:
            view = temp_name("prom")
            table = pa.Table.from_pylist(
                samples,
                schema=pa.schema(
                    [
                        ("record_no", pa.int64()),
                        ("metric", pa.string()),
                        ("family", pa.string()),
                        ("type", pa.string()),
                        ("labels", pa.string()),
                        ("value", pa.float64()),
                        ("ts_us", pa.int64()),
                        ("time_raw", pa.string()),
                        ("sample_bytes", pa.int64()),
                    ]
                ),
            )
            con.register(view, table)
            try:
                insert_metric_rows(batch, f"SELECT *, record_no AS line_no FROM {view}", source)
            finally:
                con.unregister(view)
        if meta_lines:
            view = temp_name("meta")
            con.register(view, pa.table({"record_no": pa.array(meta_lines, pa.int64())}))
            try:
                batch.mark_loaded(f"SELECT record_no FROM {view}")
            finally:
                con.unregister(view)
        if rejects:
            view = temp_name("promrej")
            con.register(
                view,
                pa.table(
                    {
                        "record_no": pa.array([r[0] for r in rejects], pa.int64()),
                        "reason": pa.array([r[1] for r in rejects], pa.string()),
                    }
                ),
            )
            try:
                batch.reject(f"SELECT record_no, reason FROM {view}")
            finally:
                con.unregister(view)


def insert_metric_rows(batch: Batch, select_sql: str, source: str) -> None:
    """Insert samples into ``metric_samples`` and their labels into ``metric_labels``.

    ``select_sql`` yields record_no, line_no, metric, family, type, labels (JSON text, keys sorted),
    value, ts_us (epoch microseconds or NULL), time_raw and sample_bytes. Shared with OTLP metrics."""
    staged = temp_name("metrics")
    batch.con.execute(
        f"""CREATE TEMP TABLE {staged} AS
            SELECT record_no, line_no, metric, family, type, CAST(labels AS JSON) AS labels,
                   md5(metric || chr(0) || labels) AS series_hash, value,
                   CASE WHEN ts_us IS NOT NULL THEN timezone('UTC', make_timestamp(ts_us)) END AS time,
                   time_raw, sample_bytes
            FROM ({select_sql.replace("{batch}", batch.table)})"""
    ).fetchall()
    try:
        batch.insert_rows(
            "metric_samples",
            f"""SELECT record_no, metric, family, type, labels, series_hash, value, time, time_raw, sample_bytes,
                       ? AS source, ? AS evidence_sha256, line_no AS evidence_line, record_no AS evidence_record
                FROM {staged}""",
            [source, batch.evidence_sha256],
        )
        batch.insert_rows(
            "metric_labels",
            f"""SELECT s.record_no, s.metric, s.series_hash, j.key, j.value ->> '$' AS value, s.time,
                       ? AS evidence_sha256, s.line_no AS evidence_line
                FROM {staged} s, json_each(s.labels) j""",
            [batch.evidence_sha256],
        )
    finally:
        batch.con.execute(f"DROP TABLE {staged}").fetchall()


SOURCES = [PrometheusSource()]
