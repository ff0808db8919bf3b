"""Planning: hash a file, probe it and choose its source, in a thread that runs ahead of the reading."""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pyarrow as pa

from forensics.ingest import limits
from forensics.ingest.files import hash_file
from forensics.ingest.journal import Journal
from forensics.ingest.limits import MAPPING_SUFFIX
from forensics.ingest.results import FileResult
from forensics.ingest.sniff import sniff
from forensics.sources import registry
from forensics.sources.contract import Probe, Source


@dataclass
class _Plan:
    """A file hashed, probed and given its source, not yet read into the case."""

    path: str
    sha: str
    size: int
    probe: Probe
    source: Source
    container: str
    seconds: float
    #: set for a file that can be read in a group (``Ingestor.prepare_group``): a document's text, or a
    #: JSON Lines file's lines (as ``_prepare`` makes them), and how many bytes they hold
    text: pa.Array | None = None
    lines: pa.Table | None = None
    nbytes: int = 0
    gzip: bool = False
    #: how its records are laid out: ``array`` (an array at the record path), ``object`` (the document
    #: is its one record) or ``lines`` (JSON Lines)
    layout: str = "array"
    #: what the detectors had to say (a detector that raised), for the evidence note
    notes: list[str] = field(default_factory=list)
    #: the sha256 and size of the file as ``prepare_group`` read it (None: not read, or not known)
    read_digest: tuple[str, int] | None = None
    #: the path the evidence row shows (an archive member: ``archive!member``), if not ``path``
    shown: str | None = None
    #: the sha256 of the archive the file came from
    parent: str | None = None
    #: the field-mapping file that chose the source, and the sha256 of its bytes
    mapping: tuple[str, str] | None = None

    #: for a small CSV file read in a group (layout ``csv``): its header line, which its group shares
    csv_header: bytes | None = None

    @property
    def grouped(self) -> bool:
        return self.text is not None or self.lines is not None or self.csv_header is not None

    @property
    def group_key(self) -> tuple:
        return (id(self.source), self.source.record_path(self.probe), self.layout, self.csv_header)


def _group_format(plan: _Plan) -> str:
    return ("gzip+" if plan.gzip else "") + plan.container


class Planner(Journal):
    """Plans the files of an ingest: which source reads each, and how."""

    def choose_source(
        self, probe: Probe, loader: str | Source | None, mapping: str | None
    ) -> registry.Placement:
        if isinstance(loader, Source):
            return registry.Placement(loader)
        if mapping is not None:
            return registry.Placement(self.mapped_source(mapping))
        if loader:
            return registry.Placement(registry.get(loader))
        return registry.place(probe)

    def mapped_source(self, mapping: str, sha: str | None = None) -> Source:
        """The generic source of a field-mapping file, one per mapping (by the sha256 of its bytes) for the
        whole ingest: files read with the same mapping then share a source, and so a group (``group_key``)."""
        sha = sha or hash_file(mapping)[0]
        cache = self.__dict__.setdefault("_mapped_sources", {})
        if sha not in cache:
            cache[sha] = registry.generic_with_mapping(mapping)
        return cache[sha]

    def plan_file(
        self, path: str, *, loader: str | Source | None = None, mapping: str | None = None, con=None
    ) -> FileResult | _Plan:
        """Hash a file, probe it and choose its source; a FileResult when there is nothing to read
        (the bytes are in the case already, or no source recognises them). ``con``: the connection
        that looks the sha256 up (a cursor of its own, in the planning thread)."""
        t0 = time.perf_counter()
        if mapping is None and loader is None and os.path.isfile(path + MAPPING_SUFFIX):
            mapping = path + MAPPING_SUFFIX
        sha, size = hash_file(path)
        if (known := self.already_ingested(path, sha, size, con)) is not None:
            return known
        probe = sniff(path)
        placement = self.choose_source(probe, loader, mapping)
        source, notes = placement.source, placement.notes
        if source is None:
            return FileResult(
                path,
                "unplaced",
                sha,
                size,
                format=probe.container,
                note="; ".join([f"no loader recognises this {probe.container} content", *notes]),
            )
        container = probe.container
        if container not in source.containers:
            if loader is None and mapping is None:
                return FileResult(
                    path,
                    "unplaced",
                    sha,
                    size,
                    format=container,
                    note="; ".join([f"loader {source.name} does not read {container} content", *notes]),
                )
            # an explicitly chosen loader reads what it cannot parse line by line, rejecting each line
            container = "jsonl" if container != "csv" else container
        if container == "empty":
            container = "jsonl"
        if source.reads_text_lines and container in ("text", "csv"):
            container = "text"  # the source parses the lines itself (e.g. Prometheus exposition)
        plan = _Plan(path, sha, size, probe, source, container, time.perf_counter() - t0)
        plan.notes = notes
        if mapping is not None and loader is None:  # the mapping is evidence of how the file was read
            plan.mapping = (mapping, hash_file(mapping)[0])
        return plan

    def already_ingested(self, path: str, sha: str, size: int, con=None) -> FileResult | None:
        """The result for a file whose bytes the case holds already (looked up on ``con``), else None."""
        known = (
            (con or self.con)
            .execute("SELECT loader, format FROM evidence WHERE sha256 = ?", [sha])
            .fetchall()
        )
        if not known:
            return None
        return FileResult(
            path,
            "already ingested",
            sha,
            size,
            known[0][0],
            known[0][1],
            note="same sha256 as evidence already in the case; nothing changed",
        )

    def planned(
        self, items: list[tuple[str, bool]], loader: str | Source | None, mapping: str | None
    ) -> Iterator[tuple[bool, FileResult | _Plan]]:
        """``plan_file`` (and, for a file that can be read in a group, ``prepare_group``) for each
        item, in order, in a thread that runs ahead of the caller while DuckDB reads what came before:
        hashing, probing and inflating the next files costs no time of its own then. The thread holds
        at most ``PLAN_AHEAD_BYTES`` of planned text (and one file more) that the caller has not taken.
        A file's error is raised here, at its turn."""
        out: queue.Queue = queue.Queue()
        cond = threading.Condition()
        held = [0]
        stop = threading.Event()
        cursor = self.con.cursor()

        def produce() -> None:
            try:
                for path, explicit in items:
                    try:
                        plan = self.plan_file(path, loader=loader, mapping=mapping, con=cursor)
                        if isinstance(plan, _Plan):
                            self.prepare_group(plan)
                    except OSError as e:  # unreadable (permissions, I/O error, gone): the tree goes on
                        plan = FileResult(
                            path, "skipped", note=f"cannot read it: {e.strerror or e}", skip_kind="unreadable"
                        )
                    except Exception as e:  # noqa: BLE001 - raised in the caller, at this file's turn
                        plan = e
                    n = max(len(plan.probe.content or b""), plan.nbytes) if isinstance(plan, _Plan) else 0
                    with cond:
                        while held[0] and held[0] + n > limits.PLAN_AHEAD_BYTES and not stop.is_set():
                            cond.wait()
                        if stop.is_set():
                            return
                        held[0] += n
                    out.put((explicit, plan, n))
            finally:
                out.put(None)

        worker = threading.Thread(target=produce, name="forensics-plan", daemon=True)
        worker.start()
        try:
            while (item := out.get()) is not None:
                explicit, plan, n = item
                with cond:
                    held[0] -= n
                    cond.notify_all()
                if isinstance(plan, Exception):
                    raise plan
                yield explicit, plan
        finally:
            stop.set()
            with cond:
                cond.notify_all()
            worker.join()
            cursor.close()
