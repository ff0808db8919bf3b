"""CI job logs in the GitHub Actions format: every line is ``<RFC 3339 time with 7 fractional
digits>Z <text>``, e.g. ``2026-03-14T09:12:03.1234567Z ##[group]Run make test``.

A job log is text, so this source sets ``reads_text_lines``: the engine hands it every non-blank
line and it maps each to one ``build`` event:

- ``time`` from the line's prefix (``time_raw`` keeps it); a line without the prefix is rejected
  with its line number (nothing is guessed);
- ``action``: ``step.start`` (``##[group]``), ``step.end`` (``##[endgroup]``), ``log.error``,
  ``log.warning``, ``log.debug``, ``command`` (``[command]``) or ``log``;
- ``actor`` (``actor_type`` ``ci_runner``): the runner named in the log's own header
  (``Runner name: '...'`` or ``Job is about to start running on the runner: ...``); ``target`` the
  ``Job defined at:`` workflow reference (or, for a step start, the step); ``service`` the
  repository of that reference. These come from the content only, never from the file name;
- ``outcome`` is ``unknown`` (a log line records no outcome), except ``##[error]`` lines:
  ``failure``;
- ``raw`` is ``{"line": <the whole line>}``; its text is scanned for secrets by
  ``forensics.secrets`` (the secret itself is never shown in a report).
"""

from __future__ import annotations

import re

import duckdb

from forensics.sources.contract import Detection, Probe, Source

_PREFIX = re.compile(r"^\ufeff?\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z ")
_PREFIX_SQL = r"^\x{FEFF}?(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?Z) ?"


class CiJobLogSource(Source):
    name = "ci_joblog"
    category = "build"
    containers = ("text", "csv")
    reads_text_lines = True

    def detect(self, probe: Probe) -> Detection:
        lines = [ln for ln in probe.head.splitlines() if ln.strip()][:200]
        if len(lines) > 1 and not probe.head.endswith("\n"):
            lines = lines[:-1]  # the head may cut the last line
        if not lines:
            return Detection.NO
        hits = sum(1 for ln in lines if _PREFIX.match(ln))
        if hits == len(lines):
            return Detection.STRONG
        if hits * 5 >= len(lines) * 4:
            return Detection.LIKELY  # a few damaged lines: they will be rejected one by one
        return Detection.LIKELY if hits * 2 >= len(lines) and _PREFIX.match(lines[0]) else Detection.NO

    def events_sql(self) -> str:
        return rf"""
            SELECT record_no,
                   fx_time(ts, false) AS time,
                   CASE WHEN ts IS NULL THEN 'no GitHub Actions timestamp prefix on this line'
                        ELSE fx_time_problem(ts, false) END AS time_problem,
                   ts AS time_raw,
                   CASE WHEN body LIKE '##[group]%' THEN 'step.start'
                        WHEN body LIKE '##[endgroup]%' THEN 'step.end'
                        WHEN body LIKE '##[error]%' THEN 'log.error'
                        WHEN body LIKE '##[warning]%' THEN 'log.warning'
                        WHEN body LIKE '##[debug]%' THEN 'log.debug'
                        WHEN body LIKE '[command]%' THEN 'command'
                        ELSE 'log' END AS action,
                   CASE WHEN body LIKE '##[group]%' THEN nullif(substr(body, 10), '') END AS target,
                   CASE WHEN body LIKE '##[error]%' THEN 'failure' ELSE 'unknown' END AS outcome,
                   CASE WHEN body LIKE '##[error]%' THEN 'the job log reports an error'
                        ELSE 'a job log line records no outcome' END AS outcome_reason,
                   json_object('line', line) AS raw
            FROM (SELECT record_no, line,
                         nullif(regexp_extract(line, '{_PREFIX_SQL}', 1), '') AS ts,
                         regexp_replace(line, '{_PREFIX_SQL}', '') AS body
                  FROM (SELECT r.record_no, r.doc->>'$' AS line FROM {{batch}} r))"""

    def finish(self, case_con: duckdb.DuckDBPyConnection, evidence_sha256: str) -> None:
        """Give every line of the file the runner, workflow and repository its header names."""
        case_con.execute(
            r"""WITH lines AS (
                     SELECT raw->>'line' AS line FROM events
                     WHERE evidence_sha256 = $sha AND source = 'ci_joblog'),
                 hdr AS (
                     SELECT coalesce(
                              max(nullif(regexp_extract(line, 'Runner name: ''([^'']+)''', 1), '')),
                              max(nullif(regexp_extract(line, 'Job is about to start running on the runner: (\S+)', 1), ''))
                            ) AS runner,
                            max(nullif(regexp_extract(line, 'Job defined at: (\S+)', 1), '')) AS workflow
                     FROM lines)
               UPDATE events SET
                   actor = hdr.runner,
                   actor_type = CASE WHEN hdr.runner IS NOT NULL THEN 'ci_runner' END,
                   target = coalesce(events.target, hdr.workflow),
                   service = nullif(regexp_extract(hdr.workflow, '^([^/]+/[^/]+)/', 1), '')
               FROM hdr
               WHERE events.evidence_sha256 = $sha AND events.source = 'ci_joblog'""",
            {"sha": evidence_sha256},
        )


SOURCES = [CiJobLogSource()]
