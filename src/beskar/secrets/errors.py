"""The error every secrets failure raises: what went wrong, and at which key of which file."""

from __future__ import annotations

from beskar.problems import InputError, Origin, Problem


class SopsError(Exception):
    """A SOPS file cannot be read, opened or trusted; `where` names the key (dotted path) or field."""

    def __init__(self, where: str, message: str, file: str | None = None, line: int | None = None):
        self.where = where
        self.message = message
        self.file = file
        self.line = line
        super().__init__(f"{where}: {message}")

    def located(self, file: str, line: int | None) -> "SopsError":
        return SopsError(self.where, self.message, file, line)


def as_input_error(error: SopsError) -> InputError:
    """The error as the one problem a command reports (at the file and line it names)."""
    origin = Origin(error.file, error.line or 1, 1, "secrets") if error.file else None
    return InputError([Problem(f"{error.where}: {error.message}", origin)])
