"""Timeline pivots: the WHERE clause and bound values for ``Case.timeline``'s ``actors``, ``ips``
(addresses or CIDR blocks), ``credentials``, ``entity`` and ``finding`` filters."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

import duckdb

from forensics.errors import ForensicsError
from forensics.findings.entities import resolve
from forensics.redact import redact_text


class UnknownFinding(ForensicsError):
    pass


class BadAddress(ForensicsError):
    pass


#: Events within this much of a finding's first and last evidence, touching its entities, are its window.
FINDING_WINDOW = timedelta(minutes=15)


@dataclass
class Pivot:
    where: list[str] = field(default_factory=list)
    params: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # what each filter matched, for the user


def _networks(values: Iterable[str]):
    nets = []
    for v in values:
        try:
            nets.append(ipaddress.ip_network(v.strip(), strict=False))
        except ValueError as e:
            raise BadAddress(
                f"{v!r} is not an IP address or CIDR block (e.g. 203.0.113.66 or 203.0.113.0/24)"
            ) from e
    return nets


def _matching_ips(con: duckdb.DuckDBPyConnection, values: list[str]) -> list[str]:
    # CIDR membership is checked with Python's ipaddress over the case's DISTINCT addresses (not its
    # events): DuckDB's inet extension is not bundled and may not be installable offline.
    nets = _networks(values)
    found = []
    for (ip,) in con.execute("SELECT DISTINCT src_ip FROM events WHERE src_ip IS NOT NULL").fetchall():
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            continue
        if any(addr.version == n.version and addr in n for n in nets):
            found.append(ip)
    return sorted(found)


def build(
    con: duckdb.DuckDBPyConnection, *, actors=None, ips=None, credentials=None, entity=None, finding=None
) -> Pivot:
    p = Pivot()
    con.complete()
    for key, names in (("actor_ids", list(actors or [])), ("entity_ids", [entity] if entity else [])):
        if names:
            m = resolve(con, names)
            p.where.append(f"(list_contains(${key}, actor) OR list_contains(${key}, credential_id))")
            p.params[key] = m.ids
            p.notes.append(m.describe())
    if ips:
        found = _matching_ips(con, list(ips))
        p.where.append("list_contains($ips, src_ip)")
        p.params["ips"] = found
        p.notes.append(
            f"{', '.join(ips)} matched {len(found)} address(es): {', '.join(found[:10]) or 'none'}"
        )
    if credentials:
        p.where.append("list_contains($creds, credential_id)")
        # a token given in full finds the events that hold its fingerprint (events.credential_id)
        p.params["creds"] = list(dict.fromkeys([*credentials, *(redact_text(c) or c for c in credentials)]))
    if finding:
        rows = con.execute(
            "SELECT time, \"end\", [e.id FOR e IN evidence IF e.kind = 'event'],"
            " [e.id FOR e IN entities IF e.kind IN ('actor', 'credential', 'ip')], title"
            " FROM findings WHERE finding_id = $f",
            {"f": finding},
        ).fetchall()
        if not rows:
            raise UnknownFinding(
                f"no finding {finding!r} in the case; list them with: forensics findings --case CASE"
            )
        t0, t1, ev, ents, title = rows[0]
        p.where.append(
            "(list_contains($f_events, event_id) OR (time >= $f_t0 AND time <= $f_t1"
            " AND (list_contains($f_ents, actor) OR list_contains($f_ents, credential_id)"
            " OR list_contains($f_ents, src_ip))))"
        )
        p.params |= {
            "f_events": ev or [],
            "f_ents": ents or [],
            "f_t0": (t0 - FINDING_WINDOW) if t0 else None,
            "f_t1": ((t1 or t0) + FINDING_WINDOW) if t0 else None,
        }
        p.notes.append(f"finding {finding} ({title}): {len(ev or [])} evidence events and a 15-minute window")
    return p
