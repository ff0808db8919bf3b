"""CloudWatch Logs subscription payloads: the messages of a log group as a subscription delivers them
(to a Lambda function, Kinesis or Firehose), routed to the loader of what they wrap. docs/network.md.

Shapes:

- **decoded** ``DATA_MESSAGE`` payload ``{"messageType", "owner", "logGroup", "logStream",
  "subscriptionFilters", "logEvents": [{"id", "timestamp", "message"}]}``: one record per log event
  (``record_keys``), so a message's ``evidence_record`` is its place in ``logEvents`` (counted from 1,
  as the engine counts records); also one payload per line (JSON Lines);
- **encoded**, as a Lambda subscription receives it: ``{"awslogs": {"data": base64(gzip(payload))}}``, alone,
  in a JSON array, or one per line. A record holds many messages: the message ``i`` of record ``r`` is
  numbered ``r << 20 | i`` (``evidence_record``; ``r`` counted from 1, ``i`` from 0), and the record is loaded when any of its messages is.
  The payload is decoded with the standard library (base64, gzip, json): DuckDB has no gzip function for a
  value inside a record.

Each payload's messages are sampled and placed by the registry like a file of their own: JSON messages
(CloudTrail events, EKS Kubernetes audit events) or text lines (VPC Flow records) go to the loader most
sure of them (at least ``LIKELY``; never the generic loader), which maps them and writes its own events
(``events.source`` = that loader; the evidence row's loader is ``cloudwatch_logs``). A message that loader
cannot read is rejected by it with its reason. Messages no loader claims (application and Lambda runtime
logs) become events of this source: time = ``timestamp`` (epoch milliseconds, UTC), action
``cloudwatch.log``, target = the log group, service = the log stream, environment = the owner account,
outcome unknown ("a log line records no outcome"), raw = the message with its wrapper context. Every
message's place is in ``cloudwatch_messages``: the evidence record, its JSON path in the file
(``$.logEvents[3]``, ``$[7].awslogs.data -> $.logEvents[12]``), log group and stream, message id and
the loader it went to.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import re
import zlib
from typing import Any

import pyarrow as pa

from forensics.ingest.files import ByteStream
from forensics.sources import registry
from forensics.sources.contract import Batch, Detection, Probe, Source, temp_name

NAME = "cloudwatch_logs"
#: a wrapper record holds at most 2**SHIFT messages (a subscription payload holds at most 10,000 events)
SHIFT = 20
_PAYLOAD_KEYS = {"messageType", "logGroup", "logEvents"}
_CONTEXT = re.compile(rb'"(owner|logGroup|logStream)"\s*:\s*"((?:[^"\\]|\\.)*)"')


#: a message: (record_no, line_no, byte_offset, log event, payload context, JSON path)
_Message = tuple[int, int, int, dict[str, Any], dict[str, Any], str]


def _is_payload(o: Any) -> bool:
    return isinstance(o, dict) and _PAYLOAD_KEYS <= o.keys() and isinstance(o.get("logEvents"), list)


def _is_encoded(o: Any) -> bool:
    return (
        isinstance(o, dict)
        and isinstance(o.get("awslogs"), dict)
        and isinstance(o["awslogs"].get("data"), str)
    )


def _is_log_event(o: Any) -> bool:
    return isinstance(o, dict) and {"id", "timestamp", "message"} <= o.keys() and len(o) <= 4


_OWN = """
SELECT record_no,
       fx_time(doc->>'timestamp', false) AS time, fx_time_problem(doc->>'timestamp', false) AS time_problem,
       doc->>'timestamp' AS time_raw,
       'cloudwatch.log' AS action,
       doc->>'logGroup' AS target, doc->>'logStream' AS service, doc->>'owner' AS environment,
       'unknown' AS outcome, 'a log line records no outcome' AS outcome_reason,
       doc->>'id' AS event_uid,
       doc AS raw
FROM {batch}
"""


class _OwnLogEvents(Source):
    """The messages no loader claims, as events of ``cloudwatch_logs`` (not registered on its own)."""

    name = NAME
    category = "other"

    def events_sql(self) -> str:
        return _OWN


_OWN_SOURCE = _OwnLogEvents()


class CloudWatchLogsSource(Source):
    name = NAME
    category = "other"
    containers = ("json", "jsonl")
    record_keys = ("logEvents",)

    def detect(self, probe: Probe) -> Detection:
        if probe.wrapper == "logEvents" and {"messageType", "logGroup"} <= set(probe.top_keys):
            return Detection.CERTAIN  # a subscription payload: only CloudWatch Logs writes these keys
        objs = probe.objects()
        if objs and all(_is_encoded(o) or _is_payload(o) for o in objs):
            return Detection.CERTAIN
        return Detection.NO

    def load_batch(self, batch: Batch) -> None:
        rows = batch.con.execute(
            f"SELECT record_no, line_no, byte_offset, CAST(doc AS VARCHAR) FROM {batch.table}"
        )
        records = rows.fetchall()
        context: dict[str, Any] | None = None
        # (record_no, line_no, offset, log event, context, path): one message per record ...
        singles: list[_Message] = []
        multi: list[_Message] = []  # ... and many, numbered record << SHIFT | index
        bad: list[tuple[int, str]] = []
        for record_no, line_no, offset, text in records:
            doc = json.loads(text)
            if _is_log_event(doc):
                if context is None:
                    context = _file_context(batch.path)
                singles.append((record_no, line_no, offset, doc, context, f"$.logEvents[{record_no - 1}]"))
                continue
            payload, where = doc, f"$[{record_no - 1}]"
            if _is_encoded(doc):
                try:
                    payload = json.loads(
                        gzip.decompress(base64.b64decode(doc["awslogs"]["data"], validate=True))
                    )
                except (binascii.Error, OSError, EOFError, zlib.error, ValueError) as e:
                    bad.append((record_no, f"awslogs.data is not base64 of a gzip JSON payload: {e}"))
                    continue
                where += ".awslogs.data -> $"
            if not _is_payload(payload):
                bad.append((record_no, "not a CloudWatch Logs payload (no messageType, logGroup, logEvents)"))
                continue
            ctx = {k: payload.get(k) for k in ("owner", "logGroup", "logStream")}
            events = payload["logEvents"]
            if len(events) >= 1 << SHIFT:
                bad.append(
                    (record_no, f"a payload of {len(events)} log events (at most {1 << SHIFT} are read)")
                )
                continue
            if not events:
                batch.mark_loaded(
                    "SELECT ? AS record_no", [record_no]
                )  # an empty payload (a control message)
            for i, ev in enumerate(events):
                multi.append(((record_no << SHIFT) | i, line_no, offset, ev, ctx, f"{where}.logEvents[{i}]"))
        if bad:
            reasons = pa.table({"record_no": [b[0] for b in bad], "reason": [b[1] for b in bad]})
            name = temp_name("cwbad")
            batch.con.register(name, reasons)
            try:
                batch.reject(f"SELECT record_no, reason FROM {name}")
            finally:
                batch.con.unregister(name)
        for messages, shift in ((singles, 0), (multi, SHIFT)):
            self._route(batch, messages, shift)

    def _route(self, batch: Batch, messages: list[_Message], shift: int) -> None:
        if not messages:
            return
        # one payload comes from one log group: its messages are placed together, a group at a time
        groups: dict[Any, list[_Message]] = {}
        for m in messages:
            groups.setdefault(m[4].get("logGroup"), []).append(m)
        for group in groups.values():
            source, as_text = _placement([m[3].get("message") for m in group])
            docs = []
            for _rec, _line, _off, ev, ctx, path in group:
                msg = ev.get("message")
                doc: Any
                if source is _OWN_SOURCE:
                    doc = {**ev, **ctx, "path": path}
                elif as_text or not isinstance(msg, str):
                    doc = msg
                else:
                    try:
                        doc = json.loads(msg)
                    except ValueError:
                        doc = msg  # the loader rejects it with its reason
                docs.append(json.dumps(doc))
            table = pa.table(
                {
                    "record_no": pa.array([m[0] for m in group], pa.int64()),
                    "line_no": pa.array([m[1] for m in group], pa.int64()),
                    "byte_offset": pa.array([m[2] for m in group], pa.int64()),
                    "doc": pa.array(docs, pa.string()),
                    "path": pa.array([m[5] for m in group], pa.string()),
                    "log_group": pa.array([m[4].get("logGroup") for m in group], pa.string()),
                    "log_stream": pa.array([m[4].get("logStream") for m in group], pa.string()),
                    "message_id": pa.array([str(m[3].get("id")) for m in group], pa.string()),
                }
            )
            name = temp_name("cwmsg")
            batch.con.register(name, table)
            try:
                batch.insert_into(
                    "cloudwatch_messages",
                    f"""SELECT {batch.evidence_sql} AS evidence_sha256, r.record_no AS evidence_record,
                               r.record_no >> {shift} AS wrapper_record, r.path, r.log_group, r.log_stream,
                               r.message_id, $routed AS routed_to
                        FROM {name} r""",
                    {"routed": source.name if source is not _OWN_SOURCE else None},
                )
                batch.route(
                    f"SELECT record_no, line_no, byte_offset, CAST(doc AS JSON) AS doc FROM {name}",
                    source,
                    shift=shift,
                )
            finally:
                batch.con.unregister(name)


def _placement(messages: list[Any]) -> tuple[Source, bool]:
    """The loader most sure of a group's messages (at least LIKELY, not the generic loader), and whether
    it reads them as text lines; else this source's own mapping."""
    texts = [m for m in messages if isinstance(m, str)][:100]
    objs = []
    for m in texts[:50]:
        try:
            o = json.loads(m)
        except ValueError:
            continue
        if isinstance(o, dict):
            objs.append(o)
    if objs and len(objs) * 2 >= min(len(texts), 50):
        probe = Probe(path="", container="jsonl", samples=objs, head="\n".join(texts[:50]) + "\n")
    else:
        probe = Probe(path="", container="text", head="\n".join(texts) + "\n")
    placed = registry.place(probe)
    src = placed.source
    if src is None or src.name in ("generic", NAME) or placed.level < Detection.LIKELY:
        return _OWN_SOURCE, False
    if type(src).finish is not Source.finish:
        return _OWN_SOURCE, False  # a source that finishes a whole file cannot read part of a payload
    return src, src.reads_text_lines


def _file_context(path: str | None) -> dict[str, Any]:
    """owner, logGroup and logStream of a decoded payload file: its first keys, before ``logEvents``."""
    ctx: dict[str, Any] = {"owner": None, "logGroup": None, "logStream": None}
    if not path:
        return ctx
    for piece in ByteStream(path, piece_bytes=1 << 16):
        head = piece.split(b'"logEvents"', 1)[0]
        for m in _CONTEXT.finditer(head):
            ctx[m.group(1).decode()] = json.loads(b'"' + m.group(2) + b'"')
        break
    return ctx


SOURCES = [CloudWatchLogsSource()]
