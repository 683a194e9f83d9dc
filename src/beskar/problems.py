"""Where a problem lies in the fleet: positions, layers, and the error that carries them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Origin:
    """A place in a fleet file: path relative to the fleet root, 1-based line and column, and its layer."""

    file: str
    line: int
    column: int
    layer: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"

    def __reduce__(self):
        # Sent back by the workers that compile sites, by the hundred thousand: as its fields, not as a __dict__.
        return Origin, (self.file, self.line, self.column, self.layer)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input, with the place to fix it."""

    message: str
    origin: Origin | None = None
    hint: str | None = None

    def __str__(self) -> str:
        where = f"{self.origin}: " if self.origin else ""
        layer = f" [{self.origin.layer}]" if self.origin else ""
        hint = f" ({self.hint})" if self.hint else ""
        return f"{where}{self.message}{layer}{hint}"


class InputError(Exception):
    """The fleet cannot be used as it is; carries every problem found, each with its place."""

    def __init__(self, problems: list[Problem] | tuple[Problem, ...]):
        # Sites sharing a global or profile layer would otherwise report its problems once per site.
        self.problems = tuple(dict.fromkeys(problems))
        super().__init__("\n".join(str(p) for p in self.problems))
