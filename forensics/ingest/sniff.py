"""Sniffing the container: recognise a file's content (never its name) and parse a sample of its records
into a ``Probe``."""

from __future__ import annotations

import json
import os
import re
from typing import Any

from forensics.db import scalar
from forensics.ingest import limits
from forensics.ingest.files import ByteStream, _strip_bom, newline_pieces
from forensics.sources import registry
from forensics.sources.contract import Probe

_NONWS = re.compile(rb"[^ \t\r\n]")


def _first_lines(stream: ByteStream, n: int, max_bytes: int) -> tuple[list[bytes], bool]:
    """Up to n non-blank lines from the start (BOM stripped), and whether the first line was
    longer than max_bytes (then only its start is returned). Reads no further than it needs; runs of
    blank lines are skipped in C (a newline bomb is not a loop of Python per line)."""
    lines: list[bytes] = []
    buf = b""
    pos = 0
    for piece in newline_pieces(stream):
        buf = buf[pos:] + piece
        pos = 0
        while len(lines) < n:
            m = _NONWS.search(buf, pos)
            if m is None:
                pos = max(
                    pos, buf.rfind(b"\n") + 1
                )  # only blank lines so far: keep no more than a line start
                break
            r = buf.rfind(b"\n", pos, m.start())
            start = r + 1 if r >= 0 else pos  # the line holding that character starts after the last newline
            nl = buf.find(b"\n", m.start())
            if nl < 0:
                pos = start
                break
            lines.append(buf[start:nl])
            pos = nl + 1
        if len(lines) >= n:
            break
        if not lines and len(buf) - pos > max_bytes:
            rest = _strip_bom(buf[pos : pos + max_bytes])
            return [rest], True
    tail = buf[pos:]
    if len(lines) < n and tail.strip():
        lines.append(tail)
    if lines:
        lines[0] = _strip_bom(lines[0])
    return lines, False


def _json_loads(b: bytes):
    try:
        return json.loads(b)
    except (ValueError, RecursionError):
        return None


def _count_nonblank_lines_upto(stream: ByteStream, n: int) -> int:
    """How many non-blank lines the stream holds, counting no further than n. A line is only
    scanned, never accumulated, so one huge line costs one pass; blank runs are skipped in C."""
    count = 0
    in_line = False  # the current line (maybe begun in an earlier piece) is counted already
    for piece in newline_pieces(stream):
        pos = 0
        while True:
            if in_line:
                nl = piece.find(b"\n", pos)
                if nl < 0:
                    break
                in_line, pos = False, nl + 1
            m = _NONWS.search(piece, pos)
            if m is None:
                break
            count += 1
            if count >= n:
                return count
            in_line, pos = True, m.end()
    return count


_WS = re.compile(r"[ \t\n\r]*")
_LEADING_WS = re.compile(rb"[ \t\n\r]*")
_FIRST_KEY = re.compile(r'[ \t\n\r]*\{[ \t\n\r]*("(?:[^"\\]|\\.)*")[ \t\n\r]*:[ \t\n\r]*(?=\[)')

#: what a document's shape is: its top-level keys, up to 50 sample records, and the wrapper key whose array
#: they were taken from (None: the document's own elements, or the document itself)
Shape = tuple[tuple[str, ...], list[Any], str | None]


def _document_prefix_shape(prefix: bytes, record_keys: tuple[str, ...]) -> Shape | None:
    """The shape of a large document that opens as an array or as ``{"<key>": [`` for a wrapper key of
    ``record_keys``, parsed from its first bytes only; the rest is not looked at (so an object's keys
    after the wrapper are not known, and the document may still prove malformed when the engine reads
    it). None for any other opening, or when not one record fits in the prefix."""
    text = prefix.decode("utf-8", errors="ignore")  # the prefix may end inside a character
    m = _FIRST_KEY.match(text)
    wrapper = _json_loads(m.group(1).encode()) if m else None
    if m and wrapper not in record_keys:
        return None
    keys: tuple[str, ...] = (wrapper,) if m else ()
    i = m.end() if m else _WS.match(text).end()
    if not text.startswith("[", i):
        return None
    decoder = json.JSONDecoder()
    samples: list = []
    i = _WS.match(text, i + 1).end()
    if text.startswith("]", i):
        return keys, samples, wrapper
    while len(samples) < 50:
        try:
            value, i = decoder.raw_decode(text, i)
        except (ValueError, RecursionError):
            break  # cut by the end of the prefix, or malformed: the engine will tell
        samples.append(value)
        i = _WS.match(text, i).end()
        if not text.startswith(",", i):
            break
        i = _WS.match(text, i + 1).end()
    return (keys, samples, wrapper) if samples else None


_PLAIN_PATH = re.compile(r"\$((?:\.[A-Za-z_][A-Za-z0-9_]*)*)")


def _array_at(rpath: str) -> tuple[str, str] | None:
    """For a plain JSON path (``$``, ``$.Records``, ``$.a.b``), the ``json_transform`` structure that takes
    the array at that path as a list of JSON values, and the field access that reaches the list; None for
    other paths. The keys are identifiers, so the structure is safe to write into SQL."""
    m = _PLAIN_PATH.fullmatch(rpath)
    if m is None:
        return None
    keys = m.group(1).split(".")[1:]
    structure = '["JSON"]'
    for key in reversed(keys):
        structure = json.dumps({key: json.loads(structure)})
    return structure, "".join(f'."{k}"' for k in keys)


def _document_shape(raw: bytes, record_keys: tuple[str, ...]) -> Shape | None:
    """The shape of a large JSON document, parsed by DuckDB rather than as Python objects: the elements of
    an array, or of the array under the first wrapper key of ``record_keys`` an object has, else the object
    with its arrays cut to their first three elements, so a source can still recognise its shape. None if
    the document is not valid JSON."""
    import duckdb

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    con = duckdb.connect()
    try:
        kind = scalar(con, "SELECT try(json_type(?::VARCHAR))", [text])
        if kind == "ARRAY":
            rows = con.execute("SELECT value FROM json_each(?::VARCHAR) LIMIT 50", [text]).fetchall()
            return (), [_json_loads(v.encode()) for (v,) in rows], None
        if kind != "OBJECT":
            return None
        keys = tuple(scalar(con, "SELECT json_keys(?::VARCHAR)", [text]) or ())
        for key in (k for k in record_keys if k in keys):
            path = "$." + json.dumps(key)
            if scalar(con, "SELECT json_type(?::VARCHAR, ?)", [text, path]) == "ARRAY":
                rows = con.execute(
                    "SELECT value FROM json_each(?::VARCHAR, ?) LIMIT 50", [text, path]
                ).fetchall()
                return keys, [_json_loads(v.encode()) for (v,) in rows], key
        rows = con.execute(
            """SELECT key, CASE WHEN type = 'ARRAY'
                               THEN to_json(json_extract(value, ['$[0]', '$[1]', '$[2]'])[1:least(3, json_array_length(value))])
                               ELSE value END
               FROM json_each(?::VARCHAR)""",
            [text],
        ).fetchall()
        return keys, [{k: _json_loads(v.encode()) for k, v in rows}], None
    finally:
        con.close()


# A large document's shape is walked over its bytes rather than parsed whole (DuckDB's parse of a 200 MB
# document held over 1.5 GB, issue 15 part 5): the standard library's decoder builds no more than the
# probe keeps, and the values the probe drops are skipped by a regular expression over strings and
# brackets (in C), not parsed. The skipped text is not validated here: the engine reads (and validates)
# the whole document once, as for a document probed from its prefix.
_STRING = rb'"[^"\\]*(?:\\.[^"\\]*)*"'
_BRACKETS = re.compile(_STRING + rb"|[\[\]{}]")
_SCALAR = re.compile(_STRING + rb"|-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|true|false|null")
#: how deep the walk keeps values (deeper ones are skipped, as None) and how many elements of an array
_WALK_DEPTH = 32
_WALK_ITEMS = 3


def _skip_container(raw: bytes, i: int) -> int:
    """The end of the array or object that opens at ``raw[i]``."""
    return _close(raw, i + 1)


def _ws(raw: bytes, i: int) -> int:
    return _LEADING_WS.match(raw, i).end()


def _after(raw: bytes, i: int, close: bytes) -> tuple[bool, int]:
    """After an element or member: (True, the end) at the ``close`` bracket, else (False, the start of the
    next one)."""
    i = _ws(raw, i)
    if raw[i : i + 1] == close:
        return True, i + 1
    if raw[i : i + 1] != b",":
        raise ValueError(f"expected , or {close.decode()} in JSON")
    return False, _ws(raw, i + 1)


def _walk(raw: bytes, i: int, depth: int, items: int, wide: tuple[str, ...] = ()) -> tuple[Any, int]:
    """The value at ``raw[i]`` with every array cut to its first ``_WALK_ITEMS`` elements (``items`` for
    this one; an object's member under a key of ``wide`` keeps 50), and its end."""
    c = raw[i : i + 1]
    if c in (b"[", b"{") and depth >= _WALK_DEPTH:
        return None, _skip_container(raw, i)
    if c == b"[":
        out: list[Any] = []
        i = _ws(raw, i + 1)
        if raw[i : i + 1] == b"]":
            return out, i + 1
        while True:
            if len(out) >= items:  # the rest of the array is skipped as a whole
                return out, _close(raw, i)
            value, i = _walk(raw, i, depth + 1, _WALK_ITEMS)
            out.append(value)
            done, i = _after(raw, i, b"]")
            if done:
                return out, i
    if c == b"{":
        obj: dict[str, Any] = {}
        i = _ws(raw, i + 1)
        if raw[i : i + 1] == b"}":
            return obj, i + 1
        while True:
            m = _SCALAR.match(raw, i)
            if m is None or raw[i : i + 1] != b'"':
                raise ValueError("expected a key in a JSON object")
            key = json.loads(m.group())
            i = _ws(raw, m.end())
            if raw[i : i + 1] != b":":
                raise ValueError("expected : in a JSON object")
            value, i = _walk(raw, _ws(raw, i + 1), depth + 1, 50 if key in wide else _WALK_ITEMS)
            obj.setdefault(key, value)  # the first of duplicate keys, as DuckDB reads them
            done, i = _after(raw, i, b"}")
            if done:
                return obj, i
    m = _SCALAR.match(raw, i)
    if m is None:
        raise ValueError("expected a JSON value")
    return json.loads(m.group()), m.end()


def _close(raw: bytes, i: int) -> int:
    """The end of the array or object whose content continues at ``raw[i]``: past its closing bracket."""
    depth = 1
    for m in _BRACKETS.finditer(raw, i):
        c = raw[m.start()]
        if c in b"[{":
            depth += 1
        elif c in b"]}":
            depth -= 1
            if depth == 0:
                return m.end()
    raise ValueError("unterminated JSON array or object")


def _walked_shape(raw: bytes, record_keys: tuple[str, ...]) -> Shape | None:
    """The shape of a large document, as ``_document_shape`` gives it, walked in bounded memory: the first
    50 elements of an array, or of the array under the first wrapper key of ``record_keys`` an object has,
    else the object itself; arrays inside cut to their first three elements. None when the walk finds the
    document malformed or followed by more text."""
    try:
        start = _ws(raw, 0)
        doc, end = _walk(raw, start, 0, 50, record_keys if raw[start : start + 1] == b"{" else ())
    except (ValueError, RecursionError):
        return None
    if _ws(raw, end) != len(raw):
        return None
    if isinstance(doc, list):
        return (), doc, None
    if not isinstance(doc, dict):
        return None
    keys = tuple(doc)
    for key in record_keys:
        if isinstance(doc.get(key), list):
            return keys, doc[key], key
    return keys, [doc], None


def _salvaged_shape(raw: bytes, record_keys: tuple[str, ...]) -> Shape | None:
    from forensics.ingest.salvage import salvage_array

    found = salvage_array(raw, record_keys)
    if found is None or not found.records:
        return None
    samples = [
        v
        for v in (_json_loads(t.encode("utf-8", "surrogateescape")) for t, _ in found.records[:50])
        if v is not None
    ]
    keys: tuple[str, ...] = (found.wrapper,) if found.wrapper else ()
    return (keys, samples, found.wrapper) if samples else None


def sniff(path: str, record_keys: tuple[str, ...] | None = None) -> Probe:
    """Recognise the container of a file by its content and parse a sample of its records. An object
    document's records are sampled from under the first wrapper key of ``record_keys`` it holds as an
    array (by default the keys every known source declares, ``registry.record_keys()``)."""
    if record_keys is None:
        record_keys = registry.record_keys()
    stream = ByteStream(path)
    head = _strip_bom(stream.head())
    text_head = head.decode("utf-8", errors="replace")
    stripped = head.lstrip()
    if not stripped.strip():
        return Probe(path, "empty", head=text_head)
    if b"\x00" in head[:4096] and not stripped.startswith((b"{", b"[")):
        return Probe(path, "binary", head=text_head)
    if stripped[:1] in (b"{", b"["):
        lines, long_first = _first_lines(ByteStream(path, piece_bytes=1 << 20), 50, 4 * 1024 * 1024)
        parsed = [_json_loads(ln) for ln in lines]
        objects = [p for p in parsed if isinstance(p, dict)]
        # a first line past the bound is only the start of a line: the file can be JSON Lines only if that
        # start parsed as an object, so the (whole-file) count of lines is needed only then
        nonblank = (
            _count_nonblank_lines_upto(ByteStream(path, piece_bytes=1 << 20), 2)
            if not long_first or objects
            else 1
        )
        if nonblank >= 2 and parsed and parsed[0] is not None and not long_first:
            return Probe(path, "jsonl", samples=parsed[:50], head=text_head)
        # one JSON document (maybe pretty-printed, maybe one long line)
        maybe_lines = nonblank >= 2 and len(objects) * 2 >= len(lines)
        # the stream whose bytes become the document hashes them too (only when that costs no extra read)
        size = os.path.getsize(path)
        whole = ByteStream(path, piece_bytes=1 << 20, digest=size <= limits.SMALL_DOCUMENT_BYTES)
        prefix = whole.read_upto(limits.SMALL_DOCUMENT_BYTES)
        if len(prefix) > limits.SMALL_DOCUMENT_BYTES and not maybe_lines:
            # a large document that opens as an array or as {"<wrapper key>": [...]: its first records are
            # the probe; the engine reads (and validates) the whole document once, from the file
            shape = _document_prefix_shape(_strip_bom(prefix), record_keys)
            if shape is not None:
                top_keys, samples, wrapper = shape
                return Probe(path, "json", samples, top_keys=top_keys, head=text_head, wrapper=wrapper)
        if len(prefix) > limits.SMALL_DOCUMENT_BYTES:
            whole = ByteStream(path, digest=size <= limits.MAX_DOCUMENT_BYTES)
            prefix = whole.read_upto(limits.MAX_DOCUMENT_BYTES)
        raw = _strip_bom(prefix)
        if len(raw) > limits.SMALL_DOCUMENT_BYTES:
            doc = None
        elif len(lines) == 1 and not long_first and parsed[0] is not None and lines[0].strip() == raw.strip():
            doc = parsed[0]  # a document on one line (CloudTrail writes them so) was parsed as that line
        else:
            doc = _json_loads(raw)
        shape = None
        if doc is None and limits.SMALL_DOCUMENT_BYTES < len(raw) <= limits.MAX_DOCUMENT_BYTES:
            shape = _walked_shape(raw, record_keys)
        elif doc is None and len(raw) <= limits.MAX_DOCUMENT_BYTES:
            shape = _document_shape(raw, record_keys)
        if doc is None and shape is None and maybe_lines:
            return Probe(path, "jsonl", samples=parsed[:50], head=text_head)
        if doc is None and shape is None and len(raw) <= limits.SMALL_DOCUMENT_BYTES:
            # a damaged array document: its records that parse are the sample (forensics/ingest/salvage.py)
            shape = _salvaged_shape(raw, record_keys)
        top_keys: tuple[str, ...] = ()
        wrapper: str | None = None
        samples: list[Any] = []
        if shape is not None:
            top_keys, samples, wrapper = shape
        elif isinstance(doc, dict):
            top_keys = tuple(doc.keys())
            wrapper = next((k for k in record_keys if isinstance(doc.get(k), list)), None)
            samples = doc[wrapper][:50] if wrapper is not None else [doc]
        elif isinstance(doc, list):
            samples = doc[:50]
        probe = Probe(path, "json", samples, doc, top_keys, text_head, wrapper)
        if len(raw) <= limits.MAX_DOCUMENT_BYTES:  # the engine reads the document from here, not from disk
            probe.content, probe.damage, probe.compressed_read = raw, whole.damage, whole.compressed_read
            probe.digest = whole.digest
        return probe
    first = text_head.split("\n", 2)
    if len(first) >= 2:
        for delim in (",", "\t", ";", "|"):
            n = first[0].count(delim)
            if n >= 1 and first[1].count(delim) >= 1:
                return Probe(path, "csv", head=text_head)
    return Probe(path, "text", head=text_head)
