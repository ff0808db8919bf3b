"""The generic loader: JSON Lines, JSON documents or CSV, with a declared field mapping.

A mapping is a small TOML file (see docs/mapping.md)::

    name = "payments-app"          # becomes events.source
    category = "other"             # audit | trace | deploy | build | provenance | other
    naive_time = "reject"          # or "utc": the source defines zone-less times as UTC
    time_format = "%d/%b/%Y:%H:%M:%S %z"   # optional strptime format, tried before the time rules

    [fields]
    time = "ts"                    # dotted path into the record, or a $-JSON path
    action = "event.type"
    actor = "user"

    [outcome]
    field = "status"
    success = ["ok", "200"]
    failure = ["error", "denied"]
    timeout = ["timeout"]

Without a mapping the generic loader looks for a time under common names (``time``,
``timestamp``, ``@timestamp``, ``eventTime``, ...), takes ``action`` and ``actor`` from common names
too, and leaves the outcome ``unknown``. Zone-less times are then rejected, never guessed.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from forensics.errors import BadMapping
from forensics.sources.contract import (
    CATEGORIES,
    EVENT_COLUMNS,
    Detection,
    Probe,
    Source,
    field_path,
    sql_str,
)

DEFAULT_TIME_KEYS = [
    "time",
    "timestamp",
    "@timestamp",
    "eventTime",
    "event_time",
    "ts",
    "datetime",
    "date",
    "created_at",
    "createdAt",
    "Timestamp",
    "TimeCreated",
    "requestReceivedTimestamp",
    "receiveTimestamp",
    "timeUnixNano",
    "startTime",
    "published_at",
    "updated_at",
]
DEFAULT_ACTION_KEYS = [
    "action",
    "eventName",
    "event",
    "event_type",
    "type",
    "verb",
    "method",
    "operation",
    "name",
]
DEFAULT_ACTOR_KEYS = ["actor", "user", "username", "user_name", "userName", "principal", "login"]
MAPPABLE = [
    c for c in EVENT_COLUMNS if c not in ("raw", "event_seq", "source", "category", "outcome", "end_time")
]


@dataclass
class Mapping:
    name: str
    category: str = "other"
    naive_time: str = "reject"
    time_format: str | None = None
    fields: dict[str, str] = field(default_factory=dict)
    outcome_field: str | None = None
    outcome_values: dict[str, list[str]] = field(default_factory=dict)
    origin: str = ""

    @classmethod
    def load(cls, path: str) -> Mapping:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise BadMapping(f"mapping file not found: {path}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise BadMapping(f"mapping {path} is not valid TOML: {e}") from None
        return cls.from_dict(data, origin=path)

    @classmethod
    def from_dict(cls, data: dict[str, Any], origin: str = "<dict>") -> Mapping:
        unknown = set(data) - {"name", "category", "naive_time", "time_format", "fields", "outcome"}
        if unknown:
            raise BadMapping(f"mapping {origin}: unknown keys {sorted(unknown)}")
        name = data.get("name")
        if not isinstance(name, str) or not name:
            raise BadMapping(f"mapping {origin}: 'name' (the source name) is required")
        if not re.fullmatch(r"[A-Za-z0-9_.:-]{1,64}", name):
            raise BadMapping(f"mapping {origin}: name may hold only letters, digits and _ . : - (64 at most)")
        from forensics.sources import registry  # (the registry imports this module)

        if name.lower() in {n.lower() for n in registry.names()}:
            raise BadMapping(
                f"mapping {origin}: name {name!r} is a built-in source's name; a mapping cannot claim it "
                "(its events would pass for that source's)"
            )
        category = data.get("category", "other")
        if category not in CATEGORIES:
            raise BadMapping(f"mapping {origin}: category must be one of {', '.join(CATEGORIES)}")
        naive = data.get("naive_time", "reject")
        if naive not in ("reject", "utc"):
            raise BadMapping(f"mapping {origin}: naive_time must be 'reject' or 'utc'")
        fields = data.get("fields", {})
        if "time" not in fields:
            raise BadMapping(f"mapping {origin}: [fields] must name the 'time' field")
        bad = set(fields) - set(MAPPABLE)
        if bad:
            raise BadMapping(
                f"mapping {origin}: cannot map {sorted(bad)}; mappable columns: {', '.join(MAPPABLE)}"
            )
        outcome = data.get("outcome", {})
        values = {k: [str(v).lower() for v in outcome.get(k, [])] for k in ("success", "failure", "timeout")}
        return cls(
            name, category, naive, data.get("time_format"), dict(fields), outcome.get("field"), values, origin
        )


class _Paths:
    """Collects the JSON paths a mapping reads, so one ``json_extract_string`` call parses each
    record once and every field is an element of the list it returns."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    def ref(self, field: str) -> str:
        path = field_path(field)
        if path not in self.paths:
            self.paths.append(path)
        return f"f[{self.paths.index(path) + 1}]"

    def coalesce(self, fields: list[str]) -> str:
        return "coalesce(" + ", ".join(self.ref(k) for k in fields) + ")"

    def extract(self) -> str:
        return "json_extract_string(r.doc, [" + ", ".join(sql_str(p) for p in self.paths) + "])"


class GenericSource(Source):
    """Generic JSONL/JSON/CSV records with a declared or guessed field mapping."""

    containers = ("jsonl", "json", "csv", "empty")
    #: its SQL reads a batch's records by ``record_no`` only and writes only through ``insert_events``
    groupable = True

    def __init__(self, mapping: Mapping | None = None):
        self.mapping = mapping
        self.name = mapping.name if mapping else "generic"
        self.category = mapping.category if mapping else "other"

    @classmethod
    def from_mapping_file(cls, path: str) -> GenericSource:
        return cls(Mapping.load(path))

    def detect(self, probe: Probe) -> Detection:
        return Detection.FALLBACK  # the fallback for any record-shaped content

    def record_path(self, probe: Probe) -> str:
        """Any source's wrapper: the generic loader reads what another format wraps, too."""
        return "$." + probe.wrapper if probe.wrapper is not None else "$"

    def events_sql(self) -> str:
        m = self.mapping
        p = _Paths()
        if m is None:
            time_expr = p.coalesce(DEFAULT_TIME_KEYS)
            naive = "false"
            cols = {"action": p.coalesce(DEFAULT_ACTION_KEYS), "actor": p.coalesce(DEFAULT_ACTOR_KEYS)}
            outcome = "'unknown'"
            outcome_reason = "'generic loader: no outcome field declared'"
        else:
            time_expr = p.ref(m.fields["time"])
            naive = "true" if m.naive_time == "utc" else "false"
            cols = {k: p.ref(v) for k, v in m.fields.items() if k not in ("time", "outcome_reason")}
            if m.outcome_field:
                value = p.ref(m.outcome_field)
                ov = f"lower({value})"  # values are matched regardless of case, and kept as written
                whens = " ".join(
                    f"WHEN {ov} IN ({', '.join(sql_str(v) for v in vals)}) THEN {sql_str(k)}"
                    for k, vals in m.outcome_values.items()
                    if vals
                )
                outcome = f"CASE {whens} ELSE 'unknown' END" if whens else "'unknown'"
                outcome_reason = (
                    f"CASE WHEN {value} IS NULL THEN {sql_str('no ' + m.outcome_field + ' field')} "
                    f"ELSE {sql_str(m.outcome_field + '=')} || {value} END"
                )
            else:
                outcome = "'unknown'"
                outcome_reason = "'mapping declares no outcome field'"
            if "outcome_reason" in m.fields:
                # a mapped reason is the record's own words, verbatim; the derived one only fills its gaps
                outcome_reason = f"coalesce({p.ref(m.fields['outcome_reason'])}, {outcome_reason})"
        if m is not None and m.time_format:
            strp = f"try_strptime(time_raw, {sql_str(m.time_format)})"
            if "%z" in m.time_format or "%Z" in m.time_format:
                strp_tz = f"CAST({strp} AS TIMESTAMPTZ)"
            elif naive == "true":
                strp_tz = f"timezone('UTC', {strp})"
            else:
                strp_tz = "CAST(NULL AS TIMESTAMPTZ)"
            parsed = f"coalesce(fx_in_range({strp_tz}), fx_time(time_raw, {naive}))"
            problem = f"CASE WHEN {parsed} IS NULL THEN fx_time_problem(time_raw, {naive}) END"
        else:
            parsed = f"fx_time(time_raw, {naive})"
            problem = f"CASE WHEN {parsed} IS NULL THEN fx_time_problem(time_raw, {naive}) END"
        inner = [f"{time_expr} AS time_raw", f"{outcome} AS outcome", f"{outcome_reason} AS outcome_reason"]
        inner += [f"{expr} AS {col}" for col, expr in cols.items()]
        outer = ", ".join(
            [
                "record_no",
                f"{parsed} AS time",
                f"{problem} AS time_problem",
                "time_raw",
                "outcome",
                "outcome_reason",
            ]
            + list(cols)
        )
        return (
            f"SELECT {outer} FROM (SELECT record_no, {', '.join(inner)} "
            f"FROM (SELECT r.record_no, {p.extract()} AS f FROM {{batch}} r))"
        )


SOURCES = [GenericSource()]
