"""`beskar secrets`: what the sites' secrets hold."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from beskar import operations
from beskar.cli.output import FleetOption, Format, FormatOption, out, run

app = typer.Typer(help="What the sites' secrets hold.", no_args_is_help=True)


@app.command("keys")
def secret_keys(
    site: Annotated[str, typer.Argument(help="The site.")],
    fleet: FleetOption = Path("."),
    output_format: FormatOption = Format.TABLE,
) -> None:
    """List the keys the site's Secret `common` must hold: their kind and the releases that read them."""
    compiled = run(lambda: operations.compile_fleet(fleet, [site]))
    needs = compiled.rendered[site].secrets
    if output_format is Format.JSON:
        out.print_json(json.dumps([{"key": n.key, "kind": n.kind, "readers": list(n.readers)} for n in needs]))
        return
    table = Table(title=f"Secret 'common' of {site}: {len(needs)} keys")
    for column in ("key", "kind", "read by"):
        table.add_column(column)
    for need in needs:
        table.add_row(need.key, need.kind, ", ".join(need.readers))
    out.print(table)
