"""All 114 SigmaHQ rules on the real files in ../shared/data, rule by rule and count by count, against
a small reference evaluator written here: it reads the JSON records with ``json`` and walks pySigma's
parsed condition in Python (no SQL, no kit code), so the kit's compiler is checked by something
that shares only pySigma's parser with it."""

from __future__ import annotations

import ipaddress
import json
import re
from collections import Counter

import pytest
from sigma.collection import SigmaCollection
from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.types import (
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaString,
    SpecialChars,
)

pytestmark = pytest.mark.realdata

# the test's own reading of the logsources and of each source's record id
SOURCES = {
    ("aws", "cloudtrail"): "ct",
    ("kubernetes", "audit"): "k8s",
    ("github", "audit"): "gh",
    ("gcp", "gcp.audit"): "gcp",
}
ID_KEY = {"ct": "eventID", "k8s": "auditID", "gh": "_document_id", "gcp": "insertId"}
KIT_SOURCE = {"ct": "cloudtrail", "k8s": "k8s_audit", "gh": "github_audit", "gcp": "gcp_audit"}


def _records(shared) -> dict[str, list[dict]]:
    a = shared / "audit_logs"
    out: dict[str, list[dict]] = {"ct": [], "k8s": [], "gh": [], "gcp": []}
    for f in sorted((a / "aws_cloudtrail_invictus-stratus").glob("*.json")):
        out["ct"] += json.loads(f.read_text())["Records"]
    for f in sorted((a / "aws_otrf").glob("*.json")):
        out["ct"] += [json.loads(line) for line in f.read_text().splitlines() if line.strip()]
    for f in sorted((a / "k8s_audit_falco").glob("*.json")):
        for line in f.read_text().splitlines():
            rec = json.loads(line) if line.strip() else None
            if isinstance(rec, dict) and rec.get("auditID"):  # the malformed {"kind": 0} has no event
                out["k8s"].append(rec)
    out["gh"] = json.loads((a / "github_audit_api" / "ghec-openapi-example__audit-log.json").read_text())
    for f in sorted((a / "gcp_audit").glob("*.json")):
        out["gcp"].append(json.loads(f.read_text()))
    return out


def _text(v) -> str | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return v
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False)


def values(rec: dict, field: str) -> list:
    """Every value at a dotted path, stepping into lists on the way; a list leaf gives its items."""
    cur = [rec]
    for key in field.split("."):
        nxt = []
        for v in cur:
            for item in v if isinstance(v, list) else [v]:
                if isinstance(item, dict) and key in item:
                    nxt.append(item[key])
        cur = nxt
    flat = []
    for v in cur:
        flat += v if isinstance(v, list) else [v]
    return [_text(v) for v in flat]


def _pattern(s: SigmaString) -> re.Pattern:
    rx = "".join(
        ".*"
        if p == SpecialChars.WILDCARD_MULTI
        else "."
        if p == SpecialChars.WILDCARD_SINGLE
        else re.escape(p)
        for p in s.s
    )
    return re.compile(rx, re.S | (0 if isinstance(s, SigmaCasedString) else re.I))


def leaf(rec: dict, field: str, v) -> bool:
    vals = values(rec, field)
    present = [x for x in vals if x is not None]
    if isinstance(v, SigmaExpansion):
        return any(leaf(rec, field, x) for x in v.values)
    if isinstance(v, SigmaNull):
        return not present
    if isinstance(v, SigmaExists):
        return bool(present) == v.exists
    if isinstance(v, SigmaString):
        return any(_pattern(v).fullmatch(x) for x in present)
    if isinstance(v, SigmaRegularExpression):
        flags = {"IGNORECASE": re.I, "MULTILINE": re.M, "DOTALL": re.S}
        f = sum(flags[x.name] for x in v.flags)
        return any(re.search(str(v.regexp), x, f) for x in present)
    if isinstance(v, SigmaNumber | SigmaCompareExpression):
        n = float(v.number.number if isinstance(v, SigmaCompareExpression) else v.number)
        op = {"LT": float.__lt__, "LTE": float.__le__, "GT": float.__gt__, "GTE": float.__ge__}
        test = op[v.op.name] if isinstance(v, SigmaCompareExpression) else float.__eq__
        out = False
        for x in present:
            try:
                out |= test(float(x), n)
            except ValueError:
                pass
        return out
    if isinstance(v, SigmaBool):
        return any(x.lower() == ("true" if v.boolean else "false") for x in present)
    if isinstance(v, SigmaCIDRExpression):
        net = ipaddress.ip_network(v.cidr)
        out = False
        for x in present:
            try:
                out |= ipaddress.ip_address(x) in net
            except ValueError:
                pass
        return out
    if isinstance(v, SigmaFieldReference):
        others = [y.lower() for y in values(rec, v.field) if y is not None]
        return any(
            (
                x.lower().startswith(y)
                if v.starts_with and not v.ends_with
                else x.lower().endswith(y)
                if v.ends_with and not v.starts_with
                else y in x.lower()
                if v.starts_with
                else x.lower() == y
            )
            for x in present
            for y in others
        )
    raise AssertionError(f"reference evaluator has no case for {type(v).__name__}")


def evaluate(rec: dict, cond) -> bool:
    if isinstance(cond, ConditionAND):
        return all(evaluate(rec, a) for a in cond.args)
    if isinstance(cond, ConditionOR):
        return any(evaluate(rec, a) for a in cond.args)
    if isinstance(cond, ConditionNOT):
        return not evaluate(rec, cond.args[0])
    if isinstance(cond, ConditionFieldEqualsValueExpression):
        return leaf(rec, cond.field, cond.value)
    if isinstance(cond, ConditionValueExpression):
        text = json.dumps(rec, separators=(",", ":"), ensure_ascii=False)
        return bool(
            _pattern(SpecialChars.WILDCARD_MULTI + cond.value + SpecialChars.WILDCARD_MULTI).fullmatch(text)
        )
    raise AssertionError(type(cond).__name__)


@pytest.fixture(scope="module")
def real_case(shared_data, tmp_path_factory):
    import forensics

    a = shared_data / "audit_logs"
    case = forensics.open_case(tmp_path_factory.mktemp("sigma_real") / "case.duckdb")
    case.ingest(
        [
            a / d
            for d in (
                "aws_cloudtrail_invictus-stratus",
                "aws_otrf",
                "k8s_audit_falco",
                "k8s_audit_v1",
                "github_audit_api",
                "gcp_audit",
            )
        ]
    )
    cov = case.sigma(shared_data / "sigma")
    yield case, cov
    case.close()


def test_all_114_rules_have_a_stated_coverage(real_case, shared_data):
    _, cov = real_case
    files = {str(p) for p in (shared_data / "sigma").rglob("*.yml")}
    assert len(files) == 114 and {c.path for c in cov} == files
    assert all(c.status != "invalid" and (c.status in ("matched", "no_match") or c.reason) for c in cov)


def test_matches_equal_an_independent_evaluation(real_case, shared_data):
    case, cov = real_case
    recs = _records(shared_data)
    kit = case.sql(
        """SELECT f.rule_id, f.attributes->>'$.source' AS source,
                  coalesce(e.raw->>'$.eventID', e.raw->>'$.auditID', e.raw->>'$._document_id', e.raw->>'$.insertId') AS id
           FROM findings f, unnest(f.evidence) AS u(ev) JOIN events e ON e.event_id = ev.id
           WHERE f.detector = 'sigma'"""
    )
    got: dict[tuple[str, str], Counter] = {}
    for rid, src, eid in kit.iter_rows():
        got.setdefault((rid, src), Counter())[eid] += 1
    compared = 0
    expected_any = 0
    for path in sorted((shared_data / "sigma").rglob("*.yml")):
        rule = SigmaCollection.from_yaml(path.read_text()).rules[0]
        key = SOURCES.get((rule.logsource.product, rule.logsource.service))
        if key is None:
            continue
        cond = rule.detection.parsed_condition[0].parsed
        want = Counter(r[ID_KEY[key]] for r in recs[key] if evaluate(r, cond))
        assert got.get((str(rule.id), KIT_SOURCE[key]), Counter()) == want, path.name
        row = [c for c in cov if c.path == str(path) and c.source == KIT_SOURCE[key]]
        assert row and row[0].matches == sum(want.values()), path.name
        if row[0].status == "cannot_match":
            assert not want, path.name
        compared += 1
        expected_any += bool(want)
    assert compared == 104 and expected_any >= 8


def test_kubernetes_rules_on_the_flattened_csv_say_they_cannot_match(real_case):
    _, cov = real_case
    csv = [c for c in cov if c.source == "k8s_audit_csv"]
    assert len(csv) == 16 and all(
        c.status == "cannot_match" and "never in k8s_audit_csv" in c.reason for c in csv
    )
