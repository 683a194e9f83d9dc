"""What every command shares: consoles, output formats, common options, and how input errors are shown."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Callable, Optional, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from beskar.problems import InputError

T = TypeVar("T")

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"


FleetOption = Annotated[Path, typer.Option("--fleet", "-C", help="The fleet repository (default: current directory).")]
FormatOption = Annotated[Format, typer.Option("--format", "-o", help="table for people, json for scripts.")]
SiteArgument = Annotated[str, typer.Argument(help="The site, e.g. prod-brno.")]
SiteOption = Annotated[Optional[list[str]], typer.Option("--site", "-s", help="Only this site (repeatable).")]


def fail_input(error: InputError) -> None:
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


