"""Errors a user can cause. The CLI prints their message on one line and exits 2, without a traceback."""

from __future__ import annotations


class ForensicsError(Exception):
    """Base class for errors the user can act on. The message says what to do."""


class EvidenceNotFound(ForensicsError):
    pass


class UnknownFormat(ForensicsError):
    pass


class BadMapping(ForensicsError):
    pass


class BadTimeWindow(ForensicsError):
    pass


class UnknownNotebook(ForensicsError):
    pass


class UnknownParameter(ForensicsError):
    pass


class UnknownQuery(ForensicsError):
    pass


class BadQueryHeader(ForensicsError):
    pass


class BadFolder(ForensicsError):
    pass


class UnknownDerivation(ForensicsError):
    pass


class BadPolicy(ForensicsError, ValueError):
    """A provenance policy (file or dict) that does not follow the schema in docs/provenance.md."""


class NotebookFailed(ForensicsError):
    """A report notebook raised. Carries the failing cell and the paths of what was still written."""

    def __init__(self, message: str, *, cell_index: int | None, notebook_path: str, html_path: str | None):
        super().__init__(message)
        self.cell_index = cell_index
        self.notebook_path = notebook_path
        self.html_path = html_path


class BadCase(ForensicsError):
    """The --case path exists but is not a case of this kit, or its schema needs a migration."""
