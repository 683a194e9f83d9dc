"""`beskar init`: start a fleet repository, or add Beskar's CI job and hooks to one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from beskar.cli.output import Format, FormatOption, out, run

app = typer.Typer()


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="An empty directory for a new fleet, or an existing fleet "
                                                   "(default: current directory).")] = Path("."),
    force: Annotated[bool, typer.Option("--force", help="Overwrite files that already exist.")] = False,
    pages: Annotated[bool, typer.Option("--pages", help="Add a CI job `pages` that publishes `beskar report` "
                                                        "as GitLab Pages from the default branch.")] = False,
    output_format: FormatOption = Format.TABLE,
) -> None:
    """Write a new fleet skeleton (beskar.yaml, profiles/, sites/, .gitignore) into an empty directory, and in
    any fleet a .gitlab-ci.yml job and a pre-commit hook that run `beskar check` and fail on errors (with
    --pages, also a job publishing `beskar report` as GitLab Pages).

    Existing files are kept unless --force is given.
    """
    from beskar.fleet.scaffold import Action, init_fleet  # see cli/app.py

    plan = run(lambda: init_fleet(directory, force, pages))
    if output_format is Format.JSON:
        out.print_json(json.dumps([{"path": p.path, "action": p.action.value, "by": p.provider} for p in plan]))
        return
    words = {Action.CREATE: "created", Action.OVERWRITE: "overwrote", Action.KEEP: "kept (exists; --force)"}
    for planned in plan:
        out.print(f"  {words[planned.action]:24} {escape(planned.path)}")
    kept = [p for p in plan if p.action is Action.KEEP]
    if kept:
        out.print(f"{len(kept)} existing file(s) left as they were; `beskar init --force` overwrites them.")
    out.print(f"Next: cd {escape(str(directory))} && beskar check   (and `pre-commit install` for the hook)")
