"""Entities linked across sources by explicit evidence only (docs/findings.md, "Entities"):
a credential and the principal its events act as, a session and the key that assumed it, a key and
the runner whose log printed it, a role session and its role, and declared aliases. Names resolve
to identities by exact id, ARN suffix, role name or user name, and say what they matched."""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from forensics.errors import ForensicsError


class UnknownEntity(ForensicsError):
    """A name that matches no identity in the case; the message lists the nearest names."""


class BadAliasFile(ForensicsError):
    pass


_LINKS_SQL = """
INSERT INTO entity_links
SELECT 'credential', c.credential_id, 'actor', c.principal, true,
       'events made with ' || c.credential_id || ' act as ' || c.principal, 'event', f.event_id
FROM credentials c
LEFT JOIN (SELECT credential_id, arg_min(event_id, time) AS event_id FROM events
           WHERE credential_id IS NOT NULL GROUP BY credential_id) f USING (credential_id)
WHERE c.principal IS NOT NULL
UNION ALL
SELECT 'credential', l.credential_id, 'credential', l.issued_by, NOT (l.how ILIKE '%CreateAccessKey%'),
       l.how || ' with ' || l.issued_by || ' minted ' || l.credential_id, 'event', l.event_id
FROM credential_links l WHERE l.issued_by IS NOT NULL
UNION ALL
SELECT 'actor', l.principal, 'actor', l.issuer_principal, NOT (l.how ILIKE '%CreateAccessKey%'),
       l.issuer_principal || ' called ' || l.how || ', giving ' || l.principal, 'event', l.event_id
FROM credential_links l WHERE l.principal IS NOT NULL AND l.issuer_principal IS NOT NULL
  AND l.principal <> l.issuer_principal
UNION ALL
SELECT DISTINCT 'credential', x.credential_id, 'host', x.actor, false,
       x.kind || ' of ' || x.credential_id || ' written to ' || coalesce(x.source, x.location) || ' by ' || x.actor,
       CASE WHEN x.event_id IS NOT NULL THEN 'event' ELSE 'evidence' END, coalesce(x.event_id, x.evidence_sha256)
FROM secret_exposures x WHERE x.credential_id IS NOT NULL AND x.actor IS NOT NULL
UNION ALL
SELECT DISTINCT 'actor', a.actor, 'actor',
       'arn:aws:iam::' || regexp_extract(a.actor, '^arn:aws:sts::([0-9]+):', 1) || ':role/'
           || regexp_extract(a.actor, ':assumed-role/([^/]+)/', 1),
       false, 'the session ARN names its role', NULL, NULL
FROM (SELECT DISTINCT actor FROM events WHERE actor LIKE 'arn:aws:sts::%:assumed-role/%/%') a
UNION ALL
-- the identity links the sources give (Source.identity_links_sql: an impersonated Kubernetes user,
-- an Azure managed identity)
SELECT kind, id, linked_kind, linked_id, same_principal, reason, evidence_kind, evidence_id
FROM ({identity_links}) WHERE id IS NOT NULL AND linked_id IS NOT NULL
UNION ALL
SELECT 'actor', id, 'actor', alias, true, reason, 'alias_file', declared_in FROM entity_aliases
"""


def derive_links(con: duckdb.DuckDBPyConnection) -> None:
    """Rebuild ``entity_links`` from credentials, credential_links, secret_exposures and aliases."""
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM entity_links")
        from forensics.derive import facts

        con.execute(_LINKS_SQL.format(identity_links=facts.union("identity_links_sql")))
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def load_aliases(con: duckdb.DuckDBPyConnection, path: str | Path) -> int:
    """Declare aliases from a TOML file: ``[[alias]] ids = ["deploy-bot", "arn:aws:iam::1:user/deploy-bot"]``
    and ``reason = "..."``; every id in one entry is linked to the first. Replaces this file's earlier rows."""
    try:
        doc = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise BadAliasFile(f"cannot read alias file {path}: {e}; see docs/findings.md for its format") from e
    rows = []
    for i, entry in enumerate(doc.get("alias", [])):
        ids, reason = entry.get("ids"), entry.get("reason")
        if (
            not isinstance(ids, list)
            or len(ids) < 2
            or not all(isinstance(x, str) for x in ids)
            or not reason
        ):
            raise BadAliasFile(f"{path}: alias {i + 1} needs ids (two or more names) and a reason")
        rows += [(ids[0], other, str(reason), str(path)) for other in ids[1:]]
    con.execute("DELETE FROM entity_aliases WHERE declared_in = $p", {"p": str(path)})
    if rows:
        con.executemany("INSERT INTO entity_aliases VALUES (?, ?, ?, ?)", rows)
    derive_links(con)
    return len(rows)


_NAMES = """
SELECT DISTINCT actor AS id FROM events WHERE actor IS NOT NULL
UNION SELECT credential_id FROM credentials
UNION SELECT principal FROM credentials WHERE principal IS NOT NULL
UNION SELECT linked_id FROM entity_links
"""

_MATCH = f"""
WITH names AS ({_NAMES})
SELECT id, CASE WHEN id = $n THEN 'exact id'
                WHEN regexp_matches(id, ':assumed-role/' || regexp_escape($n) || '/') THEN 'role name (assumed-role session)'
                WHEN regexp_matches(id, ':role/(.*/)?' || regexp_escape($n) || '$') THEN 'role name'
                WHEN regexp_matches(id, ':user/(.*/)?' || regexp_escape($n) || '$') THEN 'user name'
                WHEN regexp_matches(id, '^system:serviceaccount:[^:]+:' || regexp_escape($n) || '$') THEN 'service account name'
                ELSE 'ARN suffix' END AS matched_by
FROM names
WHERE id = $n OR id LIKE '%/' || $n OR id LIKE '%:' || $n
   OR regexp_matches(id, ':assumed-role/' || regexp_escape($n) || '/')
ORDER BY id
"""

_EXPAND = """
WITH RECURSIVE pairs AS (
    SELECT id AS a, linked_id AS b FROM entity_links WHERE same_principal
    UNION ALL SELECT linked_id, id FROM entity_links WHERE same_principal
), reach(id, via, depth) AS (
    SELECT unnest($ids), 'matched', 0
    UNION
    SELECT p.b, r.id, r.depth + 1 FROM reach r JOIN pairs p ON p.a = r.id WHERE r.depth < 8
)
SELECT id, min(depth) AS depth, arg_min(via, depth) AS via FROM reach GROUP BY id ORDER BY depth, id
"""


@dataclass
class Match:
    """What a name matched: the identities (id, matched_by) and, through links, every identity
    acting as the same principal (id, depth, via)."""

    name: str
    matched: pl.DataFrame
    identities: pl.DataFrame

    def describe(self) -> str:
        m = "; ".join(f"{i} ({how})" for i, how in self.matched.iter_rows())
        extra = self.identities.height - self.matched.height
        return f"{self.name!r} matched {m}" + (f", and {extra} linked identities" if extra > 0 else "")

    @property
    def ids(self) -> list[str]:
        return self.identities["id"].to_list()


def _frame(con: duckdb.DuckDBPyConnection, sql: str, params: dict) -> pl.DataFrame:
    con.complete()
    return con.sql(sql, params=params).pl()


def nearest(con: duckdb.DuckDBPyConnection, name: str, n: int = 5) -> list[str]:
    names = [r[0] for r in con.execute(_NAMES).fetchall()]
    short = {x.rsplit("/", 1)[-1].rsplit(":", 1)[-1]: x for x in names}
    close = difflib.get_close_matches(name, list(short), n=n, cutoff=0.5)
    return [short[c] for c in close] or difflib.get_close_matches(name, names, n=n, cutoff=0.3)


def resolve(con: duckdb.DuckDBPyConnection, names: list[str] | tuple[str, ...]) -> Match:
    """Resolve names (ids, ARN suffixes, role or user names) to identities and their linked
    identities. Raises UnknownEntity, with the nearest names, when one matches nothing."""
    frames = []
    for name in names:
        m = _frame(con, _MATCH, {"n": name})
        if m.is_empty():
            near = nearest(con, name)
            hint = f"; nearest: {', '.join(near)}" if near else "; the case holds no similar name"
            raise UnknownEntity(f"no identity in the case matches {name!r}{hint}")
        frames.append(m)
    matched = pl.concat(frames).unique("id", keep="first", maintain_order=True)
    idents = _frame(con, _EXPAND, {"ids": matched["id"].to_list()})
    return Match(", ".join(names), matched, idents)


def entity_links_of(con: duckdb.DuckDBPyConnection, ids: list[str]) -> pl.DataFrame:
    """Every link touching ``ids`` (same principal or not), with its reason and evidence."""
    return _frame(
        con,
        "SELECT * FROM entity_links WHERE list_contains($ids, id) OR list_contains($ids, linked_id)"
        " ORDER BY same_principal DESC, kind, id, linked_id",
        {"ids": ids},
    )
