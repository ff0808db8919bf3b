"""Loaders own their facts (issue 14, part 4): a source contributes credential links, revocations,
credential kinds and deploys through the contract's fact hooks; ``forensics/derive`` unions them and
never names a source. Source names are spelled once, in their source."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

import forensics
from forensics.sources import registry
from forensics.sources.contract import Detection, Probe, Source

PKG = Path(forensics.__file__).parent

_EVENTS = """
SELECT record_no, fx_time(doc->>'t', false) AS time, fx_time_problem(doc->>'t', false) AS time_problem,
       doc->>'t' AS time_raw, 'audit' AS category, doc->>'op' AS action, doc->>'user' AS actor,
       doc->>'token' AS credential_id, doc->>'service' AS service, doc->>'digest' AS artifact_digest,
       'success' AS outcome, 'test records succeed' AS outcome_reason
FROM {batch}
"""


class _Acme(Source):
    """A made-up identity provider that no derivation has heard of."""

    name = "acme_idp"
    category = "audit"

    def detect(self, probe: Probe) -> Detection:
        return Detection.CERTAIN if probe.first.get("acme") else Detection.NO

    def events_sql(self) -> str:
        return _EVENTS


class _AcmeWithFacts(_Acme):
    def credential_links_sql(self) -> str:
        return """SELECT raw->>'minted' AS credential_id, credential_id AS issued_by, actor AS issuer_principal,
                         actor AS principal, 'acme:mint' AS how, time AS issued_at,
                         CAST(NULL AS TIMESTAMPTZ) AS expires_at, event_id
                  FROM events WHERE source = {source} AND action = 'mint'"""

    def credential_states_sql(self) -> str:
        return """SELECT raw->>'revoked' AS credential_id, event_id, time, 'revoked' AS change, 'acme:revoke' AS how
                  FROM events WHERE source = {source} AND action = 'revoke'"""

    def credential_kinds_sql(self) -> str:
        return "SELECT DISTINCT credential_id, 'acme_token' AS kind FROM credential_links"

    def deploys_sql(self) -> str:
        return """SELECT event_id, time, time_raw, service, 'prod' AS environment, NULL AS instance,
                         NULL AS version, artifact_digest, NULL AS image, actor, 'pipeline' AS via,
                         'deploy' AS action, outcome AS status, outcome_reason AS status_detail, source,
                         evidence_sha256, evidence_record, false AS inferred
                  FROM events WHERE source = {source} AND action = 'ship'"""


RECORDS = [
    {"acme": 1, "t": "2026-03-14T09:00:00Z", "op": "login", "user": "alice", "token": "tok-root"},
    {
        "acme": 1,
        "t": "2026-03-14T09:01:00Z",
        "op": "mint",
        "user": "alice",
        "token": "tok-root",
        "minted": "tok-2",
    },
    {"acme": 1, "t": "2026-03-14T09:02:00Z", "op": "read", "user": "alice", "token": "tok-2"},
    {
        "acme": 1,
        "t": "2026-03-14T09:03:00Z",
        "op": "revoke",
        "user": "bob",
        "token": "tok-bob",
        "revoked": "tok-2",
    },
    {"acme": 1, "t": "2026-03-14T09:04:00Z", "op": "read", "user": "alice", "token": "tok-2"},
    {"acme": 1, "t": "2026-03-14T09:05:00Z", "op": "read", "user": "alice", "token": "tok-2"},
    {
        "acme": 1,
        "t": "2026-03-14T09:06:00Z",
        "op": "ship",
        "user": "ci",
        "service": "payments",
        "digest": "sha256:" + "ab" * 32,
    },
]


def _ingest(case, tmp_path, monkeypatch, source: Source) -> None:
    known = registry.all_sources()
    monkeypatch.setattr(registry, "all_sources", lambda: (*known, source))
    p = tmp_path / "acme.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in RECORDS))
    (res,) = case.ingest([p])
    assert (res.loader, res.records_loaded) == (source.name, len(RECORDS)), res


def test_derive_takes_a_new_sources_facts_through_the_contract(case, tmp_path, monkeypatch):
    _ingest(case, tmp_path, monkeypatch, _AcmeWithFacts())
    minted = next(r for r in RECORDS if r["op"] == "mint")
    revoke = next(r for r in RECORDS if r["op"] == "revoke")
    uses_after = [r for r in RECORDS if r.get("token") == "tok-2" and r["t"] > revoke["t"]]
    row = case.sql(
        "SELECT kind, issued_by, strftime(revoked_at, '%Y-%m-%dT%H:%M:%SZ') AS revoked, revoked_how,"
        " used_after_revoke, source FROM credentials WHERE credential_id = 'tok-2'"
    ).to_dicts()
    assert row == [
        {
            "kind": "acme_token",
            "issued_by": minted["token"],
            "revoked": revoke["t"],
            "revoked_how": f"acme:revoke ({revoke['t'][:10]} {revoke['t'][11:19]})",
            "used_after_revoke": len(uses_after),
            "source": "acme_idp",
        }
    ]
    links = case.sql("SELECT credential_id, issued_by, how FROM credential_links").rows()
    assert links == [("tok-2", "tok-root", "acme:mint")]
    ship = next(r for r in RECORDS if r["op"] == "ship")
    deploys = case.sql("SELECT service, artifact_digest, source FROM deploys").rows()
    assert deploys == [(ship["service"], ship["digest"], "acme_idp")]


def test_without_facts_derive_knows_nothing_of_a_source(case, tmp_path, monkeypatch):
    _ingest(case, tmp_path, monkeypatch, _Acme())
    rows = case.sql("SELECT credential_id, kind, revoked_at FROM credentials ORDER BY 1").rows()
    used = sorted({r["token"] for r in RECORDS if r.get("token")})
    assert rows == [(t, "other", None) for t in used]  # no link, no revocation, no kind: nobody said
    assert case.sql("SELECT count(*) FROM credential_links").item() == 0
    assert case.sql("SELECT count(*) FROM deploys").item() == 0


def _py_files(*exclude: str) -> list[Path]:
    return [p for p in PKG.rglob("*.py") if not any(part in exclude for part in p.relative_to(PKG).parts)]


def test_derive_matches_no_source_by_name():
    """No SQL outside the sources compares ``source`` with a literal; no string equals a source name."""
    names = set(registry.names())
    compare = re.compile(r"\bsource\s*(?:=|<>|!=|LIKE|ILIKE|IN)\s*\(?\s*'", re.I)
    tables = {"deploys"}  # a source name that is also the name of a case table
    offenders = []
    for path in _py_files("sources", "sample"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = node.value
                if compare.search(text) or (text in names and text not in tables):
                    offenders.append(f"{path.relative_to(PKG)}:{node.lineno}: {text[:80]!r}")
    assert offenders == []


@pytest.mark.parametrize(
    "hook",
    [
        "credential_links_sql",
        "credential_states_sql",
        "principal_revocations_sql",
        "credential_kinds_sql",
        "credential_sessions_sql",
        "deploys_sql",
        "ci_runs_sql",
        "runtime_sql",
        "identity_links_sql",
    ],
)
def test_every_fact_a_source_gives_names_only_its_own_events(hook):
    """A fact hook selects its own source's events through ``{source}``, never by spelling a name."""
    for s in registry.all_sources():
        sql = getattr(s, hook)()
        if sql is None:
            continue
        for name in registry.names():
            assert f"'{name}'" not in sql, (s.name, hook, name)
        if "FROM events" in sql and hook != "credential_kinds_sql":
            assert "{source}" in sql, (s.name, hook)
