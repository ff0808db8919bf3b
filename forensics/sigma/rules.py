"""Sigma rule files, read by pySigma, and the table from a rule's ``logsource`` to the kit's sources.

A rule's ``logsource`` names the platform (``product``) and log (``service``); the kit's loaders name
the ``events.source`` they write. ``LOGSOURCES`` is that table (docs/sigma.md shows it); a rule whose
logsource is not in it, or whose source has no loader in the kit, is reported as such, never run.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule

from forensics.errors import ForensicsError
from forensics.sources import registry


#: (product, service) of a Sigma logsource -> the events.source values the kit's loaders write for it,
#: from what each source declares (``Source.sigma_logsources``). Kubernetes audit covers the kit's CSV
#: loader too: the coverage note then says its records do not carry the rules' fields (the flattened CSV
#: keeps no objectRef).
def _logsources() -> dict[tuple[str, str], tuple[str, ...]]:
    found: dict[tuple[str, str], tuple[str, ...]] = {}
    for s in registry.all_sources():
        for product_service in s.sigma_logsources:
            found[product_service] = (*found.get(product_service, ()), s.name)
    return found


LOGSOURCES: dict[tuple[str, str], tuple[str, ...]] = _logsources()


#: rule field names that are another tool's name for a field the platform's records carry, shown in
#: the coverage reason (the rule still runs as written: no field is renamed)
FIELD_HINTS = {
    "gcp.audit.method_name": "protoPayload.methodName (the rule uses the name Elastic's GCP module gives it)",
    "data.protoPayload.": "protoPayload.* at the top level (the rule expects the LogEntry wrapped in a CloudEvent's data)",
}


def field_hint(name: str) -> str | None:
    for prefix, hint in FIELD_HINTS.items():
        if name == prefix or (prefix.endswith(".") and name.startswith(prefix)):
            return hint
    return None


class SigmaRulesNotFound(ForensicsError):
    """No rule file at the paths given."""


@dataclass
class LoadedRule:
    """A rule file as pySigma read it, or the reason it could not be read."""

    path: str
    rule: SigmaRule | SigmaCorrelationRule | None
    error: str | None = None

    @property
    def rule_id(self) -> str:
        if self.rule is not None and self.rule.id:
            return str(self.rule.id)
        return f"file:{Path(self.path).name}"

    @property
    def title(self) -> str:
        return (self.rule.title if self.rule is not None else None) or Path(self.path).stem


def default_rules_dir() -> Path | None:
    """SigmaHQ's cloud rules in the shared corpus (``$FORENSICS_SHARED_DATA/sigma``, else
    ``../shared/data/sigma`` beside the repository), when present."""
    base = os.environ.get("FORENSICS_SHARED_DATA")
    root = Path(base) if base else Path(__file__).resolve().parents[2].parent / "shared" / "data"
    d = root / "sigma"
    return d if d.is_dir() else None


def rule_files(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """The ``.yml``/``.yaml`` files at ``paths`` (folders are searched recursively), sorted."""
    out: list[Path] = []
    missing = []
    for p in map(Path, paths):
        if p.is_dir():
            out += [f for f in p.rglob("*") if f.suffix in (".yml", ".yaml") and f.is_file()]
        elif p.is_file():
            out.append(p)
        else:
            missing.append(str(p))
    if missing:
        raise SigmaRulesNotFound(f"no such rule file or folder: {', '.join(missing)}")
    if not out:
        raise SigmaRulesNotFound(f"no .yml rule files under {', '.join(map(str, paths))}")
    return sorted(set(out))


def load_rules(paths: Iterable[str | os.PathLike]) -> list[LoadedRule]:
    """Every rule in the files at ``paths``, parsed by pySigma; a file pySigma rejects is kept with
    its error so the run can list it."""
    loaded: list[LoadedRule] = []
    for f in rule_files(paths):
        try:
            col = SigmaCollection.from_yaml(f.read_text(encoding="utf-8"), collect_errors=True)
        except (SigmaError, yaml.YAMLError, ValueError, UnicodeDecodeError) as e:
            loaded.append(LoadedRule(str(f), None, f"not a Sigma rule: {e}"))
            continue
        if not col.rules:
            loaded.append(LoadedRule(str(f), None, "no rule in the file"))
        for rule in col.rules:
            errors = getattr(rule, "errors", None)
            loaded.append(LoadedRule(str(f), rule, f"pySigma: {errors[0]}" if errors else None))
    return loaded


def sources_for(rule: SigmaRule) -> tuple[str, ...] | None:
    """The kit sources a rule applies to, or None when the kit maps no source to its logsource."""
    ls = rule.logsource
    return LOGSOURCES.get(((ls.product or "").lower(), (ls.service or "").lower()))


def logsource_text(rule: SigmaRule) -> str:
    ls = rule.logsource
    return "/".join(x for x in (ls.category, ls.product, ls.service) if x) or "(none)"


def technique(rule: SigmaRule) -> str | None:
    """The rule's ATT&CK technique tags as ids: ``attack.t1078.004`` -> ``T1078.004``."""
    ids = [
        t.name.upper()
        for t in rule.tags or []
        if t.namespace == "attack" and t.name[:1] in "tT" and t.name[1:2].isdigit()
    ]
    return ",".join(dict.fromkeys(ids)) or None


SEVERITY = {"informational": ("info", 0), "low": ("low", 1), "medium": ("medium", 2), "high": ("high", 3)}
SEVERITY["critical"] = ("critical", 4)


def severity(rule: SigmaRule) -> tuple[str, int]:
    """Sigma level -> the findings severity and rank; a rule without a level is ``info``."""
    level = str(rule.level.name).lower() if rule.level else "informational"
    return SEVERITY.get(level, ("info", 0))
