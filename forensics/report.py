"""Running a report: papermill executes a notebook from ``notebooks/`` (shipped in the package, or a
user's folder first, see ``forensics.layout``) with parameters, and
nbconvert renders the result to one self-contained HTML file with the kit's offline template
(no remote script, charts as inline SVG, input cells hidden).

A run writes into a staging folder and moves its outputs into place only when complete, with an
in-toto statement of what it read and wrote (``forensics.attest``, docs/attestation.md). On failure
the partial notebook and its HTML are still written, under names that say so (``NAME.FAILED.html``),
and ``NotebookFailed`` names the failing cell and both paths.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import NoReturn

from forensics import layout
from forensics.errors import NotebookFailed, UnknownNotebook, UnknownParameter
from forensics.redact import redact_value

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
    """Check parameter names against the notebook and convert CLI strings to each one's type, then
    check times, the window and named files before any kernel starts (``forensics.params``)."""
    from forensics import params

    return params.coerce(name, raw, parameters_of(name) if known is None else known)


@dataclass
class ReportResult:
    name: str
    notebook: Path
    html: Path
    #: every file the run wrote, in place under ``--out`` (the statement last)
    files: list[Path] = field(default_factory=list)
    statement: Path | None = None
    signature: str = "unsigned"


def render_html(notebook: Path, html_path: Path) -> Path:
    """Render an executed notebook to self-contained HTML with the offline template, inputs hidden.
    The footer names the run's statement and its verify command when the notebook's metadata
    carries them (``metadata.forensics``, set by ``run_report``)."""
    import nbformat
    from nbconvert import HTMLExporter

    with resources.as_file(layout.templates()) as templates:
        exporter = HTMLExporter(template_name="offline", extra_template_basedirs=[str(templates)])
        exporter.exclude_input = True
        exporter.exclude_input_prompt = True
        exporter.exclude_output_prompt = True
        nb = nbformat.read(str(notebook), as_version=4)
        body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": html_path.stem}})
    if _REMOTE.search(body):
        raise RuntimeError(f"report {html_path} would load a remote resource; refusing to write it")
    html_path.write_text(body, encoding="utf-8")
    return html_path


_SUFFIX = re.compile(r"[A-Za-z0-9._+-]{1,64}")


def window_suffix(params: dict[str, object]) -> str:
    """``-20260314T0800Z-20260314T1100Z`` for a run's start and end (``--name-window``)."""
    from forensics.timewindow import parse_user_time

    parts = []
    for key in ("start", "end"):
        t = parse_user_time(params.get(key)) if params.get(key) not in (None, "") else None
        parts.append(f"{t:%Y%m%dT%H%M%SZ}".replace("00Z", "Z") if t else "open")
    return "" if parts == ["open", "open"] else "-" + "-".join(parts)


def run_report(
    name: str,
    case_path: str | os.PathLike,
    params: dict | None = None,
    out_dir: str | os.PathLike = "reports",
    *,
    log_output: bool = False,
    suffix: str = "",
    name_window: bool = False,
    sign_key: str | os.PathLike | None = None,
    sigstore: bool = False,
    on_cell: Callable[[str, int, int, str], None] | None = None,
) -> ReportResult:
    """Execute ``notebooks/<name>.ipynb`` on a case and write ``<out_dir>/<name><suffix>.html`` (and
    the executed notebook, every file the notebook wrote, and ``<name><suffix>.intoto.json``).

    The run writes into ``<out_dir>/.<name><suffix>.partial/`` and moves its outputs into place only
    when complete, the statement last. A failed run leaves the previous good report untouched and
    writes ``<name><suffix>.FAILED.html``/``.ipynb`` (and any other partial file under
    ``<name><suffix>.FAILED/``) before raising ``NotebookFailed``.

    The statement is signed with ``sign_key`` when given; else keyless with Sigstore when
    ``sigstore`` is true (the CLI's default) and the environment has an OIDC identity; else unsigned."""
    import shutil
    from datetime import UTC, datetime

    from forensics import attest

    known = parameters_of(name)
    params = coerce_parameters(name, dict(params or {}), known)
    if params.get("policy_file"):
        from forensics.policy import load_policy

        load_policy(str(params["policy_file"]))  # a bad policy is BadPolicy here, not in the kernel
    if name_window:
        suffix = (suffix or "") + window_suffix(params)
    if suffix and not _SUFFIX.fullmatch(suffix):
        raise UnknownParameter(f"--suffix {suffix!r}: use up to 64 letters, digits and . _ + -")
    signer = attest.load_signer(sign_key) if sign_key else None
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
    stem = name + suffix
    # one fixed staging folder per report and suffix: a run's bytes do not depend on a random name
    stage = out / f".{stem}.partial"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir()
    final_params = dict(params)
    if "out_dir" in known:
        final_params["out_dir"] = str(out.resolve())
        params["out_dir"] = str(stage.resolve())
    # as recorded (notebook metadata, statement): a secret given as a parameter only as a fingerprint
    final_params = redact_value(final_params)
    nb_out = stage / f"{stem}.ipynb"
    started = datetime.now(UTC)
    try:
        with notebook_path(name) as source:
            source_sha256 = attest.sha256_file(source)
            ids = _source_cell_ids(source)
            failure = _execute(
                source, nb_out, params, stage, log_output=log_output, on_cell=on_cell, name=name
            )
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    statement_name = f"{stem}.intoto.json"
    _normalise(nb_out, ids, stage, out, final_params, None if failure else statement_name)
    redact_notebook(nb_out)
    if failure is not None:
        return _fail(name, stem, stage, out, nb_out, failure)
    render_html(nb_out, stage / f"{stem}.html")
    if suffix:
        for p in list(stage.iterdir()):
            if p.is_file() and not p.name.startswith(stem):
                p.rename(stage / f"{Path(p.name).stem}{suffix}{''.join(Path(p.name).suffixes[-1:])}")
    ended = datetime.now(UTC)
    statement = attest.build_statement(
        stage,
        report=name,
        case_path=os.fspath(case_path),
        notebook_sha256=source_sha256,
        parameters=final_params,
        started=started,
        ended=ended,
    )
    signature = attest.write_statement(stage / statement_name, statement, signer=signer, sigstore=sigstore)
    files = _move_into_place(stage, out, statement_name)
    for stale in (out / f"{stem}.FAILED.html", out / f"{stem}.FAILED.ipynb"):
        stale.unlink(missing_ok=True)
    shutil.rmtree(out / f"{stem}.FAILED", ignore_errors=True)
    return ReportResult(name, out / nb_out.name, out / f"{stem}.html", files, out / statement_name, signature)


def _execute(source, nb_out, params, stage, *, log_output, on_cell, name):
    """Run the notebook with papermill; the kernel's own log goes to a file, not the terminal. The
    failure (an exception) is returned, not raised, so its partial outputs can be kept."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from forensics import kernel

    with kernel.quiet_log() as klog:
        try:
            papermill.execute_notebook(
                str(source),
                str(nb_out),
                parameters=params,
                kernel_name="python3",
                engine_name=kernel.engine(),
                progress_bar=False,
                log_output=log_output,
                cwd=str(stage.resolve()),
                kernel_manager_class=kernel.quiet_manager(klog),
                forensics_on_cell=(lambda i, n, label: on_cell(name, i, n, label)) if on_cell else None,
            )
        except PapermillExecutionError as e:
            return (e.cell_index, f"{e.ename}: {e.evalue}")
        except Exception as e:  # a dead kernel, a timeout: still a failed run with partial output
            if not nb_out.is_file():
                raise
            tail = kernel.log_tail(klog)
            return (None, f"{type(e).__name__}: {e}" + (f" (kernel log: {tail})" if tail else ""))
    return None


def _fail(name, stem, stage, out, nb_out, failure) -> NoReturn:
    import shutil

    cell, why = failure
    html = render_html(nb_out, stage / f"{stem}.FAILED.html")
    failed_nb = out / f"{stem}.FAILED.ipynb"
    os.replace(nb_out, failed_nb)
    os.replace(html, out / html.name)
    rest = [p for p in stage.iterdir()]
    extra = out / f"{stem}.FAILED"
    shutil.rmtree(extra, ignore_errors=True)
    if rest:
        os.replace(stage, extra)
    else:
        stage.rmdir()
    where = f"cell {cell}" if cell is not None else "its kernel"
    raise NotebookFailed(
        f"notebook {name} failed in {where} ({why}); the previous report, if any, is unchanged; "
        f"partial notebook: {failed_nb}; partial report: {out / html.name}"
        + (f"; other partial files: {extra}" if rest else ""),
        cell_index=cell,
        notebook_path=str(failed_nb),
        html_path=str(out / html.name),
    )


def _move_into_place(stage: Path, out: Path, statement_name: str) -> list[Path]:
    """Every output renamed into ``out`` (same file system, each move atomic), the statement last:
    a statement in place means its subjects are."""
    names = sorted(p.name for p in stage.iterdir() if p.name != statement_name) + [statement_name]
    for n in names:
        if (stage / n).is_dir():
            raise RuntimeError(f"report wrote a folder {n}; reports write files only")
    moved = []
    for n in names:
        os.replace(stage / n, out / n)
        moved.append(out / n)
    stage.rmdir()
    return moved


def _source_cell_ids(source: Path) -> list[str]:
    """The source notebook's cell ids in order (``cell-<n>`` for a cell without one)."""
    cells = json.loads(source.read_text(encoding="utf-8")).get("cells", [])
    return [c.get("id") or f"cell-{i}" for i, c in enumerate(cells)]


_TIMING = ("start_time", "end_time", "duration")


def _normalise(nb_path, ids, stage, out, final_params, statement_name) -> None:
    """Make an executed notebook's bytes depend only on its inputs: fixed cell ids (papermill gives
    the injected cell a random one), no execution times, the staging folder named as the final one;
    and record the statement's name for the footer."""
    import nbformat

    nb = nbformat.read(str(nb_path), as_version=4)
    source_ids = iter(ids)
    stage_abs, out_abs = str(stage.resolve()), str(out.resolve())
    for i, cell in enumerate(nb.cells):
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            cell["id"] = "injected-parameters"
            cell["source"] = cell["source"].replace(stage_abs, out_abs)
        else:
            cell["id"] = next(source_ids, f"cell-{i}")
        if cell.get("outputs") and stage_abs in json.dumps(cell["outputs"]):
            # what a cell printed about its out_dir names the folder the files end up in
            cell["outputs"] = nbformat.from_dict(
                json.loads(json.dumps(cell["outputs"]).replace(stage_abs, out_abs))
            )
        cell.metadata.pop("execution", None)
        for key in _TIMING:
            cell.metadata.get("papermill", {}).pop(key, None)
    pm = nb.metadata.get("papermill", {})
    for key in _TIMING:
        pm.pop(key, None)
    if "parameters" in pm:
        pm["parameters"] = final_params
    if "output_path" in pm:
        pm["output_path"] = str(Path(pm["output_path"]).name)
    if "input_path" in pm:
        pm["input_path"] = Path(pm["input_path"]).name
    if statement_name:
        stem = statement_name.removesuffix(".intoto.json")
        nb.metadata["forensics"] = {
            "statement": statement_name,
            "verify": f"forensics verify-report {stem}.html",
        }
    nbformat.write(nb, str(nb_path))


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
