"""The one redaction rule: whatever the kit prints or writes shows a detected secret only as
``<kind:fingerprint>`` (``fingerprint``, also ``forensics.display.fingerprint``, the same fingerprint ``secret_exposures``
stores, so a redacted value can be looked up there).

``redact_text`` for one string, ``redact_value`` for nested JSON-like values (a Kubernetes Secret's
``data`` / ``stringData`` values are secrets whatever they look like), ``redact_frame`` for a polars
frame (every string and list-of-string column). The frame form is vectorised: one polars regex over
each column finds the cells that may hold a secret; only those distinct cells are rewritten (with the
Python patterns below, which need capture groups and look-arounds that polars' ``replace_all`` cannot
apply with a computed fingerprint) and mapped back with ``Expr.replace``.

The patterns mirror ``queries/credentials/secret_exposures.sql`` (docs/credentials.md lists both).
An unlabelled 40-character AWS-secret-shaped token is redacted wherever it appears (it needs mixed
case and a digit or ``/`` or ``+``): output has no record context to look for its access key id, and
showing a false positive redacted is the fail-closed choice.
"""

from __future__ import annotations

import hashlib
import json
import re

import duckdb
import polars as pl

# (kind, pattern): group 1 is the secret. Order matters: the first pattern to claim a span wins.
PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "private_key_pem",
        re.compile(
            r"(-----BEGIN [A-Z ]*PRIVATE KEY-----[A-Za-z0-9+/=\s\\]*(?:-----END [A-Z ]*PRIVATE KEY-----)?)"
        ),
    ),
    ("url_password", re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://[^/\s:@\"'<>]*:([^/\s@\"'<>]+)@")),
    ("jwt", re.compile(r"(?<![A-Za-z0-9_-])(ey[A-Za-z0-9_-]{8,}\.ey[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*)")),
    ("github_token", re.compile(r"(?<![A-Za-z0-9_])((?:ghp|gho|ghs|ghu|ghr)_[A-Za-z0-9]{36,251})")),
    ("github_fine_grained_pat", re.compile(r"(?<![A-Za-z0-9_])(github_pat_[A-Za-z0-9_]{22,255})")),
    ("gitlab_pat", re.compile(r"(glpat-[A-Za-z0-9_-]{20,})")),
    ("slack_token", re.compile(r"(xox[abposr]-[A-Za-z0-9-]{10,})")),
    (
        "gcp_service_account_key",
        re.compile(r"\"?private_key_id\"?\s*[:=]\s*\"?([0-9a-f]{40})"),
    ),
    # labelled: whatever follows it (a path's "/" included, which the unlabelled form must refuse)
    (
        "aws_secret_access_key",
        re.compile(r"(?i)aws_?secret_?(?:access_?)?key[\"'\s]*[:=][\"'\s]*([A-Za-z0-9/+]{40})"),
    ),
    (
        "aws_secret_access_key",
        re.compile(
            r"(?<![A-Za-z0-9/+=])(?=[A-Za-z0-9/+]{0,39}[A-Z])(?=[A-Za-z0-9/+]{0,39}[a-z])"
            r"(?=[A-Za-z0-9/+]{0,39}[0-9/+])([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"
        ),
    ),
)

# A superset of every pattern, in polars' (Rust) regex dialect: the cheap vectorised prefilter.
HINT = (
    r"PRIVATE KEY|://[^/\s@]*:[^/\s@]*@|ey[A-Za-z0-9_-]{8,}\.ey|gh[pousr]_|github_pat_|glpat-|xox[abposr]-"
    r"|private_key_id|[A-Za-z0-9/+]{40}|\"Secret\""
)
_HINT = re.compile(HINT)
_SECRET_KIND = re.compile(r"\"kind\"\s*:\s*\"Secret\"")


def fingerprint(secret: str) -> str:
    """A short, stable, non-reversible label for a secret: ``sha256:`` and 12 hex characters."""
    return "sha256:" + hashlib.sha256(secret.encode("utf-8", errors="surrogatepass")).hexdigest()[:12]


def token(kind: str, secret: str) -> str:
    """How a secret is shown: ``<kind:sha256:…>``."""
    return f"<{kind}:{fingerprint(secret)}>"


def redact_text(text: str | None) -> str | None:
    """``text`` with every detected secret replaced by ``<kind:fingerprint>``. A text that is a JSON
    document holding a Kubernetes Secret has that Secret's data redacted too (re-serialised)."""
    if text is None or not _HINT.search(text):
        return text
    if _SECRET_KIND.search(text) and text.lstrip()[:1] in ("{", "["):
        try:
            doc = json.loads(text)
        except ValueError:
            doc = None
        if doc is not None:
            return json.dumps(redact_value(doc), ensure_ascii=False)
    for kind, rx in PATTERNS:
        text = rx.sub(lambda m, k=kind: _swap(m, k), text)
    return text


def _swap(m: re.Match[str], kind: str) -> str:
    whole, secret = m.group(0), m.group(1)
    start = m.start(1) - m.start(0)
    return whole[:start] + token(kind, secret) + whole[start + len(secret) :]


def redact_value(v):
    """A nested JSON-like value (dicts, lists, strings, numbers) with every string redacted
    (``redact_text``) and every value of a Kubernetes Secret's ``data``/``stringData`` replaced."""
    if isinstance(v, str):
        return redact_text(v)
    if isinstance(v, list | tuple):
        return [redact_value(x) for x in v]
    if isinstance(v, dict):
        is_secret = v.get("kind") == "Secret"
        out = {}
        for k, x in v.items():
            if is_secret and k in ("data", "stringData") and isinstance(x, dict):
                out[k] = {
                    dk: token("kubernetes_secret", dv) if isinstance(dv, str) else redact_value(dv)
                    for dk, dv in x.items()
                }
            else:
                out[redact_text(k) if isinstance(k, str) else k] = redact_value(x)
        return out
    return v


def _is_text(dtype: pl.DataType) -> bool:
    return dtype == pl.String or (isinstance(dtype, pl.List) and dtype.inner == pl.String)


def _nested_text(dtype: pl.DataType) -> bool:
    return (
        isinstance(dtype, pl.List | pl.Array | pl.Struct) and not _is_text(dtype) and "String" in str(dtype)
    )


def redact_frame(df: pl.DataFrame) -> pl.DataFrame:
    """``df`` with every string and list-of-string column redacted (``redact_text``); column names too.
    Other nested columns holding strings (lists of structs such as a finding's entities) are redacted
    value by value (``redact_value``) when any value may hold a secret."""
    cols = [c for c, t in df.schema.items() if _is_text(t)]
    # one pass over every string column at once says which hold a hint at all (most hold none)
    plain = [c for c in cols if df.schema[c] == pl.String]
    if plain and df.height:
        hinted = df.select(pl.col(c).str.contains(HINT).any() for c in plain).row(0)
        quiet = {c for c, hit in zip(plain, hinted, strict=True) if not hit}
        cols = [c for c in cols if c not in quiet]
    exprs: list[pl.Expr | pl.Series] = []
    for c, t in df.schema.items():
        if _nested_text(t):
            values = df[c].to_list()
            if any(v is not None and _HINT.search(json.dumps(v, default=str)) for v in values):
                exprs.append(pl.Series(c, [redact_value(v) for v in values], dtype=t))
    for c in cols:
        s = df[c]
        if isinstance(s.dtype, pl.List):
            s = s.explode()
        hits = s.filter(s.str.contains(HINT)).unique().to_list()
        if not hits:
            continue
        new = [redact_text(h) for h in hits]
        pairs = [(h, n) for h, n in zip(hits, new, strict=True) if h != n]
        if not pairs:
            continue
        old, rep = [p[0] for p in pairs], [p[1] for p in pairs]
        if isinstance(df.schema[c], pl.List):
            exprs.append(pl.col(c).list.eval(pl.element().replace(old, rep)))
        else:
            exprs.append(pl.col(c).replace(old, rep))
    out = df.with_columns(exprs) if exprs else df
    renamed = {c: redact_text(c) for c in out.columns if redact_text(c) != c}
    return out.rename(renamed) if renamed else out


# The same rule in SQL (RE2 has no look-arounds: group 1 is the secret, the boundary characters are
# consumed around it), for derived tables written by DuckDB. ``fx_redact(s)`` is a macro per
# connection, installed by ``install_sql``; ``secret_exposures.sql`` fingerprints the same way.
SQL_PATTERNS: tuple[tuple[str, str], ...] = (
    (
        "private_key_pem",
        r"(-----BEGIN [A-Z ]*PRIVATE KEY-----[A-Za-z0-9+/=\s\\]*(?:-----END [A-Z ]*PRIVATE KEY-----)?)",
    ),
    ("url_password", r"(?i)(?:^|[^a-z0-9+.-])[a-z][a-z0-9+.-]*://[^/\s:@\"'<>]*:([^/\s@\"'<>]+)@"),
    ("jwt", r"(?:^|[^A-Za-z0-9_-])(ey[A-Za-z0-9_-]{8,}\.ey[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*)"),
    ("github_token", r"(?:^|[^A-Za-z0-9_])((?:ghp|gho|ghs|ghu|ghr)_[A-Za-z0-9]{36,251})"),
    ("github_fine_grained_pat", r"(?:^|[^A-Za-z0-9_])(github_pat_[A-Za-z0-9_]{22,255})"),
    ("gitlab_pat", r"(glpat-[A-Za-z0-9_-]{20,})"),
    ("slack_token", r"(xox[abposr]-[A-Za-z0-9-]{10,})"),
    ("gcp_service_account_key", r"\"?private_key_id\"?\s*[:=]\s*\"?([0-9a-f]{40})"),
    (
        "aws_secret_access_key_labelled",
        r"(?i)aws_?secret_?(?:access_?)?key[\"'\s]*[:=][\"'\s]*([A-Za-z0-9/+]{40})",
    ),
    ("aws_secret_access_key", r"(?:^|[^A-Za-z0-9/+=])([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)"),
)


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def macro_sql(persistent: bool = False) -> str:
    """``CREATE OR REPLACE [TEMP] MACRO fx_redact(s)``: ``redact_text`` in DuckDB, one nested
    ``list_reduce`` per pattern over its matches. Patterns are constants in the SQL text (code, not
    values), so that each compiles once: a pattern taken from a list column would be compiled per
    row, 10 times slower on a whole ingest. Its scalar subqueries make it unusable inside lambdas
    (redact a list by joining it with newlines). Persistent in a writable case, so that cursors and
    derivations see it."""
    body = "s"
    for kind, rx in SQL_PATTERNS:
        found = f"regexp_extract_all(acc_{kind}, {_sql_literal(rx)}, 1)"
        if kind == "aws_secret_access_key":
            found = (
                f"list_filter({found}, lambda m: regexp_matches(m, '[A-Z]') AND regexp_matches(m, '[a-z]')"
                " AND regexp_matches(m, '[0-9/+]'))"
            )
        body = (
            f"(SELECT list_reduce({found}, lambda acc, m: replace(acc, m, "
            f"'<{kind.removesuffix('_labelled')}:sha256:' || left(sha256(m), 12) || '>'), acc_{kind}) FROM (SELECT {body} AS acc_{kind}))"
        )
    return (
        f"CREATE OR REPLACE {'' if persistent else 'TEMP '}MACRO fx_redact(s) AS CASE WHEN s IS NULL OR NOT "
        f"regexp_matches(s, {_sql_literal(HINT)}) THEN s ELSE {body} END"
    )


def install_sql(con: duckdb.DuckDBPyConnection, persistent: bool = False) -> None:
    """Install ``fx_redact`` on a DuckDB connection (``persistent``: in the database's catalog)."""
    con.execute(macro_sql(persistent))
