"""The loader contract: all a loader author reads (see docs/sources.md for a walk-through).

A source says how sure it is that a file is its own (``detect``, a ``Detection`` level), where its records
sit inside a JSON document (``record_keys``, or ``record_path`` for anything else), and how its records
become rows (``events_sql``, or ``load_batch`` with the ``Batch`` methods). It may also contribute the
facts the derived tables union: credential links, state changes and kinds, sessions, identity links,
runtime observations, deploys and CI runs (the ``*_sql`` fact hooks below). The engine owns everything else: hashing, splitting into records,
rejecting what is not a JSON object, batching, de-duplication, and the reconciliation
``records_read = records_loaded + records_rejected``.

Adding a source is one new module in ``forensics.sources`` that defines ``SOURCES = [MySource()]``; the
registry discovers it. A source's ``name`` becomes ``events.source``. It is spelled once, in its class,
and follows ``SOURCE_NAME``: lower case letters and digits, words joined by one ``_`` (``-`` in the three
OpenTelemetry/Tempo names that cases already hold); the registry refuses any other. Other modules learn
it from the source (``{source}`` in a fact hook, ``sigma_logsources``, the registry), never by spelling
it: tests/test_loader_facts.py fails on a source name spelled outside ``forensics/sources``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

import duckdb

from forensics.staging import stage, temp_name, unstage

#: Columns of ``events`` that a mapping may produce, with their SQL types.
EVENT_COLUMNS: dict[str, str] = {
    "time": "TIMESTAMPTZ",
    "time_raw": "VARCHAR",
    "end_time": "TIMESTAMPTZ",
    "source": "VARCHAR",
    "category": "VARCHAR",
    "action": "VARCHAR",
    "actor": "VARCHAR",
    "actor_type": "VARCHAR",
    "credential_id": "VARCHAR",
    "src_ip": "VARCHAR",
    "user_agent": "VARCHAR",
    "target": "VARCHAR",
    "service": "VARCHAR",
    "environment": "VARCHAR",
    "region": "VARCHAR",
    "outcome": "VARCHAR",
    "outcome_reason": "VARCHAR",
    "request_id": "VARCHAR",
    "trace_id": "VARCHAR",
    "span_id": "VARCHAR",
    "artifact_digest": "VARCHAR",
    "event_uid": "VARCHAR",
    "event_seq": "INTEGER",
    "event_rank": "SMALLINT",
    "raw": "JSON",
}

CATEGORIES = ("audit", "trace", "deploy", "build", "provenance", "other")
#: How much of a rejected record's text the ledger keeps (its full length is recorded beside it).
RAW_KEEP = 65536
#: The one spelling rule of a source name.
SOURCE_NAME = re.compile(r"[a-z][a-z0-9]*(?:[_-][a-z0-9]+)*")

SqlParams = list[Any] | dict[str, Any] | None


class Detection(IntEnum):
    """How sure a source is that a probed file is its own. The most sure source reads the file; two
    equally sure sources are a tie, which the registry breaks by name (and the detection-matrix test
    forbids for every known format)."""

    #: not mine
    NO = 0
    #: I can read any record-shaped content (the generic loader)
    FALLBACK = 1
    #: some records look like mine, or only my keys are present (e.g. a damaged record, to reject)
    WEAK = 2
    #: the shape is mine but not unmistakable (a header, a partial signature)
    LIKELY = 3
    #: the shape is mine and no other known format has it
    STRONG = 4
    #: a marker only my format writes (a media type, a schema name, a wrapper key with my fields)
    CERTAIN = 5


@dataclass
class Probe:
    """What the engine learned about a file before choosing its source.

    ``container`` is one of ``jsonl``, ``json`` (one JSON document), ``csv``, ``text``, ``empty`` or
    ``binary``. ``samples`` holds up to 50 parsed records: for ``json``, the elements of a top-level array,
    or of the array under ``wrapper`` (a key some source declares in ``record_keys``), else the document
    itself. ``document`` is the whole parsed document when it is small (else ``None``); ``top_keys`` an
    object document's keys; ``head`` the first 64 KiB as text.
    """

    path: str
    container: str
    samples: list[Any] = field(default_factory=list)
    document: Any = None
    top_keys: tuple[str, ...] = ()
    head: str = ""
    #: the top-level key whose array the samples were taken from (``Records``, ``entries``), if any
    wrapper: str | None = None
    #: for a ``json`` document within the size bound: its bytes (decompressed, BOM stripped) and any
    #: damage found reading them, so the engine does not read the file twice
    content: bytes | None = field(default=None, repr=False)
    damage: str | None = None
    compressed_read: int = 0
    #: the sha256 and size of the file as the reading of ``content`` read it (None: not known)
    digest: tuple[str, int] | None = None

    @property
    def first(self) -> dict[str, Any]:
        """The first sample record when it is an object, else an empty dict."""
        for s in self.samples:
            if isinstance(s, dict):
                return s
        return {}

    def objects(self) -> list[dict[str, Any]]:
        return [s for s in self.samples if isinstance(s, dict)]


class Batch:
    """One batch of records of one file (or of a group of small files), staged in a table named
    ``table`` with columns ``record_no``, ``line_no``, ``byte_offset`` and ``doc`` (JSON). Every method
    marks the records it touched, so the engine can prove that every record landed somewhere: a record
    no method touched is rejected for the loader. SQL given to a method names the batch ``{batch}``; bind
    values with ``params``, never paste them into the SQL. The engine builds batches; a source only uses
    them."""

    con: duckdb.DuckDBPyConnection
    #: the batch table's name
    table: str
    #: the evidence sha256 of the batch's file; None for a grouped batch (see ``evidence_sql``)
    evidence_sha256: str | None
    #: the evidence file being read (read-only), for a source that must see it whole
    path: str | None
    #: the batch holds the records of several small files: its table has ``evidence_sha256`` and
    #: ``evidence_record`` too, and ``record_no`` is only a key
    grouped: bool
    #: SQL for the evidence sha256 and the record number in its file of a batch row aliased ``r``
    evidence_sql: str
    record_sql: str
    #: the batch is small (a small file): statements over it cost more to plan than to run
    small: bool

    @property
    def file_sha256(self) -> str:
        """The evidence sha256 of the batch's one file; a source that is not ``groupable`` may rely on it."""
        if self.evidence_sha256 is None:
            raise TypeError("a grouped batch holds several files: use evidence_sql for each row's file")
        return self.evidence_sha256

    def insert_events(self, select_sql: str, params: SqlParams = None) -> None:
        """Insert the events ``select_sql`` produces: ``record_no``, ``time``, ``time_problem`` and any of
        ``EVENT_COLUMNS``. A row whose ``time`` is NULL rejects its record with ``time_problem`` as the
        reason; rows that share an ``event_uid`` (for the same source) are kept once per case."""
        raise NotImplementedError

    def insert_into(self, table: str, select_sql: str, params: SqlParams = None) -> None:
        """Insert rows into another case table (by name) without marking records: nothing of this file
        may read ``table`` back before the file's last batch (``Source.finish`` may)."""
        raise NotImplementedError

    def insert_rows(self, table: str, select_sql: str, params: SqlParams = None) -> None:
        """Insert rows into another case table (spans, attestations, ...); ``select_sql`` produces a
        ``record_no`` column, which marks its records loaded and is not inserted."""
        raise NotImplementedError

    def reject(self, select_sql: str, params: SqlParams = None) -> None:
        """Reject records: ``select_sql`` yields ``record_no`` and ``reason``."""
        raise NotImplementedError

    def mark_loaded(self, select_sql: str, params: SqlParams = None) -> None:
        """Mark records loaded (``select_sql`` yields ``record_no``) when the source wrote them itself."""
        raise NotImplementedError

    def route(self, select_sql: str, source: Source, params: SqlParams = None, shift: int = 0) -> None:
        """Hand records found inside this batch's records (the messages of a wrapper, such as CloudWatch
        Logs' ``logEvents``) to ``source``, which loads them as if they were its own batch; the events
        it writes carry its name. ``select_sql`` (it may read ``{batch}``) yields ``record_no``,
        ``line_no``, ``byte_offset`` and ``doc`` (JSON). With ``shift = 0`` each routed record keeps the
        number of the wrapper record it came from (one message per record); with ``shift = n`` a routed
        record is numbered ``wrapper_record << n | index`` (many messages per record), and a wrapper
        record is loaded when any of its messages is."""
        raise NotImplementedError

    def read_evidence(self) -> bytes | None:
        """The whole evidence file, decompressed, when its bytes are still the ones whose sha256 the
        batch carries; None otherwise (or for a grouped batch)."""
        raise NotImplementedError


class Source:
    """Base class. Subclasses set ``name`` and ``category`` and override what they need."""

    name: str = "source"
    category: str = "other"
    #: Containers this source can read.
    containers: tuple[str, ...] = ("jsonl", "json")
    #: Keys of an object document whose array holds the records (``("Records",)`` for CloudTrail): the
    #: engine samples the array for ``detect`` and splits it into records, whatever the document's size.
    record_keys: tuple[str, ...] = ()
    #: The engine hands every non-blank text line over as a JSON string, instead of parsing JSON lines.
    reads_text_lines: bool = False
    #: A record may be a JSON array as well as an object (e.g. Zipkin's list of traces).
    accepts_array_records: bool = False
    #: The records of many small JSON documents of this source may share one batch (``Batch.grouped``):
    #: the source's SQL uses ``record_no`` only as a key, writes only through ``insert_events`` (or gives
    #: the evidence of a row as ``batch.evidence_sql``), and has no ``finish``.
    groupable: bool = False
    #: The Sigma logsources (product, service) whose rules read this source's records (``forensics sigma``).
    sigma_logsources: tuple[tuple[str, str], ...] = ()

    def detect(self, probe: Probe) -> Detection:
        """How sure this source is that the probed file is its own. An exception here is recorded in the
        file's evidence note and counts as ``Detection.NO``."""
        return Detection.NO

    def record_path(self, probe: Probe) -> str:
        """JSON path of the records inside a JSON document: the array under the probe's wrapper key when
        this source declares it in ``record_keys``, else ``$`` (the document itself, or, if it is an
        array, its elements). Override it only for records deeper than a top-level key."""
        if probe.wrapper is not None and probe.wrapper in self.record_keys:
            return "$." + probe.wrapper
        return "$"

    def events_sql(self) -> str | None:
        """A SELECT over the batch table, written ``{batch}`` (columns record_no, line_no, byte_offset, doc JSON),
        producing ``record_no``, ``time``, ``time_problem`` and any of ``EVENT_COLUMNS``.
        Return None if the source writes its own tables in ``load_batch``."""
        return None

    def load_batch(self, batch: Batch) -> None:
        """Load one batch of records. The default maps them to ``events`` with ``events_sql``."""
        sql = self.events_sql()
        if sql is None:
            raise NotImplementedError(f"source {self.name} defines neither events_sql nor load_batch")
        batch.insert_events(sql)

    def finish(self, case_con: duckdb.DuckDBPyConnection, evidence_sha256: str) -> None:
        """Called once per file after all batches, inside the file's transaction."""

    # -- the facts a source contributes to the derived tables (forensics/derive/facts.py unions them) --
    # Each is a SELECT over the case (``events`` and the tables derived before: ``credential_links`` for
    # kinds), or None; ``{source}`` in it is this source's name as a SQL literal. ``derive/`` never
    # names a source: what a source does not say here, the derived tables do not know.
    def credential_links_sql(self) -> str | None:
        """Events that minted a credential, one row each: ``credential_id, issued_by, issuer_principal,
        principal, how, issued_at, expires_at, event_id`` (see ``credential_links``). A credential seen
        only here (never used in an event) is attributed to this source."""
        return None

    def credential_states_sql(self) -> str | None:
        """Events that changed the state of one credential: ``credential_id, event_id, time, change``
        (``revoked``, ``deleted`` or ``reactivated``), ``how``, and ``listed`` (true: a credential known
        only from this event still gets a row in ``credentials``). An event that changes the state of
        the very credential it carries is not counted as a use of it, unless ``counts_as_use`` (an Okta
        session's end is made with the session)."""
        return None

    def principal_revocations_sql(self) -> str | None:
        """Events that revoked every credential of a principal at once (a session cutoff on a role or a
        user, a deleted service account), matched against ``credentials``: ``principal_like`` (LIKE) and
        ``principal_regex`` on its principal, ``credential_kind``, ``identity_type``, ``credential_like``
        on its id (each NULL: any), ``cutoff`` (only credentials issued, else first seen, before it;
        NULL: all), ``time, event_id``, ``change`` (NULL: revoked), ``how``."""
        return None

    def credential_kinds_sql(self) -> str | None:
        """What credentials are: ``credential_id, kind`` (``aws_access_key``, ``github_pat``, ...). The
        credential's own source's answer wins; an id no source names is ``other``. By default, the
        ``credential_kind_sql`` expression over every credential id this source's events carry or its
        ``credential_links_sql`` mints."""
        kind = self.credential_kind_sql()
        if kind is None:
            return None
        ids = "SELECT credential_id FROM events WHERE source = {source} AND credential_id IS NOT NULL"
        if (links := self.credential_links_sql()) is not None:
            ids += f" UNION SELECT credential_id FROM ({links})"
        return f"SELECT credential_id, kind FROM (SELECT DISTINCT credential_id, {kind} AS kind FROM ({ids})) WHERE kind IS NOT NULL"

    def credential_kind_sql(self) -> str | None:
        """Shorthand for ``credential_kinds_sql``: the ``credentials.kind`` of the credentials this source
        uses or mints, as a SQL expression over ``credential_id`` (``'okta_session'``, or a CASE); NULL
        or None says nothing (the credential stays ``other`` unless another source knows it)."""
        return None

    def credential_sessions_sql(self) -> str | None:
        """Who a credential acts as, as its use records it: ``credential_id, created`` (when its session
        began, the issue time when no minting event was seen), ``created_from`` (where that time comes
        from), ``identity_type, role_arn, console``."""
        return None

    def deploys_sql(self) -> str | None:
        """Deploy facts, one row per deploy: ``event_id, time, time_raw, service, environment, instance,
        version, artifact_digest, image, actor, via, action, status, status_detail, source,
        evidence_sha256, evidence_record, inferred`` (``inferred``: seen as a side effect, e.g. a
        cluster changing an image; dropped when a recorded deploy has the same digest within 5
        minutes). ``getvariable('fx_ci_actors')`` is the stored policy's CI actors (NULL: none)."""
        return None

    def identity_links_sql(self) -> str | None:
        """Identities that are one principal or act for one another (``entity_links`` rows: ``kind, id,
        linked_kind, linked_id, same_principal, reason, evidence_kind, evidence_id``)."""
        return None

    def runtime_sql(self) -> str | None:
        """What ran and what a workload spec asked for (``runtime_state``): ``event_id, time, time_basis,
        kind`` (observed | desired), ``how, cluster, namespace, workload, pod, container, image,
        image_digest, state, detail, source, evidence_sha256, evidence_record``."""
        return None

    def ci_runs_sql(self) -> str | None:
        """CI runs and jobs: rows with the ``ci_runs`` table's columns (docs/schema.md)."""
        return None


def most(
    records: list[dict[str, Any]],
    is_mine: Callable[[dict[str, Any]], bool],
    level: Detection = Detection.STRONG,
) -> Detection:
    """``level`` when at least half of the sampled ``records`` are this source's (``is_mine``), else
    ``Detection.NO`` (also for no records): the rule most loaders detect by."""
    if not records:
        return Detection.NO
    return level if sum(1 for r in records if is_mine(r)) * 2 >= len(records) else Detection.NO


def field_path(path: str) -> str:
    """A dotted field name (``user.name``) as a DuckDB JSON path (``$."user"."name"``).
    A path starting with ``$`` is used as given."""
    if path.startswith("$"):
        return path
    parts = path.split(".")
    return "$." + ".".join('"' + p.replace('"', '\\"') + '"' for p in parts)


def sql_str(value: str) -> str:
    """Quote a constant that the kit itself chose (never user or evidence data) as a SQL literal."""
    return "'" + value.replace("'", "''") + "'"


__all__ = [
    "CATEGORIES",
    "EVENT_COLUMNS",
    "RAW_KEEP",
    "SOURCE_NAME",
    "Batch",
    "Detection",
    "Probe",
    "Source",
    "field_path",
    "most",
    "sql_str",
    "stage",
    "temp_name",
    "unstage",
]
