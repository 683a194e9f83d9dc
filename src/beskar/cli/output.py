"""What every command shares: consoles, output formats, common options, and how input errors are shown."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Callable, Literal, Optional, Sequence, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from beskar.problems import InputError

if TYPE_CHECKING:
    from rich.table import Table

T = TypeVar("T")

# No emoji: `:100:` in a message or a path is text from the fleet, not a shortcode.
out = Console(highlight=False, emoji=False)
err = Console(stderr=True, highlight=False, emoji=False)


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"


_requested: dict[str, str] = {}  # the --format of the command being run, as its option parsed it


def remember_format(value: T) -> T:
    """The --format options' callback: input errors are then shown in that format."""
    _requested["format"] = str(value)
    return value


FleetOption = Annotated[Path, typer.Option("--fleet", "-C", help="The fleet repository (default: current directory).")]
FormatOption = Annotated[Format, typer.Option("--format", "-o", help="table for people, json for scripts (errors too).",
                                              callback=remember_format)]
SiteArgument = Annotated[str, typer.Argument(help="The site, e.g. prod-brno.")]
SiteOption = Annotated[Optional[list[str]], typer.Option("--site", "-s", help="Only this site (repeatable).")]


@dataclass(frozen=True)
class Column:
    """A table column: `keep` ones (site names, releases) are never cut; the others fold, and those with a
    `drop` rank go, highest first, while the table does not fit the terminal."""

    header: str
    keep: bool = False
    drop: int = 0
    justify: Literal["left", "right"] = "left"


def fitted_table(columns: Sequence[Column], rows: Sequence[Sequence[str]], title: str | None = None,
                 console: Console = out) -> Table:
    """A rich table for `rows` that fits the console's width (or is as narrow as the kept columns allow)."""
    from rich.measure import Measurement
    from rich.table import Table  # only the commands that print a table pay for it (see cli/app.py)

    shown = list(range(len(columns)))
    droppable = sorted((i for i, c in enumerate(columns) if c.drop), key=lambda i: -columns[i].drop)
    while True:
        table = Table(title=title)
        for i in shown:
            column = columns[i]
            widest = max((len(row[i]) for row in rows), default=0)
            if column.keep:
                table.add_column(column.header, justify=column.justify, no_wrap=True,
                                 min_width=max(widest, len(column.header)))
            else:
                table.add_column(column.header, justify=column.justify, overflow="fold")
        for row in rows:
            table.add_row(*(row[i] for i in shown))
        # Measured unbounded: the minimum is then what the table needs without breaking a word.
        needed = Measurement.get(console, console.options.update(max_width=10 ** 6), table).minimum
        if not droppable or needed <= console.width:
            return table
        shown.remove(droppable.pop(0))
def wants_json(arguments: list[str]) -> bool:
    """Whether the command line asks for `--format json` (`-o json`, `--format=json`, `-ojson`): then errors too
    are JSON, on stdout, so that a script can parse every outcome."""
    for index, argument in enumerate(arguments):
        if argument in ("--format", "-o") and arguments[index + 1:index + 2] == ["json"]:
            return True
        if argument in ("--format=json", "-ojson", "-o=json"):
            return True
    return False


def problems_json(error: InputError) -> str:
    return json.dumps({"error": "input", "exit": 2, "problems": [
        {"file": p.origin.file if p.origin else None, "line": p.origin.line if p.origin else None,
         "column": p.origin.column if p.origin else None, "layer": p.origin.layer if p.origin else None,
         "message": p.message, "hint": p.hint} for p in error.problems]}, indent=2)


def _json_requested() -> bool:
    if "format" in _requested:
        return _requested["format"] == "json"
    return wants_json(sys.argv[1:])


def fail_input(error: InputError) -> None:
    if _json_requested():
        typer.echo(problems_json(error))
        raise typer.Exit(2)
    err.print(f"[bold red]error:[/] {len(error.problems)} problem(s) in the input; nothing was changed")
    for problem in error.problems:
        # Messages quote user input, which may contain [brackets] that rich would read as markup.
        where = escape(f"{problem.origin}: ") if problem.origin else ""
        layer = f" [dim]{escape(f'[{problem.origin.layer}]')}[/]" if problem.origin else ""
        hint = f"\n    [cyan]hint:[/] {escape(problem.hint)}" if problem.hint else ""
        err.print(f"  {where}{escape(problem.message)}{layer}{hint}", soft_wrap=True)
    raise typer.Exit(2)


def run(operation: Callable[[], T]) -> T:
    try:
        return operation()
    except InputError as error:
        fail_input(error)


