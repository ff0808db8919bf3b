"""Record-by-record recovery of a damaged JSON document whose records are an array (a top-level array,
or the array under a wrapper key such as CloudTrail's ``Records`` or GCP's ``entries``): every element
that parses is kept, and each damaged span (a syntax error, a truncated tail) is reported with its byte
offsets so the engine can reject it. This is Python's own ``json`` decoder, element by element
(``raw_decode``), because DuckDB's JSON reader has no partial mode: a document it cannot parse is one
error for the whole text."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

_WS = re.compile(r"[ \t\n\r]*")
#: tokens that change the nesting: a whole string (escapes included), or a bracket or a comma
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{},]')
#: a damaged element is skipped to the next comma at its own depth; past this many characters without
#: one, the next ``}, {`` that starts a parseable element is taken instead
_RESYNC_SCAN = 4 * 1024 * 1024


@dataclass
class Salvage:
    """What a damaged document yields: the wrapper key the records were under (None: a top-level array),
    each record's text and its byte offset, and each damaged span (byte offset, byte length, reason)."""

    wrapper: str | None
    records: list[tuple[str, int]] = field(default_factory=list)
    damaged: list[tuple[int, int, str]] = field(default_factory=list)
    #: the order of records and damaged spans, as element numbers: ("record", i) or ("damage", j)
    order: list[tuple[str, int]] = field(default_factory=list)


def _array_start(text: str, record_keys: tuple[str, ...]) -> tuple[int, str | None] | None:
    """Where the records array opens (the index after its ``[``) and under which key."""
    i = _WS.match(text).end()
    if text.startswith("[", i):
        return i + 1, None
    if not text.startswith("{", i):
        return None
    best: tuple[int, str] | None = None
    for key in record_keys:
        m = re.search(re.escape(json.dumps(key)) + r"[ \t\n\r]*:[ \t\n\r]*\[", text)
        if m and (best is None or m.end() < best[0]):
            best = (m.end(), key)
    return best


def _level_end(text: str, start: int, limit: int, commas: bool) -> tuple[str, int] | None:
    """Scanning tokens from ``start`` (strings skipped whole): the first bracket that closes the level
    ``start`` is in (``("]", end)``), or with ``commas`` the first comma at that level (``(",", end)``);
    None when the text (or ``limit``) ends first."""
    depth = 0
    for m in _TOKENS.finditer(text, start):
        if m.start() > limit:
            return None
        tok = m.group()
        if tok in "[{":
            depth += 1
        elif tok in "]}":
            depth -= 1
            if depth < 0:
                return "]", m.end()
        elif commas and tok == "," and depth == 0:
            return ",", m.end()
    return None


def _resync(text: str, start: int, dec: json.JSONDecoder) -> int | None:
    """The start of the next element after a damaged one that begins at ``start``, or None when the array
    (or the text) ends first."""
    found = _level_end(text, start, start + _RESYNC_SCAN, commas=True)
    if found is not None and found[0] == ",":
        return _WS.match(text, found[1]).end()
    # no comma at the element's depth: the array closed, or the damage broke the nesting; take the next "}, {" whose element parses
    for m in re.finditer(r"\}[ \t\n\r]*,[ \t\n\r]*(?=\{)", text[start + 1 :]):
        at = start + 1 + m.end()
        try:
            _, end = dec.raw_decode(text, at)
        except (ValueError, RecursionError):
            continue
        after = _WS.match(text, end).end()
        if text.startswith((",", "]"), after):
            return at
    return None


def _after_array(text: str, i: int, wrapped: bool, damaged) -> None:
    """After the records array closes at ``i``: the rest of the wrapper object (if any), then nothing but
    white space. Text after the end of the document is a damaged span of its own."""
    if wrapped:
        found = _level_end(text, i, len(text), commas=False)
        if found is None:
            damaged(i, len(text), "the document ends before its wrapper object closes (truncated)")
            return
        i = found[1]
    rest = _WS.match(text, i).end()
    if rest < len(text):
        damaged(rest, len(text), "text after the end of the JSON document")


def salvage_array(raw: bytes, record_keys: tuple[str, ...]) -> Salvage | None:
    """The records of a damaged array document, element by element, or None when no records array is
    found at all."""
    text = raw.decode("utf-8", errors="surrogateescape")
    found = _array_start(text, record_keys)
    if found is None:
        return None
    i, wrapper = found
    out = Salvage(wrapper)
    dec = json.JSONDecoder()
    n = len(text)
    ascii_only = len(raw) == n

    def byte_at(pos: int) -> int:
        return pos if ascii_only else len(text[:pos].encode("utf-8", errors="surrogateescape"))

    def damaged(start: int, end: int, reason: str) -> None:
        while end > start and text[end - 1] in " \t\n\r,":  # the separator before the next element
            end -= 1
        b0 = byte_at(start)
        out.order.append(("damage", len(out.damaged)))
        out.damaged.append((b0, byte_at(end) - b0, reason))

    i = _WS.match(text, i).end()
    if text.startswith("]", i):
        return out
    while i < n:
        try:
            _, j = dec.raw_decode(text, i)
        except (ValueError, RecursionError) as e:
            reason = f"damaged JSON array element: {getattr(e, 'msg', e)}"
            nxt = _resync(text, i, dec)
            if nxt is None and not text.rstrip().endswith(("]", "}")):
                reason += " (the document ends inside it: truncated)"
            damaged(i, nxt if nxt is not None else n, reason)
            if nxt is None:
                break
            i = nxt
            continue
        out.order.append(("record", len(out.records)))
        out.records.append((text[i:j], byte_at(i)))
        k = _WS.match(text, j).end()
        if text.startswith(",", k):
            i = _WS.match(text, k + 1).end()
        elif text.startswith("]", k):
            _after_array(text, k + 1, wrapper is not None, damaged)
            break
        elif k >= n:
            damaged(j, n, "the document ends inside its records array (truncated)")
            break
        else:
            nxt = _resync(text, k, dec)
            damaged(k, nxt if nxt is not None else n, "unexpected text between JSON array elements")
            if nxt is None:
                break
            i = nxt
    else:  # the text ended after a comma, with no element and no closing bracket
        damaged(len(text), len(text), "the document ends inside its records array (truncated)")
    return out
