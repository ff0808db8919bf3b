"""The ``forensics sigma`` answer as text lines: what matched first, then every rule that did not
run or cannot match, with its reason. Rule text is attacker-reachable (a rule file from anywhere),
so every value goes through ``display.clean``."""

from __future__ import annotations

from collections import Counter

from forensics.display import clean
from forensics.sigma.run import STATUSES, Coverage

_HEADINGS = {
    "matched": "matched",
    "no_match": "ran, no match",
    "cannot_match": "cannot match as written",
    "no_records": "not run: no records of its source in the case",
    "no_loader": "not run: no loader for its logsource",
    "unsupported": "not run: not supported",
    "error": "indeterminate: the rule failed to run",
    "invalid": "not run: not a valid rule",
}


def summary_lines(coverage: list[Coverage], *, verbose: bool = False) -> list[str]:
    """Lead line (findings, matched rules, events), one line per status, then the rules per status;
    rules that ran without a match are listed only when ``verbose``."""
    counts = Counter(c.status for c in coverage)
    rules = {c.path + "#" + c.rule_id for c in coverage}
    matched = [c for c in coverage if c.status == "matched"]
    lines = [
        f"sigma: {sum(c.findings for c in matched)} findings from {len({c.rule_id for c in matched})} "
        f"matching rules ({sum(c.matches for c in matched)} events); {len(rules)} rules read; "
        + ", ".join(f"{counts[s]} {s}" for s in STATUSES if counts[s])
    ]
    for status in STATUSES:
        group = [c for c in coverage if c.status == status]
        if not group or (status == "no_match" and not verbose):
            continue
        lines.append(f"{_HEADINGS[status]} ({len(group)}):")
        for c in sorted(group, key=lambda c: (-c.matches, c.path)):
            where = f" on {c.source}" if c.source else ""
            head = f"  [{clean(c.level or '-', 13)}] {clean(c.title, 90)}{where}"
            if status == "matched":
                head += f": {c.matches} events, {c.findings} findings"
            if c.reason:
                head += f" - {clean(c.reason, 240)}"
            lines.append(head + f" ({clean(c.rule_id, 40)})")
    return lines
