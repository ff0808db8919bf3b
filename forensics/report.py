"""Running a report: papermill executes a notebook from ``notebooks/`` (shipped in the package, or a
user's folder first, see ``forensics.layout``) with parameters, and
nbconvert renders the result to one self-contained HTML file with the kit's offline template
(no remote script, charts as inline SVG, input cells hidden).

On failure the partial notebook and its HTML are still written, and ``NotebookFailed`` names the
failing cell and both paths.
"""

from __future__ import annotations

import ast
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from forensics import layout
from forensics.errors import NotebookFailed, UnknownNotebook, UnknownParameter

_REMOTE = re.compile(
    r"<script[^>]+src\s*=|<link[^>]+href\s*=\s*[\"']?https?:|@import\s+url\(\s*[\"']?https?:", re.I
)


def available() -> list[str]:
    """Report notebooks by name: the user's folder's (``FORENSICS_NOTEBOOKS``) and the built-in ones,
    a user notebook replacing a built-in one of the same name (docs/layout.md)."""
    return list(layout.files("notebooks"))


def notebooks_dir() -> Path:
    """The built-in notebooks folder (in the checkout, or in the installed package)."""
    return Path(str(layout.builtin("notebooks")))


@contextmanager
def notebook_path(name: str) -> Iterator[Path]:
    """The notebook ``name`` as a file on disk for as long as the ``with`` block runs. Names are looked
    up, never joined to a path."""
    found = layout.files("notebooks")
    if name not in found:
        raise UnknownNotebook(f"unknown notebook {name!r}; available: {', '.join(found) or 'none'}")
    with resources.as_file(found[name]) as path:
        yield path


def parameters_of(name: str) -> dict[str, dict]:
    """The notebook's parameters (from its cell tagged ``parameters``): name -> papermill's description."""
    import papermill

    with notebook_path(name) as path:
        return dict(papermill.inspect_notebook(str(path)))


def coerce_parameters(
    name: str, raw: dict[str, object], known: dict[str, dict] | None = None
) -> dict[str, object]:
    """Check parameter names against the notebook and convert CLI strings to the default's type:
    lists from comma-separated text or JSON, numbers, booleans; ``none`` or empty means None."""
    known = parameters_of(name) if known is None else known
    out: dict[str, object] = {}
    for key, value in raw.items():
        if key not in known:
            raise UnknownParameter(
                f"notebook {name} has no parameter {key!r}; its parameters: {', '.join(known)}"
            )
        if not isinstance(value, str):
            out[key] = value
            continue
        kind = _kind(known[key])
        text = value.strip()
        if text.lower() in ("none", "null", ""):
            out[key] = [] if kind.startswith("list") else None
        elif kind == "dict":
            try:
                out[key] = json.loads(text)
            except ValueError as e:
                raise UnknownParameter(f"parameter {key} of {name} must be a JSON object: {e}") from None
            if not isinstance(out[key], dict):
                raise UnknownParameter(f"parameter {key} of {name} must be a JSON object, not {text[:40]}")
        elif kind.startswith("list"):
            out[key] = (
                json.loads(text)
                if text.startswith("[")
                else [v.strip() for v in text.split(",") if v.strip()]
            )
        elif kind == "int":
            out[key] = int(text)
        elif kind == "float":
            out[key] = float(text)
        elif kind == "bool":
            out[key] = text.lower() in ("1", "true", "yes", "on")
        else:
            out[key] = value
    return out


def _kind(spec: dict) -> str:
    """A parameter's type: its annotation if it has one, else the type of its default value."""
    kind = (spec.get("inferred_type_name") or "None").lower()
    if kind not in ("none", ""):
        return kind
    try:
        default = ast.literal_eval(spec.get("default", "None"))
    except (ValueError, SyntaxError):
        return "str"
    return {list: "list", tuple: "list", dict: "dict", bool: "bool", int: "int", float: "float"}.get(
        type(default), "str"
    )


@dataclass
class ReportResult:
    name: str
    notebook: Path
    html: Path


def render_html(notebook: Path, html_path: Path) -> Path:
    """Render an executed notebook to self-contained HTML with the offline template, inputs hidden."""
    import nbformat
    from nbconvert import HTMLExporter

    with resources.as_file(layout.templates()) as templates:
        exporter = HTMLExporter(template_name="offline", extra_template_basedirs=[str(templates)])
        exporter.exclude_input = True
        exporter.exclude_input_prompt = True
        exporter.exclude_output_prompt = True
        nb = nbformat.read(str(notebook), as_version=4)
        body, _ = exporter.from_notebook_node(nb)
    if _REMOTE.search(body):
        raise RuntimeError(f"report {html_path} would load a remote resource; refusing to write it")
    html_path.write_text(body, encoding="utf-8")
    return html_path


def run_report(
    name: str,
    case_path: str | os.PathLike,
    params: dict | None = None,
    out_dir: str | os.PathLike = "reports",
    *,
    log_output: bool = False,
) -> ReportResult:
    """Execute ``notebooks/<name>.ipynb`` on a case and render ``<out_dir>/<name>.html``."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    known = parameters_of(name)
    params = coerce_parameters(name, dict(params or {}), known)
    out = Path(out_dir)
    notebook_folders = [notebooks_dir(), layout.user_folder("notebooks")]
    if any(f is not None and out.resolve() == Path(f).resolve() for f in notebook_folders):
        raise UnknownParameter(f"--out {out} is the notebooks folder; write reports to another folder")
    out.mkdir(parents=True, exist_ok=True)
    # --out is the only place a run writes: a notebook's out_dir parameter is always that folder
    if "out_dir" in params and Path(str(params["out_dir"])).resolve() != out.resolve():
        raise UnknownParameter(f"out_dir is set by --out ({out}); pass --out {params['out_dir']} instead")
    if "case_path" in known:
        params.setdefault("case_path", os.path.abspath(os.fspath(case_path)))
    if "out_dir" in known:
        params["out_dir"] = str(out.resolve())
    nb_out = out / f"{name}.ipynb"
    html_out = out / f"{name}.html"
    try:
        with notebook_path(name) as source:
            papermill.execute_notebook(
                str(source),
                str(nb_out),
                parameters=params,
                kernel_name="python3",
                progress_bar=False,
                log_output=log_output,
                cwd=str(out.resolve()),
            )
    except PapermillExecutionError as e:
        redact_notebook(nb_out)
        render_html(nb_out, html_out)
        raise NotebookFailed(
            f"notebook {name} failed in cell {e.cell_index} ({e.ename}: {e.evalue}); "
            f"partial notebook: {nb_out}; partial report: {html_out}",
            cell_index=e.cell_index,
            notebook_path=str(nb_out),
            html_path=str(html_out),
        ) from None
    redact_notebook(nb_out)
    render_html(nb_out, html_out)
    return ReportResult(name, nb_out, html_out)


def redact_notebook(path: Path) -> Path:
    """Redact every output of an executed notebook in place (``forensics.redact``): tables are
    redacted when shown, and this catches what a cell printed, raised or returned besides."""
    import nbformat

    from forensics.redact import redact_value

    nb = nbformat.read(str(path), as_version=4)
    for cell in nb.cells:
        if cell.get("cell_type") == "code":
            cell["outputs"] = nbformat.from_dict(redact_value(cell.get("outputs", [])))
            cell["source"] = redact_value(cell.get("source", ""))
    nbformat.write(nb, str(path))
    return path
