"""Report parameters, typed and checked before a kernel starts: a bad one is an ``UnknownParameter``
or ``BadTimeWindow`` (one line, exit 2 in the CLI), never a traceback inside the notebook.

A parameter's type is its annotation in the notebook's ``parameters`` cell, else the type of its
default. Some names carry a meaning of their own: times (``start``, ``end``, ``at``, ``since``,
``until``), files (``*_file``, ``cost_model``, ``trusted_root``, ``artifacts``, ``mapping``) and the
window (``end`` after ``start``).
"""

from __future__ import annotations

import ast
import json
import re
import tomllib
from datetime import datetime
from pathlib import Path

from forensics.errors import BadTimeWindow, UnknownParameter
from forensics.timewindow import parse_user_time

TIME_NAMES = frozenset({"start", "end", "at", "since", "until"})
FILE_NAMES = frozenset({"cost_model", "trusted_root", "artifacts", "mapping", "policy"})
#: query parameters that are numbers by their name (queries declare no types; see queries/*.sql)
NUMBER_NAME = re.compile(
    r"^(slo|threshold|minutes|top_n|hash_bytes)$|^(min|max)_|_(s|seconds|minutes|min|us|ms|bytes|count|gb|quantile|spans)$"
)
_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})


def kind(spec: dict) -> str:
    """A parameter's type (str, int, float, bool, list, dict): its annotation, else its default's."""
    annotated = (spec.get("inferred_type_name") or "None").lower().split("[")[0]
    if annotated not in ("none", "", "nonetype"):
        return annotated
    try:
        default = ast.literal_eval(spec.get("default", "None"))
    except (ValueError, SyntaxError):
        return "str"
    return {list: "list", tuple: "list", dict: "dict", bool: "bool", int: "int", float: "float"}.get(
        type(default), "str"
    )


def is_file_name(key: str) -> bool:
    return key in FILE_NAMES or key.endswith("_file")


def coerce(notebook: str, raw: dict[str, object], known: dict[str, dict]) -> dict[str, object]:
    """Check names against the notebook's parameters and convert CLI text to each one's type; then
    check times, the window and named files. Raises ``UnknownParameter`` / ``BadTimeWindow``."""
    out: dict[str, object] = {}
    for key, value in raw.items():
        if key not in known:
            raise UnknownParameter(
                f"notebook {notebook} has no parameter {key!r}; its parameters: {', '.join(known)}"
            )
        out[key] = _one(notebook, key, kind(known[key]), value)
    check(notebook, out)
    return out


def _one(notebook: str, key: str, k: str, value: object) -> object:
    where = f"parameter {key} of {notebook}"
    if not isinstance(value, str):
        return _typed(where, k, value)
    text = value.strip()
    if text.lower() in ("none", "null", ""):
        return [] if k == "list" else None
    if k == "dict":
        return _dict(where, text)
    if k == "list":
        if text.startswith("["):
            got = _json(where, text, "a JSON list")
            if not isinstance(got, list):
                raise UnknownParameter(f"{where} must be a list, not {text[:40]!r}")
            return got
        return [v.strip() for v in text.split(",") if v.strip()]
    if k == "int":
        try:
            return int(text)
        except ValueError:
            raise UnknownParameter(f"{where} must be a whole number, not {text[:40]!r}") from None
    if k == "float":
        try:
            return float(text)
        except ValueError:
            raise UnknownParameter(f"{where} must be a number, not {text[:40]!r}") from None
    if k == "bool":
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise UnknownParameter(f"{where} must be true or false (or yes/no, on/off, 1/0), not {text[:40]!r}")
    return value


def _typed(where: str, k: str, value: object) -> object:
    """A value given as a Python object (the library, the demo): it must already have the type."""
    if value is None:
        return value
    ok = {
        "bool": lambda v: isinstance(v, bool),
        "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "float": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "list": lambda v: isinstance(v, list | tuple),
        "dict": lambda v: isinstance(v, dict),
    }.get(k)
    if ok is not None and not ok(value):
        raise UnknownParameter(f"{where} must be a {k}, not {type(value).__name__} {value!r:.40}")
    return list(value) if k == "list" and isinstance(value, tuple) else value


def _json(where: str, text: str, what: str) -> object:
    try:
        return json.loads(text)
    except ValueError as e:
        raise UnknownParameter(f"{where} must be {what}: {e}") from None


def _dict(where: str, text: str) -> dict:
    """A JSON object given inline, or the path of a JSON or TOML file holding one."""
    if not text.startswith("{"):
        path = Path(text)
        if not path.is_file():
            raise UnknownParameter(f"{where} must be a JSON object or a JSON/TOML file; no file {text!r}")
        data = path.read_bytes()
        try:
            got: object = (
                tomllib.loads(data.decode("utf-8")) if path.suffix.lower() == ".toml" else json.loads(data)
            )
        except (ValueError, UnicodeDecodeError) as e:
            raise UnknownParameter(f"{where}: {text} is not valid JSON/TOML: {e}") from None
    else:
        got = _json(where, text, "a JSON object")
    if not isinstance(got, dict):
        raise UnknownParameter(f"{where} must be a JSON object, not {text[:40]!r}")
    return got


def check(notebook: str, params: dict[str, object]) -> None:
    """Times parse, the window is not empty or reversed, and named files exist."""
    times: dict[str, datetime | None] = {}
    for key in TIME_NAMES & params.keys():
        value = params[key]
        if value in (None, ""):
            continue
        try:
            times[key] = parse_user_time(value)
        except BadTimeWindow as e:
            raise BadTimeWindow(f"parameter {key} of {notebook}: {e}") from None
    start, end = times.get("start"), times.get("end")
    if start is not None and end is not None and end <= start:
        raise BadTimeWindow(
            f"parameter end ({params['end']}) of {notebook} is not after start ({params['start']})"
        )
    for key, value in params.items():
        if is_file_name(key) and isinstance(value, str) and value and not Path(value).exists():
            raise UnknownParameter(f"parameter {key} of {notebook}: no such file {value!r}")


def check_query(name: str, params: dict[str, object]) -> None:
    """``forensics query`` parameters: times parse, the window is not reversed, numbers are numbers."""
    for key, value in params.items():
        if NUMBER_NAME.search(key) and isinstance(value, str) and value.strip().lower() not in ("", "none"):
            try:
                float(value)
            except ValueError:
                raise UnknownParameter(
                    f"parameter {key} of query {name} must be a number, not {value[:40]!r}"
                ) from None
    check(f"query {name}", {k: v for k, v in params.items() if k in TIME_NAMES})
